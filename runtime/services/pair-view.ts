// The pair as the supervisor sees it, from the node's PairRuntime: may
// services placed `active` run, how long the lease lasts without another
// renewal, is a handover under way, and the peer for balanced services.
import { peerProcessDead, peerVisible } from "../../redundancy/failure-detector.js";
import type { PairRuntime } from "../../redundancy/pair-runtime.js";
import type { PairView } from "./supervisor.js";

export function pairView(runtime: PairRuntime, timeoutMs: number): PairView {
  return {
    state: () => runtime.state.state,
    epoch: () => runtime.state.epoch,
    activeAllowed: () => runtime.canAct() && runtime.state.switchoverOut?.phase !== "quiescing",
    handingOver: () => runtime.state.switchoverOut?.phase === "quiescing",
    actDeadlineMs: () => {
      const s = runtime.state;
      const left = s.leaseUntil - runtime.params.leaseSafetyMs - runtime.now();
      // a lone active whose peer is known down acts without a lease (role-machine.ts
      // leaseRequired); a lease it still holds from the witness bounds it all the same
      if (s.peer.fenced && left <= 0) return null;
      return Math.max(0, Math.floor(left));
    },
    setServicesUp: (up) => runtime.setServicesUp(up),
    peer: () => {
      const s = runtime.state;
      const visible = peerVisible(s.peer, runtime.now(), timeoutMs) && !s.peer.fenced && s.peer.byeAt === null;
      // down: the pair knows it (fenced, said goodbye, or its host closed the connection as its heartbeats stopped)
      const p = runtime.params;
      const down = s.peer.fenced || s.peer.byeAt !== null || peerProcessDead(s.peer, runtime.now(), p.intervalMs, p.deadProcessMisses);
      return { id: p.peerId, inPool: visible, state: visible ? s.peer.state : "unknown", down };
    },
    sendPeer: (topic, data) => runtime.sendPeerApp(topic, data),
  };
}
