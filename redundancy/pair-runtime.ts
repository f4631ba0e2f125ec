// Runs the pure role machine against the world it is given — a monotonic
// clock and a network, the real ones or a simulation's (redundancy/net.ts) —
// with a 10 ms tick, the peer link, the witness client and the epoch store.
// Effects run in the order the machine gives them, each carrying its own
// data. Every list is first checked so that no epoch leaves before it is on
// disk; the new state becomes the node's only once its epoch is on disk, and
// a persist that fails faults the node (isolated, from its last persisted
// state, then a fatal stop).
import { EventEmitter } from "node:events";
import { COUNT_CHANNELS, counterFor } from "../core/diagnostics.js";
import { TandemError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Actor, HostPort } from "../core/types.js";
import type { EpochStore } from "./epoch-store.js";
import { systemClock, systemNetwork, type Clock, type Network } from "./net.js";
import { PeerLink, type PeerLinkOptions } from "./peer-link.js";
import { canAct, canActFor, initialState, isActive, leaseRemaining, step } from "./role-machine.js";
import { persistOrderProblems, type Persisted } from "./effects.js";
import type { Effect, Event, NodeState, OpAction, PeerMessage, RoleParams, RoleState } from "./role-types.js";
import { WitnessClient } from "./witness-client.js";

export const TICK_MS = 10;

const publishCount = counterFor(COUNT_CHANNELS.role);

export interface PairRuntimeOptions {
  params: RoleParams;
  /** the peer link without the parts the runtime supplies (incarnation, log) */
  peer: Omit<PeerLinkOptions, "incarnation" | "log" | "peerId" | "nodeId">;
  /** the witness, when one is configured (params.witness says the same) */
  witness: { address: HostPort; key: Buffer; timeoutMs: number } | null;
  store: Pick<EpochStore, "epoch" | "proposed" | "incarnation" | "cleanOwner" | "persist">;
  log: Logger;
  /** the real clock and network unless a simulation supplies its own */
  clock?: Clock;
  network?: Network;
  /** sees every step: the event, the state before and after, the effects (the simulated pair checks its invariants here) */
  observe?: (step: { event: Event; before: RoleState; after: RoleState; effects: readonly Effect[] }) => void;
}

export interface PairRuntimeEvents {
  state: [from: NodeState, to: NodeState, epoch: number, reason: string];
  event: [kind: string, message: string, details: Record<string, unknown> | undefined];
  audit: [action: string, actor: Actor | "system", result: "ok" | "refused" | "failed", details: Record<string, unknown> | undefined];
  "context-reset": [];
  /** a higher epoch is on disk (a standby learns it without changing state) */
  epoch: [epoch: number];
  /** the lease now ends at this time (the clock's), or 0: sent after every renewal */
  lease: [until: number];
  /** stop the services placed `active` and report back with setServicesUp(false) (a switchover waits) */
  "stop-services": [reason: string];
  /** a message for the node's own parts (services) from the authenticated peer: its body is not yet checked */
  "peer-app": [topic: string, data: Record<string, unknown>];
  /** the authenticated peer connection came up or went down (replication resumes or journals) */
  "peer-connection": [up: boolean];
  fatal: [err: Error];
}

export class PairRuntime extends EventEmitter<PairRuntimeEvents> {
  readonly params: RoleParams;
  private s: RoleState;
  private readonly link: PeerLink;
  private readonly witness: WitnessClient | null;
  private timer: unknown = null;
  /** a wake-up between ticks, for a witness retry due sooner than the next tick */
  private wake: { at: number; timer: unknown } | null = null;
  private readonly clock: Clock;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private nextOpId = 1;
  private acceptSentAt: number | undefined;
  private stopped = false;
  /** what is on disk (the adapter's own record, checked against every effect list) */
  private persisted: Persisted;
  private dispatching = false;
  private readonly queued: Event[] = [];
  /** events before start() are not stepped: the sockets they would use are not open yet */
  private started = false;
  private readonly log: Logger;

