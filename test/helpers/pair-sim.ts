// A deterministic simulated pair that runs the code that ships: two real
// PairRuntimes (role machine, peer link with its envelopes and replay guard,
// witness client) and a real WitnessServer, on the simulated clock and
// network of sim-net.ts. "a" is the preferred main, "b" the secondary; two
// heartbeat links ("lan", "plant"), the peer connection ("tcp") and the
// witness network ("wit"). Each node's disk is in memory and survives its
// restarts.
//
// Faults are injected between runs (cut a link, one direction only, REJECT,
// kill, restart, pause, stop the witness, cut a node from the witness, a
// full disk). After EVERY step the invariants are checked and a violation
// throws with the trace:
//   S1  never two nodes for which canAct() is true at the same instant
//       (a paused node counts with the lease it would check on resume);
//   E   epochs persisted never decrease, and nothing a node sends (datagram,
//       frame or witness request) carries an epoch that is not on its disk yet;
//       a node never faults on its own (only when its disk is made to fail);
//   S3  an unplanned takeover (dead process, witness, operator promote)
//       enters active-held, and active-held leaves only by confirm, reject
//       or the auto-confirm delay; a node whose context was last driven by
//       the other node never becomes plain active without a handover;
//   G   a node that granted a lease does not become active (election or
//       witness path) before that grant ran out by its own clock.
// Size: one harness — the nodes, the witness, the fault switches and the
// invariant checks after every step share its state; the network is sim-net.ts.
import { TandemError } from "../../core/errors.js";
import { nullLogger } from "../../core/logger.js";
import type { Actor, HostPort, NodeState } from "../../core/types.js";
import { frameHeaderBytes } from "../../redundancy/frame-decoder.js";
import { PairRuntime } from "../../redundancy/pair-runtime.js";
import { isActive } from "../../redundancy/role-machine.js";
import type { Effect, Event, OpAction, PeerMessage, RoleParams, RoleState } from "../../redundancy/role-types.js";
import { encode, keyFromSecret, open } from "../../redundancy/wire.js";
import { WitnessServer } from "../../redundancy/witness-server.js";
import { silentLogs } from "../../runtime/logging.js";
import { prng } from "./prng.js";
import { SimWorld, splitHost, type Proc } from "./sim-net.js";

export type NodeId = "a" | "b";
export const LINKS = ["lan", "plant"] as const;
export type LinkName = (typeof LINKS)[number];
export const PAIR = "line1";
const KEY = keyFromSecret("simulated-pair-key-0123456789abcdef0123");
const WITNESS: HostPort = { host: "w.wit", port: 7400 };
const PEER_PORT = 7100;
const LINK_PORT: Record<LinkName, number> = { lan: 7001, plant: 7002 };

/** The product defaults (runtime/config/schema.ts). */
export function defaultParams(id: NodeId, over: Partial<RoleParams> = {}): RoleParams {
  return {
    nodeId: id,
    peerId: id === "a" ? "b" : "a",
    role: id === "a" ? "main" : "secondary",
    links: [...LINKS],
    intervalMs: 100,
    timeoutMs: 500,
    deadProcessMisses: 3,
    leaseMs: 1000,
    leaseSafetyMs: 150,
    autoConfirmMs: 0,
    startupWaitMs: 1500,
    serviceLevelMargin: 50,
    serviceLevelForMs: 5000,
    switchoverTimeoutMs: 3000,
    failback: "manual",
    failbackHealthyForMs: 60_000,
    witness: false,
    plcWatchdog: false,
    ...over,
  };
}

export const operator: Actor = { user: "olga", role: "operator", from: "hmi" };
export const admin: Actor = { user: "adam", role: "admin", from: "cli" };

