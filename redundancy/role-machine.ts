// The role state machine: a pure reducer step(params, state, event, now) →
// { state, effects }. No sockets, files, timers or clocks here: time comes in
// as `now` (monotonic ms) and everything to do goes out as effects, in the
// order the adapter must run them (persist the epoch before announcing it).
//
// States and transitions are DESIGN.md's:
//   starting → standby | active | active-held
//   standby → active-held (takeover) | active (switchover, clean election)
//   active-held → active (confirm, reject, auto-confirm)
//   active → standby (higher epoch, switchover) | isolated (lease lost)
//   isolated → standby (peer or witness seen again)
//   maintenance ↔ anything, by an admin only
// Size: over 500 lines until it is split (issue 6: one-way layers, smaller rooms).
import type { Actor } from "../core/types.js";
import { electionWinner } from "./election.js";
import { peerProcessDead, peerVisible } from "./failure-detector.js";
import type { Effect, Event, Heartbeat, NodeState, PeerMessage, RoleParams, RoleState, WitnessReply } from "./role-types.js";

export interface StepResult {
  state: RoleState;
  effects: Effect[];
}

export function initialState(p: RoleParams, epoch: number, now: number, context = { seq: 0, ownerIsMeClean: true }): RoleState {
  const links: Record<string, number | null> = {};
  for (const l of p.links) links[l] = null;
  return {
    state: "starting",
    since: now,
    startedAt: now,
    epoch,
    level: 255,
    leaseUntil: 0,
    grantedUntil: 0,
    peer: { state: "unknown", epoch: 0, level: 0, role: null, candidate: false, links, heardAt: null, tcpUp: false, lostAt: null, byeAt: null, fenced: false },
    witness: { reachable: false, lastOkAt: null, holder: null, holderEpoch: 0 },
    heldSince: null,
    autoConfirmAt: null,
    nextHeartbeatAt: now,
    switchoverOut: null,
    switchoverIn: null,
    switchoverAsk: null,
    takeover: null,
    candidateSince: null,
    noActiveSince: null,
    lowLevelSince: null,
    failbackSince: null,
    awaitingOperator: false,
    reason: "starting: listening for the peer",
    context,
    stopping: false,
    plc: { epoch: null, counterStale: false },
    counters: {},
  };
}

export const isActive = (s: NodeState | "unknown"): boolean => s === "active" || s === "active-held";

/** May this node drive the plant right now? Checked before every write, never after. */
export function canAct(p: RoleParams, s: RoleState, now: number): boolean {
  if (!isActive(s.state) || s.switchoverOut?.phase === "handed-over") return false;
  return !leaseRequired(s) || now < s.leaseUntil - p.leaseSafetyMs;
}

/**
 * May this node start something that takes `needMs` to finish (a PLC write
 * whose request may take its whole timeout)? Only if it can act now and its
 * lease, less the safety margin, outlasts it.
 */
export function canActFor(p: RoleParams, s: RoleState, now: number, needMs: number): boolean {
  if (!canAct(p, s, now)) return false;
  return !leaseRequired(s) || now + needMs < s.leaseUntil - p.leaseSafetyMs;
}

/** Lease left as the active counts it (0 when not active or not needed). */
export function leaseRemaining(p: RoleParams, s: RoleState, now: number): number {
  if (!isActive(s.state)) return 0;
  return Math.max(0, Math.round(s.leaseUntil - now));
}

function leaseRequired(s: RoleState): boolean {
  // A peer known to be down (dead process, or an operator's manual fencing)
  // cannot act, and a restarted one starts in `starting` and needs our grant
  // or the witness's before it acts; until a grant comes again, the lone
  // active keeps the plant running instead of isolating itself.
  return !s.peer.fenced;
}

export function step(p: RoleParams, prev: RoleState, ev: Event, now: number): StepResult {
  const s: RoleState = structuredClone(prev);
  const fx: Effect[] = [];
  const m = new Machine(p, s, fx, now);
  m.handle(ev);
  m.evaluate();
  return { state: s, effects: fx };
}

class Machine {
  constructor(
    private readonly p: RoleParams,
    private readonly s: RoleState,
    private readonly fx: Effect[],
    private readonly now: number,
  ) {}

  handle(ev: Event): void {
    switch (ev.type) {
      case "tick":
        return;
      case "heartbeat":
        return this.onHeartbeat(ev.link, ev.seq, ev.hb);
      case "grant":
        return this.onGrant("peer", ev.sentAt, ev.leaseMs, ev.epoch);
      case "witness-reply":
        return this.onWitnessReply(ev.sentAt, ev.reply);
      case "witness-timeout":
        this.count("witness_timeouts");
        if (this.s.witness.lastOkAt === null || this.now - this.s.witness.lastOkAt >= this.p.timeoutMs) this.s.witness.reachable = false;
        if (ev.op === "announce" && this.s.takeover?.path === "dead-process") this.deadProcessWithoutWitness();
        return;
      case "tcp":
        return this.onTcp(ev.status);
      case "peer-message":
        return this.onPeerMessage(ev.msg, ev.sentAt);
      case "level":
        this.s.level = this.s.state === "maintenance" ? 0 : Math.max(0, Math.min(255, Math.round(ev.level)));
        return;
      case "plc":
        return this.onPlc(ev.epoch, ev.counterStale);
      case "op":
        return this.onOp(ev.id, ev.action, ev.actor, ev.to, ev.force);
    }
  }

  // ---------------------------------------------------------------- inputs

