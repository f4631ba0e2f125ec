// A real pair on loopback for integration tests: two `tandem start` processes
// and a `tandem witness` process (the compiled CLI, exactly as a user runs
// it), with chaos relays on every peer path so a test can cut links. Nothing
// here is a mock: the tests kill -9, SIGSTOP and partition real processes.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import dgram from "node:dgram";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { hashPassword } from "../../runtime/auth/passwords.js";
import type { NodeStatus } from "../../runtime/node-api.js";
import { type Overlap, provenOverlaps } from "./acting-overlaps.js";
import { TcpRelay, UdpRelay } from "./chaos-relay.js";

/** The checkout (the folder with package.json), from sources or from dist/. */
export const ROOT = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json")) || dir.endsWith("/dist")) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the tandem checkout above " + import.meta.dirname);
    dir = up;
  }
  return dir;
})();
export const CLI = join(ROOT, "dist/runtime/cli.js");

/**
 * A port free for both TCP and UDP on 127.0.0.1 right now, below the kernel's
 * ephemeral range (32768+ here): ports from listen(0) come from that range,
 * where the many outbound connections of a test run can take them before the
 * node binds. Each vitest worker draws from its own slice and never hands out
 * a port twice.
 */
const PORT_LO = 21000;
const PORT_SLICE = 2800;
const handedOut = new Set<number>();