export interface SimOptions {
  witness?: boolean;
  /** params for both nodes, then per node */
  params?: Partial<RoleParams>;
  a?: Partial<RoleParams>;
  b?: Partial<RoleParams>;
  /** one-way network delay, ms */
  delayMs?: number;
  /** extra random delay per datagram, 0..jitterMs (reorders them); seeded */
  jitterMs?: number;
  seed?: number;
  /** how long a witness client waits for an answer */
  witnessTimeoutMs?: number;
  /** epochs already on disk */
  epochA?: number;
  epochB?: number;
  /** start the nodes at t=0 (default both) */
  start?: NodeId[];
  /** the witness process started this long before t=0 (past its quiet period by default) */
  witnessUpForMs?: number;
  /** throw on an invariant breach (default) or only record it */
  strict?: boolean;
}

export interface TraceEntry {
  t: number;
  node: NodeId;
  from: NodeState;
  to: NodeState;
  epoch: number;
  reason: string;
}

/** The node's disk: what survives its restarts. */
class Disk {
  history: number[];
  proposed: number;
  incarnation = 0;
  /** did the last process stop cleanly as the owner of the process context (or never run)? */
  cleanOwner = true;
  /** make every write fail (a full disk) */
  failing = false;
  constructor(epoch: number) {
    this.history = [epoch];
    this.proposed = epoch;
  }
  get epoch(): number {
    return Math.max(...this.history);
  }
}

/** What the pair runtime needs of an epoch store, on the in-memory disk. */
class MemStore {
  readonly incarnation: number;
  readonly cleanOwner: boolean;
  constructor(private readonly disk: Disk) {
    this.incarnation = ++disk.incarnation;
    this.cleanOwner = disk.cleanOwner;
    disk.cleanOwner = false; // running: a crash leaves it so
  }
  get epoch(): number {
    return this.disk.epoch;
  }
  get proposed(): number {
    return Math.max(this.disk.epoch, this.disk.proposed);
  }
  persist(epoch: number, proposed = epoch): void {
    if (this.disk.failing) throw new TandemError("TANDEM_ERR_EPOCH_STORE", ["(simulated disk)", "cannot write: ENOSPC: no space left on device"]);
    if (epoch > this.disk.epoch) this.disk.history.push(epoch);
    this.disk.proposed = Math.max(this.disk.proposed, proposed, epoch);
  }
}

interface SimNode {
  readonly id: NodeId;
  readonly p: RoleParams;
  readonly disk: Disk;
  proc: Proc | null;
  runtime: PairRuntime | null;
  /** the last state, also after the process died */
  last: RoleState;
  witnessCut: boolean;
  /** latest lease promise this node sent (send-grant), by its clock */
  promisedUntil: number;
  effects: { t: number; fx: Effect }[];
  replies: Map<number, Extract<Effect, { type: "reply" }>>;
  /** the id the runtime gave the last operator action */
  lastOp: number;
  /** killed, its kernel still tearing it down (kill with teardownMs) */
  dying?: boolean;
  faults: string[];
}

export class InvariantError extends Error {}

export class OpHandle {
  constructor(
    private readonly sim: PairSim,
    readonly node: NodeId,
    readonly id: number,
  ) {}
  /** the reply effect, once the machine has answered */
  get reply(): Extract<Effect, { type: "reply" }> | undefined {
    return this.sim.node(this.node).replies.get(this.id);
  }
}

const immediate = () => new Promise<void>((r) => setImmediate(r));

