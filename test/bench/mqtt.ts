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
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Cluster, freePort, killAllChildren, sleep } from "../helpers/cluster.js";
import { ClientsProc, killBenchChildren, mosquittoFeed, ownCpuMs, tandemFeed, type Feed } from "./mqtt-brokers.js";
import { acting, login, stateOf } from "./serving.js";
import { log, pct, summary, type Summary } from "./stats.js";

type Id = "a" | "b";
const other = (id: Id): Id => (id === "a" ? "b" : "a");
const USER = "viewer";
const TOPIC = "tandem/bench/tags/#";
/** a fan-out run ends when no message came for this long (losses), or after --seconds */
const IDLE_MS = 3000;
const WITNESS_QUIET_MS = 2000;
const TRIAL_LIMIT_MS = 10_000;
const START_LIMIT_MS = 60_000;
const STATUS_POLL_MS = 5;
const FANOUT_TARGET = 0.5;
const TAKEOVER_TARGET_MS = 1000;

interface FanoutRun {
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

interface TakeoverTrial {
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
    let { active } = await c.ready();
    const quiet = witnessFrom + WITNESS_QUIET_MS + 500 - Date.now();
    if (quiet > 0) await sleep(quiet);
    Object.assign(settings, { heartbeat: { intervalMs: 50, timeoutMs: 500 }, leaseMs: 1000, network: "loopback, direct links", witness: { maxLeaseMs: WITNESS_QUIET_MS } });
    const servers = [
      { host: "127.0.0.1", port: ports.a },
      { host: "127.0.0.1", port: ports.b },
    ];
    await proc.ask({ cmd: "follow", servers, user: USER, n: o.clients, topic: "tandem/it/state", reconnectMs: o.reconnectMs }, "ready", START_LIMIT_MS);
    for (let i = 0; i < o.trials; i++) {
      const standby = other(active);
      await c.waitFor(active, (s) => s.state === "active" && s.peer.state === "standby" && s.mqtt?.clients === o.clients, 20_000, `settled active with ${o.clients} MQTT clients`);
      await c.waitFor(standby, (s) => s.state === "standby" && s.peer.state === "active", 20_000, "settled standby");
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
      active = standby;
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

interface Results {
  ks: number[];
  o: Record<string, number>;
  runs: FanoutRun[];
  trials: TakeoverTrial[];
  takeoverSettings: Record<string, unknown>;
  mosquittoConf: string[];
  started: number;
  load0: number[];
  failure: unknown;
  out?: string;
}

const median = (xs: number[]) => (xs.length ? pct(xs, 50) : null);

function report(r: Results): void {
  const fanout = r.ks.map((k) => {
    const of = (b: string) => r.runs.filter((x) => x.clients === k && x.broker === b);
    const t = median(of("tandem").map((x) => x.perSecond));
    const m = median(of("mosquitto").map((x) => x.perSecond));
    const lost = (b: string) => of(b).reduce((a, x) => a + (x.clients * x.messages - x.delivered), 0);
    // CPU ms per 10,000 messages delivered: Tandem's broker with its publish path (one process); Mosquitto, and the mqtt.js publisher feeding it
    const per10k = (b: string, f: (x: FanoutRun) => number) => median(of(b).map((x) => +((f(x) * 10_000) / x.delivered).toFixed(1)));
    const cpuPer10k = { tandem: per10k("tandem", (x) => x.cpu.brokerMs), mosquitto: per10k("mosquitto", (x) => x.cpu.brokerMs), mosquittoPublisher: per10k("mosquitto", (x) => x.cpu.benchMs) };
    return { clients: k, tandemPerSecond: t, mosquittoPerSecond: m, ratio: t !== null && m ? +(t / m).toFixed(2) : null, cpuMsPer10k: cpuPer10k, lost: { tandem: lost("tandem"), mosquitto: lost("mosquitto") } };
  });
  const all = r.trials.flatMap((t) => t.clients.map((x) => x ?? Infinity));
  const landed = all.filter(Number.isFinite);
  const lastPerTrial = r.trials.map((t) => Math.max(...t.clients.map((x) => x ?? Infinity)));
  const held = r.trials.flatMap((t) => (t.held === null ? [] : [t.held]));
  // the broker's part: from the standby being active-held to the trial's last client holding its state
  const brokerPart = r.trials.flatMap((t) => (t.held === null ? [] : [Math.max(...t.clients.map((x) => x ?? Infinity)) - t.held])).filter(Number.isFinite);
  const within = all.filter((x) => x <= TAKEOVER_TARGET_MS).length;
  const allClients = summary(landed);
  const result = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - r.started) / 1000),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverageAtStart: r.load0.map((x) => +x.toFixed(2)), loadAverageAtEnd: loadavg().map((x) => +x.toFixed(2)) },
    settings: {
      fanout: {
        clients: r.ks,
        messagesPerRun: r.o.messages,
        roundsPerBroker: r.o.rounds,
        windowInFlight: r.o.window,
        clientProcesses: r.o.procs,
        tagTopics: r.o.tags,
        subscription: TOPIC,
        qos: 0,
        retain: true,
        tandem: "MqttBroker in the bench's process (real Authenticator + LoginLimits, scrypt-hashed user), fed by broker.publish(topic, payload, true, done)",
        mosquitto: { binary: "/usr/sbin/mosquitto", conf: r.mosquittoConf, feed: "an mqtt.js publisher (QoS 0, retain) in the bench's process" },
      },
      takeover: { clients: r.o.takeoverClients, reconnectPeriodMs: r.o.reconnectMs, connectTimeoutMs: 2000, statusPollMs: STATUS_POLL_MS, trials: r.o.trials, ...r.takeoverSettings },
    },
    fanout: fanout.map((f) => ({ ...f, target: `ratio ≥ ${FANOUT_TARGET}`, met: f.ratio === null ? null : f.ratio >= FANOUT_TARGET })),
    takeover: {
      allClients,
      notLanded: all.length - landed.length,
      withinTarget: { within, of: all.length, targetMs: TAKEOVER_TARGET_MS },
      lastClientPerTrial: summary(lastPerTrial.filter(Number.isFinite)),
      connackAccepted: summary(r.trials.flatMap((t) => t.connack.filter((x): x is number => x !== null))),
      activeHeld: summary(held),
      activeHeldFromLog: summary(r.trials.flatMap((t) => (t.heldLog === null ? [] : [t.heldLog]))),
      lastClientMinusActiveHeld: summary(brokerPart),
      met: all.length ? within === all.length : null,
    },
    runs: r.runs,
    trials: r.trials,
    failure: r.failure ? String((r.failure as Error).stack ?? r.failure) : null,
  };
  const n = (x: number | null) => (x === null ? "–" : x.toLocaleString("en-US"));
  const fanTable = [
    `| subscribers | Tandem (embedded) msg/s | Mosquitto msg/s | Tandem ÷ Mosquitto | target | CPU ms per 10k delivered: Tandem / Mosquitto (+ its publisher) |`,
    `|---|---|---|---|---|---|`,
    ...result.fanout.map(
      (f) =>
        `| ${f.clients} | ${n(f.tandemPerSecond)} | ${n(f.mosquittoPerSecond)} | ${f.ratio ?? "–"} | ≥ ${FANOUT_TARGET}${f.met === null ? "" : f.met ? " (met)" : " (NOT met)"} | ${f.cpuMsPer10k.tandem ?? "–"} / ${f.cpuMsPer10k.mosquitto ?? "–"} (+ ${f.cpuMsPer10k.mosquittoPublisher ?? "–"}) |`,
    ),
  ];
  const row = (what: string, s: Summary | null, target = "") => (s ? `| ${what} | ${s.n} | ${s.p50} ms | ${s.p90} ms | ${s.p99} ms | ${s.max} ms | ${target} |` : "");
  const tk = result.takeover;
  const toTable = [
    `| measure | n | p50 | p90 | p99 | max | target |`,
    `|---|---|---|---|---|---|---|`,
    row(`kill -9 → client holds the new active's state (every client of every trial)`, allClients, `all ≤ ${TAKEOVER_TARGET_MS} ms: ${within}/${all.length}${tk.met === null ? "" : tk.met ? " (met)" : " (NOT met)"}`),
    row("  … the last of the clients, per trial", tk.lastClientPerTrial),
    row("  … CONNACK accepted by the new active (every client)", tk.connackAccepted),
    row("  … standby active-held (status)", tk.activeHeld),
    row("  … standby active-held (its log)", tk.activeHeldFromLog),
    row("  … last client − active-held, per trial (the broker's and clients' part)", tk.lastClientMinusActiveHeld),
  ].filter(Boolean);
  console.log(JSON.stringify({ ...result, runs: undefined, trials: undefined }, null, 2));
  if (r.runs.length) console.log(`\n${fanTable.join("\n")}\n`);
  if (r.trials.length) console.log(`${toTable.join("\n")}\n`);
  console.log(`run took ${result.durationS} s; load average ${result.machine.loadAverageAtStart.join(" ")} at the start, ${result.machine.loadAverageAtEnd.join(" ")} at the end`);
  if (r.out) writeFileSync(r.out, JSON.stringify(result, null, 2) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
