// "Persist before announce" as a property of an effect list, not a habit:
// every effect that carries an epoch must find that epoch on disk already —
// persisted before this step, or by a persist-epoch earlier in the same list.
// The role machine's output is checked against it in every simulated step
// (test/helpers/pair-sim.ts) and by the pair runtime before it runs a list.
import type { Effect } from "./role-types.js";

export interface Persisted {
  /** the node's epoch on disk */
  epoch: number;
  /** the highest epoch it offered the witness, on disk */
  proposed: number;
}

/** Why this list would let an epoch leave the node before it is on disk; [] when it would not. */
export function persistOrderProblems(before: Persisted, effects: readonly Effect[]): string[] {
  const problems: string[] = [];
  let { epoch, proposed } = before;
  const over = (what: string, e: number, limit: number, kind: string) => {
    if (e > limit) problems.push(`${what} carries epoch ${e} but only ${limit} is on disk as ${kind}`);
  };
  effects.forEach((fx, i) => {
    const at = `effect ${i} (${fx.type})`;
    switch (fx.type) {
      case "persist-epoch":
        if (fx.epoch < epoch) problems.push(`${at} lowers the epoch from ${epoch} to ${fx.epoch}`);
        if (fx.proposed < fx.epoch) problems.push(`${at} proposes ${fx.proposed}, below its epoch ${fx.epoch}`);
        epoch = Math.max(epoch, fx.epoch);
        proposed = Math.max(proposed, fx.proposed, epoch);
        return;
      case "send-heartbeat":
        return over(at, fx.hb.epoch, epoch, "epoch");
      case "send-grant":
      case "send-lease-refuse":
        return over(at, fx.epoch, epoch, "epoch");
      case "peer-send":
        return over(`${at} ${fx.msg.type}`, fx.msg.epoch, epoch, "epoch");
      case "witness":
        // a takeover offers (and may give back) an epoch it does not hold yet: it must be on disk as proposed
        if (fx.op === "acquire" || fx.op === "announce" || fx.op === "release") return over(`${at} ${fx.op}`, fx.epoch, Math.max(epoch, proposed), "proposed");
        return over(`${at} ${fx.op}`, fx.epoch, epoch, "epoch");
      default:
        return;
    }
  });
  return problems;
}
