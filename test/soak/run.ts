// One fault-injection run (issue 13), shared by the soak (soak.ts, `npm run
// soak`) and the short selection in `npm test` (test/integration/
// faults-netns.test.ts): the site of site.ts under load (the sample batch,
// the PLC watchdog and the drivers' polling, a service placed `active`, two
// writers streaming sync records through the API, three MQTT clients
// following the pair), then faults one after the other: each drawn by
// weight (or taken from a fixed list), held for a while, ended, and the pair
// waited for until it is steady again (one active, one standby following it,
// replication live; a held takeover confirmed by the run as an operator
// would, after a short wait). At the end the nodes stop gracefully (the
// standby first: no handover) and the checker judges the outside evidence
// (evidence.ts).
//
// Bounded: at most `faults` faults and `minutes` minutes; a pair that does
// not become steady again within SETTLE_MS ends the run with that finding.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { check, type Hold, type Verdict } from "../checker/checker.js";
import type { NodeStatus } from "../../runtime/node-api.js";
import { sleep } from "../helpers/cluster.js";
import { RecordWriters } from "../helpers/kill-rounds.js";
import { prng } from "../helpers/prng.js";
import { checkerInput } from "./evidence.js";
import { drawFault, FAULTS, other, type FaultKind } from "./faults.js";
import { MqttLoad, type MqttFigures } from "./mqtt-load.js";
import { FaultSite, TABLE, type Id } from "./site.js";

/** a pair must be steady again this soon after a fault ends */
const SETTLE_MS = 60_000;
/** how often the run looks at both nodes while a fault is on (the RTO's resolution) */
const LOOK_MS = 20;

export interface RunOptions {
  seed: number;
  /** at most this many faults */
  faults: number;
  /** and at most this long */
  minutes: number;
  /** a fixed list instead of drawing by weight */
  sequence?: FaultKind[];
  log?: (line: string) => void;
}

export interface FaultRecord {
  i: number;
  kind: string;
  /** ms from the run's start */
  at: number;
  active: Id;
  holdMs: number;
  /** the role moved to the other node */
  moved: boolean;
  /** fault start → the other node answering as active (the run's own clock), when the role moved */
  rtoMs: number | null;
  /** fault end → one active and one standby following it again */
  settleMs: number;
  /** the takeover was held and the run confirmed it */
  confirmed: boolean;
}

export interface RunResult {
  seed: number;
  startedAt: string;
  minutes: number;
  records: FaultRecord[];
  verdict: Verdict;
  /** acknowledged writes missing from a surviving database (S2's count: the RPO) */
  lost: number;
  acked: number;
  writerRetries: number;
  /** writes at the plant from an address that is no node's */
  strangers: number;
  /** what the nodes logged at level error or fatal, by message, with counts */
  nodeErrors: { node: Id; msg: string; count: number }[];
  /** nodes that ended by themselves (not killed by the run): when, and how */
  selfEnded: string[];
  /** the MQTT clients that followed the pair through the run */
  mqtt: MqttFigures;
  /** a run that ended early: why */
  stoppedBy: string | null;
}

