// Planned switchover (cause 5, and cause 4 / failback started by the node):
//   active: offer → (peer accepts) → stop acting, release the witness, hand over
//   standby: accept an offer → (handover arrives) → active with the lease the
//            handover grants, counted from when we sent our accept.
// Nothing is lost and nothing is held: the old active stopped before the new
// one started, and it handed over the final context sequence.
import type { Actor } from "../../core/types.js";
import { peerVisible } from "../failure-detector.js";
import type { PeerMessage } from "../role-types.js";
import { audit, count, event, fail, isActive, raiseEpoch, reply, sendHeartbeat, transition, type Ctx } from "./ctx.js";
import { activate } from "./takeover.js";

/** null when a switchover can start, else why not */
export function switchoverPossible(m: Ctx): string | null {
  const { p, s, now } = m;
  if (!peerVisible(s.peer, now, p.timeoutMs)) return `the peer ${p.peerId} is not visible`;
  if (s.peer.state !== "standby") return `the peer ${p.peerId} is ${s.peer.state}, not standby`;
  if (!s.peer.tcpUp) return `the peer connection to ${p.peerId} is down`;
  if (s.peer.level < 2) return `the peer ${p.peerId} has service level ${s.peer.level}`;
  return null;
}

export function startSwitchover(m: Ctx, replyId: number | null, actor: Actor | "system", reason: string, thenMaintenance: boolean): void {
  const { p, s, now } = m;
  const user = actor === "system" ? "system" : actor.user;
  if (s.switchoverOut) {
    if (replyId !== null) fail(m, replyId, "TANDEM_ERR_SWITCHOVER", "a switchover is already in progress");
    return;
  }
  if (s.state === "active-held") {
    if (replyId !== null) fail(m, replyId, "TANDEM_ERR_SWITCHOVER", "the takeover is held: confirm or reject it first");
    return;
  }
  const why = switchoverPossible(m);
  if (why) {
    audit(m, "switchover", actor, "refused", { reason: why });
    if (replyId !== null) fail(m, replyId, "TANDEM_ERR_SWITCHOVER", why);
    return;
  }
  s.switchoverOut = { phase: "offered", target: p.peerId, startedAt: now, deadline: now + p.switchoverTimeoutMs, epoch: s.epoch, reason, replyId, actor, thenMaintenance };
  audit(m, "switchover", actor, "ok", { to: p.peerId, reason, by: user });
  event(m, "switchover-started", `switchover to ${p.peerId} started (${reason})`);
  if (s.servicesUp || !s.drained) {
    // our services placed `active` and process modules stop (gracefully), and
    // the standby catches up with replication, before we offer: the lease the
    // handover gives counts from the peer's accept, so nothing long may come
    // between the accept and the handover
    s.switchoverOut.phase = "quiescing";
    m.fx.push({ type: "stop-services", reason: `switchover to ${p.peerId}` });
    return;
  }
  m.fx.push({ type: "peer-send", msg: { type: "switchover-offer", epoch: s.epoch, reason } });
}

