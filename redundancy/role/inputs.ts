// What the peer and the PLC tell the machine: heartbeats (and the lease
// requests they carry), lease grants, the peer connection's state, lease
// refusals, a clean stop, and the PLC fence.
import { electionWinner } from "../election.js";
import type { Heartbeat } from "../role-types.js";
import { count, event, isActive, raiseEpoch, sendHeartbeat, transition, type Ctx } from "./ctx.js";
import { kernelWordDisproved, noteRefusal, refusalsDisproved } from "../failure-detector.js";
import { activateByElection, kernelDisproofMs } from "./takeover.js";

export function onHeartbeat(m: Ctx, link: string, seq: number, inc: number, hb: Heartbeat): void {
  const { p, s, now } = m;
  if (!(link in s.peer.links)) return;
  if (isActive(hb.state) && isActive(s.peer.state) && refusalsDisproved(s.peer, now, p.intervalMs, p.timeoutMs)) {
    if (!kernelWordDisproved(s.peer, now, kernelDisproofMs(p))) {
      count(m, "peer_refusals_disproved");
      event(m, "refusals-disproved", `the active ${p.peerId}'s host refuses this node's datagrams or connections while its heartbeats still arrive (a firewall REJECT rule?): until the refusals stop, they are not taken as proof that its process is gone`);
    }
    s.peer.disprovedAt = now;
  }
  // refusals count only while the peer is known active: a starting peer's
  // sockets may not be bound yet, which is what its kernel truly said
  if (!isActive(hb.state)) s.peer.refusing = null;
  s.peer.links[link] = now;
  s.peer.heardAt = now;
  s.peer.state = hb.state;
  s.peer.level = hb.level;
  s.peer.levelSettled = hb.settled;
  s.peer.role = hb.role;
  s.peer.candidate = hb.candidate;
  s.peer.byeAt = null;
  // FIX(role-operations.test "after the pair splits and heals ...", random seeds
  // 1199/1914): a peer that is active, or that knows a newer epoch (someone
  // activated in it while we did not look), drives or drove the process
  // context, so what this node holds is no longer its own clean context.
  // Without this a later election or witness claim made it plain `active`
  // over the peer's context with no handover (DESIGN.md held rule; S3).
  if (hb.epoch > s.epoch || (isActive(hb.state) && hb.epoch >= s.epoch)) s.context.ownerIsMeClean = false;
  if (hb.epoch > s.peer.epoch || isActive(hb.state)) s.peer.epoch = hb.epoch;
  if (s.state === "isolated" && s.fault === null) transition(m, "standby", `the peer ${p.peerId} is visible again`);
  if (s.awaitingOperator && hb.state !== "isolated") {
    s.awaitingOperator = false;
    event(m, "peer-visible", `the peer ${p.peerId} is visible again on link ${link}`);
  }
  if (isActive(hb.state)) onActivePeer(m, hb);
  if (hb.leaseReq) onLeaseRequest(m, link, seq, inc, hb);
}

/** The peer says it is active: obey a higher epoch, refuse a lower one. */
function onActivePeer(m: Ctx, hb: Heartbeat): void {
  const { p, s } = m;
  s.noActiveSince = null;
  s.candidateSince = null;
  if (s.state === "standby" && !s.awaitingOperator) s.reason = `following the active ${p.peerId} (epoch ${hb.epoch})`;
  if (s.takeover) {
    event(m, "takeover-cancelled", `the active ${p.peerId} is visible again (epoch ${hb.epoch}); takeover cancelled`);
    s.takeover = null;
  }
  if (hb.epoch > s.epoch) {
    raiseEpoch(m, hb.epoch);
    if (isActive(s.state) || s.state === "starting" || (s.state === "isolated" && s.fault === null)) {
      transition(m, "standby", `the peer ${p.peerId} is active with a higher epoch (${hb.epoch})`);
    }
  } else if (isActive(s.state) && hb.epoch === s.epoch) {
    // Two actives in one epoch cannot come from these rules; if it ever
    // happens the lower node id keeps the role, the other steps down.
    if (p.nodeId > p.peerId) transition(m, "standby", `the peer ${p.peerId} is also active in epoch ${hb.epoch}`);
    count(m, "same_epoch_actives");
  } else if (s.state === "starting") {
    transition(m, "standby", `the peer ${p.peerId} is active (epoch ${hb.epoch})`);
  }
}

