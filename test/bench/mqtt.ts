// MQTT benchmark (DESIGN.md performance targets: "tag-change fan-out through
// the embedded broker ≥ 50% of Mosquitto's; 100 connected clients on the new
// active within 1 s of a takeover; reference: Debian's mosquitto with the
// same clients"), in one run:
//   1. fan-out: K subscribers (mqtt.js, QoS 0, `tandem/bench/tags/#`) in
//      child processes (mqtt-clients.ts); the bench publishes M tag changes
//      (NodeMqtt's payload, retained, over ~100 tag topics) with at most W in
//      flight, round-robin, to
//        tandem     the real MqttBroker in the bench's process, through
//                   broker.publish() (how a node's tag changes leave it)
//        mosquitto  Debian's mosquitto, through an mqtt.js publisher in the
//                   bench's process (a node with an external broker)
//      (mqtt-brokers.ts). Delivered messages/s = K × M ÷ (first publish →
//      the last client's last message), both sides alternating, per K.
//   2. takeover: a pair (`tandem start` × 2 and the witness,
//      test/helpers/cluster.ts) with `mqtt: listen` on each node; 100 mqtt.js
//      clients in a child process, each listing both nodes (viewer,
//      reconnectPeriod --reconnect-ms), subscribed to the retained
//      `tandem/it/state`. kill -9 of the active; per client, the time until it
//      holds a state naming the new active (the new active's retained state,
//      after its CONNACK). Beside it, the standby's active-held from its
//      status (polled every 5 ms) and from its log.
//   npm run bench:mqtt [-- --quick --clients 1,10,50 --messages M --rounds R --window W
//                        --trials N --takeover-clients 100 --reconnect-ms 100 --only fanout|takeover --out FILE]
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Cluster, freePort, killAllChildren, sleep, waitUntil } from "../helpers/cluster.js";
import { ClientsProc, killBenchChildren, mosquittoFeed, ownCpuMs, tandemFeed, type Feed } from "./mqtt-brokers.js";
import { acting, login, stateOf } from "./serving.js";
import { report, STATUS_POLL_MS, TAKEOVER_TARGET_MS, TOPIC } from "./mqtt-report.js";
import { log, pct } from "./stats.js";

type Id = "a" | "b";
const other = (id: Id): Id => (id === "a" ? "b" : "a");
const USER = "viewer";
/** a fan-out run ends when no message came for this long (losses), or after --seconds */
const IDLE_MS = 3000;
const WITNESS_QUIET_MS = 2000;
const TRIAL_LIMIT_MS = 10_000;
const START_LIMIT_MS = 60_000;

export interface FanoutRun {
  broker: string;
  clients: number;
  messages: number;
  /** messages the clients received, all together (K × M when none was lost) */
  delivered: number;
  /** ms from the first publish to the last client's last message */
  ms: number;
  /** ms from the first publish to the last publish's callback (the publisher's side) */
  publishMs: number;
  perSecond: number;
  /** CPU ms over the run: the broker's (Tandem: the bench's process, broker and publish path in one), and the bench's process (Mosquitto: its publisher) */
  cpu: { brokerMs: number; benchMs: number };
}

/** `tags` topics like NodeMqtt's (tags/<a/b/c>) and a payload like its tagPayload() */
function tagTopics(tags: number): string[] {
  return Array.from({ length: tags }, (_, i) => `tandem/bench/tags/line${i % 4}/unit${Math.floor(i / 4) % 5}/tag${i}`);
}
function payload(i: number): string {
  const at = new Date().toISOString();
  return JSON.stringify({ value: Math.round(Math.sin(i) * 10_000) / 100, quality: "good", sourceTs: at, serverTs: at });
}

/** Publishes `messages` tag changes round-robin over `topics`, at most `window` awaiting their callback. */
function publishAll(feed: Feed, topics: string[], messages: number, window: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    const pump = () => {
      while (sent < messages && sent - acked < window) {
        const i = sent++;
        feed.send(topics[i % topics.length]!, payload(i), onDone);
      }
    };
    const onDone = () => {
      acked++;
      if (acked === messages) resolve(performance.now() - t0);
      else pump();
    };
    pump();
  });
}

