// Services benchmark (DESIGN.md performance targets: "takeover → every
// `active` service healthy on the new active: p99 ≤ 0.5 s plus the services'
// own start time"), in one run:
//   - Tandem: a pair on loopback (`tandem start` × 2 and `tandem witness`,
//     test/helpers/cluster.ts), both with a chain of three services placed
//     `active` — chain-c dependsOn chain-b dependsOn chain-a — each the same
//     small program (slow-start-service.c, compiled by the bench: waits
//     START_MS, then listens on its own port) with a `health: { tcp }` check;
//     each node has its own three ports. A trial: kill -9 of the active, then, from outside:
//       chain healthy  the bench's own TCP connection to each of the new
//                      active's three ports, every 2 ms, until all three answer
//       API running    GET /api/v1/services on the new active lists all three running
//       active-held    GET /api/v1/status on the new active says active-held
//     Then the killed node is started again and must rejoin as standby with
//     none of its services running before the next trial.
//   - the reference, one sample after each trial: a plain bash script starts
//     the same three programs one after another, each waited for until its
//     port answers (services-reference.ts).
//   npm run bench:services [-- --trials N --start-ms MS --program c|node --max-minutes M --out FILE --trace]
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { loadConfig } from "../../runtime/config/load.js";
import { STARTUP_CHECK_MS } from "../../runtime/services/instance.js";
import { Cluster, freePort, killAllChildren, ROOT, sleep } from "../helpers/cluster.js";
import { acting, login, stateOf } from "./serving.js";
import { killReference, referenceStart } from "./services-reference.js";
import { log, summary, type Summary } from "./stats.js";

type Id = "a" | "b";
const other = (id: Id): Id => (id === "a" ? "b" : "a");
/** the chain in start order: each depends on the one before it */
const CHAIN = ["chain-a", "chain-b", "chain-c"] as const;
type Svc = (typeof CHAIN)[number];
/** test/helpers/cluster.ts starts its witness with --max-lease-ms 2000: its quiet time after start */
const WITNESS_QUIET_MS = 2000;
/** the bench's own TCP probe of the new active's ports */
const PROBE_MS = 2;
/** the bench's polls of the node's API (as serving.ts: more would load the node under test) */
const API_POLL_MS = 5;
const TRIAL_LIMIT_MS = 15_000;
/** a node's start, from spawn to its API answering, on a loaded machine */
const START_LIMIT_MS = 60_000;