  private onHeartbeat(link: string, seq: number, hb: Heartbeat): void {
    const { s, now } = this;
    if (!(link in s.peer.links)) return;
    s.peer.links[link] = now;
    s.peer.heardAt = now;
    s.peer.state = hb.state;
    s.peer.level = hb.level;
    s.peer.role = hb.role;
    s.peer.candidate = hb.candidate;
    s.peer.byeAt = null;
    // FIX(role-machine.test "after the pair splits and heals ...", random seeds
    // 1199/1914): a peer that is active, or that knows a newer epoch (someone
    // activated in it while we did not look), drives or drove the process
    // context, so what this node holds is no longer its own clean context.
    // Without this a later election or witness claim made it plain `active`
    // over the peer's context with no handover (DESIGN.md held rule; S3).
    if (hb.epoch > s.epoch || (isActive(hb.state) && hb.epoch >= s.epoch)) s.context.ownerIsMeClean = false;
    if (hb.epoch > s.peer.epoch || isActive(hb.state)) s.peer.epoch = hb.epoch;
    if (s.state === "isolated") this.transition("standby", `the peer ${this.p.peerId} is visible again`);
    if (s.awaitingOperator) {
      s.awaitingOperator = false;
      this.event("peer-visible", `the peer ${this.p.peerId} is visible again on link ${link}`);
    }
    if (isActive(hb.state)) this.onActivePeer(hb);
    if (hb.leaseReq) this.onLeaseRequest(link, seq, hb);
  }

  /** The peer says it is active: obey a higher epoch, refuse a lower one. */
  private onActivePeer(hb: Heartbeat): void {
    const { s } = this;
    s.noActiveSince = null;
    s.candidateSince = null;
    if (s.state === "standby" && !s.awaitingOperator) s.reason = `following the active ${this.p.peerId} (epoch ${hb.epoch})`;
    if (s.takeover) {
      this.event("takeover-cancelled", `the active ${this.p.peerId} is visible again (epoch ${hb.epoch}); takeover cancelled`);
      s.takeover = null;
    }
    if (hb.epoch > s.epoch) {
      this.raiseEpoch(hb.epoch);
      if (isActive(s.state) || s.state === "starting" || s.state === "isolated") {
        this.transition("standby", `the peer ${this.p.peerId} is active with a higher epoch (${hb.epoch})`);
      }
    } else if (isActive(s.state) && hb.epoch === s.epoch) {
      // Two actives in one epoch cannot come from these rules; if it ever
      // happens the lower node id keeps the role, the other steps down.
      if (this.p.nodeId > this.p.peerId) this.transition("standby", `the peer ${this.p.peerId} is also active in epoch ${hb.epoch}`);
      this.count("same_epoch_actives");
    } else if (s.state === "starting") {
      this.transition("standby", `the peer ${this.p.peerId} is active (epoch ${hb.epoch})`);
    }
  }

  private onLeaseRequest(link: string, seq: number, hb: Heartbeat): void {
    const { p, s, now } = this;
    const refuse = (reason: string) => {
      this.count("lease_refused");
      this.fx.push({ type: "send-lease-refuse", reason });
    };
    if (isActive(s.state)) return refuse(`${p.nodeId} is itself active (epoch ${s.epoch})`);
    if (s.state === "isolated") return; // we know too little to vouch for anyone
    if (isActive(hb.state)) {
      if (hb.epoch < s.epoch) return refuse(`epoch ${hb.epoch} is older than the pair's epoch ${s.epoch}`);
    } else {
      // an election candidate: only the one both sides agree on gets a grant,
      // and never while we are trying to take over ourselves
      if (!hb.candidate || s.takeover || s.state === "starting" || electionWinner(p, s, now) !== p.peerId) return;
    }
    s.grantedUntil = Math.max(s.grantedUntil, now + p.leaseMs);
    this.fx.push({ type: "send-grant", link, reqSeq: seq, leaseMs: p.leaseMs });
  }

  private onGrant(source: "peer" | "witness", sentAt: number, leaseMs: number, epoch: number): void {
    const { s } = this;
    if (epoch > s.epoch && isActive(s.state) && source === "peer") {
      // a granter that knows a newer epoch would have refused; be safe
      return;
    }
    if (isActive(s.state)) {
      s.leaseUntil = Math.max(s.leaseUntil, sentAt + leaseMs);
      if (s.peer.fenced && s.leaseUntil > this.now) s.peer.fenced = false;
      return;
    }
    if (source === "peer" && s.candidateSince !== null) this.tryWinElection(sentAt + leaseMs);
  }