async function bindable(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((res) => {
    const s = net.createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((res) => {
    const u = dgram.createSocket("udp4");
    u.once("error", () => u.close(() => res(false)));
    u.bind(port, "127.0.0.1", () => u.close(() => res(true)));
  });
}

export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 0) % 4;
  const lo = PORT_LO + worker * PORT_SLICE;
  for (let i = 0; i < 1000; i++) {
    const port = lo + Math.floor(Math.random() * PORT_SLICE);
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${lo}–${lo + PORT_SLICE}`);
}

const live = new Set<ChildProcess>();

/** Kills every child a test started and did not stop (a failing test must not leak processes). */
export function killAllChildren(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  live.clear();
}

export function spawnCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; cli?: string } = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [opts.cli ?? CLI, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  child.on("exit", () => live.delete(child));
  return Object.assign(child, { output: () => out });
}

export function exited(child: ChildProcess, timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      res({ code, signal });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One API call to the node at `url` with the demo-style login `user:user`. */
export async function nodeApi(url: string, method: string, path: string, body?: unknown, user = "admin"): Promise<{ status: number; json: any }> {
  // a change is sent as JSON, even with nothing to say (the node refuses it otherwise)
  if (method !== "GET" && body === undefined) body = {};
  const r = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(`${user}:${user}`).toString("base64")}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

/** The node's status, or null while it does not answer. */
export async function nodeStatus(url: string): Promise<NodeStatus | null> {
  try {
    const r = await nodeApi(url, "GET", "/status", undefined, "viewer");
    return r.status === 200 ? (r.json as NodeStatus) : null;
  } catch {
    return null;
  }
}

type Maybe<T> = T | null | undefined | false;

/**
 * The one wait of the integration tests (and the benchmarks, which run
 * without vitest): polls `check` until it returns something other than
 * null, undefined or false, and returns that. A check that throws is retried
 * too; on timeout the error names what was awaited and carries the last
 * thrown message or `seen()`, so a failure says what was there instead.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Maybe<T> | Promise<Maybe<T>>,
  opts: { timeoutMs?: number; everyMs?: number; seen?: () => string | Promise<string> } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const t0 = performance.now();
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== null && v !== undefined && v !== false) return v;
      lastError = null;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() - t0 > timeoutMs) {
      const seen = opts.seen ? `; ${await opts.seen()}` : lastError ? `; last: ${(lastError as Error)?.message ?? String(lastError)}` : "";
      throw new Error(`${what}: not reached within ${timeoutMs} ms${seen}`);
    }
    await sleep(opts.everyMs ?? 20);
  }
}

/**
 * The other side of waiting: `check` must hold at every poll for the whole
 * window (nothing happens that should not). Fails at the first poll where it
 * does not, naming what broke.
 */
export async function holdsFor(what: string, ms: number, check: () => boolean | Promise<boolean>, opts: { everyMs?: number; seen?: () => string | Promise<string> } = {}): Promise<void> {
  const t0 = performance.now();
  let polls = 0;
  do {
    if (!(await check())) throw new Error(`${what}: broken after ${Math.round(performance.now() - t0)} ms${opts.seen ? `; ${await opts.seen()}` : ""}`);
    polls++;
    await sleep(opts.everyMs ?? 20);
  } while (performance.now() - t0 < ms || polls < 2);
}

type Id = "a" | "b";

interface NodeHandle {
  id: Id;
  url: string;
  config: string;
  child: ChildProcess & { output: () => string };
}

export interface ClusterOptions {
  witness?: boolean;
  /** extra YAML appended to each node's takeover section */
  takeover?: string;
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  failback?: string;
  /** extra YAML lines in each node's peer section (e.g. `tls: { … }`), without indentation */
  peer?: (id: "a" | "b") => string;
  /** extra top-level YAML per node (drivers, watchdog …) */
  extra?: (id: "a" | "b") => string;
  /** the cli.js each node is started from (an installed build: the upgrade tests); this checkout's dist by default */
  cli?: (id: "a" | "b") => string;
  /** name each node's peer's HTTP address (peer.api): a node that is not active then points clients to the active */
  peerApi?: boolean;
  /** keep relays out of the way (direct links) */
  direct?: boolean;
  /** keys for a node's log section over the default (debug, ./<id>.log): another file, bufferBytes … */
  log?: (id: "a" | "b") => Record<string, string | number>;
  /** the pair's id ("it" by default): two clusters on one site broker (the site view) */
  pairId?: string;
}

export class Cluster {
  readonly dir: string;
  readonly key = "test-pair-key-0123456789abcdef0123456789";
  readonly nodes = {} as Record<Id, NodeHandle>;
  witness: (ChildProcess & { output: () => string }) | null = null;
  witnessPort = 0;
  readonly relays: { tcp: Record<Id, TcpRelay>; udp: Record<Id, Record<string, UdpRelay>> } = { tcp: {} as Record<Id, TcpRelay>, udp: { a: {}, b: {} } };
  /** the real addresses each node binds */
  readonly ports = {} as Record<Id, { http: number; peer: number; lan: number; plant: number }>;
  private sampler: NodeJS.Timeout | null = null;
  private samplerLoop = 0;
  readonly samples: { t: number; a?: string; b?: string; aEpoch?: number; bEpoch?: number }[] = [];

  private constructor(private readonly opts: ClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "tandem-it-"));
  }

  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const c = new Cluster(opts);
    await c.setup();
    return c;
  }

  private async setup(): Promise<void> {
    const users = await Promise.all(["viewer", "operator", "admin"].map(async (n) => ({ n, h: await hashPassword(n) })));
    for (const id of ["a", "b"] as Id[]) this.ports[id] = { http: await freePort(), peer: await freePort(), lan: await freePort(), plant: await freePort() };
    // relays: what a node sends towards X goes through relay "to X"
    for (const id of ["a", "b"] as Id[]) {
      const p = this.ports[id];
      this.relays.tcp[id] = new TcpRelay({ host: "127.0.0.1", port: p.peer });
      await this.relays.tcp[id].start();
      for (const link of ["lan", "plant"] as const) {
        this.relays.udp[id][link] = new UdpRelay({ host: "127.0.0.1", port: p[link] });
        await this.relays.udp[id][link].start();
      }
    }
    if (this.opts.witness !== false) {
      this.witnessPort = await freePort();
      await this.startWitness();
    }
    for (const id of ["a", "b"] as Id[]) {
      const other: Id = id === "a" ? "b" : "a";
      const p = this.ports[id];
      const direct = this.opts.direct;
      const to = (link: "lan" | "plant") => (direct ? this.ports[other][link] : this.relays.udp[other][link]!.port);
      const yaml = `pair: { id: ${this.opts.pairId ?? "it"}, key: "\${TANDEM_PAIR_KEY}" }
node: { id: ${id}, role: ${id === "a" ? "main" : "secondary"}, dataDir: ./data-${id} }
peer:
  id: ${other}
  listen: 127.0.0.1:${p.peer}
  address: 127.0.0.1:${direct ? this.ports[other].peer : this.relays.tcp[other].port}
  links:
    - { name: lan, bind: "127.0.0.1:${p.lan}", peer: "127.0.0.1:${to("lan")}" }
    - { name: plant, bind: "127.0.0.1:${p.plant}", peer: "127.0.0.1:${to("plant")}" }
${this.opts.peer ? `  ${this.opts.peer(id)}` : ""}
${this.opts.peerApi ? `  api: "http://127.0.0.1:${this.ports[other].http}"` : ""}
heartbeat: { intervalMs: ${this.opts.heartbeat?.intervalMs ?? 100}, timeoutMs: ${this.opts.heartbeat?.timeoutMs ?? 500} }
${this.opts.witness !== false ? `witness: { address: "127.0.0.1:${this.witnessPort}" }` : ""}
takeover:
  leaseMs: 1000
${this.opts.takeover?.includes("startupWaitMs") ? "" : "  startupWaitMs: 1000"}
${this.opts.takeover ?? ""}
${this.opts.failback ? `failback: ${this.opts.failback}` : ""}
${this.opts.extra ? this.opts.extra(id) : ""}
http:
  listen: 127.0.0.1:${p.http}
  users:
${users.map((u) => `    - { name: ${u.n}, role: ${u.n}, passwordHash: "${u.h}" }`).join("\n")}
log: ${JSON.stringify({ level: "debug", file: `./${id}.log`, ...this.opts.log?.(id) })}
`;
      const config = join(this.dir, `${id}.yaml`);
      writeFileSync(config, yaml);
      this.nodes[id] = { id, url: `http://127.0.0.1:${p.http}`, config, child: null as never };
    }
    // start both at once, as a site that powers up
    this.startNode("a");
    this.startNode("b");
  }

  env(): NodeJS.ProcessEnv {
    return { TANDEM_PAIR_KEY: this.key, TANDEM_WITNESS_KEY: `${this.opts.pairId ?? "it"}=${this.key}`, TANDEM_CHECK_HANDLES: "1" };
  }

  async startWitness(): Promise<void> {
    this.witness = spawnCli(["witness", "--listen", `127.0.0.1:${this.witnessPort}`, "--max-lease-ms", "2000"], { cwd: this.dir, env: this.env() });
    await this.until(() => this.witness!.output().includes("listening"), 10_000, "witness listening");
  }

  async stopWitness(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const w = this.witness;
    this.witness = null;
    if (!w) return;
    w.kill(signal);
    await exited(w);
  }

  startNode(id: Id): void {
    this.nodes[id].child = spawnCli(["start", "--config", this.nodes[id].config], { cwd: this.dir, env: this.env(), cli: this.opts.cli?.(id) });
  }

  pid(id: Id): number {
    return this.nodes[id].child.pid!;
  }

  signal(id: Id, sig: NodeJS.Signals): void {
    this.nodes[id].child.kill(sig);
  }

  async exited(id: Id, timeoutMs?: number) {
    return exited(this.nodes[id].child, timeoutMs);
  }

  /** cut (or restore) every path between the nodes: both links and the peer connection */
  cutPeer(on: boolean): void {
    for (const id of ["a", "b"] as Id[]) {
      this.relays.tcp[id].cut = on;
      for (const r of Object.values(this.relays.udp[id])) r.cut = on;
    }
  }

  cutLink(link: "lan" | "plant", on: boolean): void {
    for (const id of ["a", "b"] as Id[]) this.relays.udp[id][link]!.cut = on;
  }

  api(id: Id, method: string, path: string, body?: unknown, user = "admin"): Promise<{ status: number; json: any }> {
    return nodeApi(this.nodes[id].url, method, path, body, user);
  }

  status(id: Id): Promise<NodeStatus | null> {
    return nodeStatus(this.nodes[id].url);
  }

  /** Waits until node `id`'s status satisfies `pred`; fails with its last status and log tail. */
  async waitFor(id: Id, pred: (s: NodeStatus) => boolean, timeoutMs = 10_000, what = "condition"): Promise<NodeStatus> {
    let last: NodeStatus | null = null;
    return waitUntil(
      `node ${id}: ${what}`,
      async () => {
        last = await this.status(id);
        return last && pred(last) ? last : null;
      },
      { timeoutMs, seen: () => `last status: ${JSON.stringify(this.brief(last))}\n${this.whereIs(id)}` },
    );
  }

  /** Node `id`'s status must satisfy `pred` at every poll for `ms` (nothing changes that should not). */
  async holds(id: Id, pred: (s: NodeStatus) => boolean, ms: number, what: string): Promise<void> {
    let last: NodeStatus | null = null;
    await holdsFor(
      `node ${id}: ${what}`,
      ms,
      async () => {
        last = await this.status(id);
        return last !== null && pred(last);
      },
      { seen: () => `status then: ${JSON.stringify(this.brief(last))}\n${this.whereIs(id)}` },
    );
  }

  /** What a failed wait reports about a node: its process, its console and its log. */
  private whereIs(id: Id): string {
    const ch = this.nodes[id].child;
    const proc = ch.exitCode !== null || ch.signalCode !== null ? `exited (${ch.signalCode ?? `code ${ch.exitCode}`})` : "running";
    const console = ch.output().trim().split("\n").slice(-10).join("\n");
    return `process ${ch.pid} (in ${this.dir}): ${proc}${console ? `\n--- ${id} console ---\n${console}` : ""}\n--- ${id}.log tail ---\n${this.logTail(id)}`;
  }

  private brief(s: NodeStatus | null) {
    return s && { state: s.state, epoch: s.epoch, serviceLevel: s.serviceLevel, why: s.serviceLevelReasons, message: s.message, peer: s.peer.state, awaitingOperator: s.awaitingOperator };
  }

  async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    await waitUntil(what, pred, { timeoutMs });
  }

  /** A pair is up: one active, the other standby. */
  /**
   * A pair is up: one active, the other standby. A start-up on a loaded
   * machine can leave the active held (its first lease ran out before the
   * witness's answers came, and it took the role back): an operator confirms
   * it, as one would, so every test starts from the same steady pair.
   */
  async ready(): Promise<{ active: Id; standby: Id }> {
    const settled = (s: NodeStatus) => s.state === "active" || s.state === "active-held" || s.state === "standby";
    await this.waitFor("a", settled, 60_000, "active or standby");
    await this.waitFor("b", settled, 60_000, "active or standby");
    const acting = (s: string) => s === "active" || s === "active-held";
    const a = await this.waitFor("a", (s) => acting(s.peer.state) || acting(s.state), 10_000, "an active in the pair");
    const ids = acting(a.state) ? ({ active: "a", standby: "b" } as const) : ({ active: "b", standby: "a" } as const);
    if ((await this.status(ids.active))?.state === "active-held") {
      await this.api(ids.active, "POST", "/confirm", {}, "operator");
      await this.waitFor(ids.active, (s) => s.state === "active", 10_000, "the held start-up confirmed");
    }
    await this.waitFor(ids.standby, (s) => s.state === "standby" && s.peer.state === "active", 10_000, "the standby following the active");
    return ids;
  }

  /** Poll both nodes every 20 ms, recording their states (for S1 checks); a round is asked once the one before it answered. */
  startSampling(): void {
    if (this.sampler) return;
    // one loop at a time: a round still out when sampling stops is dropped, and its loop ends there
    const loop = ++this.samplerLoop;
    const tick = async () => {
      const [a, b] = await Promise.all([this.status("a"), this.status("b")]);
      if (loop !== this.samplerLoop) return; // stopped (and perhaps started again) meanwhile: not a round of this loop
      this.samples.push({ t: Date.now(), a: a?.state, b: b?.state, aEpoch: a?.epoch, bEpoch: b?.epoch });
      if (this.sampler) this.sampler = setTimeout(tick, 20);
    };
    this.sampler = setTimeout(tick, 0);
  }

  stopSampling(): void {
    if (this.sampler) clearTimeout(this.sampler);
    this.sampler = null;
    this.samplerLoop++;
  }

  /**
   * The moments the samples prove both nodes acted at once (S1). Two answers
   * of one round saying "active" are not enough: a clean handover between
   * them gives that too (test/helpers/acting-overlaps.ts says what is).
   */
  twoActives(): Overlap[] {
    return provenOverlaps(this.samples.flatMap((s, round) => (["a", "b"] as const).map((node) => ({ round, node, state: s[node], epoch: s[`${node}Epoch`] }))));
  }

  /** Every line node `id` has logged so far. */
  logLines(id: Id): string[] {
    const f = join(this.dir, `${id}.log`);
    return existsSync(f) ? readFileSync(f, "utf8").trim().split("\n") : [];
  }

  logTail(id: Id, lines = 30): string {
    const f = join(this.dir, `${id}.log`);
    if (!existsSync(f)) return "(no log)";
    return readFileSync(f, "utf8").trim().split("\n").slice(-lines).join("\n");
  }

  /** Every state transition a node logged, with its wall time, in order. */
  transitions(id: Id): { time: number; from: string; to: string; epoch: number }[] {
    const f = join(this.dir, `${id}.log`);
    if (!existsSync(f)) return [];
    return readFileSync(f, "utf8")
      .trim()
      .split("\n")
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return null;
        }
      })
      .filter((j) => j && j.from && j.to && typeof j.msg === "string" && j.msg.startsWith("state "))
      .map((j) => ({ time: Date.parse(j.time), from: j.from, to: j.to, epoch: j.epoch }));
  }

  async stop(): Promise<{ a: number | null; b: number | null }> {
    this.stopSampling();
    const codes = { a: null as number | null, b: null as number | null };
    for (const id of ["a", "b"] as Id[]) {
      const ch = this.nodes[id]?.child;
      if (ch && ch.exitCode === null && ch.signalCode === null) {
        ch.kill("SIGCONT");
        ch.kill("SIGTERM");
      }
    }
    for (const id of ["a", "b"] as Id[]) {
      const ch = this.nodes[id]?.child;
      if (ch) {
        const r = await exited(ch).catch(() => null);
        if (r === null) {
          // report why before forcing it: the node's own last words
          process.stderr.write(`node ${id} did not stop within 15 s of SIGTERM; ${id}.log tail:\n${this.logTail(id, 40)}\n`);
          ch.kill("SIGKILL");
        }
        codes[id] = r === null ? -1 : r.code;
      }
    }
    await this.stopWitness("SIGTERM");
    for (const id of ["a", "b"] as Id[]) {
      await this.relays.tcp[id]?.stop();
      for (const r of Object.values(this.relays.udp[id] ?? {})) await r.stop();
    }
    // only this cluster's own processes: a test file may run others beside it (a simulator)
    for (const ch of [this.nodes.a?.child, this.nodes.b?.child]) if (ch && ch.exitCode === null && ch.signalCode === null) ch.kill("SIGKILL");
    if (!process.env.TANDEM_KEEP_TEST_DIRS) rmSync(this.dir, { recursive: true, force: true });
    return codes;
  }
}
