// Failover benchmark (DESIGN.md performance targets, L1), in one run:
//   1. kill -9 of the active process → the standby is serving, and, trial for
//      trial in the same loop, the reference: keepalived (Debian) in network
//      namespaces the bench creates, 0.1 s and 1 s advert, kill -9 of the
//      master → the virtual address answers from the backup (keepalived.ts)
//   2. the active host silenced (SIGSTOP: no heartbeats, no lease renewals) → the standby is serving
//   3. planned switchover (API call to the active → the peer is serving)
// "Serving" is measured from outside, as a client sees it (serving.ts): the
// node's HTTP API answers active-held/active, and a plant read through it
// (one Modbus and one OPC UA tag of the plant simulator) returns good; both
// are reported, and the time when both hold. In the kill -9 trials an MQTT
// client also connects to the standby's broker until its CONNACK is accepted
// and the Modbus tag's retained value arrives, good (DESIGN.md: "… MQTT
// CONNACK accepted"): reported on its own and as serving with MQTT, when all
// three hold. The node's own log time of the transition is reported beside
// them.
// Real processes with the demo's settings: `tandem start` × 2, `tandem
// witness`, `tandem sim` and the demo's drivers section, by default each on
// its own host made of a network namespace, with two pair links and a
// witness network (ns-pair.ts), so Tandem and keepalived run on the same kind
// of network; `--net loopback` runs them on 127.0.0.1 (test/helpers/cluster.ts).
//   npm run bench:failover [-- --trials N --keepalived-trials N --skip-keepalived
//                              --net netns|loopback --standby hot|cold --out FILE]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { demoDriversConfig } from "../../drivers/demo-tags.js";
import { loadConfig } from "../../runtime/config/load.js";
import { prefixOf, tagTopic } from "../../runtime/mqtt/topics.js";
import { Cluster, exited, freePort, killAllChildren, sleep, spawnCli } from "../helpers/cluster.js";
import { ActingSampler, type Overlap } from "./acting-sampler.js";
import { KeepalivedPair, type KeepalivedSample } from "./keepalived.js";
import { NsPair, type BenchPair } from "./ns-pair.js";
import { login, readsGood, siteClient, untilServing, type MqttProbe, type Serving } from "./serving.js";
import { log, summary, type Summary } from "./stats.js";

type Id = "a" | "b";
const other = (id: Id): Id => (id === "a" ? "b" : "a");
/** the bench cluster's witness runs with --max-lease-ms 2000 (test/helpers/cluster.ts): its quiet time after start */
const WITNESS_QUIET_MS = 2000;
/** one Modbus TCP and one OPC UA tag of the demo's drivers section */
const TAGS = ["line1.tank1.level", "line1.reactor.temperature"];
const TRIAL_LIMIT_MS = 10_000;
/** a node's start, from spawn to its API answering, on a loaded machine */
const START_LIMIT_MS = 60_000;


async function confirm(c: BenchPair, id: Id): Promise<void> {
  const r = await c.api(id, "POST", "/confirm", {}, "operator");
  if (r.status !== 200) throw new Error(`confirm on ${id}: ${r.status} ${JSON.stringify(r.json)}`);
}

/**
 * A settled pair before a trial: the active is `active` (confirmed), the
 * standby is `standby`, sees the active, both read every device (service
 * level 255), and, with a hot standby, the standby's own plant read is good.
 * Then a random wait of up to one heartbeat interval, so the fault falls at a
 * random phase of the heartbeat and lease-renewal timers.
 */
async function settle(c: BenchPair, active: Id, hot: boolean, cookie: string, heartbeatMs: number): Promise<void> {
  const standby = other(active);
  await c.waitFor(active, (s) => s.state === "active" && s.serviceLevel === 255 && s.peer.state === "standby", 20_000, "settled active");
  await c.waitFor(standby, (s) => s.state === "standby" && s.serviceLevel === 255 && s.peer.state === "active", 20_000, "settled standby");
  if (hot) {
    const t0 = Date.now();
    while (!(await readsGood(c.nodes[standby].url, cookie, TAGS))) {
      if (Date.now() - t0 > 20_000) throw new Error(`node ${standby}: the hot standby's plant reads are not good after 20 s`);
      await sleep(20);
    }
  }
  await sleep(Math.random() * heartbeatMs);
}

interface Fault {
  serving: Serving;
  /** ms from the fault to the standby's logged transition to active-held (or active), when found */
  nodeLog: number | null;
}

