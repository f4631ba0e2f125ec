// What every part of the role machine works on: the parameters, the state
// being built for this step (a copy: the caller's state is never touched),
// the effects queued so far, in order, and the time of the step. The helpers
// here are the only ways a part changes the state's epoch or state word, so
// "persist before announce" and the transition bookkeeping live in one place.
import type { Actor } from "../../core/types.js";
import { isActiveState } from "../../core/types.js";
import type { Effect, Heartbeat, NodeState, ReplyErrorCode, RoleParams, RoleState } from "../role-types.js";

export interface Ctx {
  readonly p: RoleParams;
  readonly s: RoleState;
  readonly fx: Effect[];
  readonly now: number;
}

export const isActive = isActiveState;

/** What our heartbeat says now; built here so the effect carries it (the adapter reads no state). */
export function heartbeatOf(p: RoleParams, s: RoleState): Heartbeat {
  const candidate = s.candidateSince !== null;
  return { state: s.state, epoch: s.epoch, level: s.level, role: p.role, leaseReq: isActive(s.state) || candidate, candidate, leaseMs: p.leaseMs, settled: s.levelSettled };
}

export function sendHeartbeat(m: Ctx): void {
  m.fx.push({ type: "send-heartbeat", hb: heartbeatOf(m.p, m.s) });
}

export function transition(m: Ctx, to: NodeState, reason: string): void {
  const { s, now } = m;
  const from = s.state;
  // Services placed `active` are gone before this node says standby (the
  // peer may start its own copies once it hears that): until the node's
  // supervisor confirms it, it says isolated — it does not act either way.
  if (to === "standby" && s.servicesUp && (isActive(from) || from === "isolated")) {
    s.standbyAfterServices = reason;
    to = "isolated";
    reason = `${reason}; waiting for its services placed active to stop before it says standby`;
  } else if (to !== "isolated") s.standbyAfterServices = null;
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
  m.fx.push({ type: "state", from, to, epoch: s.epoch, reason });
}

/** Adopts a higher epoch: persisted (first in line) before anything can carry it. */
export function raiseEpoch(m: Ctx, epoch: number): void {
  const { s } = m;
  if (epoch <= s.epoch) return;
  s.epoch = epoch;
  s.proposed = Math.max(s.proposed, epoch);
  // someone activated in a newer epoch: our context is no longer ours alone
  // (activate() decides its hold before raising and re-marks it when not held)
  s.context.ownerIsMeClean = false;
  m.fx.push({ type: "persist-epoch", epoch: s.epoch, proposed: s.proposed });
}

/**
 * An epoch we offer the witness for a takeover: persisted as "proposed"
 * before the request leaves, so that nothing the node ever offered is
 * unknown to it after a restart (it never claims an epoch below it).
 */
export function propose(m: Ctx, epoch: number): void {
  const { s } = m;
  if (epoch <= s.proposed) return;
  s.proposed = epoch;
  m.fx.push({ type: "persist-epoch", epoch: s.epoch, proposed: s.proposed });
}

/** The highest epoch anyone in the pair is known to hold. */
export function knownEpoch(m: Ctx): number {
  const { s } = m;
  return Math.max(s.epoch, s.peer.epoch, s.witness.holderEpoch);
}

/**
 * The next epoch this node may claim: one above everything it knows — or the
 * epoch it already offered the witness, if that is still ahead (offering the
 * same epoch again is the same claim: the witness grants it to this node or
 * to nobody, so epochs still rise by one at each change of active).
 */
export function nextEpoch(m: Ctx): number {
  return Math.max(knownEpoch(m) + 1, m.s.proposed);
}

export function reply(m: Ctx, id: number, value: Record<string, unknown>): void {
  m.fx.push({ type: "reply", id, ok: true, value });
}

export function fail(m: Ctx, id: number, code: ReplyErrorCode, ...args: unknown[]): void {
  m.fx.push({ type: "reply", id, ok: false, code, args });
}

export function audit(m: Ctx, action: string, actor: Actor | "system", result: "ok" | "refused" | "failed", details?: Record<string, unknown>): void {
  m.fx.push({ type: "audit", action, actor, result, details });
}

export function event(m: Ctx, kind: string, message: string, details?: Record<string, unknown>): void {
  m.fx.push({ type: "event", kind, message, details });
}

export function count(m: Ctx, name: string): void {
  m.s.counters[name] = (m.s.counters[name] ?? 0) + 1;
  m.fx.push({ type: "count", name });
}

export function awaitOperator(m: Ctx, reason?: string): void {
  const { p, s } = m;
  if (s.awaitingOperator) return;
  s.awaitingOperator = true;
  s.reason = reason ?? `the peer ${p.peerId} is not visible on any link and there is no witness: an operator must check it is down, then confirm to take over`;
  event(m, "awaiting-operator", s.reason);
}
