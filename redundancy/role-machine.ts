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
//
// The parts, each a set of free functions over one context (role/ctx.ts):
// role/inputs.ts (heartbeats, grants, the peer connection, the PLC fence),
// role/takeover.ts (start-up, election, takeover paths, activation),
// role/switchover.ts, role/operator.ts, role/witness.ts. This file holds the
// public API, the event dispatch and the time-driven rules.
import { peerVisible } from "./failure-detector.js";
import { audit, event, isActive, sendHeartbeat, transition, type Ctx } from "./role/ctx.js";
import { onBye, onGrant, onHeartbeat, onLeaseRefused, onLinkRefused, onPlc, onTcp } from "./role/inputs.js";
import { onOp } from "./role/operator.js";
import { expireSwitchovers, finishSwitchover, onDrained, onServices, onSwitchoverMessage, startSwitchover, switchoverPossible } from "./role/switchover.js";
import { evalStandby, evalStarting } from "./role/takeover.js";
import { onWitnessReply, onWitnessTimeout, witnessCadence } from "./role/witness.js";
import type { Effect, Event, RoleParams, RoleState } from "./role-types.js";

/** how often a standby asks a lost active's ports again (probeAfterLoss): once per tick of the runtime */
const PROBE_GAP_MS = 10;

export { isActive };

export interface StepResult {
  state: RoleState;
  effects: Effect[];
}

export function initialState(p: RoleParams, epoch: number, now: number, context = { seq: 0, ownerIsMeClean: true }, proposed = epoch): RoleState {
  const links: Record<string, number | null> = {};
  for (const l of p.links) links[l] = null;
  const refusedAt: Record<string, number | null> = { ...links };
  return {
    state: "starting",
    since: now,
    startedAt: now,
    epoch,
    proposed: Math.max(epoch, proposed),
    level: 255,
    levelSettled: true,
    leaseUntil: 0,
    grantedUntil: 0,
    peer: { state: "unknown", epoch: 0, level: 0, levelSettled: true, role: null, candidate: false, links, heardAt: null, tcpUp: false, lostAt: null, refusedAt, probedAt: null, refusing: null, disprovedAt: null, byeAt: null, fenced: false },
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
    configMismatch: null,
    awaitingOperator: false,
    reason: "starting: listening for the peer",
    context,
    stopping: false,
    fault: null,
    plc: { epoch: null, counterStale: false },
    servicesUp: false,
    drained: true,
    standbyAfterServices: null,
    counters: {},
  };
}

/** May this node drive the plant right now? Checked before every write, never after. */
export function canAct(p: RoleParams, s: RoleState, now: number): boolean {
  if (!isActive(s.state) || s.switchoverOut?.phase === "handed-over" || s.fault !== null) return false;
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
  const m: Ctx = { p, s: structuredClone(prev), fx: [], now };
  handle(m, ev);
  evaluate(m);
  return { state: m.s, effects: m.fx };
}

function handle(m: Ctx, ev: Event): void {
  switch (ev.type) {
    case "tick":
      return;
    case "heartbeat":
      return onHeartbeat(m, ev.link, ev.seq, ev.inc, ev.hb);
    case "grant":
      return onGrant(m, "peer", ev.sentAt, ev.leaseMs, ev.epoch);
    case "witness-reply":
      return onWitnessReply(m, ev.sentAt, ev.reply);
    case "witness-timeout":
      return onWitnessTimeout(m, ev.op);
    case "tcp":
      return onTcp(m, ev.status);
    case "link-refused":
      return onLinkRefused(m, ev.link);
    case "peer-message":
      if (ev.msg.type === "bye") return onBye(m, ev.msg.state);
      if (ev.msg.type === "lease-refuse") return onLeaseRefused(m, ev.msg.epoch, ev.msg.reason);
      return onSwitchoverMessage(m, ev.msg, ev.sentAt);
    case "level":
      m.s.level = m.s.state === "maintenance" ? 0 : Math.max(0, Math.min(255, Math.round(ev.level)));
      if (ev.settled !== undefined) m.s.levelSettled = ev.settled;
      return;
    case "plc":
      return onPlc(m, ev.epoch, ev.counterStale);
    case "services":
      return onServices(m, ev.up);
    case "drained":
      return onDrained(m, ev.drained);
    case "config":
      m.s.configMismatch = ev.mismatch;
      return;
    case "context-seq":
      // what a handover says and what replication holds only ever move it on;
      // a reject starts it again from 0 (operator.ts)
      if (ev.seq > m.s.context.seq) m.s.context.seq = ev.seq;
      return;
    case "op":
      return onOp(m, ev.id, ev.action, ev.actor, ev.to, ev.force);
    case "fault":
      return onFault(m, ev.reason);
  }
}