export class PairSim {
  readonly world: SimWorld;
  readonly delayMs: number;
  readonly witnessTimeoutMs: number;
  readonly strict: boolean;
  readonly trace: TraceEntry[] = [];
  readonly violations: string[] = [];
  readonly links: Record<LinkName, boolean> = { lan: true, plant: true };
  /** per-link extra delay, ms (late heartbeats) */
  readonly linkDelay: Record<LinkName, number> = { lan: 0, plant: 0 };
  /** one-way cuts: `${link}:${from}` drops what `from` sends on that link ("tcp" for the peer connection) */
  readonly oneWay = new Set<string>();
  /** REJECT rules: `${link}:${from}` refuses what `from` sends on that link ("tcp" too) */
  readonly rejected = new Set<string>();
  /** the random schedules may put REJECT rules in place in this run */
  rejectsAllowed = false;
  /** when a REJECT rule was last put in (rejectFrom) */
  lastRejectAt: number | null = null;
  readonly jitterMs: number;
  private readonly rand: () => number;
  /** the peer connection's path (a cut holds its segments until it heals) */
  tcpUp = true;
  /** drop peer-connection messages matching this: each goes down with its connection */
  dropPeer: ((m: PeerMessage) => boolean) | null = null;
  /** drop peer messages sent as datagrams matching this */
  dropPeerDatagram: ((m: PeerMessage) => boolean) | null = null;
  private witnessServer: WitnessServer | null = null;
  private witnessProc: Proc | null = null;
  readonly witnessConfigured: boolean;
  private readonly nodes: Record<NodeId, SimNode>;
  private procs = 0;
  /** for S3: the last node (and epoch) that could act, i.e. that drove the process context */
  contextWriter: { node: NodeId; epoch: number } | null = null;
  private checking = false;

  constructor(opts: SimOptions = {}) {
    this.delayMs = opts.delayMs ?? 1;
    this.witnessTimeoutMs = opts.witnessTimeoutMs ?? 250;
    this.strict = opts.strict ?? true;
    this.witnessConfigured = opts.witness ?? false;
    this.jitterMs = opts.jitterMs ?? 0;
    this.rand = prng(opts.seed ?? 1);
    this.world = new SimWorld({ verdict: (l, f, t) => this.verdict(l, f, t), latency: (l) => this.latency(l) });
    this.world.afterStep = () => this.check("step");
    this.world.tap = (proc, to, bytes) => this.checkSent(proc, to, bytes);
    this.world.dropStream = (proc, bytes) => this.dropFrame(bytes);
    this.world.dropDatagram = (proc, bytes) => {
      if (!this.dropPeerDatagram) return false;
      const r = open(bytes, () => KEY);
      return r.ok && r.env.ch !== "witness" && this.dropPeerDatagram({ type: r.env.type, ...r.env.body } as PeerMessage);
    };
    const mk = (id: NodeId, over: Partial<RoleParams> | undefined, epoch: number): SimNode => {
      const p = defaultParams(id, { witness: this.witnessConfigured, ...opts.params, ...over });
      const disk = new Disk(epoch);
      return { id, p, disk, proc: null, runtime: null, last: null as never, witnessCut: false, promisedUntil: 0, effects: [], replies: new Map(), lastOp: 0, faults: [] };
    };
    this.nodes = { a: mk("a", opts.a, opts.epochA ?? 0), b: mk("b", opts.b, opts.epochB ?? 0) };
    if (this.witnessConfigured) this.launchWitness(opts.witnessUpForMs ?? 60_000);
    for (const id of opts.start ?? ["a", "b"]) this.start(id);
  }

  get now(): number {
    return this.world.now;
  }
  get steps(): number {
    return this.world.steps;
  }

  // ------------------------------------------------------------ inspection

