// Link liveness from heartbeat arrival times: pure functions over PeerView.
// A link is up while its last valid heartbeat is younger than timeoutMs; the
// peer is visible while any link is up. Losing one of several links is a
// degradation, not a failure.
import type { PeerView } from "./role-types.js";

export interface LinkStatus {
  name: string;
  up: boolean;
  lastSeenMs: number | null;
}

export function linkStatus(peer: PeerView, now: number, timeoutMs: number): LinkStatus[] {
  return Object.entries(peer.links).map(([name, at]) => ({
    name,
    up: at !== null && now - at < timeoutMs,
    lastSeenMs: at === null ? null : Math.max(0, Math.round(now - at)),
  }));
}

export function peerVisible(peer: PeerView, now: number, timeoutMs: number): boolean {
  return peer.heardAt !== null && now - peer.heardAt < timeoutMs;
}

export function linksDown(peer: PeerView, now: number, timeoutMs: number): number {
  return linkStatus(peer, now, timeoutMs).filter((l) => !l.up).length;
}

/**
 * The dead-process path (DESIGN.md, lease rules b): the peer's connection was
 * closed or refused by its kernel around the time its heartbeats stopped, and
 * no heartbeat has come on any link for `misses` intervals since. A live
 * process whose connection merely broke keeps heartbeating and fails this.
 */
export function peerProcessDead(peer: PeerView, now: number, intervalMs: number, misses: number, kernelTrusted = true): boolean {
  if (peer.heardAt === null || peer.tcpUp) return false;
  const silence = misses * intervalMs;
  if (now - peer.heardAt < silence) return false;
  // a clean goodbye is the peer's own word; a lost connection must belong to this
  // silence, and counts only while the kernel's word about the peer is trusted
  return (peer.byeAt !== null && peer.byeAt >= peer.heardAt - silence) || (kernelTrusted && connectionLostAsHeartbeatsStopped(peer, intervalMs, silence));
}

/**
 * The peer connection was closed, reset or refused by the peer's host when
 * its heartbeats stopped: no earlier than an interval before the last one
 * (a datagram in flight may land after the close) and no later than
 * `withinMs` after it (the slow path: its silence; the fast path, which
 * also needs refusals and the witness: the link timeout, deadProcessWindow).
 * The kernel closes a killed process's sockets
 * only once it has freed its memory — 30–130 ms for a 150 MB node measured
 * on a loaded 2-core machine, after the last heartbeat's own age — and a
 * process can stall for a moment before it dies. A connection lost after
 * the link timed out (a firewall rule put in later, a path that heals)
 * says nothing about it.
 */
export function connectionLostAsHeartbeatsStopped(peer: PeerView, intervalMs: number, withinMs: number): boolean {
  if (peer.heardAt === null || peer.lostAt === null) return false;
  return peer.lostAt >= peer.heardAt - intervalMs && peer.lostAt <= peer.heardAt + withinMs;
}

/**
 * The kernel already says the process is gone, on every path (DESIGN.md: a
 * killed process is the one failure the kernel reports at once):
 *  - the peer connection was closed or reset by the peer's host, or refused
 *    (nothing listens), around the time the heartbeats stopped, and
 *  - on EVERY heartbeat link, a datagram sent after the last heartbeat came
 *    back ICMP "port unreachable" (nothing listens on its heartbeat port),
 *    and still does: the last refusal is at most two intervals old (a dead
 *    process's ports refuse every heartbeat we send; a frozen one's do not), and
 *  - the heartbeat that was due did not come: silence for one interval and a
 *    margin (`silenceMs`), not the several missed heartbeats of peerProcessDead.
 * A frozen process or a lost host gives no such signal. A REJECT firewall
 * rule forges the first two; a live process behind one keeps heartbeating
 * through them, which proves them false (refusalsDisproved), and the caller
 * then does not ask this at all (kernelWordDisproved). Only a rule put in
 * while the process is also silent (a stall of more than `silenceMs` within
 * half an interval of the rule) is left to the witness, which must not have
 * heard it for as long either.
 */
export function peerProcessGone(peer: PeerView, now: number, intervalMs: number, silenceMs: number, lostWithinMs: number): boolean {
  if (peer.heardAt === null || peer.tcpUp) return false;
  const heard = peer.heardAt;
  if (now - heard < silenceMs) return false;
  if (!connectionLostAsHeartbeatsStopped(peer, intervalMs, lostWithinMs)) return false;
  const links = Object.values(peer.refusedAt);
  return links.length > 0 && links.every((at) => at !== null && at > heard && now - at <= 2 * intervalMs);
}

/**
 * A refusal from the peer's host (a datagram came back "port unreachable", a
 * connection was refused): it extends the current run of refusals, or begins
 * a new one when the last was more than `gapMs` ago.
 */
export function noteRefusal(peer: PeerView, now: number, gapMs: number): void {
  const run = peer.refusing;
  peer.refusing = run !== null && now - run.last <= gapMs ? { since: run.since, last: now } : { since: now, last: now };
}

/**
 * Called as a heartbeat of the still-active peer arrives: its host has been
 * refusing us for at least half an interval, and still is (the latest refusal
 * is under `timeoutMs` old). Then the refusals are false: a process that is
 * gone sends nothing, and its last heartbeat, already on its way when it
 * died, lands within a round trip of the first refusal, not half an interval
 * after it. A firewall REJECT rule on its host does exactly this.
 */
export function refusalsDisproved(peer: PeerView, now: number, intervalMs: number, timeoutMs: number): boolean {
  const run = peer.refusing;
  return run !== null && now - run.since >= intervalMs / 2 && now - run.last <= timeoutMs;
}

/**
 * The kernel's word about the peer (refusals, a lost connection) was proved
 * false less than `forMs` ago, so it is no proof that the process is gone: a
 * live process behind a REJECT rule that stalls for a moment is not taken for
 * a dead one. The timeout path and the witness still decide a real failure.
 */
export function kernelWordDisproved(peer: PeerView, now: number, forMs: number): boolean {
  return peer.disprovedAt !== null && now - peer.disprovedAt < forMs;
}