async function fault(c: BenchPair, active: Id, inflict: () => Promise<void> | void, cookie: string, to: string, trace = false, probe?: MqttProbe): Promise<Fault> {
  const standby = other(active);
  const wall0 = Date.now();
  const t0 = performance.now();
  await inflict();
  const serving = await untilServing(c.nodes[standby].url, cookie, TAGS, t0, TRIAL_LIMIT_MS, probe);
  const tr = c.transitions(standby).find((x) => x.time >= wall0 - 5 && x.to === to);
  if (trace) traceStandby(c, standby, wall0, tr?.time ?? wall0 + TRIAL_LIMIT_MS);
  return { serving, nodeLog: tr ? tr.time - wall0 : null };
}

/** --trace: the standby's log lines from 200 ms before the fault to its transition, in ms from the fault. */
function traceStandby(c: BenchPair, standby: Id, wall0: number, until: number): void {
  for (const line of c.logLines(standby)) {
    let j: { time?: string; msg?: string };
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    const at = Date.parse(j.time ?? "");
    if (at >= wall0 - 200 && at <= until + 5) log(`  ${standby} ${at - wall0 >= 0 ? "+" : ""}${at - wall0} ms  ${j.msg}`);
  }
}

interface Series {
  http: number[];
  read: number[];
  both: number[];
  nodeLog: number[];
  /** with the MQTT probe (kill -9): its CONNACK accepted, the tag's value received, and HTTP + read + MQTT all holding */
  mqttConnack: number[];
  mqttValue: number[];
  all: number[];
}
const series = (): Series => ({ http: [], read: [], both: [], nodeLog: [], mqttConnack: [], mqttValue: [], all: [] });
function add(s: Series, f: Fault): void {
  s.http.push(f.serving.http);
  s.read.push(f.serving.read);
  s.both.push(f.serving.both);
  if (f.nodeLog !== null) s.nodeLog.push(f.nodeLog);
  const m = f.serving.mqtt;
  if (m) {
    s.mqttConnack.push(m.connack);
    s.mqttValue.push(m.value);
    s.all.push(m.all);
  }
}