  node(id: NodeId): SimNode & { s: RoleState; proposedOnDisk: number } {
    const n = this.nodes[id];
    return Object.assign(n, { s: n.runtime?.state ?? n.last, proposedOnDisk: Math.max(n.disk.epoch, n.disk.proposed) });
  }
  alive(id: NodeId): boolean {
    return this.nodes[id].proc?.alive === true;
  }
  state(id: NodeId): NodeState | "dead" {
    const n = this.nodes[id];
    return this.alive(id) && n.runtime ? n.runtime.state.state : "dead";
  }
  epoch(id: NodeId): number {
    return this.node(id).s.epoch;
  }
  /** highest epoch on the node's disk */
  persisted(id: NodeId): number {
    return this.nodes[id].disk.epoch;
  }
  canAct(id: NodeId): boolean {
    const n = this.nodes[id];
    return this.alive(id) && !n.dying && n.runtime !== null && n.runtime.canAct();
  }
  /** who may act right now */
  actors(): NodeId[] {
    return (["a", "b"] as const).filter((id) => this.canAct(id));
  }
  events(id: NodeId, kind?: string): Extract<Effect, { type: "event" }>[] {
    return this.nodes[id].effects.map((e) => e.fx).filter((f): f is Extract<Effect, { type: "event" }> => f.type === "event" && (kind === undefined || f.kind === kind));
  }
  effectsOf<T extends Effect["type"]>(id: NodeId, type: T): { t: number; fx: Extract<Effect, { type: T }> }[] {
    return this.nodes[id].effects.filter((e) => e.fx.type === type) as { t: number; fx: Extract<Effect, { type: T }> }[];
  }
  transitions(id?: NodeId): TraceEntry[] {
    return this.trace.filter((t) => id === undefined || t.node === id);
  }
  /** the witness's record of a pair, when a witness runs */
  get witness(): { record(pair: string): { holder: string | null; epoch: number } | undefined } | null {
    const w = this.witnessServer;
    return w ? { record: (pair) => w.record(pair) } : null;
  }
  /** the trace as text, for failure messages */
  show(last = 40): string {
    return this.trace
      .slice(-last)
      .map((t) => `${String(t.t).padStart(7)} ms  ${t.node}  ${t.from} → ${t.to}  e${t.epoch}  ${t.reason}`)
      .join("\n");
  }

  // ------------------------------------------------------------ running

  /** run the clock forward by ms, stepping everything due */
  async run(ms: number): Promise<this> {
    const end = this.now + ms;
    do {
      await immediate(); // what the last step (or the test) set going finishes first, as on a real event loop
      this.throwIfBreached();
    } while (this.world.stepOnce(end));
    this.world.now = end;
    this.check("run");
    this.throwIfBreached();
    return this;
  }

  /** run until pred holds (checked after every step); returns the time it took, throws after maxMs */
  async until(pred: () => boolean, maxMs: number, what = "condition"): Promise<number> {
    const t0 = this.now;
    const end = this.now + maxMs;
    await immediate();
    this.throwIfBreached();
    if (pred()) return 0;
    while (this.world.stepOnce(end)) {
      await immediate();
      this.throwIfBreached();
      if (pred()) return this.now - t0;
    }
    this.world.now = end;
    throw new Error(`${what} not reached within ${maxMs} ms (t=${this.now})\n${this.show()}`);
  }

  /** run ms and call probe after every step (for "never" assertions) */
  async during(ms: number, probe: () => void): Promise<this> {
    const end = this.now + ms;
    await immediate();
    this.throwIfBreached();
    while (this.world.stepOnce(end)) {
      await immediate();
      this.throwIfBreached();
      probe();
    }
    this.world.now = end;
    return this;
  }

  // ------------------------------------------------------------ faults