  constructor(private readonly opts: PairRuntimeOptions) {
    super();
    this.log = opts.log;
    this.params = opts.params;
    this.clock = opts.clock ?? systemClock;
    const network = opts.network ?? systemNetwork;
    // a node that crashed, or that only mirrored the peer, does not own a clean
    // context: should it become active again it holds the process (S3)
    this.s = initialState(this.params, opts.store.epoch, this.clock.now(), { seq: 0, ownerIsMeClean: opts.store.cleanOwner }, opts.store.proposed);
    this.persisted = { epoch: opts.store.epoch, proposed: Math.max(opts.store.epoch, opts.store.proposed) };
    this.link = new PeerLink(
      { ...opts.peer, nodeId: this.params.nodeId, peerId: this.params.peerId, incarnation: opts.store.incarnation, log: opts.log, clock: this.clock, network },
      {
        heartbeat: (link, seq, inc, hb) => this.dispatch({ type: "heartbeat", link, seq, inc, hb }),
        grant: (_link, sentAt, leaseMs, epoch) => this.dispatch({ type: "grant", sentAt, leaseMs, epoch }),
        message: (msg) => this.onPeerMessage(msg),
        tcp: (status) => {
          this.dispatch({ type: "tcp", status });
          if (status !== "refused") this.emit("peer-connection", status === "up");
        },
        linkRefused: (link) => this.dispatch({ type: "link-refused", link }),
        app: (topic, data) => this.emit("peer-app", topic, data),
      },
    );
    const w = opts.witness;
    this.witness = w ? new WitnessClient({ address: w.address, pair: opts.peer.pairId, from: this.params.nodeId, inc: opts.store.incarnation, key: w.key, timeoutMs: w.timeoutMs, clock: this.clock, network }) : null;
  }

  async start(): Promise<void> {
    await this.link.start();
    await this.witness?.start();
    // the start-up listening window (startupWaitMs) begins now, not when the
    // node was built: loading the drivers and the API may have taken a while
    const { level, levelSettled } = this.s; // what the node said of its health before it joined
    this.s = { ...initialState(this.params, this.opts.store.epoch, this.clock.now(), this.s.context, this.opts.store.proposed), level, levelSettled };
    this.started = true;
    let last = this.clock.now();
    const tick = () => {
      if (this.stopped) return;
      this.timer = this.clock.setTimeout(tick, TICK_MS);
      const now = this.clock.now();
      const stalled = now - last > 5 * TICK_MS;
      last = now;
      // After a stall (start-up work, a long GC, SIGSTOP) the timers phase runs
      // before queued datagrams are read: judging the peer's silence now would
      // blame it for our own pause. Tick after the poll phase instead.
      if (stalled) this.clock.defer(() => this.dispatch({ type: "tick" }));
      else this.dispatch({ type: "tick" });
    };
    this.timer = this.clock.setTimeout(tick, TICK_MS);
    this.dispatch({ type: "tick" });
  }

  /** Stops the tick and the sockets. Call shutdown() first for a clean handover. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.wake) this.clock.clearTimeout(this.wake.timer);
    this.wake = null;
    // tell the peer this was a clean stop, on every path we have
    const bye: PeerMessage = { type: "bye", epoch: this.s.epoch, state: this.s.state };
    this.link.sendTcp(bye);
    this.link.sendDatagram(bye);
    await new Promise<void>((r) => this.clock.defer(r));
    for (const [, p] of this.pending) p.reject(new TandemError("TANDEM_ERR_UNAVAILABLE", ["the node is stopping"]));
    this.pending.clear();
    await this.witness?.stop();
    await this.link.stop();
  }

  get state(): RoleState {
    return this.s;
  }

  now(): number {
    return this.clock.now();
  }

  /** May this node drive the plant now? Every write path asks right before writing. */
  canAct(): boolean {
    return canAct(this.params, this.s, this.clock.now());
  }