  private onWitnessReply(sentAt: number, r: WitnessReply): void {
    const { p, s, now } = this;
    s.witness.reachable = true;
    s.witness.lastOkAt = now;
    s.witness.holder = r.holder;
    s.witness.holderEpoch = r.holderEpoch;
    if (r.granted) {
      if (r.op === "renew" || (isActive(s.state) && (r.op === "acquire" || r.op === "announce"))) {
        if (isActive(s.state)) this.onGrant("witness", sentAt, r.leaseMs, r.holderEpoch);
        return;
      }
      const t = s.takeover;
      if ((r.op === "acquire" || r.op === "announce") && t && r.holderEpoch === t.epoch && r.holder === p.nodeId) {
        this.activate(r.holderEpoch, sentAt + r.leaseMs, t.path === "dead-process" ? "takeover-dead-process" : t.startup ? "startup-witness" : "takeover-witness", "none");
        return;
      }
      if ((r.op === "acquire" || r.op === "announce") && r.holder === p.nodeId) {
        // a grant we no longer want (the active came back meanwhile): give it back
        this.fx.push({ type: "witness", op: "release", epoch: r.holderEpoch });
      }
      return;
    }
    // refused
    if (r.holderEpoch > s.epoch && r.holder !== p.nodeId) {
      this.raiseEpoch(r.holderEpoch);
      if (isActive(s.state)) {
        this.transition("standby", `the witness says ${r.holder ?? "another node"} holds the pair in epoch ${r.holderEpoch}`);
        return;
      }
    }
    if (isActive(s.state) && r.op === "renew") {
      // released, expired or never recorded (witness restart, startup): claim it with our epoch
      if (r.reason === "not-holder" || r.reason === "released") this.fx.push({ type: "witness", op: "acquire", epoch: s.epoch });
      return;
    }
    if (s.takeover && (r.op === "acquire" || r.op === "announce")) {
      if (r.op === "announce" && s.takeover.path === "dead-process" && r.reason === "witness-starting") {
        // a witness that just restarted knows nothing either way: as if unreachable
        this.deadProcessWithoutWitness();
        return;
      }
      if (r.reason === "holder-alive" && s.takeover.path === "dead-process" && now < (s.takeover.announceUntil ?? 0)) {
        // the witness heard the active a moment ago: ask again when it says the silence is long enough
        s.takeover.retryAt = now + Math.max(1, Math.min(r.retryInMs ?? p.intervalMs, p.intervalMs));
      } else if (r.reason === "holder-alive") {
        this.event("dead-process-refused", `the witness still hears ${r.holder}: not a dead process; waiting for its lease to run out`);
        s.takeover = { ...s.takeover, path: "witness", startup: false, retryAt: now + p.intervalMs };
      } else if (r.reason === "stale-epoch") {
        s.takeover.epoch = Math.max(s.epoch, r.holderEpoch) + 1;
        s.takeover.retryAt = now;
      } else {
        s.takeover.retryAt = now + Math.max(p.intervalMs / 4, Math.min(r.retryInMs ?? p.intervalMs, p.leaseMs));
      }
      return;
    }
    if (s.state === "starting" && r.op === "acquire" && r.holder !== null && r.holder !== p.nodeId) {
      this.transition("standby", `the witness says ${r.holder} holds the pair (epoch ${r.holderEpoch}) but it is not visible here`);
    }
  }

  /** The PLC fence is the last line: a higher epoch there means another node drives the plant. */
  private onPlc(epoch: number | null, counterStale: boolean): void {
    const { s } = this;
    s.plc = { epoch, counterStale };
    if (epoch === null || epoch <= s.epoch) return;
    this.raiseEpoch(epoch);
    this.count("plc_fence_demotions");
    if (isActive(s.state)) {
      const why = `the PLC fence holds epoch ${epoch}, above this node's: another node drives the plant`;
      this.transition("standby", why);
      this.event("fenced", why);
    }
  }

  private onTcp(status: "up" | "down" | "refused"): void {
    const { s, now } = this;
    if (status === "up") {
      s.peer.tcpUp = true;
      return;
    }
    if (s.peer.tcpUp || status === "refused") s.peer.lostAt = now;
    s.peer.tcpUp = false;
  }

  private onPeerMessage(msg: PeerMessage, sentAt?: number): void {
    const { p, s, now } = this;
    switch (msg.type) {
      case "bye":
        s.peer.byeAt = now;
        s.peer.state = msg.state;
        s.peer.tcpUp = false;
        this.event("peer-stopping", `the peer ${p.peerId} is stopping (it was ${msg.state})`);
        return;
      case "lease-refuse":
        if (msg.epoch > s.epoch) {
          this.raiseEpoch(msg.epoch);
          if (isActive(s.state)) this.transition("standby", `the peer ${p.peerId} refused our lease: ${msg.reason}`);
        }
        return;
      case "switchover-offer": {
        const refuse = (reason: string): void => void this.fx.push({ type: "peer-send", msg: { type: "switchover-refuse", epoch: s.epoch, reason } });
        if (s.state !== "standby") return refuse(`${p.nodeId} is ${s.state}, not standby`);
        if (s.stopping) return refuse(`${p.nodeId} is shutting down`);
        if (msg.epoch < s.epoch) return refuse(`offer epoch ${msg.epoch} is older than ${s.epoch}`);
        if (s.level < 2) return refuse(`${p.nodeId} service level is ${s.level}`);
        s.switchoverIn = { offeredEpoch: msg.epoch, deadline: now + p.switchoverTimeoutMs };
        this.fx.push({ type: "peer-send", msg: { type: "switchover-accept", epoch: msg.epoch } });
        return;
      }
      case "switchover-refuse": {
        const out = s.switchoverOut;
        if (!out || out.phase !== "offered") return;
        s.switchoverOut = null;
        this.leaveIfStopping();
        this.finishSwitchover(out.replyId, false, `the peer refused: ${msg.reason}`);
        return;
      }
      case "switchover-accept": {
        const out = s.switchoverOut;
        if (!out || out.phase !== "offered" || msg.epoch !== s.epoch || !isActive(s.state)) return;
        // Stop acting first, then release the witness, then hand over: the
        // peer's lease counts from when it sent this accept, before our promise.
        out.phase = "handed-over";
        // FIX(random schedule seed 1199, held rule): the peer drives the context
        // from the handover on, even if we never see its active heartbeat
        s.context.ownerIsMeClean = false;
        s.grantedUntil = Math.max(s.grantedUntil, now + p.leaseMs);
        this.transition("standby", `switched over to ${p.peerId} (${out.reason})`);
        if (p.witness) this.fx.push({ type: "witness", op: "release", epoch: s.epoch });
        this.fx.push({ type: "peer-send", msg: { type: "handover", epoch: s.epoch, leaseMs: p.leaseMs, contextSeq: s.context.seq } });
        this.fx.push({ type: "send-heartbeat" });
        return;
      }
      case "handover": {
        const inc = s.switchoverIn;
        s.switchoverIn = null;
        if (!inc || s.state !== "standby" || msg.epoch < s.epoch || sentAt === undefined) {
          this.count("handover_ignored");
          return;
        }
        this.activate(Math.max(s.epoch, msg.epoch) + 1, sentAt + msg.leaseMs, "switchover", "renew");
        if (s.switchoverAsk) {
          const ask = s.switchoverAsk;
          s.switchoverAsk = null;
          this.reply(ask.replyId, true, { from: p.peerId, to: p.nodeId, epoch: s.epoch });
        }
        return;
      }
      case "switchover-request": {
        if (!isActive(s.state) || msg.epoch > s.epoch) return;
        this.startSwitchover(null, { user: msg.by, role: "admin", from: `peer ${p.peerId}` }, "requested by the peer", false);
        return;
      }
    }
  }