  cutLink(l: LinkName): this {
    this.links[l] = false;
    return this;
  }
  restoreLink(l: LinkName): this {
    this.links[l] = true;
    for (const id of ["a", "b"]) {
      this.oneWay.delete(`${l}:${id}`);
      this.rejected.delete(`${l}:${id}`);
    }
    return this;
  }
  /** `from` can no longer send on link l; the other direction still works */
  cutLinkFrom(l: LinkName | "tcp", from: NodeId): this {
    this.oneWay.add(`${l}:${from}`);
    return this;
  }
  /** a plain cut of the peer connection's path: no event on either side, like a partition */
  cutTcp(): this {
    this.tcpUp = false;
    return this;
  }
  /** the path heals: what waited is delivered, a lost connection is made again */
  restoreTcp(): this {
    this.tcpUp = true;
    for (const id of ["a", "b"]) {
      this.oneWay.delete(`tcp:${id}`);
      this.rejected.delete(`tcp:${id}`);
    }
    return this;
  }
  /** `id`'s kernel resets its peer connections (it sees the error; the peer sees nothing) */
  resetTcp(id: NodeId): this {
    const p = this.nodes[id].proc;
    if (p?.alive) this.world.resetConns(p);
    return this;
  }
  /**
   * A REJECT firewall rule against what `from` sends, on every link and the
   * peer connection: `from` sees exactly what a dead peer process would show
   * (connection reset, port unreachable), while the other direction still flows.
   */
  rejectFrom(from: NodeId): this {
    for (const l of [...LINKS, "tcp"]) this.rejected.add(`${l}:${from}`);
    this.lastRejectAt = this.now;
    return this.resetTcp(from);
  }
  /** the rule is taken out again */
  unrejectFrom(from: NodeId): this {
    for (const l of [...LINKS, "tcp"]) this.rejected.delete(`${l}:${from}`);
    return this;
  }
  /** both links and the peer connection */
  partition(): this {
    for (const l of LINKS) this.cutLink(l);
    return this.cutTcp();
  }
  heal(): this {
    for (const l of LINKS) this.restoreLink(l);
    return this.restoreTcp();
  }
  /** the process is gone: its kernel closes its connection and refuses datagrams to its ports */
  /**
   * SIGKILL. With `teardownMs` the kernel tears the process down first, as it
   * does a large one (its memory is freed before its sockets are closed):
   * nothing of it runs from now on, but its connection stays open and its
   * ports take datagrams without refusing them until the teardown is over.
   * With `portsAfterMs` its heartbeat ports close that long after its
   * connection (the kernel closes the files one by one).
   */
  kill(id: NodeId, teardownMs = 0, portsAfterMs = 0): this {
    const n = this.nodes[id];
    if (!this.alive(id)) return this;
    if (teardownMs > 0 && n.proc && !n.dying) {
      n.dying = true;
      n.proc.pausedUntil = Number.POSITIVE_INFINITY;
      const proc = n.proc;
      this.world.schedule(this.now + teardownMs, () => {
        n.dying = false;
        if (n.proc === proc) this.kill(id, 0, portsAfterMs);
      });
      return this;
    }
    n.last = n.runtime!.state;
    // the adapter loads the process context from disk at start: a process
    // that was killed did not close it cleanly, whoever wrote it last
    n.disk.cleanOwner = this.contextWriter === null;
    this.world.killProc(n.proc!, portsAfterMs);
    n.runtime = null;
    return this;
  }
  /** start a node that was not started at t=0 (or was killed): a new process on the same disk */
  start(id: NodeId): this {
    const n = this.nodes[id];
    if (this.alive(id)) return this;
    const proc: Proc = { name: `${id}#${++this.procs}`, host: id, alive: true, pausedUntil: null };
    const other = peerOf(id);
    const rt = new PairRuntime({
      params: n.p,
      peer: {
        pairId: PAIR,
        key: KEY,
        links: LINKS.map((l) => ({ name: l, bind: { host: `${id}.${l}`, port: LINK_PORT[l] }, peer: { host: `${other}.${l}`, port: LINK_PORT[l] } })),
        listen: { host: `${id}.tcp`, port: PEER_PORT },
        peerAddress: { host: `${other}.tcp`, port: PEER_PORT },
        replayWindow: 64,
        reconnectMs: n.p.intervalMs,
      },
      witness: this.witnessConfigured ? { address: WITNESS, key: KEY, timeoutMs: this.witnessTimeoutMs } : null,
      store: new MemStore(n.disk),
      log: nullLogger,
      clock: this.world.clockFor(proc),
      network: this.world.networkFor(proc),
      observe: (st) => this.observe(n, st),
    });
    rt.on("fatal", (err) => {
      n.faults.push(err.message);
      if (!n.disk.failing) this.violate(`E: ${id} faulted on its own: ${err.message}`);
    });
    n.proc = proc;
    n.runtime = rt;
    n.last = rt.state;
    n.promisedUntil = 0;
    rt.start().catch((err: Error) => this.violate(`${id} did not start: ${err.message}`));
    return this;
  }
  /** a new process with the epoch from its disk */
  restart(id: NodeId): this {
    this.kill(id);
    return this.start(id);
  }
  /** SIGTERM as the node does it: the shutdown op (a handover if it can), a goodbye on every path, then the process ends */
  stopClean(id: NodeId): this {
    const n = this.nodes[id];
    if (!this.alive(id)) return this;
    const rt = n.runtime!;
    this.op(id, "shutdown", admin);
    void rt.stop().then(() => {
      n.disk.cleanOwner = rt.state.context.ownerIsMeClean;
      if (n.runtime === rt) this.kill(id);
    });
    return this;
  }
  /** SIGSTOP for ms: nothing of it runs; then everything queued for it runs in order */
  pause(id: NodeId, ms: number): this {
    const p = this.nodes[id].proc;
    if (!p?.alive) return this;
    p.pausedUntil = this.now + ms;
    this.world.schedule(this.now + ms, () => {
      if (p.pausedUntil !== null && p.pausedUntil <= this.now) p.pausedUntil = null;
    });
    return this;
  }
  paused(id: NodeId): boolean {
    const p = this.nodes[id].proc;
    return !!p?.alive && p.pausedUntil !== null && p.pausedUntil > this.now;
  }
  stopWitness(): this {
    if (this.witnessProc) this.world.killProc(this.witnessProc);
    this.witnessProc = null;
    this.witnessServer = null;
    return this;
  }
  /** a fresh witness process (it remembers nothing) */
  startWitness(): this {
    this.stopWitness();
    this.launchWitness(0);
    return this;
  }
  isolateFromWitness(id: NodeId, cut = true): this {
    this.nodes[id].witnessCut = cut;
    return this;
  }
  /** the node's disk fails (full): its next persist throws */
  failDisk(id: NodeId, failing = true): this {
    this.nodes[id].disk.failing = failing;
    return this;
  }
  /** the node's service level; `settled: false` while in its start-up grace (it does not count in an election) */
  setLevel(id: NodeId, level: number, settled = true): this {
    this.nodes[id].runtime?.setLevel(level, settled);
    return this;
  }
  /** what the PLC watchdog reads (the fence register's epoch, whether the active's counter stopped) */
  setPlc(id: NodeId, epoch: number | null, counterStale: boolean): this {
    this.nodes[id].runtime?.setPlc(epoch, counterStale);
    return this;
  }
  /**
   * A message from the peer, signed with the pair's key, arriving on `via`
   * now (a datagram on a link, as a hostile or late sender would put it
   * there). `inc` and `seq` default to a fresh message of the peer's current process.
   */
  fromPeer(id: NodeId, type: string, body: object, opts: { via?: LinkName; inc?: number; seq?: number } = {}): this {
    const peer = this.nodes[peerOf(id)];
    const via = opts.via ?? "lan";
    const env = { v: 1 as const, pair: PAIR, from: peer.id, inc: opts.inc ?? Math.max(1, peer.disk.incarnation), seq: opts.seq ?? 1_000_000 + this.world.steps, ts: 0, ch: via, type, body: body as Record<string, unknown> };
    if (!this.alive(id)) throw new Error(`${id} is not running`);
    this.world.deliverNow({ host: `${id}.${via}`, port: LINK_PORT[via] }, { host: `${peer.id}.${via}`, port: 1 }, encode(KEY, env));
    return this;
  }