/** Whether a TCP connection to 127.0.0.1:port opens within timeoutMs. */
function answers(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

async function allAnswer(ports: number[]): Promise<boolean[]> {
  return Promise.all(ports.map((p) => answers(p)));
}

interface ServiceRow {
  name: string;
  state: string;
  node: string | null;
  pid: number | null;
}

async function servicesOf(url: string, cookie: string): Promise<ServiceRow[] | null> {
  try {
    const r = await fetch(`${url}/api/v1/services`, { headers: { cookie }, signal: AbortSignal.timeout(1000) });
    return r.status === 200 ? ((await r.json()) as { services: ServiceRow[] }).services : null;
  } catch {
    return null;
  }
}

const chainRunningOn = (rows: ServiceRow[] | null, id: Id) => !!rows && CHAIN.every((n) => rows.some((r) => r.name === n && r.state === "running" && r.node === id && r.pid !== null));
const noneOfTheChain = (rows: ServiceRow[] | null) => !!rows && CHAIN.every((n) => rows.some((r) => r.name === n && r.pid === null && (r.state === "stopped" || r.state === "waiting")));

/** One trial, in ms from the kill. */
interface Trial {
  /** all three ports of the new active answered the bench's own probe */
  chain: number;
  /** each port's first answer */
  ports: Record<Svc, number>;
  /** GET /services on the new active listed all three running */
  api: number;
  /** GET /status on the new active said active-held (or active) */
  held: number;
  /** from the new active's log (wall clock, ms resolution): its transition, and each service's start and first healthy check */
  log: { heldAt: number | null; started: Record<Svc, number | null>; healthy: Record<Svc, number | null> };
}

/** Polls the new active from t0 (performance.now() at the kill) until its chain is healthy, the API says so and it is active-held. */
async function untilChainHealthy(url: string, cookie: string, ports: number[], id: Id, t0: number): Promise<Omit<Trial, "log">> {
  const first: (number | null)[] = ports.map(() => null);
  let chain: number | null = null;
  let api: number | null = null;
  let held: number | null = null;
  const over = () => performance.now() - t0 > TRIAL_LIMIT_MS;
  const probeLoop = async () => {
    while (chain === null && !over()) {
      const ok = await allAnswer(ports);
      const t = performance.now() - t0;
      ok.forEach((v, i) => v && first[i] === null && (first[i] = t));
      if (ok.every(Boolean)) chain = t;
      else await sleep(PROBE_MS);
    }
  };
  const apiLoop = async () => {
    while (api === null && !over()) {
      const rows = await servicesOf(url, cookie);
      if (chainRunningOn(rows, id)) api = performance.now() - t0;
      else await sleep(API_POLL_MS);
    }
  };
  const statusLoop = async () => {
    while (held === null && !over()) {
      const s = await stateOf(url, cookie);
      if (acting(s?.state)) held = performance.now() - t0;
      else await sleep(API_POLL_MS);
    }
  };
  await Promise.all([probeLoop(), apiLoop(), statusLoop()]);
  if (chain === null || api === null || held === null)
    throw new Error(`node ${id}: not done ${TRIAL_LIMIT_MS} ms after the kill (active-held: ${held !== null}, ports answering: ${first.map((f) => f !== null).join("/")}, API running: ${api !== null})`);
  return { chain, api, held, ports: Object.fromEntries(CHAIN.map((n, i) => [n, first[i]!])) as Record<Svc, number> };
}

/** A node's log lines that parse, with their wall time (ms) and message. */
function logEntries(c: Cluster, id: Id): { at: number; msg: string }[] {
  const out: { at: number; msg: string }[] = [];
  for (const line of c.logLines(id)) {
    try {
      const j = JSON.parse(line) as { time?: string; msg?: string };
      if (typeof j.msg === "string") out.push({ at: Date.parse(j.time ?? ""), msg: j.msg });
    } catch {
      /* a line cut by the kill */
    }
  }
  return out;
}

/** The new active's transition and its services' lines, in ms from wall0 (Date.now() at the kill). */
function fromLog(c: Cluster, id: Id, wall0: number): Trial["log"] {
  const started = Object.fromEntries(CHAIN.map((n) => [n, null])) as Record<Svc, number | null>;
  const healthy = { ...started };
  for (const { at, msg } of logEntries(c, id)) {
    if (!(at >= wall0 - 5)) continue;
    for (const n of CHAIN) {
      if (started[n] === null && msg.startsWith(`service ${n} started:`)) started[n] = at - wall0;
      if (healthy[n] === null && msg.startsWith(`service ${n} is healthy`)) healthy[n] = at - wall0;
    }
  }
  const tr = c.transitions(id).find((x) => x.time >= wall0 - 5 && (x.to === "active-held" || x.to === "active"));
  return { heldAt: tr ? tr.time - wall0 : null, started, healthy };
}

/**
 * The program each service runs, as argv: the C program compiled into `dir`
 * (`cc`, from scripts/bench-deps.txt), or the Node one built next to this file.
 */
function buildProgram(kind: "c" | "node", dir: string): string[] {
  if (kind === "node") return [process.execPath, join(import.meta.dirname, "slow-start-service.js")];
  const exe = join(dir, "slow-start-service");
  try {
    execFileSync("cc", ["-O2", "-o", exe, join(ROOT, "test/bench/slow-start-service.c")], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw new Error(`cannot compile test/bench/slow-start-service.c with cc (bash scripts/ensure-test-deps.sh scripts/bench-deps.txt installs gcc; --program node needs none): ${(err as Error).message}`);
  }
  return [exe];
}

/** --trace: the new active's log lines from 50 ms before the kill to its last service healthy, in ms from the kill. */
function trace(c: Cluster, id: Id, wall0: number, until: number): void {
  for (const { at, msg } of logEntries(c, id)) if (at >= wall0 - 50 && at <= until + 5) log(`  ${id} ${at - wall0 >= 0 ? "+" : ""}${at - wall0} ms  ${msg}`);
}

/** Both nodes' services sections: the chain, on this node's own three ports. */
function servicesYaml(program: string[], ports: number[], startMs: number): string {
  const lines = ["services:"];
  CHAIN.forEach((name, i) => {
    lines.push(
      `  ${name}:`,
      `    command: ${JSON.stringify(program[0])}`,
      `    args: ${JSON.stringify(program.slice(1))}`,
      `    placement: active`,
      `    env: { PORT: "${ports[i]}", START_MS: "${startMs}" }`,
      `    health: { tcp: "127.0.0.1:${ports[i]}" }`,
      ...(i > 0 ? [`    dependsOn: [${CHAIN[i - 1]}]`] : []),
    );
  });
  return lines.join("\n") + "\n";
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * A steady pair before a trial: the active `active` with its chain running
 * and answering, the standby `standby` following it with none of its chain
 * running and its ports closed. Then a random wait of up to one heartbeat
 * interval, so the kill falls at a random phase of the timers.
 */
async function settle(c: Cluster, active: Id, ports: Record<Id, number[]>, cookies: Record<Id, string>, heartbeatMs: number): Promise<void> {
  const standby = other(active);
  await c.waitFor(active, (s) => s.state === "active" && s.peer.state === "standby", 20_000, "settled active");
  await c.waitFor(standby, (s) => s.state === "standby" && s.peer.state === "active", 20_000, "settled standby");
  await until(`node ${active}: its chain running and answering`, async () => chainRunningOn(await servicesOf(c.nodes[active].url, cookies[active]), active) && (await allAnswer(ports[active])).every(Boolean), 20_000);
  await until(`node ${standby}: none of its chain running, its ports closed`, async () => noneOfTheChain(await servicesOf(c.nodes[standby].url, cookies[standby])) && !(await allAnswer(ports[standby])).some(Boolean), 20_000);
  await sleep(Math.random() * heartbeatMs);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: "string", default: "30" },
      "start-ms": { type: "string", default: "100" },
      program: { type: "string", default: "c" },
      "max-minutes": { type: "string", default: "30" },
      out: { type: "string" },
      trace: { type: "boolean", default: false },
    },
  });
  const trials = Number(values.trials);
  const startMs = Number(values["start-ms"]);
  const maxMinutes = Number(values["max-minutes"]);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials: a whole number ≥ 1, got '${values.trials}'`);
  if (!Number.isInteger(startMs) || startMs < 0) throw new Error(`--start-ms: whole milliseconds ≥ 0, got '${values["start-ms"]}'`);
  if (!(maxMinutes > 0)) throw new Error(`--max-minutes: a number > 0, got '${values["max-minutes"]}'`);
  if (values.program !== "c" && values.program !== "node") throw new Error(`--program: c or node, got '${values.program}'`);
  const programKind = values.program;
  const started = Date.now();
  const deadline = started + maxMinutes * 60_000;
  const programDir = mkdtempSync(join(tmpdir(), "tandem-bench-svc-"));
  // Ctrl-C or SIGTERM: every process this bench started goes (the nodes' launchers take their services along)
  process.on("exit", () => {
    killReference();
    killAllChildren();
    rmSync(programDir, { recursive: true, force: true });
  });
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping every process this bench started`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const samples: Trial[] = [];
  const reference: number[] = [];
  let settings: Record<string, unknown> = {};
  let stoppedEarly: string | null = null;
  let c: Cluster | null = null;
  let failure: unknown = null;
  try {
    const program = buildProgram(programKind, programDir);
    const ports = { a: [] as number[], b: [] as number[] };
    for (const id of ["a", "b"] as Id[]) for (let i = 0; i < CHAIN.length; i++) ports[id].push(await freePort());
    const refPorts: number[] = [];
    for (let i = 0; i < CHAIN.length; i++) refPorts.push(await freePort());

    log("starting witness, a and b on loopback, each with the chain chain-a ← chain-b ← chain-c placed active");
    const witnessFrom = Date.now();
    c = await Cluster.start({ direct: true, heartbeat: { intervalMs: 50, timeoutMs: 500 }, extra: (id) => servicesYaml(program, ports[id], startMs) });
    const cfg = loadConfig(c.nodes.a.config, { ...process.env, ...c.env() });
    const health = cfg.services["chain-a"]!.health!;
    settings = {
      heartbeat: cfg.heartbeat,
      takeover: cfg.takeover,
      failback: cfg.failback,
      witness: { maxLeaseMs: WITNESS_QUIET_MS },
      network: "loopback, direct links (no relays)",
      services: {
        chain: CHAIN.map((n) => ({ name: n, dependsOn: cfg.services[n]!.dependsOn, placement: cfg.services[n]!.placement })),
        program: programKind === "c" ? "slow-start-service.c (compiled with cc -O2): waits START_MS, then listens on 127.0.0.1:PORT" : "slow-start-service.js (node): waits START_MS, then listens on 127.0.0.1:PORT",
        startMs,
        health: { kind: "tcp", intervalMs: health.intervalMs, timeoutMs: health.timeoutMs, startGraceMs: health.startGraceMs, failures: health.failures, whileStartingEveryMs: STARTUP_CHECK_MS },
      },
      probes: { tcpEveryMs: PROBE_MS, apiEveryMs: API_POLL_MS },
      reference: { script: "bash, one program after another, each polled through /dev/tcp every 5 ms", pollMs: 5 },
      priority: "everything at nice 0: the nodes, the witness, their services, the reference script and the bench",
      log: "level debug, to a file (the test cluster's setting)",
      trials,
      maxMinutes,
    };
    const hbMs = cfg.heartbeat.intervalMs;
    log(`settings: heartbeat ${hbMs} ms / link timeout ${cfg.heartbeat.timeoutMs} ms, lease ${cfg.takeover.leaseMs} ms, START_MS ${startMs} (${programKind} program), health tcp every ${health.intervalMs} ms (every ${STARTUP_CHECK_MS} ms while starting), ${trials} trials`);
    let { active } = await c.ready();
    // a settled site: past the witness's quiet time after its own start, during which it vouches for no takeover
    const quiet = witnessFrom + WITNESS_QUIET_MS + 500 - Date.now();
    if (quiet > 0) await sleep(quiet);
    const cookies = { a: await login(c.nodes.a.url), b: await login(c.nodes.b.url) };

    for (let i = 0; i < trials; i++) {
      if (Date.now() > deadline) {
        stoppedEarly = `--max-minutes ${maxMinutes} reached after ${i} trials`;
        log(stoppedEarly);
        break;
      }
      const standby = other(active);
      await settle(c, active, ports, cookies, hbMs);
      const wall0 = Date.now();
      const t0 = performance.now();
      c.signal(active, "SIGKILL");
      const m = await untilChainHealthy(c.nodes[standby].url, cookies[standby], ports[standby], standby, t0);
      const trial: Trial = { ...m, log: fromLog(c, standby, wall0) };
      samples.push(trial);
      if (values.trace) trace(c, standby, wall0, wall0 + (trial.log.healthy["chain-c"] ?? TRIAL_LIMIT_MS));
      await c.exited(active);
      // the killed node's launchers kill its services when the node's pipe closes
      await until(`the services of the killed node ${active} gone`, async () => !(await allAnswer(ports[active])).some(Boolean), 5000);
      const r = await c.api(standby, "POST", "/confirm", {}, "operator");
      if (r.status !== 200) throw new Error(`confirm on ${standby}: ${r.status} ${JSON.stringify(r.json)}`);
      c.startNode(active);
      await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", START_LIMIT_MS, "rejoined as standby");
      cookies[active] = await login(c.nodes[active].url);
      const ref = await referenceStart(program, refPorts, startMs);
      reference.push(ref);
      log(`trial ${i + 1}/${trials}: chain healthy ${m.chain.toFixed(0)} ms (active-held ${m.held.toFixed(0)} ms, API running ${m.api.toFixed(0)} ms); reference ${ref.toFixed(0)} ms`);
      active = standby;
    }
  } catch (err) {
    failure = err;
  } finally {
    killReference();
    if (c) await c.stop();
  }
  report({ samples, reference, settings, started, stoppedEarly, failure, out: values.out });
  if (failure) throw failure;
}