  private onOp(id: number, action: string, actor: Actor, to?: string, force?: boolean): void {
    const { p, s, now } = this;
    switch (action) {
      case "confirm":
        if (s.state === "active-held") {
          this.transition("active", `takeover confirmed by ${actor.user}`);
          this.audit("confirm", actor, "ok");
          this.reply(id, true, { state: s.state, epoch: s.epoch });
          return;
        }
        if ((s.state === "standby" || s.state === "starting") && s.awaitingOperator) return this.promote(id, actor, "confirm");
        this.audit("confirm", actor, "refused", { state: s.state });
        return this.fail(id, "TANDEM_ERR_NOT_HELD", "confirm", s.state);
      case "reject":
        if (s.state === "active-held") {
          this.fx.push({ type: "context-reset" });
          s.context = { seq: 0, ownerIsMeClean: true };
          this.transition("active", `takeover rejected by ${actor.user}: the process restarts from its initial context`);
          this.audit("reject", actor, "ok");
          this.reply(id, true, { state: s.state, epoch: s.epoch });
          return;
        }
        this.audit("reject", actor, "refused", { state: s.state });
        return this.fail(id, "TANDEM_ERR_NOT_HELD", "reject", s.state);
      case "promote":
        return this.promote(id, actor, "promote");
      case "switchover": {
        if (to !== undefined && to !== p.nodeId && to !== p.peerId) {
          this.audit("switchover", actor, "refused", { to });
          return this.fail(id, "TANDEM_ERR_SWITCHOVER", `unknown node '${to}' (this pair is ${p.nodeId} and ${p.peerId})`);
        }
        if (isActive(s.state)) {
          if (to === p.nodeId) return this.fail(id, "TANDEM_ERR_SWITCHOVER", `${p.nodeId} is already active`);
          return this.startSwitchover(id, actor, "operator", false);
        }
        if (s.state === "standby" && isActive(s.peer.state) && peerVisible(s.peer, now, p.timeoutMs) && s.peer.tcpUp) {
          if (to === p.peerId) return this.fail(id, "TANDEM_ERR_SWITCHOVER", `${p.peerId} is already active`);
          s.switchoverAsk = { replyId: id, deadline: now + p.switchoverTimeoutMs };
          this.audit("switchover", actor, "ok", { asked: p.peerId });
          this.fx.push({ type: "peer-send", msg: { type: "switchover-request", epoch: s.epoch, by: actor.user } });
          return;
        }
        this.audit("switchover", actor, "refused", { state: s.state });
        return this.fail(id, "TANDEM_ERR_SWITCHOVER", `this node is ${s.state} and no active peer is connected`);
      }
      case "maintenance-enter": {
        if (s.state === "maintenance") return this.reply(id, true, { state: s.state });
        if (isActive(s.state)) {
          if (this.switchoverPossible() === null) return this.startSwitchover(id, actor, "maintenance", true);
          if (!force) {
            this.audit("maintenance-enter", actor, "refused", { state: s.state });
            return this.fail(id, "TANDEM_ERR_MAINTENANCE", `${p.nodeId} is active and ${this.switchoverPossible()}; nobody would drive the plant (use force to stop anyway)`);
          }
          if (p.witness) this.fx.push({ type: "witness", op: "release", epoch: s.epoch });
        }
        s.takeover = null;
        s.candidateSince = null;
        s.awaitingOperator = false;
        this.transition("maintenance", `maintenance entered by ${actor.user}`);
        s.level = 0;
        this.audit("maintenance-enter", actor, "ok", { force: !!force });
        return this.reply(id, true, { state: s.state });
      }
      case "maintenance-leave":
        if (s.state !== "maintenance") return this.fail(id, "TANDEM_ERR_MAINTENANCE", `${p.nodeId} is ${s.state}, not in maintenance`);
        this.transition("standby", `maintenance left by ${actor.user}`);
        s.noActiveSince = null;
        this.audit("maintenance-leave", actor, "ok");
        return this.reply(id, true, { state: s.state });
      case "shutdown":
        s.stopping = true;
        s.candidateSince = null;
        s.takeover = null;
        s.switchoverIn = null; // a handover that arrives now is not taken
        // SIGTERM: hand over cleanly if someone can take the role.
        if (isActive(s.state) && this.switchoverPossible() === null) return this.startSwitchover(id, actor, "shutdown", false);
        if (isActive(s.state)) {
          // FIX(role-machine.test "shutdown of a lone active with a witness"): stop
          // acting BEFORE releasing the witness. Releasing while still active let the
          // standby acquire the witness at once while this node could still act until
          // its process exited (or its lease ran out): two actives (S1).
          this.transition("isolated", `shutting down by ${actor.user}: no peer to hand over to`);
          if (p.witness) this.fx.push({ type: "witness", op: "release", epoch: s.epoch });
        }
        return this.reply(id, true, { state: s.state, handedOver: false });
    }
  }