/** a node's status, or null when it does not answer within a moment (stopped, killed, frozen) */
async function look(site: FaultSite, id: Id): Promise<NodeStatus | null> {
  try {
    const r = await fetch(`${site.ns.nodes[id].url}/api/v1/status`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` }, signal: AbortSignal.timeout(400) });
    return r.status === 200 ? ((await r.json()) as NodeStatus) : null;
  } catch {
    return null;
  }
}

const acting = (s: NodeStatus | null) => s?.state === "active" || s?.state === "active-held";

function errorsOf(site: FaultSite): RunResult["nodeErrors"] {
  const out = new Map<string, { node: Id; msg: string; count: number }>();
  for (const id of ["a", "b"] as const) {
    const f = join(site.ns.dir, `${id}.log`);
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, "utf8").split("\n")) {
      if (!l.includes('"level":"error"') && !l.includes('"level":"fatal"')) continue;
      let msg = l;
      try {
        msg = String((JSON.parse(l) as { msg?: unknown }).msg);
      } catch {
        /* a torn line: as it is */
      }
      // the same message with other numbers is one kind of error
      const key = `${id}\u0000${msg.replace(/\d+/g, "N").slice(0, 200)}`;
      const e = out.get(key) ?? { node: id, msg: msg.slice(0, 300), count: 0 };
      e.count++;
      out.set(key, e);
    }
  }
  return [...out.values()].sort((x, y) => y.count - x.count);
}

export async function runFaults(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => undefined);
  const rnd = prng(o.seed);
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const deadline = t0 + o.minutes * 60_000;
  const site = await FaultSite.start();
  const holds: Hold[] = [];
  const records: FaultRecord[] = [];
  let stoppedBy: string | null = null;
  let writers: RecordWriters | null = null;
  let mqtt: MqttLoad | null = null;
  let faultAt = t0;
  /** both nodes as the run last saw them, for a pair that does not become steady */
  let lastSeen = "";
  const selfEnded: string[] = [];
  /** the run looks at both nodes until the pair is steady: one acting, the other standby following it, replication live; a held takeover is confirmed */
  const steady = async (within: number): Promise<{ active: Id; standby: Id; confirmed: boolean } | null> => {
    const end = Date.now() + within;
    let confirmed = false;
    while (Date.now() < end) {
      const [a, b] = await Promise.all([look(site, "a"), look(site, "b")]);
      const s = { a, b };
      lastSeen = (["a", "b"] as const).map((id) => `${id}: ${s[id] ? `${s[id]!.state} (epoch ${s[id]!.epoch}; ${s[id]!.message}; peer ${s[id]!.peer.state}; replication ${s[id]!.replication.peer})` : "no answer"}`).join(" · ");
      for (const id of ["a", "b"] as const) {
        const me = s[id];
        const peer = s[other(id)];
        if (!acting(me) || peer?.state !== "standby" || !acting({ state: peer.peer.state } as NodeStatus)) continue;
        if (me!.state === "active-held") {
          // an operator looks before confirming: the held window is real time in which the batch must not write
          await sleep(200 + Math.floor(rnd() * 600));
          holds.push({ node: id, epoch: me!.epoch, from: faultAt, confirmedAt: Date.now() });
          await site.ns.api(id, "POST", "/confirm", {}, "operator").catch(() => undefined);
          confirmed = true;
          break;
        }
        // redundant again: the standby holds what the active acknowledged (a switchover waits for it too)
        if (me!.replication.peer !== "live") continue;
        return { active: id, standby: other(id), confirmed };
      }
      // a node that ended by itself (not killed by the run) is started again, and said
      for (const id of ["a", "b"] as const) {
        const ch = site.ns.nodes[id].child;
        if (ch && (ch.exitCode !== null || ch.signalCode !== null) && s[id] === null) {
          const what = `node ${id} had ended by itself (${ch.exitCode ?? ch.signalCode}) ${Math.round((Date.now() - t0) / 1000)} s into the run`;
          selfEnded.push(what);
          log(`${what}: started again`);
          site.ns.startNode(id);
        }
      }
      await sleep(50);
    }
    return null;
  };
  try {
    const first = await site.ns.ready();
    log(`site ready: ${first.active} active, ${first.standby} standby`);
    writers = new RecordWriters(site.ns, TABLE, 20);
    writers.start(2, Number.MAX_SAFE_INTEGER);
    mqtt = new MqttLoad(site, 3);
    for (let i = 0; i < o.faults && Date.now() < deadline; i++) {
      const pair = await steady(SETTLE_MS);
      if (!pair) {
        stoppedBy = `the pair was not steady (one active, one standby following it) within ${SETTLE_MS / 1000} s before fault ${i}; last seen: ${lastSeen}`;
        break;
      }
      const kind = o.sequence ? o.sequence[i % o.sequence.length]! : drawFault(rnd);
      const holdMs = kind.holdMs[0] + Math.floor(rnd() * (kind.holdMs[1] - kind.holdMs[0] + 1));
      faultAt = Date.now();
      let movedAt: number | null = null;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          if (acting(await look(site, pair.standby)) && movedAt === null) movedAt = Date.now();
          await sleep(LOOK_MS);
        }
      })();
      let detail = "";
      const end = await kind.start({ site, active: pair.active, standby: pair.standby, rnd, note: (d) => (detail = ` [${d}]`) });
      await sleep(holdMs);
      await end();
      const endedAt = Date.now();
      const after = await steady(SETTLE_MS);
      watching = false;
      await watch;
      if (!after) {
        stoppedBy = `after "${kind.name}"${detail} (fault ${i}) the pair was not steady again within ${SETTLE_MS / 1000} s; last seen: ${lastSeen}`;
        log(stoppedBy);
        break;
      }
      const moved = after.active !== pair.active;
      const r: FaultRecord = { i, kind: kind.name, at: faultAt - t0, active: pair.active, holdMs, moved, rtoMs: moved && movedAt !== null ? movedAt - faultAt : null, settleMs: Date.now() - endedAt, confirmed: after.confirmed };
      records.push(r);
      log(`${i}: ${kind.name}${detail} (${holdMs} ms) on ${pair.active} active: ${moved ? `role moved to ${after.active} in ${r.rtoMs} ms` : "role stayed"}${after.confirmed ? ", held and confirmed" : ""}; steady ${r.settleMs} ms after it ended; ${writers.acked.size} writes acknowledged`);
    }
    await writers.stop();
    const mqttFigures = mqtt.figures();
    await mqtt.stop();
    // both copies at the same head before the nodes stop: what the active acknowledged is on the standby's disk;
    // the standby stops first, so the active's own stop hands nothing over
    const last = await steady(SETTLE_MS);
    for (const id of last ? [last.standby, last.active] : (["a", "b"] as const)) {
      site.ns.signal(id, "SIGTERM");
      await site.ns.exited(id).catch(() => undefined);
    }
    const { input, strangers } = checkerInput(site, writers.acked, holds);
    const verdict = check(input);
    const held = Object.values(input.survivors!).map((rows) => new Set(rows.map((r) => `${r.epoch}-${r.seq}`)));
    const lost = input.acked!.filter((a) => held.some((h) => !h.has(`${a.epoch}-${a.seq}`))).length;
    return { seed: o.seed, startedAt, minutes: (Date.now() - t0) / 60_000, records, verdict, lost, acked: writers.acked.size, writerRetries: writers.retries, strangers, nodeErrors: errorsOf(site), selfEnded, mqtt: mqttFigures, stoppedBy };
  } finally {
    await writers?.stop();
    await mqtt?.stop();
    await site.stop();
  }
}

export { FAULTS };
