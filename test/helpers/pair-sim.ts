// A deterministic discrete-event simulator of a Tandem pair, for the role
// state machine (redundancy/role-machine.ts): two machines ("a" the preferred
// main, "b" the secondary), two heartbeat links ("lan", "plant"), the peer TCP
// connection, an optional witness (the real WitnessCore), a fake clock and a
// network that turns each side's effects into the other side's events.
//
// Faults are injected between runs (cut a link, cut tcp, kill, restart, pause,
// stop the witness, isolate a node from the witness). After EVERY step the
// invariants are checked and a violation throws with the trace:
//   S1  never two nodes for which canAct() is true at the same instant
//       (a paused node counts with the lease it would check on resume);
//   E   epochs persisted never decrease, and a heartbeat never carries an
//       epoch that is not on the sender's disk yet (persist before announce);
//   S3  an unplanned takeover (dead process, witness, operator promote)
//       enters active-held, and active-held leaves only by confirm, reject
//       or the auto-confirm delay; a node whose context was last driven by
//       the other node never becomes plain active without a handover;
//   G   a node that granted a lease does not become active (election or
//       witness path) before that grant ran out by its own clock.
import { WitnessCore } from "../../redundancy/witness-core.js";
import { persistOrderProblems } from "../../redundancy/effects.js";
import { canAct, initialState, isActive, step } from "../../redundancy/role-machine.js";
import type { Effect, Event, Heartbeat, OpAction, PeerMessage, RoleParams, RoleState, WitnessOp, WitnessReply } from "../../redundancy/role-types.js";
import type { Actor, NodeState } from "../../runtime/node-api.js";
import { prng } from "./prng.js";

export type NodeId = "a" | "b";
export const LINKS = ["lan", "plant"] as const;
export type LinkName = (typeof LINKS)[number];
export const PAIR = "line1";

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
  /** extra random delay per heartbeat/grant, 0..jitterMs (reorders them); seeded */
  jitterMs?: number;
  seed?: number;
  tickMs?: number;
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

interface SimNode {
  id: NodeId;
  p: RoleParams;
  s: RoleState;
  alive: boolean;
  started: boolean;
  pausedUntil: number | null;
  /** the node's "disk": epochs persisted, in order */
  disk: number[];
  /** the highest epoch it offered the witness, on its disk */
  proposedOnDisk: number;
  hbSeq: number;
  /** sentAt of every heartbeat, by link:seq */
  sentAt: Map<string, number>;
  acceptSentAt: number | null;
  witnessCut: boolean;
  /** latest lease promise this node sent (send-grant), by its clock */
  promisedUntil: number;
  effects: { t: number; fx: Effect }[];
  replies: Map<number, Extract<Effect, { type: "reply" }>>;
  /** for S3: the step event that led here */
  lastEvent: Event | null;
  /** the process context on this node's disk: who drove it last (replicated while it ran) */
  diskContext: { node: NodeId; epoch: number } | null;
}

type Item =
  | { kind: "deliver"; to: NodeId; ev: Event; incarnation: number }
  | { kind: "witness-req"; from: NodeId; op: WitnessOp; epoch: number; leaseMs: number; silenceMs?: number; sentAt: number; incarnation: number }
  | { kind: "tick" }
  | { kind: "call"; fn: () => void };

interface Queued {
  at: number;
  seq: number;
  item: Item;
}

/** A binary heap on (at, seq): same-time items run in the order they were queued. */
class Queue {
  private h: Queued[] = [];
  get size(): number {
    return this.h.length;
  }
  peek(): Queued | undefined {
    return this.h[0];
  }
  push(q: Queued): void {
    const h = this.h;
    h.push(q);
    let i = h.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (less(h[up], h[i])) break;
      [h[up], h[i]] = [h[i], h[up]];
      i = up;
    }
  }
  pop(): Queued | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}
const less = (x: Queued, y: Queued): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq);

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

