// Operator and admin actions (CLI, HMI, API), each answered with a reply
// effect and audited: confirm and reject a held takeover, promote (manual
// fencing), switchover, maintenance, and the node's own shutdown.
import type { Actor } from "../../core/types.js";
import { peerVisible } from "../failure-detector.js";
import type { OpAction } from "../role-types.js";
import { audit, fail, isActive, reply, transition, type Ctx } from "./ctx.js";
import { startSwitchover, switchoverPossible } from "./switchover.js";
import { promote } from "./takeover.js";

export function onOp(m: Ctx, id: number, action: OpAction, actor: Actor, to?: string, force?: boolean): void {
  const { p, s } = m;
  switch (action) {
    case "confirm":
      if (s.state === "active-held") {
        transition(m, "active", `takeover confirmed by ${actor.user}`);
        audit(m, "confirm", actor, "ok");
        return reply(m, id, { state: s.state, epoch: s.epoch });
      }
      if ((s.state === "standby" || s.state === "starting") && s.awaitingOperator) return promote(m, id, actor, "confirm");
      audit(m, "confirm", actor, "refused", { state: s.state });
      return fail(m, id, "TANDEM_ERR_NOT_HELD", "confirm", s.state);
    case "reject":
      if (s.state === "active-held") {
        m.fx.push({ type: "context-reset" });
        s.context = { seq: 0, ownerIsMeClean: true };
        transition(m, "active", `takeover rejected by ${actor.user}: the process restarts from its initial context`);
        audit(m, "reject", actor, "ok");
        return reply(m, id, { state: s.state, epoch: s.epoch });
      }
      audit(m, "reject", actor, "refused", { state: s.state });
      return fail(m, id, "TANDEM_ERR_NOT_HELD", "reject", s.state);
    case "promote":
      return promote(m, id, actor, "promote");
    case "switchover":
      return switchover(m, id, actor, to, force === true);
    case "maintenance-enter": {
      if (s.state === "maintenance") return reply(m, id, { state: s.state });
      if (isActive(s.state)) {
        if (switchoverPossible(m) === null) return startSwitchover(m, id, actor, "maintenance", true);
        if (!force) {
          audit(m, "maintenance-enter", actor, "refused", { state: s.state });
          return fail(m, id, "TANDEM_ERR_MAINTENANCE", `${p.nodeId} is active and ${switchoverPossible(m)}; nobody would drive the plant (use force to stop anyway)`);
        }
        if (p.witness) m.fx.push({ type: "witness", op: "release", epoch: s.epoch });
      }
      s.takeover = null;
      s.candidateSince = null;
      s.awaitingOperator = false;
      transition(m, "maintenance", `maintenance entered by ${actor.user}`);
      s.level = 0;
      audit(m, "maintenance-enter", actor, "ok", { force: !!force });
      return reply(m, id, { state: s.state });
    }
    case "maintenance-leave":
      if (s.state !== "maintenance") return fail(m, id, "TANDEM_ERR_MAINTENANCE", `${p.nodeId} is ${s.state}, not in maintenance`);
      transition(m, "standby", `maintenance left by ${actor.user}`);
      s.noActiveSince = null;
      audit(m, "maintenance-leave", actor, "ok");
      return reply(m, id, { state: s.state });
    case "shutdown":
      s.stopping = true;
      s.candidateSince = null;
      s.takeover = null;
      s.switchoverIn = null; // a handover that arrives now is not taken
      // SIGTERM: hand over cleanly if someone can take the role.
      if (isActive(s.state) && switchoverPossible(m) === null) return startSwitchover(m, id, actor, "shutdown", false);
      if (isActive(s.state)) {
        // FIX(role-operations.test "shutdown of a lone active with a witness"): stop
        // acting BEFORE releasing the witness. Releasing while still active let the
        // standby acquire the witness at once while this node could still act until
        // its process exited (or its lease ran out): two actives (S1).
        transition(m, "isolated", `shutting down by ${actor.user}: no peer to hand over to`);
        if (p.witness) m.fx.push({ type: "witness", op: "release", epoch: s.epoch });
      }
      return reply(m, id, { state: s.state, handedOver: false });
  }
}

function switchover(m: Ctx, id: number, actor: Actor, to: string | undefined, acceptConfig: boolean): void {
  const { p, s, now } = m;
  if (to !== undefined && to !== p.nodeId && to !== p.peerId) {
    audit(m, "switchover", actor, "refused", { to });
    return fail(m, id, "TANDEM_ERR_SWITCHOVER", `unknown node '${to}' (this pair is ${p.nodeId} and ${p.peerId})`);
  }
  // the plant would move to a node that runs another configuration: only when the operator says so
  if (s.configMismatch !== null && !acceptConfig && !(to !== undefined && (isActive(s.state) ? to === p.nodeId : to === p.peerId))) {
    audit(m, "switchover", actor, "refused", { configMismatch: s.configMismatch });
    return fail(m, id, "TANDEM_ERR_SWITCHOVER", `the nodes run different configurations: ${s.configMismatch}. Make them alike first, or move the plant anyway with tandem switchover --accept-config`);
  }
  if (isActive(s.state)) {
    if (to === p.nodeId) return fail(m, id, "TANDEM_ERR_SWITCHOVER", `${p.nodeId} is already active`);
    return startSwitchover(m, id, actor, "operator", false);
  }
  if (s.state === "standby" && isActive(s.peer.state) && peerVisible(s.peer, now, p.timeoutMs) && s.peer.tcpUp) {
    if (to === p.peerId) return fail(m, id, "TANDEM_ERR_SWITCHOVER", `${p.peerId} is already active`);
    s.switchoverAsk = { replyId: id, deadline: now + p.switchoverTimeoutMs };
    audit(m, "switchover", actor, "ok", { asked: p.peerId });
    m.fx.push({ type: "peer-send", msg: { type: "switchover-request", epoch: s.epoch, by: actor.user } });
    return;
  }
  audit(m, "switchover", actor, "refused", { state: s.state });
  return fail(m, id, "TANDEM_ERR_SWITCHOVER", `this node is ${s.state} and no active peer is connected`);
}