  // ------------------------------------------------------------- evaluation

  /** Time-driven rules, run after every event. */
  evaluate(): void {
    const { p, s, now } = this;
    this.expireSwitchovers();
    this.evaluateState();
    // FIX(role-machine.test random schedules, invariant E): the periodic
    // heartbeat goes out AFTER the state rules. It used to be queued first, so a
    // takeover decided in the same tick (dead-process path without a witness)
    // gave [send-heartbeat, persist-epoch, ...]: the adapter builds the heartbeat
    // from the new state, so the new epoch left the node before it was on disk
    // ("persist before announce", DESIGN.md lease rules). An activation already
    // sends its own heartbeat and moves nextHeartbeatAt.
    if (now >= s.nextHeartbeatAt) {
      s.nextHeartbeatAt = now + p.intervalMs;
      this.fx.push({ type: "send-heartbeat" });
      this.witnessCadence();
    }
  }

  private evaluateState(): void {
    const { p, s, now } = this;
    switch (s.state) {
      case "starting":
        return this.evalStarting();
      case "standby":
        return this.evalStandby();
      case "active":
      case "active-held":
        return this.evalActive();
      case "isolated":
        if (s.witness.reachable && s.witness.lastOkAt !== null && s.witness.lastOkAt >= s.since && !peerVisible(s.peer, now, p.timeoutMs)) {
          this.transition("standby", "the witness is reachable again");
        }
        return;
      case "maintenance":
        return;
    }
  }

  private witnessCadence(): void {
    const { p, s } = this;
    if (!p.witness) return;
    if (isActive(s.state)) {
      // the active renews through the witness every interval, so the
      // witness's record of who holds the pair stays current and a dead
      // process is told from a live one by its silence there too
      this.fx.push({ type: "witness", op: "renew", epoch: s.epoch });
    } else if (!s.takeover) {
      this.fx.push({ type: "witness", op: "probe", epoch: s.epoch });
    }
  }

  private evalStarting(): void {
    const { p, s, now } = this;
    if (s.stopping) return;
    if (peerVisible(s.peer, now, p.timeoutMs)) {
      if (!isActive(s.peer.state)) {
        this.transition("standby", `the peer ${p.peerId} is ${s.peer.state}; nobody is active yet`);
        this.evalElection();
      }
      return;
    }
    if (now - s.startedAt < p.startupWaitMs) return;
    // nobody heard: claim the role through the witness, or wait for an operator
    if (p.witness) {
      if (!s.takeover) s.takeover = { path: "witness", epoch: this.nextEpoch(), startup: true, retryAt: now, startedAt: now };
      this.driveWitnessTakeover();
      return;
    }
    this.transition("standby", `the peer ${p.peerId} is not visible on any link and no witness is configured`);
    this.awaitOperator();
  }

  private evalStandby(): void {
    const { p, s, now } = this;
    if (s.stopping) return; // on its way out: takes no role
    if (s.takeover && s.peer.heardAt !== null && s.peer.heardAt > s.takeover.startedAt) {
      // heartbeats are back (a healed partition): the pair decides together again
      this.event("takeover-cancelled", `the peer ${p.peerId} is visible again (${s.peer.state}); takeover cancelled`);
      s.takeover = null;
    }
    if (s.takeover) return this.driveWitnessTakeover();
    // the dead-process path comes first: it is faster than the link timeout
    if (isActive(s.peer.state) && peerProcessDead(s.peer, now, p.intervalMs, p.deadProcessMisses)) return this.startDeadProcessTakeover();
    const visible = peerVisible(s.peer, now, p.timeoutMs);
    if (visible && isActive(s.peer.state)) return;
    if (s.switchoverOut?.phase === "handed-over") return; // the peer is about to report active
    if (visible) return this.evalElection();
    // the peer is not visible on any link
    s.candidateSince = null;
    s.noActiveSince = null;
    if (p.witness) {
      if (now < s.grantedUntil) return; // our own promise to the old active first
      this.event("takeover-started", `the ${s.peer.heardAt === null ? "peer" : "active"} ${p.peerId} is not visible on any link; asking the witness`);
      // a peer never seen active held nothing: claiming the role is a start-up, not a takeover
      // FIX(random seed 1864, S3): "never seen active" is not "never was active": a node
      // paused or split away may have missed the peer's whole takeover. Only a pair
      // that never had an active anywhere we know of (epoch 0) claims as a start-up.
      const pristine = !isActive(s.peer.state) && s.epoch === 0 && s.peer.epoch === 0 && s.witness.holderEpoch === 0;
      s.takeover = { path: "witness", epoch: this.nextEpoch(), startup: pristine, retryAt: now, startedAt: now };
      return this.driveWitnessTakeover();
    }
    // the lease we granted the old active runs out before anyone may promote us
    if (now < s.grantedUntil) return;
    // the PLC watchdog as the witness: the active's counter stopped, so it no
    // longer drives the plant (it isolated or died); the fence stops it should it resume
    if (p.plcWatchdog && s.plc.counterStale && s.peer.heardAt !== null) {
      this.event("takeover-started", `the active ${p.peerId} is not visible on any link and its PLC watchdog counter stopped`);
      s.peer.fenced = true;
      this.activate(this.nextEpoch(), 0, "takeover-plc", "none");
      return;
    }
    this.awaitOperator();
  }