async function fanoutRun(feed: Feed, k: number, o: { messages: number; window: number; procs: number; seconds: number; topics: string[] }): Promise<FanoutRun> {
  const nProcs = Math.min(k, o.procs);
  const procs = Array.from({ length: nProcs }, () => new ClientsProc());
  try {
    const share = (i: number) => Math.floor(k / nProcs) + (i < k % nProcs ? 1 : 0);
    await Promise.all(procs.map((p, i) => p.ask({ cmd: "fanout", port: feed.port, user: USER, n: share(i), topic: TOPIC }, "ready")));
    const limitMs = o.seconds * 1000;
    const results = procs.map((p) => p.next("counted", limitMs + 10_000));
    await Promise.all(procs.map((p) => p.ask({ cmd: "count", expect: o.messages, idleMs: IDLE_MS, limitMs }, "counting")));
    const cpu0 = { broker: feed.brokerCpuMs(), bench: ownCpuMs() };
    const first = process.hrtime.bigint();
    const publishMs = await publishAll(feed, o.topics, o.messages, o.window);
    const rs = await Promise.all(results);
    const cpu = { brokerMs: Math.round(feed.brokerCpuMs() - cpu0.broker), benchMs: Math.round(ownCpuMs() - cpu0.bench) };
    const last = rs.reduce((m, r) => (BigInt(r.last) > m ? BigInt(r.last) : m), 0n);
    const delivered = rs.reduce((a, r) => a + (r.counted as number), 0);
    const ms = Number(last - first) / 1e6;
    for (const p of procs) for (const e of p.errors) log(`  client error (${feed.name}): ${e}`);
    return { broker: feed.name, clients: k, messages: o.messages, delivered, ms: +ms.toFixed(1), publishMs: +publishMs.toFixed(1), perSecond: Math.round(delivered / (ms / 1000)), cpu };
  } finally {
    await Promise.all(procs.map((p) => p.close()));
  }
}

export interface TakeoverTrial {
  killed: Id;
  /** per client, ms from the kill to the new active's state; null: not within the trial's limit */
  clients: (number | null)[];
  /** per client, ms from the kill to its first accepted CONNACK (from the new active) */
  connack: (number | null)[];
  /** per client, ms from the kill to its connection to the killed node closing, and to its first reconnect attempt */
  closed: (number | null)[];
  reconnecting: (number | null)[];
  /** ms from the kill to the standby's status saying active-held (polled every 5 ms) */
  held: number | null;
  /** ms from the kill to the transition in the standby's log (wall clock) */
  heldLog: number | null;
  connects: number;
  refused: number;
}

/**
 * The node that is active before a trial, once the pair is settled: one node
 * `active` with every MQTT client, the other `standby` following it. A node
 * found `active-held` is confirmed first (a start-up or a flap on a loaded
 * machine can leave one held), so every trial starts from the same state.
 */
async function settled(c: Cluster, clients: number): Promise<Id> {
  let last = "";
  return waitUntil(
    `a settled pair with all ${clients} MQTT clients on the active`,
    async () => {
      const st = { a: await c.status("a"), b: await c.status("b") };
      last = JSON.stringify({ a: st.a && { state: st.a.state, peer: st.a.peer.state, mqtt: st.a.mqtt }, b: st.b && { state: st.b.state, peer: st.b.peer.state, mqtt: st.b.mqtt } });
      for (const id of ["a", "b"] as Id[]) {
        const s = st[id];
        const p = st[other(id)];
        if (s?.state === "active-held") {
          await c.api(id, "POST", "/confirm", {}, "operator");
          return null;
        }
        if (s?.state === "active" && s.peer.state === "standby" && p?.state === "standby" && p.peer.state === "active" && s.mqtt?.clients === clients) return id;
      }
      return null;
    },
    { timeoutMs: 30_000, everyMs: 50, seen: () => `last: ${last}` },
  );
}

/** --trace: the new active's log lines from 50 ms before the kill to its last client landing, in ms from the kill. */
function trace(c: Cluster, id: Id, wall0: number, until: number): void {
  for (const line of c.logLines(id)) {
    try {
      const j = JSON.parse(line) as { time?: string; msg?: string };
      const at = Date.parse(j.time ?? "");
      if (at >= wall0 - 50 && at <= until + 5) log(`  ${id} ${at - wall0 >= 0 ? "+" : ""}${at - wall0} ms  ${j.msg}`);
    } catch {
      /* a line cut by the kill */
    }
  }
}