  /**
   * Throws unless this node may write now; `process` writes are also held in
   * active-held (S3). `needMs`: how long the write may take to leave (its
   * request timeout): refused when the lease would run out before that.
   */
  assertCanWrite(kind: "process" | "operator", needMs = 0): void {
    // the tick may be late (a pause, a long GC): look at the lease now, never after
    this.refresh();
    if (!isActive(this.s.state)) throw new TandemError("TANDEM_ERR_NOT_ACTIVE", ["write", `node is ${this.s.state}, not active`]);
    if (!canAct(this.params, this.s, this.clock.now())) throw new TandemError("TANDEM_ERR_LEASE", ["write", "no renewal from the peer or the witness"]);
    if (kind === "process" && this.s.state === "active-held") throw new TandemError("TANDEM_ERR_NOT_ACTIVE", ["process write", "node is active-held: process writes wait until an operator confirms the takeover"]);
    if (needMs > 0 && !canActFor(this.params, this.s, this.clock.now(), needMs)) {
      throw new TandemError("TANDEM_ERR_LEASE", ["write", `the lease (${this.leaseRemainingMs()} ms left) may run out before the request's ${needMs} ms timeout`]);
    }
  }

  /**
   * Re-evaluates time-driven rules now. After a pause (SIGSTOP, a long GC) a
   * queued request can be served before the next tick: whoever reports or
   * acts on the state calls this first, so a lapsed lease is never shown as active.
   */
  refresh(): void {
    this.dispatch({ type: "tick" });
  }

  leaseRemainingMs(): number {
    return leaseRemaining(this.params, this.s, this.clock.now());
  }

  /** The node's service level, and whether it counts yet (start-up grace over); kept until the node joins the pair. */
  setLevel(level: number, settled = true): void {
    if (level === this.s.level && settled === this.s.levelSettled) return;
    if (!this.started) {
      this.s = { ...this.s, level: Math.max(0, Math.min(255, Math.round(level))), levelSettled: settled };
      return;
    }
    this.dispatch({ type: "level", level, settled });
  }

  /** The supervisor's word: services placed `active` run here (true) or are confirmed gone (false). */
  setServicesUp(up: boolean): void {
    if (up !== this.s.servicesUp) this.dispatch({ type: "services", up });
  }

  /** The pair-wide configurations of the two nodes differ (what differs) or match (null): automatic switchovers wait. */
  setConfigMismatch(mismatch: string | null): void {
    if (mismatch === this.s.configMismatch) return;
    if (!this.started) this.s = { ...this.s, configMismatch: mismatch };
    else this.dispatch({ type: "config", mismatch });
  }

  /** Replication's word: the standby holds every write this node acknowledged (a switchover waits for it). */
  setDrained(drained: boolean): void {
    if (drained === this.s.drained) return;
    if (!this.started) this.s = { ...this.s, drained };
    else this.dispatch({ type: "drained", drained });
  }

  /** The latest process-context write this node holds (it rides on a handover). */
  setContextSeq(seq: number): void {
    if (seq <= this.s.context.seq) return;
    if (!this.started) this.s = { ...this.s, context: { ...this.s.context, seq } };
    else this.dispatch({ type: "context-seq", seq });
  }

  /** A message for the peer's own parts over the peer connection; false when it is down. */
  sendPeerApp(topic: string, data: Record<string, unknown>): boolean {
    if (!this.started || this.stopped) return false;
    return this.link.sendApp(topic, data);
  }

  /** The PLC watchdog's reading, when one is configured. */
  setPlc(epoch: number | null, counterStale: boolean): void {
    if (epoch !== this.s.plc.epoch || counterStale !== this.s.plc.counterStale) this.dispatch({ type: "plc", epoch, counterStale });
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = { ...this.s.counters };
    for (const [k, v] of Object.entries(this.link.counters())) out[`peer_${k}`] = v;
    if (this.witness) for (const [k, v] of Object.entries(this.witness.counters())) out[`witness_${k}`] = v;
    return out;
  }