  private evalActive(): void {
    const { p, s, now } = this;
    if (s.switchoverOut?.phase === "handed-over") return;
    if (leaseRequired(s) && now >= s.leaseUntil - p.leaseSafetyMs) {
      const left = Math.max(0, Math.round(s.leaseUntil - now));
      const why = `lease lost: no renewal from the peer ${p.peerId}${p.witness ? " or the witness" : ""} (${left} ms left, under the ${p.leaseSafetyMs} ms safety margin)`;
      this.transition("isolated", why);
      this.event("isolated", why);
      if (s.switchoverOut) this.finishSwitchover(s.switchoverOut.replyId, false, "lease lost");
      s.switchoverOut = null;
      return;
    }
    if (s.state === "active-held" && s.autoConfirmAt !== null && now >= s.autoConfirmAt) {
      this.transition("active", `takeover confirmed automatically after ${p.autoConfirmMs} ms`);
      this.audit("confirm", "system", "ok", { auto: true });
      return;
    }
    if (s.switchoverOut) return;
    const visible = peerVisible(s.peer, now, p.timeoutMs);
    // cause 4: the application forces a switchover
    if (visible && s.peer.state === "standby" && s.peer.level - s.level >= p.serviceLevelMargin) {
      s.lowLevelSince ??= now;
      if (now - s.lowLevelSince >= p.serviceLevelForMs && s.state === "active" && this.switchoverPossible() === null) {
        s.lowLevelSince = null;
        this.startSwitchover(null, "system", `service level ${s.level} is below the standby's ${s.peer.level}`, false);
        return;
      }
    } else s.lowLevelSince = null;
    // automatic failback to the preferred main
    if (p.failback === "automatic" && p.role === "secondary" && visible && s.peer.role === "main" && s.peer.state === "standby" && s.peer.level >= 200 && s.peer.level >= s.level) {
      s.failbackSince ??= now;
      if (now - s.failbackSince >= p.failbackHealthyForMs && s.state === "active" && this.switchoverPossible() === null) {
        s.failbackSince = null;
        this.startSwitchover(null, "system", "automatic failback to the preferred main", false);
      }
    } else s.failbackSince = null;
  }

  /** Peer visible and nobody active: the agreed winner asks the peer for a lease. */
  private evalElection(): void {
    const { p, s, now } = this;
    if (s.state === "maintenance") return;
    s.noActiveSince ??= now;
    if (now - s.noActiveSince < 2 * p.intervalMs) return;
    if (electionWinner(p, s, now) === p.nodeId) {
      if (s.candidateSince === null) {
        s.candidateSince = now;
        this.fx.push({ type: "send-heartbeat" });
      }
    } else s.candidateSince = null;
  }

  private tryWinElection(leaseUntil: number): void {
    const { p, s, now } = this;
    if (now < s.grantedUntil) return; // we vouched for the peer: wait it out
    if (electionWinner(p, s, now) !== p.nodeId) return;
    s.candidateSince = null;
    this.activate(this.nextEpoch(), leaseUntil, "election", "renew");
  }

  private startDeadProcessTakeover(): void {
    const { p, s, now } = this;
    const epoch = this.nextEpoch();
    this.event("takeover-started", `the active ${p.peerId}'s process is gone (connection closed by its host, no heartbeat for ${p.deadProcessMisses} intervals)`);
    if (!p.witness) {
      s.peer.fenced = true;
      this.activate(epoch, 0, "takeover-dead-process", "none");
      return;
    }
    // ask the witness first: it refuses if it still hears the active
    const silence = p.deadProcessMisses * p.intervalMs;
    s.takeover = { path: "dead-process", epoch, startup: false, retryAt: now + p.leaseMs, startedAt: now, announceUntil: now + silence };
    this.fx.push({ type: "witness", op: "announce", epoch, silenceMs: p.deadProcessMisses * p.intervalMs });
  }

  /**
   * The active's process is gone but the configured witness does not answer.
   * Taking over on the kernel evidence alone would leave the witness
   * recording the old epoch, and a restarted old active on the witness's side
   * of a split could then claim the same epoch (S1). So the node keeps asking
   * the witness and, meanwhile, an operator who has checked may decide.
   */
  private deadProcessWithoutWitness(): void {
    const { p, s, now } = this;
    const t = s.takeover!;
    t.retryAt = now + p.intervalMs;
    if (!s.awaitingOperator) this.event("witness-unreachable", `the active ${p.peerId}'s process is gone but the witness does not answer; still asking it`);
    if (now >= s.grantedUntil) {
      this.awaitOperator(`the active ${p.peerId}'s process is gone but the witness does not answer: an operator who has checked ${p.peerId} is down may confirm to take over`);
    }
  }

  private driveWitnessTakeover(): void {
    const { s, now } = this;
    const t = s.takeover!;
    if (now < t.retryAt) return;
    t.epoch = Math.max(t.epoch, this.nextEpoch());
    t.retryAt = now + this.p.intervalMs; // a reply may move this
    if (t.path === "dead-process") this.fx.push({ type: "witness", op: "announce", epoch: t.epoch, silenceMs: this.p.deadProcessMisses * this.p.intervalMs });
    else this.fx.push({ type: "witness", op: "acquire", epoch: t.epoch });
  }

