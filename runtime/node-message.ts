// The node's state in plain words for the operator: what happened and what to do.
import type { RoleState } from "../redundancy/role-types.js";

export function describeState(s: RoleState, peer: string, peerVisibleNow: boolean): string {
  const peerWord = peerVisibleNow ? `peer ${peer} is ${s.peer.state}` : `peer ${peer} is not visible`;
  switch (s.state) {
    case "active":
      return `Active: driving the plant (${peerWord}). ${s.reason}.`;
    case "active-held":
      return `Took over: ${s.reason}. The process is HELD where it was. Check the plant, then Confirm to resume it or Reject to restart it from its initial state.`;
    case "standby":
      if (s.awaitingOperator) return `Standby, waiting for an operator: ${s.reason}.`;
      return peerVisibleNow && (s.peer.state === "active" || s.peer.state === "active-held")
        ? `Standby: ${s.reason}, ready to take over.`
        : `Standby: ready to take over (${peerWord}). ${s.reason}.`;
    case "isolated":
      return `Isolated: ${s.reason}. This node does not drive the plant; it waits for the peer or the witness to be reachable again.`;
    case "maintenance":
      return `Maintenance: ${s.reason}. This node does not drive the plant and will not take over; leave maintenance to return it to standby.`;
    case "starting":
      return `Starting: ${s.reason}.`;
  }
}