interface Results {
  samples: Trial[];
  reference: number[];
  settings: Record<string, unknown>;
  started: number;
  stoppedEarly: string | null;
  failure: unknown;
  out?: string;
}

const TARGET_MS = 500;

function report(r: Results): void {
  const s = r.samples;
  const chain = summary(s.map((x) => x.chain));
  const held = summary(s.map((x) => x.held));
  const api = summary(s.map((x) => x.api));
  // the services' part of each trial: what follows the takeover
  const servicesPart = summary(s.map((x) => x.chain - x.held));
  const ref = summary(r.reference);
  const logged = (f: (t: Trial) => number | null) => summary(s.flatMap((t) => (f(t) === null ? [] : [f(t)!])));
  const ratio = (a: Summary | null, b: Summary | null, plus = 0) => (a && b ? { p50: +(a.p50 / (b.p50 + plus)).toFixed(2), p90: +(a.p90 / (b.p90 + plus)).toFixed(2), p99: +(a.p99 / (b.p99 + plus)).toFixed(2) } : null);
  // the target: p99 of kill → chain healthy ≤ 0.5 s plus the services' own start time, taken as the reference's p99 in the same run
  const limit = ref ? TARGET_MS + ref.p99 : null;
  const result = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - r.started) / 1000),
    settings: r.settings,
    killMinus9: { chainHealthy: chain, apiRunning: api, activeHeld: held, servicesPart },
    reference: ref,
    target: { rule: `p99(kill → chain healthy) ≤ ${TARGET_MS} ms + reference p99`, limitMs: limit, met: chain && limit !== null ? chain.p99 <= limit : null },
    ratios: { servicesPartToReference: ratio(servicesPart, ref), totalToReferencePlusTarget: ratio(chain, ref, TARGET_MS) },
    fromNodeLog: {
      activeHeld: logged((t) => t.log.heldAt),
      ...Object.fromEntries(CHAIN.flatMap((n) => [[`${n} started`, logged((t) => t.log.started[n])], [`${n} healthy`, logged((t) => t.log.healthy[n])]])),
    },
    stoppedEarly: r.stoppedEarly,
    samples: { trials: s, reference: r.reference },
    failure: r.failure ? String((r.failure as Error).stack ?? r.failure) : null,
  };
  const row = (what: string, x: Summary | null, target = "") => (x ? `| ${what} | ${x.n} | ${x.p50} ms | ${x.p90} ms | ${x.p99} ms | ${x.max} ms | ${target} |` : "");
  const met = chain && limit !== null ? ` (${chain.p99 <= limit ? "met" : "NOT met"})` : "";
  const md = [
    `| measure | n | p50 | p90 | p99 | max | target |`,
    `|---|---|---|---|---|---|---|`,
    row("Tandem kill -9 → chain healthy on the new active (the bench's own TCP probe of its 3 ports)", chain, limit !== null ? `p99 ≤ ${TARGET_MS} ms + reference p99 = ${limit.toFixed(1)} ms${met}` : ""),
    row("  … GET /services lists all three running", api),
    row("  … GET /status says active-held (the takeover)", held),
    row("  … chain healthy − active-held, per trial (the services' part)", servicesPart),
    row("reference: bash starts the 3 programs one after another, each polled every 5 ms", ref),
  ].filter(Boolean);
  const lg = result.fromNodeLog as Record<string, Summary | null>;
  const steps = [`| in the new active's log, ms after the kill | n | p50 | p90 | max |`, `|---|---|---|---|---|`, ...Object.entries(lg).flatMap(([k, v]) => (v ? [`| ${k} | ${v.n} | ${v.p50} | ${v.p90} | ${v.max} |`] : []))];
  const rt = result.ratios;
  const ratios = [
    `| ratio | p50 | p90 | p99 |`,
    `|---|---|---|---|`,
    ...(rt.servicesPartToReference ? [`| (chain healthy − active-held) ÷ reference | ${rt.servicesPartToReference.p50} | ${rt.servicesPartToReference.p90} | ${rt.servicesPartToReference.p99} |`] : []),
    ...(rt.totalToReferencePlusTarget ? [`| chain healthy ÷ (reference + ${TARGET_MS} ms) | ${rt.totalToReferencePlusTarget.p50} | ${rt.totalToReferencePlusTarget.p90} | ${rt.totalToReferencePlusTarget.p99} |`] : []),
  ];
  console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
  console.log(`\n${md.join("\n")}\n`);
  if (ratios.length > 2) console.log(`${ratios.join("\n")}\n`);
  if (steps.length > 2) console.log(`${steps.join("\n")}\n`);
  if (r.stoppedEarly) console.log(`stopped early: ${r.stoppedEarly}`);
  console.log(`run took ${result.durationS} s`);
  if (r.out) writeFileSync(r.out, JSON.stringify(result, null, 2) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