  // ------------------------------------------------------------ transitions

  private activate(epoch: number, leaseUntil: number, path: string, claim: "none" | "renew" | "announce"): void {
    const { p, s, now } = this;
    const takeover = path.startsWith("takeover") || path === "promote";
    // FIX(same scenario): the machine has no input for replicated context writes,
    // so `seq` stays what initialState got; once the peer has been active (see
    // onActivePeer) "nothing was written" cannot be known, so it no longer gates the hold.
    const hold = takeover || (path !== "switchover" && !s.context.ownerIsMeClean);
    this.raiseEpoch(epoch);
    s.leaseUntil = leaseUntil;
    s.takeover = null;
    s.candidateSince = null;
    s.noActiveSince = null;
    s.awaitingOperator = false;
    s.grantedUntil = 0;
    const to: NodeState = hold ? "active-held" : "active";
    const why: Record<string, string> = {
      "takeover-witness": `took over from ${p.peerId}: it was not visible on any link and the witness confirmed its lease ran out`,
      "takeover-dead-process": `took over from ${p.peerId}: its process is gone`,
      "takeover-plc": `took over from ${p.peerId}: it was not visible on any link and its PLC watchdog counter stopped`,
      promote: "promoted by an operator who checked the active is down",
      switchover: `switchover from ${p.peerId}`,
      election: `elected active with ${p.peerId}'s agreement`,
      "startup-witness": `the peer ${p.peerId} is not visible; the witness granted the role`,
    };
    this.transition(to, why[path] ?? path);
    if (hold) {
      s.heldSince = now;
      s.autoConfirmAt = p.autoConfirmMs > 0 ? now + p.autoConfirmMs : null;
    }
    // FIX(random schedule seed 107): a held context is still the previous
    // writer's until confirm/reject (see transition); marking it ours here let a
    // held node that lost its lease be re-elected plain `active` over it (S3).
    if (!hold) s.context.ownerIsMeClean = true;
    this.count(path === "switchover" ? "switchovers_in" : takeover ? "takeovers" : "activations");
    this.event(takeover ? "takeover" : path === "switchover" ? "switchover" : "activated", s.reason, { epoch: s.epoch, held: hold });
    // tell the peer at once, and claim the witness record for the new epoch
    this.fx.push({ type: "send-heartbeat" });
    if (p.witness && claim !== "none") this.fx.push({ type: "witness", op: claim, epoch: s.epoch, ...(claim === "announce" ? { silenceMs: p.deadProcessMisses * p.intervalMs } : {}) });
    s.nextHeartbeatAt = now + p.intervalMs;
  }

  private promote(id: number, actor: Actor, action: string): void {
    const { p, s, now } = this;
    if (!(s.state === "standby" || s.state === "starting")) {
      this.audit(action, actor, "refused", { state: s.state });
      return this.fail(id, "TANDEM_ERR_PROMOTE", `${p.nodeId} is ${s.state}; only a standby can be promoted`);
    }
    if (peerVisible(s.peer, now, p.timeoutMs)) {
      this.audit(action, actor, "refused", { reason: "peer visible" });
      return this.fail(id, "TANDEM_ERR_PROMOTE", `the peer ${p.peerId} is visible (${s.peer.state}); use a switchover instead`);
    }
    if (now < s.grantedUntil) {
      // even a checked-down active keeps the lease this node vouched for
      this.audit(action, actor, "refused", { reason: "own grant still running" });
      return this.fail(id, "TANDEM_ERR_PROMOTE", `this node granted ${p.peerId} a lease that runs ${Math.ceil(s.grantedUntil - now)} ms more; try again then`);
    }
    s.peer.fenced = true;
    this.activate(this.nextEpoch(), 0, "promote", "renew");
    this.audit(action, actor, "ok", { manualFencing: true, warning: `operator declared ${p.peerId} down` });
    this.reply(id, true, { state: s.state, epoch: s.epoch });
  }

  /** null when a switchover can start, else why not */
  private switchoverPossible(): string | null {
    const { p, s, now } = this;
    if (!peerVisible(s.peer, now, p.timeoutMs)) return `the peer ${p.peerId} is not visible`;
    if (s.peer.state !== "standby") return `the peer ${p.peerId} is ${s.peer.state}, not standby`;
    if (!s.peer.tcpUp) return `the peer connection to ${p.peerId} is down`;
    if (s.peer.level < 2) return `the peer ${p.peerId} has service level ${s.peer.level}`;
    return null;
  }

  private startSwitchover(replyId: number | null, actor: Actor | "system", reason: string, thenMaintenance: boolean): void {
    const { p, s, now } = this;
    const user = actor === "system" ? "system" : actor.user;
    if (s.switchoverOut) {
      if (replyId !== null) this.fail(replyId, "TANDEM_ERR_SWITCHOVER", "a switchover is already in progress");
      return;
    }
    if (s.state === "active-held") {
      if (replyId !== null) this.fail(replyId, "TANDEM_ERR_SWITCHOVER", "the takeover is held: confirm or reject it first");
      return;
    }
    const why = this.switchoverPossible();
    if (why) {
      this.audit("switchover", actor, "refused", { reason: why });
      if (replyId !== null) this.fail(replyId, "TANDEM_ERR_SWITCHOVER", why);
      return;
    }
    s.switchoverOut = { phase: "offered", target: p.peerId, startedAt: now, deadline: now + p.switchoverTimeoutMs, epoch: s.epoch, reason, replyId, actor, thenMaintenance };
    this.audit("switchover", actor, "ok", { to: p.peerId, reason, by: user });
    this.event("switchover-started", `switchover to ${p.peerId} started (${reason})`);
    this.fx.push({ type: "peer-send", msg: { type: "switchover-offer", epoch: s.epoch, reason } });
  }

