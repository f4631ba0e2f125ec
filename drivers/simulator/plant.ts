// The simulated plant: two tanks, a reactor with a heater and a batch
// sequence. Pure: step(state, dtMs) returns the next state; writes go through
// command(). The Modbus and OPC UA servers of the simulator both show it.

export type BatchStep = 0 | 1 | 2 | 3 | 4; // idle, fill, heat, hold, drain
export const BATCH_STEP_NAMES = ["idle", "fill", "heat", "hold", "drain"] as const;

export interface PlantState {
  /** ms of simulated time since start */
  t: number;
  /** % */
  tank1Level: number;
  tank2Level: number;
  /** inlet valve of tank 1, % open (writable) */
  inletValve: number;
  /** transfer pump tank 1 → tank 2 (writable) */
  pumpRun: boolean;
  /** °C */
  reactorTemp: number;
  /** °C (writable) */
  reactorSetpoint: number;
  heaterEnable: boolean;
  ambientTemp: number;
  batchStep: BatchStep;
  batchCount: number;
  /** ms spent in the current step */
  stepTime: number;
  batchName: string;
  /**
   * who moves the batch steps: the plant's own timers, or a client (a process
   * module) once it writes the step register — from then on the plant
   * follows the client's steps and never advances by itself
   */
  sequencer: "plant" | "client";
  /** free memory for clients (watchdog, benchmarks, tests): holding registers 1000–1999 and 900–999 */
  memory: Uint16Array;
}

export function initialPlant(): PlantState {
  return {
    t: 0,
    tank1Level: 40,
    tank2Level: 20,
    inletValve: 30,
    pumpRun: true,
    reactorTemp: 20,
    reactorSetpoint: 65,
    heaterEnable: true,
    ambientTemp: 20,
    batchStep: 0,
    batchCount: 0,
    stepTime: 0,
    batchName: "BATCH-0000",
    sequencer: "plant",
    memory: new Uint16Array(2000),
  };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Advances the plant by dt ms. Values move smoothly and stay in range. */
export function step(s: PlantState, dtMs: number): PlantState {
  const dt = dtMs / 1000;
  const t = s.t + dtMs;
  // Tank 1 fills through the inlet valve and drains through the pump into tank 2;
  // tank 2 drains by gravity. Levels in %, flows in %/s.
  const inflow = (s.inletValve / 100) * 2.0;
  const transfer = s.pumpRun && s.tank1Level > 1 ? 1.2 : 0;
  const drain = 0.015 * s.tank2Level;
  const tank1Level = clamp(s.tank1Level + (inflow - transfer) * dt, 0, 100);
  const tank2Level = clamp(s.tank2Level + (transfer - drain) * dt, 0, 100);
  // Reactor: first-order towards setpoint while heated, towards ambient otherwise.
  const ambientTemp = 20 + 2 * Math.sin((2 * Math.PI * t) / 600_000);
  const heating = s.heaterEnable && (s.batchStep === 2 || s.batchStep === 3);
  const target = heating ? s.reactorSetpoint : ambientTemp;
  const reactorTemp = s.reactorTemp + (target - s.reactorTemp) * (1 - Math.exp(-dt / (heating ? 20 : 60)));
  // Batch sequence: fill 20 s, heat until within 1 °C of setpoint, hold 30 s, drain 15 s.
  let batchStep = s.batchStep;
  let stepTime = s.stepTime + dtMs;
  let batchCount = s.batchCount;
  let batchName = s.batchName;
  const next = (b: BatchStep) => {
    batchStep = b;
    stepTime = 0;
  };
  if (s.sequencer === "client") {
    // a process module drives the steps
  } else if (batchStep === 1 && stepTime >= 20_000) next(2);
  else if (batchStep === 2 && (Math.abs(reactorTemp - s.reactorSetpoint) < 1 || stepTime >= 120_000)) next(3);
  else if (batchStep === 3 && stepTime >= 30_000) next(4);
  else if (batchStep === 4 && stepTime >= 15_000) {
    next(0);
    batchCount++;
  } else if (batchStep === 0 && stepTime >= 5_000) {
    next(1);
    batchName = `BATCH-${String(batchCount + 1).padStart(4, "0")}`;
  }
  return { ...s, t, tank1Level, tank2Level, reactorTemp, ambientTemp, batchStep, stepTime, batchCount, batchName };
}

export type PlantCommand =
  | { kind: "inletValve"; value: number }
  | { kind: "pumpRun"; value: boolean }
  | { kind: "reactorSetpoint"; value: number }
  | { kind: "heaterEnable"; value: boolean }
  | { kind: "batchStart" }
  | { kind: "batchStep"; value: number };

/** Applies an operator or process write; returns the new state or a reason for refusing it. */
export function command(s: PlantState, c: PlantCommand): PlantState | string {
  switch (c.kind) {
    case "inletValve":
      if (!(c.value >= 0 && c.value <= 100)) return `inlet valve must be 0–100 %, got ${c.value}`;
      return { ...s, inletValve: c.value };
    case "pumpRun":
      return { ...s, pumpRun: c.value };
    case "reactorSetpoint":
      if (!(c.value >= 0 && c.value <= 150)) return `reactor setpoint must be 0–150 °C, got ${c.value}`;
      return { ...s, reactorSetpoint: c.value };
    case "heaterEnable":
      return { ...s, heaterEnable: c.value };
    case "batchStart":
      return s.batchStep === 0 ? { ...s, batchStep: 1, stepTime: 0, batchName: `BATCH-${String(s.batchCount + 1).padStart(4, "0")}` } : s;
    case "batchStep": {
      if (!Number.isInteger(c.value) || c.value < 0 || c.value > 4) return `batch step must be 0–4, got ${c.value}`;
      if (c.value === s.batchStep && s.sequencer === "client") return s; // the same step again: a re-assertion
      const done = s.batchStep === 4 && c.value === 0;
      const fresh = c.value === 1 && s.batchStep !== 1;
      const batchCount = s.batchCount + (done ? 1 : 0);
      return { ...s, sequencer: "client", batchStep: c.value as BatchStep, stepTime: 0, batchCount, batchName: fresh ? `BATCH-${String(batchCount + 1).padStart(4, "0")}` : s.batchName };
    }
  }
}