export class PairSim {
  now = 0;
  readonly delayMs: number;
  readonly tickMs: number;
  readonly witnessTimeoutMs: number;
  readonly strict: boolean;
  readonly trace: TraceEntry[] = [];
  readonly violations: string[] = [];
  readonly links: Record<LinkName, boolean> = { lan: true, plant: true };
  /** per-link extra delay, ms (late heartbeats) */
  readonly linkDelay: Record<LinkName, number> = { lan: 0, plant: 0 };
  /** one-way cuts: `${link}:${from}` drops what `from` sends on that link */
  readonly oneWay = new Set<string>();
  /** REJECT rules: `${link}:${from}` refuses what `from` sends on that link (ICMP port unreachable back) */
  readonly rejected = new Set<string>();
  readonly jitterMs: number;
  private readonly rand: () => number;
  tcpUp = true;
  /** drop peer messages matching this (a message lost with its connection) */
  dropPeer: ((m: PeerMessage) => boolean) | null = null;
  witness: WitnessCore | null = null;
  readonly witnessConfigured: boolean;
  steps = 0;
  private pendingFx: Effect[] | null = null;
  private readonly q = new Queue();
  private qseq = 0;
  private opId = 0;
  private readonly nodes: Record<NodeId, SimNode>;
  private readonly incarnation: Record<NodeId, number> = { a: 0, b: 0 };
  /** for S3: the last node (and epoch) that could act, i.e. that drove the process context */
  contextWriter: { node: NodeId; epoch: number } | null = null;

  constructor(opts: SimOptions = {}) {
    this.delayMs = opts.delayMs ?? 1;
    this.tickMs = opts.tickMs ?? 10;
    this.witnessTimeoutMs = opts.witnessTimeoutMs ?? 250;
    this.strict = opts.strict ?? true;
    this.witnessConfigured = opts.witness ?? false;
    this.jitterMs = opts.jitterMs ?? 0;
    this.rand = rng(opts.seed ?? 1);
    const mk = (id: NodeId, over: Partial<RoleParams> | undefined, epoch: number): SimNode => {
      const p = defaultParams(id, { witness: this.witnessConfigured, ...opts.params, ...over });
      return {
        id,
        p,
        s: initialState(p, epoch, 0),
        alive: false,
        started: false,
        pausedUntil: null,
        disk: [epoch],
        proposedOnDisk: epoch,
        hbSeq: 0,
        sentAt: new Map(),
        acceptSentAt: null,
        witnessCut: false,
        promisedUntil: 0,
        effects: [],
        replies: new Map(),
        lastEvent: null,
        diskContext: null,
      };
    };
    this.nodes = { a: mk("a", opts.a, opts.epochA ?? 0), b: mk("b", opts.b, opts.epochB ?? 0) };
    if (this.witnessConfigured) this.witness = new WitnessCore({ maxLeaseMs: this.nodes.a.p.leaseMs, startedAt: -(opts.witnessUpForMs ?? 60_000) });
    this.schedule(0, { kind: "tick" });
    for (const id of opts.start ?? ["a", "b"]) this.start(id);
  }

  // ------------------------------------------------------------ inspection