async function takeover(o: { trials: number; clients: number; reconnectMs: number; trace: boolean }, record: (t: TakeoverTrial) => void, settings: Record<string, unknown>): Promise<void> {
  const ports = { a: await freePort(), b: await freePort() };
  log(`takeover: starting witness, a (MQTT on ${ports.a}) and b (MQTT on ${ports.b})`);
  const witnessFrom = Date.now();
  const c = await Cluster.start({ direct: true, heartbeat: { intervalMs: 50, timeoutMs: 500 }, extra: (id) => `mqtt:\n  listen: 127.0.0.1:${ports[id]}\n` });
  const proc = new ClientsProc();
  try {
    await c.ready();
    const quiet = witnessFrom + WITNESS_QUIET_MS + 500 - Date.now();
    if (quiet > 0) await sleep(quiet);
    Object.assign(settings, { heartbeat: { intervalMs: 50, timeoutMs: 500 }, leaseMs: 1000, network: "loopback, direct links", witness: { maxLeaseMs: WITNESS_QUIET_MS } });
    const servers = [
      { host: "127.0.0.1", port: ports.a },
      { host: "127.0.0.1", port: ports.b },
    ];
    await proc.ask({ cmd: "follow", servers, user: USER, n: o.clients, topic: "tandem/it/state", reconnectMs: o.reconnectMs }, "ready", START_LIMIT_MS);
    for (let i = 0; i < o.trials; i++) {
      const active = await settled(c, o.clients);
      const standby = other(active);
      const w = await proc.ask({ cmd: "where" }, "connected");
      if (w.connected !== o.clients || w.active[active] !== o.clients) throw new Error(`before trial ${i + 1}: ${w.connected} clients connected, states seen ${JSON.stringify(w.active)} (want all ${o.clients} on ${active})`);
      const cookie = await login(c.nodes[standby].url);
      await sleep(Math.random() * 50);
      const landed = proc.next("landed", TRIAL_LIMIT_MS + 10_000);
      await proc.ask({ cmd: "watch", want: standby, limitMs: TRIAL_LIMIT_MS }, "watching");
      const wall0 = Date.now();
      const t0 = process.hrtime.bigint();
      const p0 = performance.now();
      c.signal(active, "SIGKILL");
      let held: number | null = null;
      while (held === null && performance.now() - p0 < TRIAL_LIMIT_MS) {
        if (acting((await stateOf(c.nodes[standby].url, cookie))?.state)) held = performance.now() - p0;
        else await sleep(STATUS_POLL_MS);
      }
      const r = await landed;
      const ms = (ts: (string | null)[]) => ts.map((t) => (t === null ? null : +(Number(BigInt(t) - t0) / 1e6).toFixed(1)));
      const tr = c.transitions(standby).find((x) => x.time >= wall0 - 5 && x.to === "active-held");
      const trial: TakeoverTrial = {
        killed: active,
        clients: ms(r.landed),
        connack: ms(r.connacked),
        closed: ms(r.closed),
        reconnecting: ms(r.reconnecting),
        held: held === null ? null : +held.toFixed(1),
        heldLog: tr ? tr.time - wall0 : null,
        connects: r.connects,
        refused: r.refused,
      };
      record(trial);
      if (o.trace) {
        const span = (xs: (number | null)[]) => {
          const v = xs.filter((x): x is number => x !== null);
          return v.length ? `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)} ms (${v.length})` : "none";
        };
        log(`  clients: closed ${span(trial.closed)}, reconnecting ${span(trial.reconnecting)}, CONNACK ${span(trial.connack)}, state ${span(trial.clients)}`);
      }
      if (o.trace) trace(c, standby, wall0, wall0 + Math.max(...trial.clients.map((x) => x ?? TRIAL_LIMIT_MS)));
      const ok = trial.clients.filter((x): x is number => x !== null);
      log(
        `takeover ${i + 1}/${o.trials}: ${ok.length}/${o.clients} clients on ${standby}, p50 ${ok.length ? pct(ok, 50).toFixed(0) : "?"} ms, last ${ok.length ? Math.max(...ok).toFixed(0) : "?"} ms, ` +
          `${ok.filter((x) => x <= TAKEOVER_TARGET_MS).length} within 1 s; active-held ${trial.held?.toFixed(0) ?? "?"} ms (log ${trial.heldLog ?? "?"} ms); ${r.connects} CONNACKs accepted, ${r.refused} refused`,
      );
      await c.exited(active);
      const cf = await c.api(standby, "POST", "/confirm", {}, "operator");
      if (cf.status !== 200) throw new Error(`confirm on ${standby}: ${cf.status} ${JSON.stringify(cf.json)}`);
      c.startNode(active);
      await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", START_LIMIT_MS, "rejoined as standby");
    }
  } finally {
    await proc.close();
    await c.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      clients: { type: "string" },
      messages: { type: "string" },
      rounds: { type: "string" },
      window: { type: "string", default: "100" },
      procs: { type: "string", default: "2" },
      tags: { type: "string", default: "100" },
      seconds: { type: "string", default: "30" },
      trials: { type: "string" },
      "takeover-clients": { type: "string", default: "100" },
      "reconnect-ms": { type: "string", default: "100" },
      only: { type: "string" },
      trace: { type: "boolean", default: false },
      out: { type: "string" },
    },
  });
  const q = values.quick;
  const ks = (values.clients ?? (q ? "1,10" : "1,10,50")).split(",").map(Number);
  const num = (name: string, v: string | undefined, dflt: number, min = 1) => {
    const n = Number(v ?? dflt);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: a whole number ≥ ${min}, got '${v}'`);
    return n;
  };
  const o = {
    messages: num("messages", values.messages, q ? 2000 : 10_000),
    rounds: num("rounds", values.rounds, q ? 1 : 3),
    window: num("window", values.window, 100),
    procs: num("procs", values.procs, 2),
    tags: num("tags", values.tags, 100),
    seconds: num("seconds", values.seconds, 30),
    trials: num("trials", values.trials, q ? 2 : 5),
    takeoverClients: num("takeover-clients", values["takeover-clients"], 100),
    reconnectMs: num("reconnect-ms", values["reconnect-ms"], 100, 0),
  };
  if (ks.some((k) => !Number.isInteger(k) || k < 1)) throw new Error(`--clients: whole numbers ≥ 1 separated by commas, got '${values.clients}'`);
  if (values.only !== undefined && values.only !== "fanout" && values.only !== "takeover") throw new Error(`--only: fanout or takeover, got '${values.only}'`);
  const started = Date.now();
  const load0 = loadavg();
  const dir = mkdtempSync(join(tmpdir(), "tandem-bench-mqtt-"));
  process.on("exit", () => {
    killBenchChildren();
    killAllChildren();
    rmSync(dir, { recursive: true, force: true });
  });
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping every process this bench started`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const runs: FanoutRun[] = [];
  const trials: TakeoverTrial[] = [];
  const takeoverSettings: Record<string, unknown> = {};
  let mosquittoConf: string[] = [];
  let failure: unknown = null;
  try {
    if (values.only !== "takeover") {
      const topics = tagTopics(o.tags);
      const tandem = await tandemFeed(await freePort(), USER);
      let mosq: Awaited<ReturnType<typeof mosquittoFeed>> | null = null;
      try {
        mosq = await mosquittoFeed(dir, await freePort(), USER);
        mosquittoConf = mosq.settings;
        for (const k of ks) {
          for (let r = 0; r < o.rounds; r++) {
            // alternate which goes first, so a drift in the machine's load falls on both alike
            for (const feed of r % 2 === 0 ? [tandem, mosq] : [mosq, tandem]) {
              const run = await fanoutRun(feed, k, { ...o, topics });
              runs.push(run);
              log(`fan-out ${feed.name} K=${k} round ${r + 1}/${o.rounds}: ${run.perSecond} msg/s (${run.delivered}/${k * o.messages} delivered in ${run.ms.toFixed(0)} ms; publishing took ${run.publishMs.toFixed(0)} ms; CPU: broker ${run.cpu.brokerMs} ms, bench ${run.cpu.benchMs} ms)`);
            }
          }
        }
      } finally {
        await tandem.close();
        await mosq?.close();
      }
    }
    if (values.only !== "fanout") await takeover({ trials: o.trials, clients: o.takeoverClients, reconnectMs: o.reconnectMs, trace: values.trace }, (t) => trials.push(t), takeoverSettings);
  } catch (err) {
    failure = err;
  }
  report({ ks, o, runs, trials, takeoverSettings, mosquittoConf, started, load0, failure, out: values.out });
  if (failure) throw failure;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