/** The peer asks for a lease: grant it to the active of the pair's epoch, or to the agreed election winner. */
function onLeaseRequest(m: Ctx, link: string, seq: number, inc: number, hb: Heartbeat): void {
  const { p, s, now } = m;
  const refuse = (reason: string) => {
    count(m, "lease_refused");
    m.fx.push({ type: "send-lease-refuse", epoch: s.epoch, reason });
  };
  if (s.fault !== null) return;
  if (isActive(s.state)) return refuse(`${p.nodeId} is itself active (epoch ${s.epoch})`);
  if (s.state === "isolated") return; // we know too little to vouch for anyone
  // on its way out (it said goodbye): its word would make the active wait for renewals that stop with it
  if (s.stopping) return;
  if (isActive(hb.state)) {
    if (hb.epoch < s.epoch) return refuse(`epoch ${hb.epoch} is older than the pair's epoch ${s.epoch}`);
  } else {
    // an election candidate: only the one both sides agree on gets a grant,
    // and never while we are trying to take over ourselves
    if (!hb.candidate || s.takeover || s.state === "starting" || electionWinner(p, s, now) !== p.peerId) return;
  }
  s.grantedUntil = Math.max(s.grantedUntil, now + p.leaseMs);
  // voting for the peer: a handover of an earlier switchover is no longer ours to take
  if (!isActive(hb.state)) s.switchoverIn = null;
  m.fx.push({ type: "send-grant", link, reqSeq: seq, reqInc: inc, leaseMs: p.leaseMs, epoch: s.epoch });
}

/** A lease grant (from the peer, or the witness's renewal) for a request sent at `sentAt` by our clock. */
export function onGrant(m: Ctx, source: "peer" | "witness", sentAt: number, leaseMs: number, epoch: number): void {
  const { s } = m;
  if (epoch > s.epoch && isActive(s.state) && source === "peer") {
    // a granter that knows a newer epoch would have refused; be safe
    return;
  }
  if (isActive(s.state)) {
    s.leaseUntil = Math.max(s.leaseUntil, sentAt + leaseMs);
    // the peer vouches for us again: we need its renewals again — but not on
    // a grant for a request sent before its goodbye (still on a slow link
    // when the goodbye came over the connection): it is gone all the same
    const stale = source === "peer" && s.peer.byeAt !== null && sentAt <= s.peer.byeAt;
    if (s.peer.fenced && s.leaseUntil > m.now && !stale) s.peer.fenced = false;
    return;
  }
  if (source === "peer" && s.candidateSince !== null) activateByElection(m, sentAt + leaseMs);
}

export function onTcp(m: Ctx, status: "up" | "down" | "refused"): void {
  const { p, s, now } = m;
  if (status === "up") {
    s.peer.tcpUp = true;
    return;
  }
  const lost = s.peer.tcpUp || status === "refused";
  // keep the first loss after the last heartbeat: repeated refusals of our
  // reconnects say the same thing later, and must not make a loss look recent
  const old = s.peer.lostAt === null || (s.peer.heardAt !== null && s.peer.lostAt < s.peer.heardAt - p.intervalMs);
  if (lost && (s.peer.tcpUp || old)) s.peer.lostAt = now;
  if (status === "refused" && isActive(s.peer.state)) noteRefusal(s.peer, now, p.timeoutMs);
  s.peer.tcpUp = false;
  // The active's connection went: ask every link now whether its process is
  // still there (a datagram to a closed port comes back "port unreachable"
  // within a round trip), instead of waiting for the next heartbeat.
  if (lost && isActive(s.peer.state) && !isActive(s.state)) {
    s.peer.probedAt = now;
    sendHeartbeat(m);
  }
}

export function onLinkRefused(m: Ctx, link: string): void {
  const { p, s, now } = m;
  if (!(link in s.peer.refusedAt)) return;
  s.peer.refusedAt[link] = now;
  if (isActive(s.peer.state)) noteRefusal(s.peer, now, p.timeoutMs);
}

/** The peer is stopping cleanly (it said so on every path). */
export function onBye(m: Ctx, state: Heartbeat["state"]): void {
  const { p, s, now } = m;
  if (s.peer.byeAt !== null && s.peer.byeAt >= (s.peer.heardAt ?? 0)) return; // the same goodbye on another path
  s.peer.byeAt = now;
  s.peer.state = state;
  s.peer.tcpUp = false;
  // A peer that was not acting and stops cleanly takes no role on its way out,
  // and a new process of it starts in `starting`, needing our grant or the
  // witness's before it may act: the active needs no lease from it meanwhile
  // (without a witness it would otherwise isolate itself: nobody would drive
  // the plant because the standby was stopped for maintenance).
  if (isActive(s.state) && !isActive(state)) s.peer.fenced = true;
  event(m, "peer-stopping", `the peer ${p.peerId} is stopping (it was ${state})`);
}

/** The peer refused our lease: a higher epoch there means someone else took over. */
export function onLeaseRefused(m: Ctx, epoch: number, reason: string): void {
  const { p, s } = m;
  if (epoch <= s.epoch) return;
  raiseEpoch(m, epoch);
  if (isActive(s.state)) transition(m, "standby", `the peer ${p.peerId} refused our lease: ${reason}`);
}

/** The PLC fence is the last line: a higher epoch there means another node drives the plant. */
export function onPlc(m: Ctx, epoch: number | null, counterStale: boolean): void {
  const { s } = m;
  s.plc = { epoch, counterStale };
  if (epoch === null || epoch <= s.epoch) return;
  raiseEpoch(m, epoch);
  count(m, "plc_fence_demotions");
  if (isActive(s.state)) {
    const why = `the PLC fence holds epoch ${epoch}, above this node's: another node drives the plant`;
    transition(m, "standby", why);
    event(m, "fenced", why);
  }
}