  node(id: NodeId): SimNode {
    return this.nodes[id];
  }
  state(id: NodeId): NodeState | "dead" {
    return this.nodes[id].alive ? this.nodes[id].s.state : "dead";
  }
  epoch(id: NodeId): number {
    return this.nodes[id].s.epoch;
  }
  /** highest epoch on the node's disk */
  persisted(id: NodeId): number {
    return Math.max(...this.nodes[id].disk);
  }
  canAct(id: NodeId): boolean {
    const n = this.nodes[id];
    return n.alive && canAct(n.p, n.s, this.now);
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
  /** the trace as text, for failure messages */
  show(last = 40): string {
    return this.trace
      .slice(-last)
      .map((t) => `${String(t.t).padStart(7)} ms  ${t.node}  ${t.from} → ${t.to}  e${t.epoch}  ${t.reason}`)
      .join("\n");
  }

  // ------------------------------------------------------------ running

  /** run the clock forward by ms, stepping everything due */
  run(ms: number): this {
    const end = this.now + ms;
    for (;;) {
      const top = this.q.peek();
      if (!top || top.at > end) break;
      this.q.pop();
      this.now = top.at;
      this.exec(top.item);
    }
    this.now = end;
    this.check("run");
    return this;
  }

  /** run until pred holds (checked after every step); returns the time it took, throws after maxMs */
  until(pred: () => boolean, maxMs: number, what = "condition"): number {
    const t0 = this.now;
    const end = this.now + maxMs;
    if (pred()) return 0;
    for (;;) {
      const top = this.q.peek();
      if (!top || top.at > end) break;
      this.q.pop();
      this.now = top.at;
      this.exec(top.item);
      if (pred()) return this.now - t0;
    }
    this.now = end;
    throw new Error(`${what} not reached within ${maxMs} ms (t=${this.now})\n${this.show()}`);
  }

  /** run ms and call probe after every step (for "never" assertions) */
  during(ms: number, probe: () => void): this {
    const end = this.now + ms;
    for (;;) {
      const top = this.q.peek();
      if (!top || top.at > end) break;
      this.q.pop();
      this.now = top.at;
      this.exec(top.item);
      probe();
    }
    this.now = end;
    return this;
  }

  // ------------------------------------------------------------ faults

  cutLink(l: LinkName): this {
    this.links[l] = false;
    return this;
  }
  restoreLink(l: LinkName): this {
    this.links[l] = true;
    this.rejected.delete(`${l}:a`);
    this.rejected.delete(`${l}:b`);
    this.oneWay.delete(`${l}:a`);
    this.oneWay.delete(`${l}:b`);
    return this;
  }
  /** `from` can no longer send on link l; the other direction still works */
  cutLinkFrom(l: LinkName, from: NodeId): this {
    this.oneWay.add(`${l}:${from}`);
    return this;
  }
  /**
   * A REJECT firewall rule against what `from` sends, on every link and the
   * peer connection: `from` sees exactly what a dead peer process would show
   * (connection reset, port unreachable), while the other direction still flows.
   */
  rejectFrom(from: NodeId): this {
    for (const l of LINKS) this.rejected.add(`${l}:${from}`);
    this.tcpUp = false;
    this.deliver(from, { type: "tcp", status: "down" }, this.delayMs);
    return this;
  }
  /** a plain cut: no event on either side, like a partition */
  cutTcp(): this {
    this.tcpUp = false;
    return this;
  }
  /** reconnect: both sides see 'up' */
  restoreTcp(): this {
    this.tcpUp = true;
    for (const id of ["a", "b"] as const) if (this.nodes[id].alive) this.deliver(id, { type: "tcp", status: "up" }, this.delayMs);
    return this;
  }
  /** both links and tcp */
  partition(): this {
    for (const l of LINKS) this.cutLink(l);
    return this.cutTcp();
  }
  heal(): this {
    for (const l of LINKS) this.restoreLink(l);
    return this.restoreTcp();
  }
  /** the process is gone: the peer's kernel-reset connection is reported, then silence */
  kill(id: NodeId): this {
    const n = this.nodes[id];
    if (!n.alive) return this;
    n.alive = false;
    n.pausedUntil = null;
    n.diskContext = this.contextWriter;
    this.incarnation[id]++;
    if (this.tcpUp) this.deliver(peerOf(id), { type: "tcp", status: "down" }, this.delayMs);
    return this;
  }
  /** SIGTERM as the runtime does it: the shutdown op, a goodbye on every path, then the process ends */
  stopClean(id: NodeId): this {
    const n = this.nodes[id];
    if (!n.alive) return this;
    this.op(id, "shutdown", admin);
    const bye: PeerMessage = { type: "bye", epoch: n.s.epoch, state: n.s.state };
    if (this.tcpUp || LINKS.some((l) => this.linkOpen(l, id))) this.deliver(peerOf(id), { type: "peer-message", msg: bye }, this.delayMs);
    return this.kill(id);
  }
  /** start a node that was not started at t=0 */
  start(id: NodeId): this {
    const n = this.nodes[id];
    if (n.alive) return this;
    n.alive = true;
    n.started = true;
    // the adapter loads the process context from disk: whoever drove it last
    // (a process that was killed did not close its context cleanly, whoever wrote it)
    const ctx = n.diskContext;
    const context = ctx ? { seq: 1, ownerIsMeClean: false } : undefined;
    n.s = initialState(n.p, this.persisted(id), this.now, context, n.proposedOnDisk);
    n.lastEvent = null;
    this.incarnation[id]++;
    if (this.tcpUp && this.nodes[peerOf(id)].alive) {
      this.deliver(id, { type: "tcp", status: "up" }, this.delayMs);
      this.deliver(peerOf(id), { type: "tcp", status: "up" }, this.delayMs);
    }
    return this;
  }
  /** a new process with the epoch from its disk */
  restart(id: NodeId): this {
    this.kill(id);
    return this.start(id);
  }
  /** SIGSTOP for ms: nothing is stepped or sent; then everything queued arrives at once */
  pause(id: NodeId, ms: number): this {
    const n = this.nodes[id];
    if (!n.alive) return this;
    n.pausedUntil = this.now + ms;
    const inc = this.incarnation[id];
    this.schedule(this.now + ms, {
      kind: "call",
      fn: () => {
        if (this.incarnation[id] !== inc || n.pausedUntil === null) return;
        n.pausedUntil = null;
        this.stepNode(id, { type: "tick" });
      },
    });
    return this;
  }
  paused(id: NodeId): boolean {
    return this.nodes[id].pausedUntil !== null;
  }
  stopWitness(): this {
    this.witness = null;
    return this;
  }
  /** a fresh witness process (it remembers nothing) */
  startWitness(): this {
    this.witness = new WitnessCore({ maxLeaseMs: this.nodes.a.p.leaseMs, startedAt: this.now });
    return this;
  }
  isolateFromWitness(id: NodeId, cut = true): this {
    this.nodes[id].witnessCut = cut;
    return this;
  }
  setLevel(id: NodeId, level: number): this {
    this.stepNode(id, { type: "level", level });
    return this;
  }
  /** feed a node an event as if it came from the network now */
  inject(id: NodeId, ev: Event): this {
    this.stepNode(id, ev);
    return this;
  }

  /** an operator or admin action on a node; the reply may come later (switchover) */
  op(id: NodeId, action: OpAction, actor: Actor = operator, extra: { to?: string; force?: boolean } = {}): OpHandle {
    const opId = ++this.opId;
    this.stepNode(id, { type: "op", id: opId, action, actor, ...extra });
    return new OpHandle(this, id, opId);
  }

  // ------------------------------------------------------------ internals

  private linkOpen(l: LinkName, from: NodeId): boolean {
    return this.links[l] && !this.oneWay.has(`${l}:${from}`);
  }

  private linkLatency(l: LinkName): number {
    return this.delayMs + this.linkDelay[l] + (this.jitterMs > 0 ? Math.floor(this.rand() * (this.jitterMs + 1)) : 0);
  }

  private schedule(at: number, item: Item): void {
    this.q.push({ at, seq: this.qseq++, item });
  }

  private deliver(to: NodeId, ev: Event, delay: number): void {
    this.schedule(this.now + delay, { kind: "deliver", to, ev, incarnation: this.incarnation[to] });
  }

  private exec(item: Item): void {
    switch (item.kind) {
      case "tick":
        this.schedule(this.now + this.tickMs, { kind: "tick" });
        for (const id of ["a", "b"] as const) {
          const n = this.nodes[id];
          if (n.alive && n.pausedUntil === null) this.stepNode(id, { type: "tick" });
        }
        return;
      case "call":
        item.fn();
        return;
      case "deliver": {
        const n = this.nodes[item.to];
        if (!n.alive || this.incarnation[item.to] !== item.incarnation) return;
        if (n.pausedUntil !== null) {
          // queued in the socket buffers until the process runs again
          this.schedule(n.pausedUntil, item);
          return;
        }
        this.stepNode(item.to, item.ev);
        return;
      }
      case "witness-req":
        return this.witnessArrive(item);
    }
  }

  private witnessArrive(r: Extract<Item, { kind: "witness-req" }>): void {
    const w = this.witness;
    const n = this.nodes[r.from];
    if (!w || n.witnessCut) return this.witnessTimeout(r);
    const reply = w.handle({ pair: PAIR, from: r.from, op: r.op, epoch: r.epoch, leaseMs: r.leaseMs, silenceMs: r.silenceMs }, this.now) as WitnessReply;
    this.schedule(this.now + this.delayMs, {
      kind: "call",
      fn: () => {
        if (n.witnessCut || this.incarnation[r.from] !== r.incarnation) return this.witnessTimeout(r);
        this.schedule(this.now, { kind: "deliver", to: r.from, ev: { type: "witness-reply", sentAt: r.sentAt, reply }, incarnation: r.incarnation });
      },
    });
  }

  private witnessTimeout(r: Extract<Item, { kind: "witness-req" }>): void {
    this.schedule(Math.max(this.now, r.sentAt + this.witnessTimeoutMs), { kind: "deliver", to: r.from, ev: { type: "witness-timeout", op: r.op, sentAt: r.sentAt }, incarnation: r.incarnation });
  }

  stepNode(id: NodeId, ev: Event): void {
    const n = this.nodes[id];
    if (!n.alive) return;
    const before = n.s;
    const { state, effects } = step(n.p, before, ev, this.now);
    n.s = state;
    n.lastEvent = ev;
    this.steps++;
    this.pendingFx = effects;
    for (const problem of persistOrderProblems({ epoch: this.persisted(id), proposed: n.proposedOnDisk }, effects)) this.violate(`E: ${id} on ${describe(ev)}: ${problem}`);
    for (const fx of effects) this.run1(n, fx, before, ev);
    this.check(`${id} ${ev.type}${ev.type === "op" ? ` ${ev.action}` : ""}`);
  }

  /** run one effect in order, as the adapter would */
  private run1(n: SimNode, fx: Effect, before: RoleState, ev: Event): void {
    const other = peerOf(n.id);
    n.effects.push({ t: this.now, fx });
    switch (fx.type) {
      case "persist-epoch": {
        const last = this.persisted(n.id);
        if (fx.epoch < last) this.violate(`E: ${n.id} persisted epoch ${fx.epoch} after ${last}`);
        n.disk.push(fx.epoch);
        n.proposedOnDisk = Math.max(n.proposedOnDisk, fx.proposed);
        return;
      }
      case "send-heartbeat": {
        const hb = fx.hb;
        if (hb.epoch > this.persisted(n.id)) this.violate(`E: ${n.id} sent a heartbeat with epoch ${hb.epoch} before persisting it (disk has ${this.persisted(n.id)}); on ${describe(ev)} → ${JSON.stringify(this.pendingFx?.map((f) => f.type))}`);
        for (const l of LINKS) {
          if (!n.p.links.includes(l)) continue;
          const seq = ++n.hbSeq;
          n.sentAt.set(`${l}:${seq}`, this.now);
          if (!this.linkOpen(l, n.id)) continue;
          // a host whose process is gone answers "port unreachable"; a REJECT rule forges the same
          if (this.rejected.has(`${l}:${n.id}`) || !this.nodes[other].alive) this.deliver(n.id, { type: "link-refused", link: l }, 2 * this.delayMs);
          else this.deliver(other, { type: "heartbeat", link: l, seq, inc: this.incarnation[n.id], hb }, this.linkLatency(l));
        }
        return;
      }
      case "send-grant": {
        const l = fx.link as LinkName;
        n.promisedUntil = Math.max(n.promisedUntil, this.now + fx.leaseMs);
        // a grant answers one request of one incarnation (redundancy/peer-link.ts)
        if (fx.reqInc !== this.incarnation[other]) return;
        const sentAt = this.nodes[other].sentAt.get(`${l}:${fx.reqSeq}`);
        if (sentAt === undefined) return;
        if (this.linkOpen(l, n.id) && !this.rejected.has(`${l}:${n.id}`)) this.deliver(other, { type: "grant", sentAt, leaseMs: fx.leaseMs, epoch: fx.epoch }, this.linkLatency(l));
        return;
      }
      case "send-lease-refuse": {
        if (this.tcpUp || LINKS.some((l) => this.linkOpen(l, n.id) && !this.rejected.has(`${l}:${n.id}`))) this.deliver(other, { type: "peer-message", msg: { type: "lease-refuse", epoch: fx.epoch, reason: fx.reason } }, this.delayMs);
        return;
      }
      case "peer-send": {
        if (fx.msg.type === "switchover-accept") n.acceptSentAt = this.now;
        if (!this.tcpUp || this.dropPeer?.(fx.msg)) return;
        const sentAt = fx.msg.type === "handover" ? (this.nodes[other].acceptSentAt ?? undefined) : undefined;
        this.deliver(other, { type: "peer-message", msg: fx.msg, ...(sentAt === undefined ? {} : { sentAt }) }, this.delayMs);
        return;
      }
      case "witness": {
        if (!this.witnessConfigured) return this.violate(`${n.id} asked a witness that is not configured`);
        this.schedule(this.now + this.delayMs, { kind: "witness-req", from: n.id, op: fx.op, epoch: fx.epoch, leaseMs: n.p.leaseMs, silenceMs: fx.silenceMs, sentAt: this.now, incarnation: this.incarnation[n.id] });
        return;
      }
      case "state":
        this.trace.push({ t: this.now, node: n.id, from: fx.from, to: fx.to, epoch: fx.epoch, reason: fx.reason });
        this.checkTransition(n, fx, before, ev);
        return;
      case "reply":
        n.replies.set(fx.id, fx);
        return;
      default:
        return;
    }
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
      if (!handover && w && w.node !== n.id)
        this.violate(`S3: ${n.id} became active (${fx.reason}) over a context last driven by ${w.node} in epoch ${w.epoch}, without a handover or a hold`);
    }
    // a handover gives the role up: the promisee no longer holds the lease we promised it
    if (ev.type === "peer-message" && ev.msg.type === "handover" && isActive(fx.to)) n.promisedUntil = 0;
    if (!isActive(fx.from) && isActive(fx.to)) {
      const exempt = /^took over from .*: its process is gone|^switchover|^promoted/.test(fx.reason);
      // a promisee that is gone, or neither active nor a candidate, holds no lease to honour
      const y = this.nodes[peerOf(n.id)];
      const moot = !y.alive || (!isActive(y.s.state) && y.s.candidateSince === null);
      if (!exempt && !moot && this.now < n.promisedUntil) this.violate(`G: ${n.id} became ${fx.to} at ${this.now} but promised ${peerOf(n.id)} a lease until ${n.promisedUntil} (${fx.reason})`);
    }
  }