  /** an operator or admin action on a node; the reply may come later (switchover) */
  op(id: NodeId, action: OpAction, actor: Actor = operator, extra: { to?: string; force?: boolean } = {}): OpHandle {
    const n = this.nodes[id];
    const rt = n.runtime;
    if (!rt || !this.alive(id)) throw new Error(`${id} is not running`);
    n.lastOp = -1;
    rt.op(action, actor, extra).catch(() => {}); // the answer is the reply effect
    if (n.lastOp < 0) throw new Error(`${id} did not take the action (${action}): not started yet?`);
    return new OpHandle(this, id, n.lastOp);
  }

  // ------------------------------------------------------------ internals

  /**
   * A witness process; `upForMs`: how long it has been running already. Its
   * monotonic clock reads `upForMs` more once it has started, so its quiet
   * period (no new holder for a lease after its own start) is that much behind it.
   */
  private launchWitness(upForMs: number): void {
    const proc: Proc = { name: `w#${++this.procs}`, host: "w", alive: true, pausedUntil: null };
    const clock = this.world.clockFor(proc);
    let offset = 0;
    const server = new WitnessServer({
      listen: WITNESS,
      keys: new Map([[PAIR, KEY]]),
      maxLeaseMs: this.nodes.a.p.leaseMs,
      logs: silentLogs(),
      clock: { ...clock, now: () => this.now + offset },
      network: this.world.networkFor(proc),
    });
    this.witnessProc = proc;
    this.witnessServer = server;
    server.start().then(
      () => void (offset = upForMs),
      (err: Error) => this.violate(`the witness did not start: ${err.message}`),
    );
  }

