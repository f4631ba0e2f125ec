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

export function observeHeartbeat(peer: PeerView, link: string, now: number): void {
  peer.links[link] = now;
  peer.heardAt = now;
}
