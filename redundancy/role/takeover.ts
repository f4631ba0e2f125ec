// Becoming active: the start-up claim, the election, the takeover paths
// (dead process, witness, PLC watchdog, an operator's promotion) and the
// activation itself, which decides whether the process context is held.
import { electionWinner } from "../election.js";
import { kernelWordDisproved, peerProcessDead, peerProcessGone, peerVisible } from "../failure-detector.js";
import type { NodeState } from "../role-types.js";
import type { Actor } from "../../core/types.js";
import { audit, awaitOperator, count, event, fail, isActive, knownEpoch, nextEpoch, propose, raiseEpoch, reply, sendHeartbeat, transition, type Ctx } from "./ctx.js";

export function evalStarting(m: Ctx): void {
  const { p, s, now } = m;
  if (s.stopping) return;
  if (peerVisible(s.peer, now, p.timeoutMs)) {
    if (!isActive(s.peer.state)) {
      transition(m, "standby", `the peer ${p.peerId} is ${s.peer.state}; nobody is active yet`);
      evalElection(m);
    }
    return;
  }
  if (now - s.startedAt < p.startupWaitMs) return;
  // nobody heard: claim the role through the witness, or wait for an operator
  if (p.witness) {
    if (!s.takeover) s.takeover = { path: "witness", epoch: nextEpoch(m), startup: true, retryAt: now, startedAt: now };
    driveWitnessTakeover(m);
    return;
  }
  transition(m, "standby", `the peer ${p.peerId} is not visible on any link and no witness is configured`);
  awaitOperator(m);
}

export function evalStandby(m: Ctx): void {
  const { p, s, now } = m;
  if (s.stopping) return; // on its way out: takes no role
  if (s.takeover && s.peer.heardAt !== null && s.peer.heardAt > s.takeover.startedAt && s.peer.state !== "isolated") {
    // heartbeats are back (a healed partition): the pair decides together again
    event(m, "takeover-cancelled", `the peer ${p.peerId} is visible again (${s.peer.state}); takeover cancelled`);
    s.takeover = null;
  }
  if (s.takeover) return driveWitnessTakeover(m);
  // the dead-process path comes first: it is faster than the link timeout; with a
  // witness to confirm, the kernel's word on every path is enough to ask at once
  // (a host that refused us while its heartbeats still came has a firewall
  // rule, not a dead process: its refusals prove nothing for a while)
  const kernelTrusted = !kernelWordDisproved(s.peer, now, kernelDisproofMs(p));
  if (kernelTrusted && isActive(s.peer.state) && p.witness && peerProcessGone(s.peer, now, p.intervalMs, deadProcessSilence(p, true), deadProcessWindow(p))) return startDeadProcessTakeover(m, true);
  if (isActive(s.peer.state) && peerProcessDead(s.peer, now, p.intervalMs, p.deadProcessMisses, kernelTrusted)) return startDeadProcessTakeover(m, false);
  const visible = peerVisible(s.peer, now, p.timeoutMs);
  if (visible && isActive(s.peer.state)) return;
  if (s.switchoverOut?.phase === "handed-over") return; // the peer is about to report active
  if (visible && s.peer.state === "isolated") return takeOverFromIsolated(m);
  if (visible) return evalElection(m);
  // the peer is not visible on any link
  s.candidateSince = null;
  s.noActiveSince = null;
  if (p.witness) {
    if (now < s.grantedUntil) return; // our own promise to the old active first
    event(m, "takeover-started", `the ${s.peer.heardAt === null ? "peer" : "active"} ${p.peerId} is not visible on any link; asking the witness`);
    // a peer never seen active held nothing: claiming the role is a start-up, not a takeover
    // FIX(random seed 1864, S3): "never seen active" is not "never was active": a node
    // paused or split away may have missed the peer's whole takeover. Only a pair
    // that never had an active anywhere we know of (epoch 0) claims as a start-up.
    const pristine = !isActive(s.peer.state) && s.epoch === 0 && s.peer.epoch === 0 && s.witness.holderEpoch === 0;
    s.takeover = { path: "witness", epoch: nextEpoch(m), startup: pristine, retryAt: now, startedAt: now };
    return driveWitnessTakeover(m);
  }
  // the lease we granted the old active runs out before anyone may promote us
  if (now < s.grantedUntil) return;
  // the PLC watchdog as the witness: the active's counter stopped, so it no
  // longer drives the plant (it isolated or died); the fence stops it should it resume
  if (p.plcWatchdog && s.plc.counterStale && s.peer.heardAt !== null) {
    event(m, "takeover-started", `the active ${p.peerId} is not visible on any link and its PLC watchdog counter stopped`);
    s.peer.fenced = true;
    activate(m, nextEpoch(m), 0, "takeover-plc", "none");
    return;
  }
  awaitOperator(m);
}