  private verdict(link: string, from: string, to: string): "pass" | "drop" | "reject" {
    if (link === "wit") {
      const node = from === "w" ? to : from;
      return (node === "a" || node === "b") && this.nodes[node].witnessCut ? "drop" : "pass";
    }
    if (link === "tcp") {
      if (!this.tcpUp || this.oneWay.has(`tcp:${from}`)) return "drop";
      return this.rejected.has(`tcp:${from}`) ? "reject" : "pass";
    }
    const l = link as LinkName;
    if (!this.links[l] || this.oneWay.has(`${l}:${from}`)) return "drop";
    return this.rejected.has(`${l}:${from}`) ? "reject" : "pass";
  }

  private latency(link: string): number {
    if (link === "lan" || link === "plant") return this.delayMs + this.linkDelay[link] + (this.jitterMs > 0 ? Math.floor(this.rand() * (this.jitterMs + 1)) : 0);
    return this.delayMs;
  }

  /** E: what a node sends never carries an epoch its disk does not hold yet */
  private checkSent(proc: Proc, to: HostPort, bytes: Buffer): void {
    const id = proc.host;
    if (id !== "a" && id !== "b") return;
    const n = this.nodes[id];
    const dst = splitHost(to.host);
    const payload = dst.link === "tcp" ? bytes.subarray(frameHeaderBytes) : bytes;
    const r = open(payload, () => KEY);
    if (!r.ok) return this.violate(`E: ${id} sent something that does not open: ${r.reason}`);
    const e = r.env.body.epoch;
    if (typeof e !== "number") return;
    const op = r.env.body.op;
    const proposal = r.env.type === "witness-req" && (op === "acquire" || op === "announce" || op === "release");
    const onDisk = proposal ? Math.max(n.disk.epoch, n.disk.proposed) : n.disk.epoch;
    if (e > onDisk) this.violate(`E: ${id} sent ${r.env.type}${typeof op === "string" ? ` ${op}` : ""} with epoch ${e} before persisting it (disk has ${onDisk})`);
  }

  private dropFrame(bytes: Buffer): boolean {
    if (!this.dropPeer) return false;
    const r = open(bytes.subarray(frameHeaderBytes), () => KEY);
    return r.ok && r.env.type !== "hello" && this.dropPeer({ type: r.env.type, ...r.env.body } as PeerMessage);
  }

  private observe(n: SimNode, st: { event: Event; before: RoleState; after: RoleState; effects: readonly Effect[] }): void {
    n.last = st.after;
    if (st.event.type === "op") n.lastOp = st.event.id;
    for (const fx of st.effects) {
      n.effects.push({ t: this.now, fx });
      if (fx.type === "reply") n.replies.set(fx.id, fx);
      if (fx.type === "send-grant") n.promisedUntil = Math.max(n.promisedUntil, this.now + fx.leaseMs);
      if (fx.type === "state") {
        this.trace.push({ t: this.now, node: n.id, from: fx.from, to: fx.to, epoch: fx.epoch, reason: fx.reason });
        this.checkTransition(n, fx, st.before, st.event);
      }
    }
    this.check(`${n.id} ${st.event.type}`);
  }