/** Switchover messages from the peer. */
export function onSwitchoverMessage(m: Ctx, msg: PeerMessage, sentAt?: number): void {
  const { p, s, now } = m;
  switch (msg.type) {
    case "switchover-offer": {
      const refuse = (reason: string): void => void m.fx.push({ type: "peer-send", msg: { type: "switchover-refuse", epoch: s.epoch, reason } });
      if (s.state !== "standby") return refuse(`${p.nodeId} is ${s.state}, not standby`);
      if (s.stopping) return refuse(`${p.nodeId} is shutting down`);
      if (msg.epoch < s.epoch) return refuse(`offer epoch ${msg.epoch} is older than ${s.epoch}`);
      if (s.level < 2) return refuse(`${p.nodeId} service level is ${s.level}`);
      // the accept echoes the offer's epoch: learn it (on disk) before it leaves
      raiseEpoch(m, msg.epoch);
      s.switchoverIn = { offeredEpoch: msg.epoch, deadline: now + p.switchoverTimeoutMs };
      m.fx.push({ type: "peer-send", msg: { type: "switchover-accept", epoch: msg.epoch } });
      return;
    }
    case "switchover-refuse": {
      const out = s.switchoverOut;
      if (!out || out.phase !== "offered") return;
      s.switchoverOut = null;
      leaveIfStopping(m);
      finishSwitchover(m, out.replyId, false, `the peer refused: ${msg.reason}`);
      return;
    }
    case "switchover-accept": {
      const out = s.switchoverOut;
      if (!out || out.phase !== "offered" || msg.epoch !== s.epoch || !isActive(s.state)) return;
      return handOver(m);
    }
    case "handover": {
      const inc = s.switchoverIn;
      s.switchoverIn = null;
      if (!inc || s.state !== "standby" || msg.epoch < s.epoch || sentAt === undefined || s.fault !== null) {
        count(m, "handover_ignored");
        return;
      }
      // the context the old active handed over: the new one resumes only once its database holds it
      if (msg.contextSeq > s.context.seq) s.context.seq = msg.contextSeq;
      activate(m, Math.max(s.epoch, msg.epoch) + 1, sentAt + msg.leaseMs, "switchover", "renew");
      if (s.switchoverAsk) {
        const ask = s.switchoverAsk;
        s.switchoverAsk = null;
        reply(m, ask.replyId, { from: p.peerId, to: p.nodeId, epoch: s.epoch });
      }
      return;
    }
    case "switchover-request": {
      if (!isActive(s.state) || msg.epoch > s.epoch) return;
      startSwitchover(m, null, { user: msg.by, role: "admin", from: `peer ${p.peerId}` }, "requested by the peer", false);
      return;
    }
    default:
      return;
  }
}

/**
 * Stop acting first, then release the witness, then hand over: the peer's
 * lease counts from when it sent its accept, before our promise.
 */
function handOver(m: Ctx): void {
  const { p, s, now } = m;
  const out = s.switchoverOut;
  if (!out) return;
  out.phase = "handed-over";
  // FIX(random schedule seed 1199, held rule): the peer drives the context
  // from the handover on, even if we never see its active heartbeat
  s.context.ownerIsMeClean = false;
  s.grantedUntil = Math.max(s.grantedUntil, now + p.leaseMs);
  transition(m, "standby", `switched over to ${p.peerId} (${out.reason})`);
  if (p.witness) m.fx.push({ type: "witness", op: "release", epoch: s.epoch });
  // DQ3: the handover goes on every path, and again every interval until
  // the peer reports active: a handover lost with its connection would
  // otherwise leave the plant without an active for switchoverTimeoutMs
  out.handover = { type: "handover", epoch: s.epoch, leaseMs: p.leaseMs, contextSeq: s.context.seq };
  out.resendAt = now + p.intervalMs;
  m.fx.push({ type: "peer-send", msg: out.handover, everyPath: true });
  sendHeartbeat(m);
}

/** The supervisor's word on the services placed `active`: a quiescing switchover hands over, a waiting standby says so. */
export function onServices(m: Ctx, up: boolean): void {
  const { s } = m;
  s.servicesUp = up;
  if (up) return;
  if (offerIfQuiet(m)) return;
  if (s.state === "isolated" && s.standbyAfterServices !== null && s.fault === null) transition(m, "standby", s.standbyAfterServices);
}

/** Replication's word: the standby holds (or no longer holds) every write this node acknowledged. */
export function onDrained(m: Ctx, drained: boolean): void {
  m.s.drained = drained;
  if (drained) offerIfQuiet(m);
}

/** a quiescing switchover offers the role once nothing runs that must stop first and the standby caught up */
function offerIfQuiet(m: Ctx): boolean {
  const { s } = m;
  const out = s.switchoverOut;
  if (out?.phase !== "quiescing" || !isActive(s.state) || s.servicesUp || !s.drained) return false;
  out.phase = "offered";
  m.fx.push({ type: "peer-send", msg: { type: "switchover-offer", epoch: s.epoch, reason: out.reason } });
  return true;
}