/**
 * The peer is heard but says it is isolated: it lost its lease and stopped
 * acting, and it does not hear this node (else it would be standby again).
 * Nobody drives the plant. With a witness, claim the role through it (it
 * grants once the old active's lease has run out there too); without one,
 * the PLC watchdog or an operator decides — never silence.
 */
function takeOverFromIsolated(m: Ctx): void {
  const { p, s, now } = m;
  s.candidateSince = null;
  s.noActiveSince = null;
  if (now < s.grantedUntil) return; // our own promise to the old active first
  const said = `the peer ${p.peerId} says it is isolated (it lost its lease and stopped acting) but does not hear this node`;
  if (p.witness) {
    event(m, "takeover-started", `${said}; asking the witness`);
    s.takeover = { path: "witness", epoch: nextEpoch(m), startup: false, retryAt: now, startedAt: now, peerIsolated: true };
    return driveWitnessTakeover(m);
  }
  if (p.plcWatchdog && s.plc.counterStale) {
    event(m, "takeover-started", `${said}, and its PLC watchdog counter stopped`);
    s.peer.fenced = true;
    activate(m, nextEpoch(m), 0, "takeover-plc", "none");
    return;
  }
  awaitOperator(m, `${said}: the pair has no active. An operator who has checked that ${p.peerId} does not drive the plant may confirm to take over here`);
}

/** Peer visible and nobody active: the agreed winner asks the peer for a lease. */
export function evalElection(m: Ctx): void {
  const { p, s, now } = m;
  if (s.state === "maintenance") return;
  s.noActiveSince ??= now;
  if (now - s.noActiveSince < 2 * p.intervalMs) return;
  if (electionWinner(p, s, now) === p.nodeId) {
    if (s.candidateSince === null) {
      s.candidateSince = now;
      sendHeartbeat(m);
    }
  } else s.candidateSince = null;
}

/** A candidate got the peer's grant: it becomes active with that lease. */
export function activateByElection(m: Ctx, leaseUntil: number): void {
  const { p, s, now } = m;
  if (now < s.grantedUntil) return; // we vouched for the peer: wait it out
  if (electionWinner(p, s, now) !== p.nodeId) return;
  s.candidateSince = null;
  activate(m, nextEpoch(m), leaseUntil, "election", "renew");
}

/**
 * How long the witness must not have heard the active before a dead-process
 * takeover: on the kernel's evidence on every path (fast), a little more than
 * one renewal interval (the active renews at the witness every interval, so
 * a live one is heard within it); otherwise as many intervals as the missed
 * heartbeats the path waited for.
 */
/**
 * How long refusals proved false (failure-detector.ts, refusalsDisproved) stay
 * no proof of a death: a lease and a heartbeat timeout. The dead-process path
 * does not wait for the active's lease, so it may count again only once any
 * lease the active got before it last spoke has run out: an active that stalls
 * behind the rule and wakes later checks that lease before it acts.
 */