  private checkTransition(n: SimNode, fx: Extract<Effect, { type: "state" }>, before: RoleState, ev: Event): void {
    const unplanned = /^took over|^promoted/.test(fx.reason);
    if (unplanned && fx.to !== "active-held") this.violate(`S3: ${n.id} took over into ${fx.to}, not active-held (${fx.reason})`);
    if (fx.from === "active-held" && fx.to === "active") {
      const byOp = ev.type === "op" && (ev.action === "confirm" || ev.action === "reject");
      const auto = n.p.autoConfirmMs > 0 && before.heldSince !== null && this.now - before.heldSince >= n.p.autoConfirmMs;
      if (!byOp && !auto) this.violate(`S3: ${n.id} left active-held without a confirm (${fx.reason})`);
    }
    if (!isActive(fx.from) && fx.to === "active") {
      const handover = ev.type === "peer-message" && ev.msg.type === "handover";
      const w = this.contextWriter;
      if (!handover && w && w.node !== n.id) this.violate(`S3: ${n.id} became active (${fx.reason}) over a context last driven by ${w.node} in epoch ${w.epoch}, without a handover or a hold`);
      // the handover passes the context on, even when the new active cannot
      // drive it at once (a handover that waited out a stall: its lease is
      // already gone and it isolates in the same step); nobody drove it since
      if (handover) this.contextWriter = { node: n.id, epoch: fx.epoch };
    }
    // a handover gives the role up: the promisee no longer holds the lease we promised it
    if (ev.type === "peer-message" && ev.msg.type === "handover" && isActive(fx.to)) n.promisedUntil = 0;
    if (!isActive(fx.from) && isActive(fx.to)) {
      const exempt = /^took over from .*: its process is gone|^switchover|^promoted/.test(fx.reason);
      // a promisee that is gone, or neither active nor a candidate, holds no lease to honour
      const y = this.nodes[peerOf(n.id)];
      const ys = y.runtime?.state;
      const moot = !this.alive(y.id) || !ys || (!isActive(ys.state) && ys.candidateSince === null);
      if (!exempt && !moot && this.now < n.promisedUntil) this.violate(`G: ${n.id} became ${fx.to} at ${this.now} but promised ${y.id} a lease until ${n.promisedUntil} (${fx.reason})`);
    }
  }

  private check(where: string): void {
    if (this.checking) return;
    this.checking = true;
    try {
      const acting = this.actors();
      if (acting.length > 1) this.violate(`S1: both a and b can act at ${this.now} (after ${where}); epochs a=${this.epoch("a")} b=${this.epoch("b")}`);
      // the process context is driven only by a plain `active` (a held one shows it, resumes nothing)
      if (acting.length === 1 && this.node(acting[0]!).s.state === "active") {
        const id = acting[0]!;
        const w = this.contextWriter;
        const e = this.epoch(id);
        if (!w || w.node !== id || w.epoch !== e) this.contextWriter = { node: id, epoch: e };
      }
    } finally {
      this.checking = false;
    }
  }

  /** Records a breach; in strict mode the run stops with it after the step (never inside a node's own callback). */
  private violate(msg: string): void {
    this.violations.push(`${msg} [t=${this.now}]`);
    if (this.strict) this.breach ??= new InvariantError(`${msg}\n${this.show()}`);
  }

  private breach: InvariantError | null = null;

  private throwIfBreached(): void {
    if (this.breach) throw this.breach;
  }
}

export function peerOf(id: NodeId): NodeId {
  return id === "a" ? "b" : "a";
}

/** the seeded PRNG for the random fault schedules */
export const rng = prng;
