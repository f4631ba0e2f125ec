// Who should take the active role when the pair has none and both nodes see
// each other. Both sides compute this from the same heartbeats, so they agree:
// a clearly healthier node wins, then the preferred main, then the lower id.
// A level still in its start-up grace (a node whose drivers have not had
// their first connect attempt yet) is not compared: after a cold start of
// both, the preferred main is active, not whichever node's PLC answered first.
// A disagreement (views differ for a moment) is safe: a node that granted the
// other a lease may not become active before that grant runs out.
import { peerVisible } from "./failure-detector.js";
import type { RoleParams, RoleState } from "./role-types.js";

const ELIGIBLE = new Set(["starting", "standby"]);

export function electionWinner(p: RoleParams, s: RoleState, now: number): string | null {
  const me = ELIGIBLE.has(s.state) && s.level >= 2;
  const peer = peerVisible(s.peer, now, p.timeoutMs) && ELIGIBLE.has(s.peer.state) && s.peer.level >= 2;
  if (!me && !peer) return null;
  if (!peer) return p.nodeId;
  if (!me) return p.peerId;
  if (s.levelSettled && s.peer.levelSettled && Math.abs(s.level - s.peer.level) >= p.serviceLevelMargin) return s.level > s.peer.level ? p.nodeId : p.peerId;
  if (p.role !== s.peer.role) return p.role === "main" ? p.nodeId : p.peerId;
  return p.nodeId < p.peerId ? p.nodeId : p.peerId;
}