export function kernelDisproofMs(p: Ctx["p"]): number {
  return p.leaseMs + p.timeoutMs;
}

/**
 * On the fast path, how long after the last heartbeat a lost connection still
 * counts as the kernel's word that the process died (failure-detector.ts,
 * connectionLostAsHeartbeatsStopped): up to the link timeout, since a large
 * process's sockets close only once its memory is freed. The fast path also
 * needs refusals on every link since that heartbeat, and the witness's own
 * silence. The slow path, which may decide alone (no witness), keeps its
 * narrower window: its silence.
 */
export function deadProcessWindow(p: Ctx["p"]): number {
  return Math.max(p.timeoutMs, deadProcessSilence(p, false));
}

export function deadProcessSilence(p: Ctx["p"], fast: boolean): number {
  return fast ? p.intervalMs + Math.max(20, Math.round(p.intervalMs / 5)) : p.deadProcessMisses * p.intervalMs;
}

function startDeadProcessTakeover(m: Ctx, fast: boolean): void {
  const { p, s, now } = m;
  const epoch = nextEpoch(m);
  const why = fast
    ? "its host closed the peer connection and refused a datagram on every link"
    : `connection closed by its host, no heartbeat for ${p.deadProcessMisses} intervals`;
  event(m, "takeover-started", `the active ${p.peerId}'s process is gone (${why})`);
  if (!p.witness) {
    s.peer.fenced = true;
    activate(m, epoch, 0, "takeover-dead-process", "none");
    return;
  }
  // ask the witness first: it refuses while it still hears the active
  const silence = deadProcessSilence(p, fast);
  s.takeover = { path: "dead-process", epoch, startup: false, retryAt: now + p.leaseMs, startedAt: now, announceUntil: now + silence + p.intervalMs, fast };
  propose(m, epoch);
  m.fx.push({ type: "witness", op: "announce", epoch, silenceMs: silence });
}

/**
 * The active's process is gone but the configured witness does not answer.
 * Taking over on the kernel evidence alone would leave the witness
 * recording the old epoch, and a restarted old active on the witness's side
 * of a split could then claim the same epoch (S1). So the node keeps asking
 * the witness and, meanwhile, an operator who has checked may decide.
 */
export function deadProcessWithoutWitness(m: Ctx): void {
  const { p, s, now } = m;
  const t = s.takeover!;
  t.retryAt = now + p.intervalMs;
  if (!s.awaitingOperator) event(m, "witness-unreachable", `the active ${p.peerId}'s process is gone but the witness does not answer; still asking it`);
  if (now >= s.grantedUntil) {
    awaitOperator(m, `the active ${p.peerId}'s process is gone but the witness does not answer: an operator who has checked ${p.peerId} is down may confirm to take over`);
  }
}

/** Ask the witness (again) for the takeover's epoch; persisted as proposed before the request leaves. */
export function driveWitnessTakeover(m: Ctx): void {
  const { p, s, now } = m;
  const t = s.takeover!;
  if (now < t.retryAt) return;
  // the same offer again, unless the pair moved past it meanwhile
  t.epoch = Math.max(t.epoch, knownEpoch(m) + 1);
  t.retryAt = now + p.intervalMs; // a reply may move this
  propose(m, t.epoch);
  if (t.path === "dead-process") m.fx.push({ type: "witness", op: "announce", epoch: t.epoch, silenceMs: deadProcessSilence(p, t.fast ?? false) });
  else m.fx.push({ type: "witness", op: "acquire", epoch: t.epoch });
}

export type ActivationPath = "takeover-witness" | "takeover-isolated" | "takeover-dead-process" | "takeover-plc" | "promote" | "switchover" | "election" | "startup-witness";