/** The node cannot keep its promises any more: stop acting now, for good. */
function onFault(m: Ctx, reason: string): void {
  const { s } = m;
  if (s.fault !== null) return;
  s.fault = reason;
  s.stopping = true;
  s.takeover = null;
  s.candidateSince = null;
  s.switchoverIn = null;
  if (s.switchoverOut) finishSwitchover(m, s.switchoverOut.replyId, false, reason);
  s.switchoverOut = null;
  if (s.state !== "isolated") transition(m, "isolated", `fault: ${reason}`);
  event(m, "fault", `this node stops acting: ${reason}`);
}

/** Time-driven rules, run after every event. */
function evaluate(m: Ctx): void {
  const { p, s, now } = m;
  if (s.fault !== null) return; // nothing leaves a faulted node any more
  expireSwitchovers(m);
  evaluateState(m);
  probeAfterLoss(m);
  // FIX(role-random.test, invariant E): the periodic
  // heartbeat goes out AFTER the state rules, so a takeover decided in the
  // same tick has persisted its epoch before any heartbeat carries it. An
  // activation sends its own heartbeat and moves nextHeartbeatAt.
  if (now >= s.nextHeartbeatAt) {
    s.nextHeartbeatAt = now + p.intervalMs;
    sendHeartbeat(m);
    witnessCadence(m);
  }
}

/**
 * The active's connection went and not every link has refused a datagram
 * since its last heartbeat: ask again, every PROBE_GAP_MS, for one interval.
 * The kernel closes a killed process's sockets one by one (the connection
 * may go before the heartbeat ports do, by more than a round trip on a
 * loaded host); without asking again the refusals, and the takeover, would
 * wait for the next periodic heartbeat, up to an interval later.
 */
function probeAfterLoss(m: Ctx): void {
  const { p, s, now } = m;
  const peer = s.peer;
  if (isActive(s.state) || !isActive(peer.state) || peer.tcpUp || peer.lostAt === null || peer.heardAt === null) return;
  if (peer.lostAt < peer.heardAt - p.intervalMs || now - peer.lostAt > p.intervalMs) return;
  if (peer.probedAt !== null && now - peer.probedAt < PROBE_GAP_MS) return;
  const heard = peer.heardAt;
  if (Object.values(peer.refusedAt).every((at) => at !== null && at > heard)) return;
  peer.probedAt = now;
  sendHeartbeat(m);
}

function evaluateState(m: Ctx): void {
  const { p, s, now } = m;
  switch (s.state) {
    case "starting":
      return evalStarting(m);
    case "standby":
      return evalStandby(m);
    case "active":
    case "active-held":
      return evalActive(m);
    case "isolated":
      if (s.witness.reachable && s.witness.lastOkAt !== null && s.witness.lastOkAt >= s.since && !peerVisible(s.peer, now, p.timeoutMs)) {
        transition(m, "standby", "the witness is reachable again");
      }
      return;
    case "maintenance":
      return;
  }
}

function evalActive(m: Ctx): void {
  const { p, s, now } = m;
  if (s.switchoverOut?.phase === "handed-over") return;
  if (leaseRequired(s) && now >= s.leaseUntil - p.leaseSafetyMs) {
    const left = Math.max(0, Math.round(s.leaseUntil - now));
    const why = `lease lost: no renewal from the peer ${p.peerId}${p.witness ? " or the witness" : ""} (${left} ms left, under the ${p.leaseSafetyMs} ms safety margin)`;
    transition(m, "isolated", why);
    event(m, "isolated", why);
    if (s.switchoverOut) finishSwitchover(m, s.switchoverOut.replyId, false, "lease lost");
    s.switchoverOut = null;
    return;
  }
  if (s.state === "active-held" && s.autoConfirmAt !== null && now >= s.autoConfirmAt) {
    transition(m, "active", `takeover confirmed automatically after ${p.autoConfirmMs} ms`);
    audit(m, "confirm", "system", "ok", { auto: true });
    return;
  }
  if (s.switchoverOut) return;
  const visible = peerVisible(s.peer, now, p.timeoutMs);
  // cause 4: the application forces a switchover (once both levels count); not to a node that runs another configuration
  if (visible && s.configMismatch === null && s.peer.state === "standby" && s.levelSettled && s.peer.levelSettled && s.peer.level - s.level >= p.serviceLevelMargin) {
    s.lowLevelSince ??= now;
    if (now - s.lowLevelSince >= p.serviceLevelForMs && s.state === "active" && switchoverPossible(m) === null) {
      s.lowLevelSince = null;
      startSwitchover(m, null, "system", `service level ${s.level} is below the standby's ${s.peer.level}`, false);
      return;
    }
  } else s.lowLevelSince = null;
  // automatic failback to the preferred main
  if (p.failback === "automatic" && s.configMismatch === null && p.role === "secondary" && visible && s.peer.role === "main" && s.peer.state === "standby" && s.peer.level >= 200 && s.peer.level >= s.level) {
    s.failbackSince ??= now;
    if (now - s.failbackSince >= p.failbackHealthyForMs && s.state === "active" && switchoverPossible(m) === null) {
      s.failbackSince = null;
      startSwitchover(m, null, "system", "automatic failback to the preferred main", false);
    }
  } else s.failbackSince = null;
}