  /** An operator action; resolves with the machine's answer or rejects with a TandemError. */
  op(action: OpAction, actor: Actor, extra: { to?: string; force?: boolean } = {}): Promise<Record<string, unknown>> {
    if (this.stopped) return Promise.reject(new TandemError("TANDEM_ERR_UNAVAILABLE", ["the node is stopping"]));
    if (!this.started) return Promise.reject(new TandemError("TANDEM_ERR_UNAVAILABLE", ["the node is still starting"]));
    const id = this.nextOpId++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.dispatch({ type: "op", id, action, actor, ...extra });
    return p;
  }

  // -------------------------------------------------------------- internals

  private onPeerMessage(msg: PeerMessage): void {
    if (msg.type === "handover") this.dispatch({ type: "peer-message", msg, sentAt: this.acceptSentAt });
    else this.dispatch({ type: "peer-message", msg });
  }

  private dispatch(ev: Event): void {
    if (!this.started || (this.stopped && ev.type !== "op")) return;
    // an effect's listener may act on the node (a fatal error stops it): its
    // events are stepped after this one, on the state this one left
    if (this.dispatching) {
      this.queued.push(ev);
      return;
    }
    this.dispatching = true;
    try {
      this.stepOne(ev);
      for (let next = this.queued.shift(); next; next = this.queued.shift()) this.stepOne(next);
    } finally {
      this.dispatching = false;
    }
    this.armWake();
  }

  /**
   * A takeover asks the witness again at a time the witness named (when the
   * active will have been silent long enough): be there on time, not up to a
   * tick late — on the dead-process path that tick is a tenth of the takeover.
   */
  private armWake(): void {
    const at = this.s.takeover?.retryAt;
    const now = this.clock.now();
    if (at === undefined || at <= now || at - now >= TICK_MS || this.stopped) return;
    if (this.wake && this.wake.at <= at) return;
    if (this.wake) this.clock.clearTimeout(this.wake.timer);
    const timer = this.clock.setTimeout(() => {
      this.wake = null;
      this.dispatch({ type: "tick" });
    }, Math.ceil(at - now));
    this.wake = { at, timer };
  }

  /**
   * Steps the machine and runs its effects in order. The new state is the
   * node's only once every persist-epoch in the list is on disk; if one
   * fails, the node goes on from the state before this step, faulted:
   * isolated at once, nothing carrying the new epoch ever leaves it, and it
   * stops with exit code 1.
   */
  private stepOne(ev: Event): void {
    const prev = this.s;
    let r: ReturnType<typeof step>;
    try {
      r = step(this.params, prev, ev, this.clock.now());
    } catch (err) {
      return this.fault(prev, err as Error);
    }
    const problems = persistOrderProblems(this.persisted, r.effects);
    if (problems.length) return this.fault(prev, new Error(`the role machine asked to send an epoch before persisting it: ${problems.join("; ")}`));
    let lastPersist = -1;
    r.effects.forEach((fx, i) => void (fx.type === "persist-epoch" && (lastPersist = i)));
    if (lastPersist < 0) this.s = r.state;
    for (let i = 0; i < r.effects.length; i++) {
      const fx = r.effects[i]!;
      if (fx.type === "persist-epoch") {
        try {
          this.opts.store.persist(fx.epoch, fx.proposed);
        } catch (err) {
          return this.fault(prev, err as Error);
        }
        this.persisted = { epoch: Math.max(this.persisted.epoch, fx.epoch), proposed: Math.max(this.persisted.proposed, fx.proposed) };
        if (i === lastPersist) {
          this.s = r.state;
          this.emit("epoch", this.s.epoch);
        }
        continue;
      }
      try {
        this.run(fx);
      } catch (err) {
        this.log.error({ err, effect: fx.type }, `effect ${fx.type} failed: ${(err as Error).message}`);
      }
    }
    if (this.s.leaseUntil !== prev.leaseUntil) this.emit("lease", this.s.leaseUntil);
    this.opts.observe?.({ event: ev, before: prev, after: this.s, effects: r.effects });
  }