  private expireSwitchovers(): void {
    const { p, s, now } = this;
    const out = s.switchoverOut;
    if (out) {
      if (out.phase === "handed-over" && isActive(s.peer.state) && s.peer.epoch > out.epoch) {
        s.switchoverOut = null;
        if (out.thenMaintenance) {
          this.transition("maintenance", "maintenance after switchover");
          s.level = 0;
        }
        this.finishSwitchover(out.replyId, true, "", { from: p.nodeId, to: p.peerId, epoch: s.peer.epoch, durationMs: Math.round(now - out.startedAt) });
      } else if (now >= out.deadline) {
        s.switchoverOut = null;
        const why = out.phase === "offered" ? `the peer ${p.peerId} did not accept` : `the peer ${p.peerId} did not report active`;
        this.event("switchover-failed", `switchover to ${p.peerId} failed: ${why}`);
        if (out.phase === "offered") this.leaveIfStopping();
        this.finishSwitchover(out.replyId, false, why, undefined, true);
      }
    }
    if (s.switchoverIn && now >= s.switchoverIn.deadline) s.switchoverIn = null;
    if (s.switchoverAsk) {
      if (isActive(s.state)) {
        const ask = s.switchoverAsk;
        s.switchoverAsk = null;
        this.reply(ask.replyId, true, { from: p.peerId, to: p.nodeId, epoch: s.epoch });
      } else if (now >= s.switchoverAsk.deadline) {
        const ask = s.switchoverAsk;
        s.switchoverAsk = null;
        this.fail(ask.replyId, "TANDEM_ERR_SWITCHOVER_TIMEOUT", p.switchoverTimeoutMs, `the active ${p.peerId} did not hand over`);
      }
    }
  }

  /** A stopping active whose handover failed leaves as a lone one: stop acting, then release the witness. */
  private leaveIfStopping(): void {
    const { p, s } = this;
    if (!s.stopping || !isActive(s.state)) return;
    this.transition("isolated", "shutting down: the peer did not take over");
    if (p.witness) this.fx.push({ type: "witness", op: "release", epoch: s.epoch });
  }

  private finishSwitchover(replyId: number | null, ok: boolean, why: string, value?: Record<string, unknown>, timeout = false): void {
    if (replyId === null) return;
    if (ok) this.reply(replyId, true, value ?? {});
    else if (timeout) this.fail(replyId, "TANDEM_ERR_SWITCHOVER_TIMEOUT", this.p.switchoverTimeoutMs, why);
    else this.fail(replyId, "TANDEM_ERR_SWITCHOVER", why);
  }

  private awaitOperator(reason?: string): void {
    const { p, s } = this;
    if (s.awaitingOperator) return;
    s.awaitingOperator = true;
    s.reason = reason ?? `the peer ${p.peerId} is not visible on any link and there is no witness: an operator must check it is down, then confirm to take over`;
    this.event("awaiting-operator", s.reason);
  }

  private transition(to: NodeState, reason: string): void {
    const { s, now } = this;
    const from = s.state;
    s.reason = reason;
    if (from === to) return;
    s.state = to;
    s.since = now;
    // confirm or auto-confirm resumes the held context: from now on it is ours
    if (from === "active-held" && to === "active") s.context.ownerIsMeClean = true;
    if (to !== "active-held") {
      s.heldSince = null;
      s.autoConfirmAt = null;
    }
    if (!isActive(to)) s.leaseUntil = 0;
    if (to !== "standby" && to !== "starting") s.awaitingOperator = false;
    if (to === "standby" || to === "isolated" || to === "maintenance") {
      s.candidateSince = null;
      s.takeover = null;
    }
    this.fx.push({ type: "state", from, to, epoch: s.epoch, reason });
  }

  private raiseEpoch(epoch: number): void {
    if (epoch <= this.s.epoch) return;
    this.s.epoch = epoch;
    // someone activated in a newer epoch: our context is no longer ours alone
    // (activate() decides its hold before raising and re-marks it when not held)
    this.s.context.ownerIsMeClean = false;
    this.fx.push({ type: "persist-epoch", epoch });
  }

  private nextEpoch(): number {
    const { s } = this;
    return Math.max(s.epoch, s.peer.epoch, s.witness.holderEpoch) + 1;
  }

  // ---------------------------------------------------------------- output

  private reply(id: number, ok: true, value: Record<string, unknown>): void {
    this.fx.push({ type: "reply", id, ok, value });
  }

  private fail(id: number, code: Extract<Effect, { ok: false }>["code"], ...args: unknown[]): void {
    this.fx.push({ type: "reply", id, ok: false, code, args });
  }

  private audit(action: string, actor: Actor | "system", result: "ok" | "refused" | "failed", details?: Record<string, unknown>): void {
    this.fx.push({ type: "audit", action, actor, result, details });
  }

  private event(kind: string, message: string, details?: Record<string, unknown>): void {
    this.fx.push({ type: "event", kind, message, details });
  }

  private count(name: string): void {
    this.s.counters[name] = (this.s.counters[name] ?? 0) + 1;
  }
}