/** Deadlines of switchovers in progress, both directions. */
export function expireSwitchovers(m: Ctx): void {
  const { p, s, now } = m;
  const out = s.switchoverOut;
  if (out) {
    if (out.phase === "handed-over" && isActive(s.peer.state) && s.peer.epoch > out.epoch) {
      s.switchoverOut = null;
      if (out.thenMaintenance) {
        transition(m, "maintenance", "maintenance after switchover");
        s.level = 0;
      }
      finishSwitchover(m, out.replyId, true, "", { from: p.nodeId, to: p.peerId, epoch: s.peer.epoch, durationMs: Math.round(now - out.startedAt) });
    } else if (out.phase === "handed-over" && now >= s.grantedUntil) {
      // DQ3: the handover went on every path but the peer never reported
      // active; the lease it carried has run out, so nobody acts under it:
      // this node takes part in the election again instead of waiting out
      // switchoverTimeoutMs with the plant undriven
      s.switchoverOut = null;
      const why = `the peer ${p.peerId} did not report active before the lease handed over ran out`;
      event(m, "switchover-failed", `switchover to ${p.peerId} failed: ${why}`);
      finishSwitchover(m, out.replyId, false, why, undefined, true);
    } else if (out.phase === "handed-over" && out.handover && out.resendAt !== undefined && now >= out.resendAt) {
      out.resendAt = now + p.intervalMs;
      m.fx.push({ type: "peer-send", msg: out.handover, everyPath: true });
    } else if (now >= out.deadline) {
      s.switchoverOut = null;
      const why =
        out.phase === "offered"
          ? `the peer ${p.peerId} did not accept`
          : out.phase === "quiescing"
            ? s.servicesUp
              ? `this node's services placed active did not stop within ${p.switchoverTimeoutMs} ms (they and the process modules stop before the role moves)`
              : `the standby did not catch up with replication within ${p.switchoverTimeoutMs} ms (it would lack writes this node acknowledged)`
            : `the peer ${p.peerId} did not report active`;
      event(m, "switchover-failed", `switchover to ${p.peerId} failed: ${why}`);
      if (out.phase !== "handed-over") leaveIfStopping(m);
      finishSwitchover(m, out.replyId, false, why, undefined, true);
    }
  }
  if (s.switchoverIn && now >= s.switchoverIn.deadline) s.switchoverIn = null;
  if (s.switchoverAsk) {
    if (isActive(s.state)) {
      const ask = s.switchoverAsk;
      s.switchoverAsk = null;
      reply(m, ask.replyId, { from: p.peerId, to: p.nodeId, epoch: s.epoch });
    } else if (now >= s.switchoverAsk.deadline) {
      const ask = s.switchoverAsk;
      s.switchoverAsk = null;
      fail(m, ask.replyId, "TANDEM_ERR_SWITCHOVER_TIMEOUT", p.switchoverTimeoutMs, `the active ${p.peerId} did not hand over`);
    }
  }
}

/** A stopping active whose handover failed leaves as a lone one: stop acting, then release the witness. */
export function leaveIfStopping(m: Ctx): void {
  const { p, s } = m;
  if (!s.stopping || !isActive(s.state)) return;
  transition(m, "isolated", "shutting down: the peer did not take over");
  if (p.witness) m.fx.push({ type: "witness", op: "release", epoch: s.epoch });
}

export function finishSwitchover(m: Ctx, replyId: number | null, ok: boolean, why: string, value?: Record<string, unknown>, timeout = false): void {
  if (replyId === null) return;
  if (ok) reply(m, replyId, value ?? {});
  else if (timeout) fail(m, replyId, "TANDEM_ERR_SWITCHOVER_TIMEOUT", m.p.switchoverTimeoutMs, why);
  else fail(m, replyId, "TANDEM_ERR_SWITCHOVER", why);
}
