// Shared by the role-machine tests: the simulated pair's defaults and a
// settled pair to start from.
import { PairSim } from "./pair-sim.js";

export const INTERVAL = 100;
export const LEASE = 1000;
export const TIMEOUT = 500;
export const STARTUP = 1500;

/** two nodes started together, settled: a active in epoch 1, b standby */
export async function steadyPair(opts: ConstructorParameters<typeof PairSim>[0] = {}): Promise<PairSim> {
  const sim = new PairSim(opts);
  await sim.until(() => sim.state("a") === "active" && sim.state("b") === "standby" && sim.epoch("b") === sim.epoch("a"), 3000, "a active, b standby");
  await sim.run(500);
  return sim;
}