  /** The node cannot keep its promises: isolated now (from the last state whose epoch is on disk), then a fatal stop. */
  private fault(prev: RoleState, err: Error): void {
    this.log.fatal({ err }, `cannot go on safely: ${err.message}; this node stops acting now`);
    const event: Event = { type: "fault", reason: err.message };
    const r = step(this.params, prev, event, this.clock.now());
    this.s = r.state;
    for (const fx of r.effects) if (fx.type === "state" || fx.type === "event" || fx.type === "reply") this.run(fx);
    this.opts.observe?.({ event, before: prev, after: this.s, effects: r.effects });
    this.emit("fatal", err);
  }

  private run(fx: Effect): void {
    switch (fx.type) {
      case "persist-epoch":
        return; // done by stepOne, in order, before anything after it
      case "send-heartbeat":
        this.link.sendHeartbeat(fx.hb);
        return;
      case "send-grant":
        this.link.sendGrant(fx.link, fx.reqSeq, fx.reqInc, fx.leaseMs, fx.epoch);
        return;
      case "send-lease-refuse":
        this.link.sendDatagram({ type: "lease-refuse", epoch: fx.epoch, reason: fx.reason });
        return;
      case "witness":
        return this.askWitness(fx.op, fx.epoch, fx.silenceMs);
      case "peer-send": {
        if (fx.everyPath) this.link.sendDatagram(fx.msg);
        const r = this.link.sendTcp(fx.msg);
        if (fx.msg.type === "switchover-accept") this.acceptSentAt = r ? r.sentAt : undefined;
        if (!r) this.log.warn({ msg: fx.msg.type }, "peer connection down: message not sent");
        return;
      }
      case "state":
        this.log.info({ from: fx.from, to: fx.to, epoch: fx.epoch }, `state ${fx.from} → ${fx.to}: ${fx.reason}`);
        this.emit("state", fx.from, fx.to, fx.epoch, fx.reason);
        return;
      case "audit":
        this.emit("audit", fx.action, fx.actor, fx.result, fx.details);
        return;
      case "event":
        this.log.info({ event: fx.kind, ...(fx.details ?? {}) }, fx.message);
        this.emit("event", fx.kind, fx.message, fx.details);
        return;
      case "reply": {
        const p = this.pending.get(fx.id);
        if (!p) return;
        this.pending.delete(fx.id);
        if (fx.ok) p.resolve(fx.value);
        else p.reject(new TandemError(fx.code, fx.args));
        return;
      }
      case "context-reset":
        this.emit("context-reset");
        return;
      case "stop-services":
        this.emit("stop-services", fx.reason);
        return;
      case "count":
        publishCount(fx.name, { pair: this.opts.peer.pairId, node: this.params.nodeId });
        return;
    }
  }

  private askWitness(op: Effect & { type: "witness" } extends { op: infer O } ? O : never, epoch: number, silenceMs?: number): void {
    const w = this.witness;
    if (!w) return;
    let pending: ReturnType<WitnessClient["request"]>;
    try {
      pending = w.request(op, epoch, this.params.leaseMs, silenceMs === undefined ? undefined : { silenceMs });
    } catch (err) {
      // never let the witness take the node down: an unanswered request is a timeout
      this.log.warn(`witness request not sent: ${(err as Error).message}`);
      return;
    }
    pending.then(
      (r) => {
        if (this.stopped) return;
        if ("timeout" in r) this.dispatch({ type: "witness-timeout", op, sentAt: r.sentAt });
        else this.dispatch({ type: "witness-reply", sentAt: r.sentAt, reply: r.reply });
      },
      (err: Error) => this.log.warn(`witness request failed: ${err.message}`),
    );
  }
}
