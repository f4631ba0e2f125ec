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
export function peerProcessDead(peer: PeerView, now: number, intervalMs: number, misses: number): boolean {
  if (peer.heardAt === null || peer.tcpUp) return false;
  const evidence = Math.max(peer.lostAt ?? -Infinity, peer.byeAt ?? -Infinity);
  if (evidence === -Infinity) return false;
  const silence = misses * intervalMs;
  // the connection loss must belong to this silence, not to an old incident
  if (evidence < peer.heardAt - silence) return false;
  return now - peer.heardAt >= silence;
}

/**
 * The kernel already says the process is gone, on every path (DESIGN.md: a
 * killed process is the one failure the kernel reports at once):
 *  - the peer connection was closed or reset by the peer's host, or refused
 *    (nothing listens), around the time the heartbeats stopped, and
 *  - on EVERY heartbeat link, a datagram sent after the last heartbeat came
 *    back ICMP "port unreachable" (nothing listens on its heartbeat port).
 * A frozen process or a lost host gives neither signal. A REJECT firewall
 * rule forges both, so this is never enough alone: the witness must not have
 * heard the active either (the caller asks it), and a heartbeat that arrives
 * cancels the takeover. Without a witness the slower peerProcessDead applies.
 */
export function peerProcessGone(peer: PeerView, intervalMs: number): boolean {
  if (peer.heardAt === null || peer.tcpUp) return false;
  const heard = peer.heardAt;
  const conn = Math.max(peer.lostAt ?? -Infinity, peer.byeAt ?? -Infinity);
  // the connection loss belongs to this silence (a datagram in flight may land just after it)
  if (conn < heard - intervalMs) return false;
  const links = Object.values(peer.refusedAt);
  return links.length > 0 && links.every((at) => at !== null && at > heard);
}