export function activate(m: Ctx, epoch: number, leaseUntil: number, path: ActivationPath, claim: "none" | "renew"): void {
  const { p, s, now } = m;
  const takeover = path.startsWith("takeover") || path === "promote";
  // FIX(role-operations.test "after the pair splits and heals ..."): the machine has no input for replicated context writes,
  // so `seq` stays what initialState got; once the peer has been active (see
  // onActivePeer) "nothing was written" cannot be known, so it no longer gates the hold.
  const hold = takeover || (path !== "switchover" && !s.context.ownerIsMeClean);
  raiseEpoch(m, epoch);
  s.leaseUntil = leaseUntil;
  s.takeover = null;
  s.candidateSince = null;
  s.noActiveSince = null;
  s.awaitingOperator = false;
  s.grantedUntil = 0;
  const to: NodeState = hold ? "active-held" : "active";
  const why: Record<ActivationPath, string> = {
    "takeover-witness": `took over from ${p.peerId}: it was not visible on any link and the witness confirmed its lease ran out`,
    "takeover-isolated": `took over from ${p.peerId}: it said it was isolated (no lease, not acting) and the witness confirmed its lease ran out`,
    "takeover-dead-process": `took over from ${p.peerId}: its process is gone`,
    "takeover-plc": `took over from ${p.peerId}: it was not visible on any link and its PLC watchdog counter stopped`,
    promote: "promoted by an operator who checked the active is down",
    switchover: `switchover from ${p.peerId}`,
    election: `elected active with ${p.peerId}'s agreement`,
    "startup-witness": `the peer ${p.peerId} is not visible; the witness granted the role`,
  };
  transition(m, to, why[path]);
  if (hold) {
    s.heldSince = now;
    s.autoConfirmAt = p.autoConfirmMs > 0 ? now + p.autoConfirmMs : null;
  }
  // FIX(random schedule seed 107): a held context is still the previous
  // writer's until confirm/reject (see transition); marking it ours here let a
  // held node that lost its lease be re-elected plain `active` over it (S3).
  if (!hold) s.context.ownerIsMeClean = true;
  count(m, path === "switchover" ? "switchovers_in" : takeover ? "takeovers" : "activations");
  event(m, takeover ? "takeover" : path === "switchover" ? "switchover" : "activated", s.reason, { epoch: s.epoch, held: hold });
  // tell the peer at once, and claim the witness record for the new epoch
  sendHeartbeat(m);
  if (p.witness && claim === "renew") m.fx.push({ type: "witness", op: "renew", epoch: s.epoch });
  s.nextHeartbeatAt = now + p.intervalMs;
}

/** An operator who checked the active is down makes this standby active (manual fencing). */
export function promote(m: Ctx, id: number, actor: Actor, action: string): void {
  const { p, s, now } = m;
  if (!(s.state === "standby" || s.state === "starting") || s.fault !== null) {
    audit(m, action, actor, "refused", { state: s.state });
    return fail(m, id, "TANDEM_ERR_PROMOTE", `${p.nodeId} is ${s.state}; only a standby can be promoted`);
  }
  if (peerVisible(s.peer, now, p.timeoutMs) && s.peer.state !== "isolated") {
    audit(m, action, actor, "refused", { reason: "peer visible" });
    return fail(m, id, "TANDEM_ERR_PROMOTE", `the peer ${p.peerId} is visible (${s.peer.state}); use a switchover instead`);
  }
  if (now < s.grantedUntil) {
    // even a checked-down active keeps the lease this node vouched for
    audit(m, action, actor, "refused", { reason: "own grant still running" });
    return fail(m, id, "TANDEM_ERR_PROMOTE", `this node granted ${p.peerId} a lease that runs ${Math.ceil(s.grantedUntil - now)} ms more; try again then`);
  }
  s.peer.fenced = true;
  activate(m, nextEpoch(m), 0, "promote", "renew");
  audit(m, action, actor, "ok", { manualFencing: true, warning: `operator declared ${p.peerId} down` });
  reply(m, id, { state: s.state, epoch: s.epoch });
}