async function startSim(dir: string): Promise<{ sim: ReturnType<typeof spawnCli>; modbus: number; opcua: number }> {
  const modbus = await freePort();
  const opcua = await freePort();
  const sim = spawnCli(["sim", "--modbus-port", String(modbus), "--opcua-port", String(opcua), "--data-dir", join(dir, "sim")]);
  const t0 = Date.now();
  while (!sim.output().includes("plant simulator:")) {
    if (sim.exitCode !== null) throw new Error(`the plant simulator exited: ${sim.output()}`);
    if (Date.now() - t0 > 30_000) throw new Error(`the plant simulator did not start within 30 s: ${sim.output()}`);
    await sleep(50);
  }
  return { sim, modbus, opcua };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: "string", default: "30" },
      "keepalived-trials": { type: "string" },
      "skip-keepalived": { type: "boolean", default: false },
      standby: { type: "string", default: "hot" },
      net: { type: "string", default: "netns" },
      out: { type: "string" },
      trace: { type: "boolean", default: false },
    },
  });
  const trials = Number(values.trials);
  const kaTrials = values["skip-keepalived"] ? 0 : Number(values["keepalived-trials"] ?? trials);
  if (!Number.isInteger(trials) || trials < 1 || !Number.isInteger(kaTrials) || kaTrials < 0) throw new Error("--trials and --keepalived-trials: whole numbers (trials ≥ 1)");
  if (values.standby !== "hot" && values.standby !== "cold") throw new Error(`--standby: hot or cold, got '${values.standby}'`);
  const hot = values.standby === "hot";
  if (values.net !== "netns" && values.net !== "loopback") throw new Error(`--net: netns or loopback, got '${values.net}'`);
  const started = Date.now();
  // Ctrl-C or SIGTERM: every process this bench started goes (NetLab removes its namespaces the same way)
  process.on("exit", killAllChildren);
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping every process this bench started and removing its namespaces`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const kill = series();
  const stop = series();
  const sw = series();
  const ka: Record<"0.1" | "1", KeepalivedSample[]> = { "0.1": [], "1": [] };
  let twoActives: { rounds: number; overlaps: Overlap[] } | null = null;
  let sampler: ActingSampler | null = null;
  let settings: Record<string, unknown> = {};
  const pairs: KeepalivedPair[] = [];
  let c: BenchPair | null = null;
  let loopbackMqtt: Record<Id, number> | null = null;
  let sim: ReturnType<typeof spawnCli> | null = null;
  let simDir: string | null = null;
  let failure: unknown = null;
  try {
    if (kaTrials > 0) {
      log("keepalived: building the namespaces and starting two pairs (0.1 s and 1 s advert)");
      const [p01, p1] = await Promise.all([KeepalivedPair.start({ advertSec: 0.1 }), KeepalivedPair.start({ advertSec: 1 })]);
      pairs.push(p01, p1);
    }
    // the demo's drivers section; a cold standby reads nothing until it takes over
    const drivers = (host: string, modbus: number, opcua: number) => {
      const d = demoDriversConfig(host, modbus, opcua) as { devices: { standby: string }[] };
      if (!hot) for (const dev of d.devices) dev.standby = "cold";
      return d;
    };
    const witnessFrom = Date.now();
    if (values.net === "netns") {
      log("Tandem: building the namespaces (lan, plant, witness networks) and starting sim, witness, a and b");
      c = await NsPair.start(drivers);
    } else {
      simDir = mkdtempSync(join(tmpdir(), "tandem-bench-sim-"));
      const simPorts = await startSim(simDir);
      sim = simPorts.sim;
      const ports = { a: await freePort(), b: await freePort() };
      loopbackMqtt = ports;
      c = await Cluster.start({ direct: true, extra: (id) => stringify({ drivers: drivers("127.0.0.1", simPorts.modbus, simPorts.opcua), mqtt: { listen: `127.0.0.1:${ports[id]}` } }, { lineWidth: 0 }) });
    }
    const mqttPorts = c.mqttPorts ?? loopbackMqtt!;
    // the MQTT probe of the kill -9 trials: the standby's broker, the Modbus tag's retained value
    const probe = (id: Id): MqttProbe => ({ port: mqttPorts[id], topic: tagTopic(prefixOf("it"), TAGS[0]!) });
    const cfg = loadConfig(c.nodes.a.config, { ...process.env, ...c.env() });
    settings = {
      heartbeat: cfg.heartbeat,
      takeover: cfg.takeover,
      failback: cfg.failback,
      witness: { maxLeaseMs: WITNESS_QUIET_MS },
      links: cfg.peer.links.length,
      network: values.net,
      standby: values.standby,
      tags: TAGS,
      mqttProbe: { trials: "kill -9", tag: TAGS[0], user: "viewer", retryMs: 5, what: "a fresh mqtt.js client to the standby's broker until its CONNACK is accepted and the tag's retained value arrives with quality good; a site client with the same login (viewer) is connected to the active from 1 s before the fault, so the login is one the pair shares" },
      trials,
      keepalivedTrials: kaTrials,
    };
    const hbMs = cfg.heartbeat.intervalMs;
    // loading the drivers (node-opcua alone takes 1–10 s, more on a loaded machine) comes before the API listens
    for (const id of ["a", "b"] as Id[]) await c.waitFor(id, () => true, START_LIMIT_MS, "the node's API answering");
    let { active } = await c.ready();
    // a settled site: past the witness's quiet time after its own start, during which it vouches for no takeover
    const quiet = witnessFrom + WITNESS_QUIET_MS + 500 - Date.now();
    if (quiet > 0) await sleep(quiet);
    sampler = new ActingSampler({ a: c.nodes.a.url, b: c.nodes.b.url });
    sampler.start();

    // 1. kill -9, interleaved with keepalived's trials so machine load falls on both alike
    for (let i = 0; i < Math.max(trials, kaTrials); i++) {
      if (i < trials) {
        const standby = other(active);
        const cookie = await login(c.nodes[standby].url);
        await settle(c, active, hot, cookie, hbMs);
        const site = await siteClient(probe(active));
        const f = await fault(c, active, () => c!.signal(active, "SIGKILL"), cookie, "active-held", values.trace, probe(standby));
        site.end();
        add(kill, f);
        await c.exited(active);
        await confirm(c, standby);
        c.startNode(active);
        await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", START_LIMIT_MS, "rejoined");
        const m = f.serving.mqtt;
        log(`kill -9 ${i + 1}/${trials}: http ${f.serving.http.toFixed(0)} ms, plant read ${f.serving.read.toFixed(0)} ms, both ${f.serving.both.toFixed(0)} ms, MQTT CONNACK ${m?.connack.toFixed(0) ?? "?"} ms, value ${m?.value.toFixed(0) ?? "?"} ms, all ${m?.all.toFixed(0) ?? "?"} ms, log ${f.nodeLog ?? "?"} ms`);
        active = standby;
      }
      if (i < kaTrials) {
        for (const [k, p] of [["0.1", pairs[0]!], ["1", pairs[1]!]] as const) {
          const s = await p.trial();
          ka[k].push(s);
          log(`keepalived ${k} s advert ${i + 1}/${kaTrials}: client ${s.client.toFixed(0)} ms, address on the backup ${s.backupAddress?.toFixed(0) ?? "?"} ms`);
        }
      }
    }
    for (const p of pairs.splice(0)) await p.close();

    // 2. silenced host (SIGSTOP)
    for (let i = 0; i < trials; i++) {
      const standby = other(active);
      const cookie = await login(c.nodes[standby].url);
      await settle(c, active, hot, cookie, hbMs);
      const f = await fault(c, active, () => c!.signal(active, "SIGSTOP"), cookie, "active-held");
      add(stop, f);
      c.signal(active, "SIGCONT");
      await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active-held", 10_000, "standby after resume");
      await confirm(c, standby);
      log(`SIGSTOP ${i + 1}/${trials}: http ${f.serving.http.toFixed(0)} ms, both ${f.serving.both.toFixed(0)} ms`);
      active = standby;
    }

    // 3. planned switchover
    for (let i = 0; i < trials; i++) {
      const standby = other(active);
      const cookie = await login(c.nodes[standby].url);
      // a session, not Basic auth: a Basic request runs scrypt whenever the node's credential cache runs out
      const admin = await login(c.nodes[active].url, "admin");
      await settle(c, active, hot, cookie, hbMs);
      const url = `${c.nodes[active].url}/api/v1/switchover`;
      const f = await fault(
        c,
        active,
        async () => {
          const r = await fetch(url, { method: "POST", headers: { cookie: admin, "x-tandem-client": "hmi", "content-type": "application/json" }, body: "{}", signal: AbortSignal.timeout(10_000) });
          if (r.status !== 200) throw new Error(`switchover: ${r.status} ${await r.text()}`);
        },
        cookie,
        "active",
      );
      add(sw, f);
      await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", 5000, "standby");
      log(`switchover ${i + 1}/${trials}: http ${f.serving.http.toFixed(0)} ms, both ${f.serving.both.toFixed(0)} ms`);
      active = standby;
    }
    await sampler.stop();
    twoActives = { rounds: sampler.rounds, overlaps: sampler.overlaps };
    for (const s of twoActives.overlaps) log(`TWO ACTING: ${JSON.stringify(s)}`);
  } catch (err) {
    failure = err;
  } finally {
    await sampler?.stop();
    for (const p of pairs) await p.close().catch(() => {});
    if (c) await c.stop();
    if (sim) {
      sim.kill("SIGTERM");
      await exited(sim).catch(() => sim!.kill("SIGKILL"));
    }
    if (simDir) rmSync(simDir, { recursive: true, force: true });
  }
  report({ kill, stop, sw, ka, twoActives, settings, started, failure, out: values.out });
  if (failure) throw failure;
}

interface Results {
  kill: Series;
  stop: Series;
  sw: Series;
  ka: Record<"0.1" | "1", KeepalivedSample[]>;
  twoActives: { rounds: number; overlaps: Overlap[] } | null;
  settings: Record<string, unknown>;
  started: number;
  failure: unknown;
  out?: string;
}

function report(r: Results): void {
  const leaseMs = (r.settings.takeover as { leaseMs?: number } | undefined)?.leaseMs ?? 1000;
  const ser = (s: Series) => ({
    http: summary(s.http),
    plantRead: summary(s.read),
    serving: summary(s.both),
    nodeLog: summary(s.nodeLog),
    ...(s.all.length ? { mqttConnack: summary(s.mqttConnack), mqttValue: summary(s.mqttValue), servingWithMqtt: summary(s.all) } : {}),
  });
  const kaSum = (xs: KeepalivedSample[]) => ({
    client: summary(xs.map((x) => x.client)),
    backupAddress: summary(xs.flatMap((x) => (x.backupAddress === null ? [] : [x.backupAddress]))),
  });
  const killServing = summary(r.kill.both);
  const killAll = summary(r.kill.all);
  const ratio = (ref: Summary | null, of = killServing) => (of && ref ? { p50: +(of.p50 / ref.p50).toFixed(2), p90: +(of.p90 / ref.p90).toFixed(2), p99: +(of.p99 / ref.p99).toFixed(2) } : null);
  const ka01 = kaSum(r.ka["0.1"]);
  const ka1 = kaSum(r.ka["1"]);
  const result = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - r.started) / 1000),
    settings: r.settings,
    killMinus9: ser(r.kill),
    keepalived: { advert0_1s: ka01, advert1s: ka1, samples: r.ka },
    ratioTandemToKeepalived: { advert0_1s: ratio(ka01.client), advert1s: ratio(ka1.client) },
    ratioTandemWithMqttToKeepalived: { advert0_1s: ratio(ka01.client, killAll), advert1s: ratio(ka1.client, killAll) },
    silencedHost: ser(r.stop),
    switchover: ser(r.sw),
    samplesWithTwoActives: r.twoActives,
    samples: { killMinus9: r.kill, silencedHost: r.stop, switchover: r.sw },
    failure: r.failure ? String((r.failure as Error).stack ?? r.failure) : null,
  };
  const row = (what: string, s: Summary | null, target = "") => (s ? `| ${what} | ${s.n} | ${s.p50} ms | ${s.p90} ms | ${s.p99} ms | ${s.max} ms | ${target} |` : "");
  const met = (s: Summary | null, limit: number) => (s ? ` (${s.p99 <= limit ? "met" : "NOT met"})` : "");
  const tags = `${TAGS.length} tags, Modbus + OPC UA`;
  const md = [
    `| measure | n | p50 | p90 | p99 | max | target |`,
    `|---|---|---|---|---|---|---|`,
    row("Tandem kill -9 → standby serving (HTTP active-held, plant read good **and** MQTT tag value received)", killAll, `p99 ≤ 150 ms${met(killAll, 150)}`),
    row("  … HTTP active-held **and** plant read good (the figure before MQTT)", killServing, killAll ? "" : `p99 ≤ 150 ms${met(killServing, 150)}`),
    row("  … HTTP answers active-held", result.killMinus9.http),
    row(`  … plant read good (${tags})`, result.killMinus9.plantRead),
    row("  … MQTT CONNACK accepted (a fresh client to the standby's broker)", result.killMinus9.mqttConnack ?? null),
    row(`  … MQTT: the tag's retained value received, good (${TAGS[0]})`, result.killMinus9.mqttValue ?? null),
    row("  … transition in the standby's log", result.killMinus9.nodeLog),
    row("keepalived 0.1 s advert, kill -9 → address answers from the backup (client)", ka01.client),
    row("  … address added on the backup (its kernel)", ka01.backupAddress),
    row("keepalived 1 s advert, kill -9 → address answers from the backup (client)", ka1.client),
    row("  … address added on the backup (its kernel)", ka1.backupAddress),
    row("Tandem active silenced (SIGSTOP) → standby serving", result.silencedHost.serving, `p99 ≤ lease + 100 = ${leaseMs + 100} ms${met(result.silencedHost.serving, leaseMs + 100)}`),
    row("  … HTTP answers active-held", result.silencedHost.http),
    row("Tandem planned switchover (API call → peer serving)", result.switchover.serving, `p99 ≤ 100 ms${met(result.switchover.serving, 100)}`),
  ].filter(Boolean);
  const ratios = [
    `| Tandem kill -9 serving ÷ keepalived (client) | p50 | p90 | p99 |`,
    `|---|---|---|---|`,
    ...([["0.1 s advert", result.ratioTandemToKeepalived.advert0_1s], ["1 s advert", result.ratioTandemToKeepalived.advert1s]] as const).flatMap(([k, v]) => (v ? [`| ${k} | ${v.p50} | ${v.p90} | ${v.p99} |`] : [])),
    ...([["0.1 s advert, serving with MQTT", result.ratioTandemWithMqttToKeepalived.advert0_1s], ["1 s advert, serving with MQTT", result.ratioTandemWithMqttToKeepalived.advert1s]] as const).flatMap(([k, v]) => (v ? [`| ${k} | ${v.p50} | ${v.p90} | ${v.p99} |`] : [])),
  ];
  console.log(JSON.stringify({ ...result, samples: undefined, keepalived: { ...result.keepalived, samples: undefined } }, null, 2));
  console.log(`\n${md.join("\n")}\n`);
  if (ratios.length > 2) console.log(`${ratios.join("\n")}\n`);
  console.log(
    r.twoActives
      ? `S1: moments with two nodes acting (X, Y, X sampling, acting-sampler.ts): ${r.twoActives.overlaps.length} in ${r.twoActives.rounds} rounds`
      : "S1: not checked (the run stopped early)",
  );
  console.log(`run took ${result.durationS} s`);
  if (r.out) writeFileSync(r.out, JSON.stringify(result, null, 2) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
