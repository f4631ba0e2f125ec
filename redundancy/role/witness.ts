// The witness's answers, and how often the node asks it: the active renews
// every interval; a standby probes, so it knows who holds the pair.
import type { WitnessReply } from "../role-types.js";
import { count, event, isActive, raiseEpoch, transition, type Ctx } from "./ctx.js";
import { onGrant } from "./inputs.js";
import { activate, deadProcessWithoutWitness } from "./takeover.js";

export function onWitnessReply(m: Ctx, sentAt: number, r: WitnessReply): void {
  const { p, s, now } = m;
  s.witness.reachable = true;
  s.witness.lastOkAt = now;
  s.witness.holder = r.holder;
  s.witness.holderEpoch = r.holderEpoch;
  if (r.granted) {
    if (r.op === "renew" || (isActive(s.state) && (r.op === "acquire" || r.op === "announce"))) {
      if (isActive(s.state)) onGrant(m, "witness", sentAt, r.leaseMs, r.holderEpoch);
      return;
    }
    const t = s.takeover;
    if ((r.op === "acquire" || r.op === "announce") && t && r.holderEpoch === t.epoch && r.holder === p.nodeId && s.fault === null) {
      const path = t.path === "dead-process" ? "takeover-dead-process" : t.startup ? "startup-witness" : t.peerIsolated ? "takeover-isolated" : "takeover-witness";
      activate(m, r.holderEpoch, sentAt + r.leaseMs, path, "none");
      return;
    }
    if ((r.op === "acquire" || r.op === "announce") && r.holder === p.nodeId) {
      // a grant we no longer want (the active came back meanwhile): give it back
      m.fx.push({ type: "witness", op: "release", epoch: r.holderEpoch });
    }
    return;
  }
  // refused
  if (r.holderEpoch > s.epoch && r.holder !== p.nodeId) {
    raiseEpoch(m, r.holderEpoch);
    if (isActive(s.state)) {
      transition(m, "standby", `the witness says ${r.holder ?? "another node"} holds the pair in epoch ${r.holderEpoch}`);
      return;
    }
  }
  if (isActive(s.state) && r.op === "renew") {
    // released, expired or never recorded (witness restart, startup): claim it with our epoch
    if (r.reason === "not-holder" || r.reason === "released") m.fx.push({ type: "witness", op: "acquire", epoch: s.epoch });
    return;
  }
  if (s.takeover && (r.op === "acquire" || r.op === "announce")) {
    if (r.op === "announce" && s.takeover.path === "dead-process" && r.reason === "witness-starting") {
      // a witness that just restarted knows nothing either way: as if unreachable
      deadProcessWithoutWitness(m);
      return;
    }
    if (r.reason === "holder-alive" && s.takeover.path === "dead-process" && now < (s.takeover.announceUntil ?? 0)) {
      // the witness heard the active a moment ago: ask again when it says the silence is long enough
      s.takeover.retryAt = now + Math.max(1, Math.min(r.retryInMs ?? p.intervalMs, p.intervalMs));
    } else if (r.reason === "holder-alive") {
      event(m, "dead-process-refused", `the witness still hears ${r.holder}: not a dead process; waiting for its lease to run out`);
      s.takeover = { ...s.takeover, path: "witness", startup: false, retryAt: now + p.intervalMs };
    } else if (r.reason === "stale-epoch") {
      s.takeover.epoch = Math.max(s.epoch, r.holderEpoch) + 1;
      s.takeover.retryAt = now;
    } else {
      s.takeover.retryAt = now + Math.max(p.intervalMs / 4, Math.min(r.retryInMs ?? p.intervalMs, p.leaseMs));
    }
    return;
  }
  if (s.state === "starting" && r.op === "acquire" && r.holder !== null && r.holder !== p.nodeId) {
    transition(m, "standby", `the witness says ${r.holder} holds the pair (epoch ${r.holderEpoch}) but it is not visible here`);
  }
}

export function onWitnessTimeout(m: Ctx, op: WitnessReply["op"]): void {
  const { p, s, now } = m;
  count(m, "witness_timeouts");
  if (s.witness.lastOkAt === null || now - s.witness.lastOkAt >= p.timeoutMs) s.witness.reachable = false;
  if (op === "announce" && s.takeover?.path === "dead-process") deadProcessWithoutWitness(m);
}

/** Every heartbeat interval: the active renews through the witness; anyone else probes it. */
export function witnessCadence(m: Ctx): void {
  const { p, s } = m;
  if (!p.witness) return;
  if (isActive(s.state)) {
    // the active renews through the witness every interval, so the
    // witness's record of who holds the pair stays current and a dead
    // process is told from a live one by its silence there too
    m.fx.push({ type: "witness", op: "renew", epoch: s.epoch });
  } else if (!s.takeover) {
    m.fx.push({ type: "witness", op: "probe", epoch: s.epoch });
  }
}