  private check(where: string): void {
    const acting = this.actors();
    if (acting.length > 1) this.violate(`S1: both a and b can act at ${this.now} (after ${where}); epochs a=${this.epoch("a")} b=${this.epoch("b")}`);
    // the process context is driven only by a plain `active` (a held one shows it, resumes nothing)
    if (acting.length === 1 && this.nodes[acting[0]].s.state === "active") {
      const id = acting[0];
      const w = this.contextWriter;
      if (!w || w.node !== id || w.epoch !== this.nodes[id].s.epoch) this.contextWriter = { node: id, epoch: this.nodes[id].s.epoch };
    }
  }

  private violate(msg: string): void {
    this.violations.push(`${msg} [t=${this.now}]`);
    if (this.strict) throw new InvariantError(`${msg}\n${this.show()}`);
  }
}

export function peerOf(id: NodeId): NodeId {
  return id === "a" ? "b" : "a";
}

/** the seeded PRNG for the random fault schedules */
export const rng = prng;

function describe(ev: Event): string {
  return ev.type === "op" ? `op ${ev.action}` : ev.type === "peer-message" ? `peer-message ${ev.msg.type}` : ev.type === "witness-reply" ? `witness-reply ${ev.reply.op} ${ev.reply.granted ? "granted" : ev.reply.reason}` : ev.type;
}
