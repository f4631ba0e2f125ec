// The role state machine (redundancy/role-machine.ts) in the code that ships
// (the pair runtime, peer link and witness), driven through the simulated
// pair (test/helpers/pair-sim.ts) on a simulated clock and network. Every
// scenario names the promise it defends (DESIGN.md): S1 one active, S3 held
// until confirmed, L1 fast takeover, and the lease rules. The simulator
// checks S1, persist-before-announce, the held rule and our own lease
// promises after EVERY step and fails on a breach, so each scenario also
// asserts "never two actives" throughout.
// This file: random fault schedules, every invariant checked at every step.
import { describe, expect, it } from "vitest";
import { PairSim, admin, operator, rng, type NodeId } from "../helpers/pair-sim.js";

type Fault = (sim: PairSim, r: () => number) => void;
const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const node = (r: () => number): NodeId => (r() < 0.5 ? "a" : "b");

const FAULTS: Fault[] = [
  (sim, r) => {
    if (!sim.rejectsAllowed) sim.cutLink(pick(r, ["lan", "plant"] as const));
  },
  (sim, r) => {
    if (!sim.rejectsAllowed) sim.cutLinkFrom(pick(r, ["lan", "plant"] as const), node(r));
  },
  (sim, r) => sim.restoreLink(pick(r, ["lan", "plant"] as const)),
  (sim) => {
    if (!sim.rejectsAllowed) sim.cutTcp();
  },
  (sim) => sim.restoreTcp(),
  // a REJECT rule against one node's sends (its peer still hears it): the
  // kernel's word that a process died, forged (only in runs drawn for it, see below)
  (sim, r) => {
    if (!sim.rejectsAllowed) return;
    if (sim.paused("a") || sim.paused("b")) return; // a rule put in during a stall: see below
    const id = node(r);
    sim.restoreLink("lan").restoreLink("plant").restoreTcp();
    sim.rejectFrom(id);
  },
  (sim) => {
    if (!sim.rejectsAllowed) sim.partition();
  },
  (sim) => sim.heal(),
  // kill -9; half the time the kernel takes a while to tear the process down (a large one), and half the time its heartbeat ports close after its connection
  (sim, r) => sim.kill(node(r), r() < 0.5 ? 0 : Math.floor(r() * 300), r() < 0.5 ? 0 : Math.floor(r() * 30)),
  (sim, r) => {
    const id = node(r);
    if (sim.state(id) === "dead") sim.restart(id);
  },
  (sim) => {
    for (const id of ["a", "b"] as const) if (sim.state(id) === "dead") sim.restart(id);
  },
  // a stall (SIGSTOP, a loaded machine); in runs with REJECT rules, once the
  // rule has been in place for a few heartbeats (see below)
  (sim, r) => {
    if (!sim.rejectsAllowed || stallAfterRuleOk(sim)) sim.pause(node(r), Math.floor(50 + r() * 2500));
  },
  (sim) => (sim.witnessConfigured ? (sim.witness ? sim.stopWitness() : sim.startWitness()) : sim),
  (sim, r) => {
    if (!sim.rejectsAllowed) sim.isolateFromWitness(node(r), r() < 0.6);
  },
  (sim, r) => {
    const id = node(r);
    if (sim.state(id) !== "dead" && !sim.paused(id)) sim.setLevel(id, pick(r, [255, 230, 150, 100, 1]));
  },
  (sim, r) => {
    const id = node(r);
    if (sim.state(id) === "dead" || sim.paused(id)) return;
    const action = pick(r, ["switchover", "confirm", "reject", "shutdown"] as const);
    // a confirm on a standby awaiting the operator is manual fencing (DESIGN.md, lease rules c):
    // the operator has checked the peer is down, so only when it really is
    if (action === "confirm" && sim.state(id) !== "active-held" && sim.state(id === "a" ? "b" : "a") !== "dead") return;
    sim.op(id, action, operator);
  },
  (sim, r) => {
    const id = node(r);
    if (sim.state(id) !== "dead" && !sim.paused(id)) sim.op(id, r() < 0.5 ? "maintenance-enter" : "maintenance-leave", admin, { force: r() < 0.3 });
  },
];

/**
 * A live active behind a REJECT rule proves the rule's refusals false with
 * the heartbeats it sends through them (failure-detector.ts,
 * refusalsDisproved); from then on a stall of it is not taken for a death.
 * Until then (the first heartbeats after the rule) a stall is beyond what the
 * design defends: the witness alone tells it from a death by the silence.
 */
function stallAfterRuleOk(sim: PairSim): boolean {
  const intervalMs = sim.node("a").p.intervalMs;
  return sim.lastRejectAt === null || sim.now - sim.lastRejectAt >= 4 * intervalMs + 2 * sim.jitterMs + 20;
}

describe("random fault schedules", () => {
  const RUNS = Number(process.env.TANDEM_SIM_RUNS ?? 200); // more outside the suite: TANDEM_SIM_RUNS=3000
  it(`S1/S3: ${RUNS} seeded runs of ~10 simulated seconds with random faults, every invariant checked at every step`, async () => {
    let steps = 0;
    let takeovers = 0;
    let switchovers = 0;
    const knownDq1: number[] = [];
    for (let seed = 1; seed <= RUNS; seed++) {
      const r = rng(seed * 7919);
      const intervalMs = pick(r, [50, 100, 200]);
      const leaseMs = intervalMs * pick(r, [3, 5, 10, 15]);
      // A REJECT rule forges the kernel's word that a process is gone, which
      // the dead-process paths take as proof (DESIGN.md, lease rules b). What
      // still tells a live active from a dead one is its heartbeats reaching
      // the standby through the rule (which proves the refusals false) and
      // its renewals reaching the witness. An active whose heartbeats are
      // silenced by the network — partitioned, a link cut — or that is cut
      // from the witness while a rule forges its death, or that stalls before
      // its first heartbeats through the rule, is beyond what the design
      // defends (docs/design.md, "What counts as proof"). Runs drawn for
      // REJECT rules therefore have no such faults; stalls once the rule is
      // in place they do have.
      const rejects = r() < 0.3;
      const sim = new PairSim({
        witness: r() < 0.6,
        seed,
        params: {
          intervalMs,
          timeoutMs: intervalMs * pick(r, [2, 3, 5]),
          leaseMs,
          leaseSafetyMs: Math.floor(leaseMs * pick(r, [0.05, 0.15, 0.3])),
          deadProcessMisses: pick(r, [2, 3, 5]),
          autoConfirmMs: r() < 0.3 ? 500 : 0,
          failback: r() < 0.3 ? "automatic" : "manual",
          failbackHealthyForMs: 1000,
          serviceLevelForMs: 800,
          // a restarted granter forgets its promises: it must listen at least a lease long (see the report)
          startupWaitMs: leaseMs + pick(r, [0, 500]),
        },
        delayMs: 1 + Math.floor(r() * 10),
        jitterMs: pick(r, [0, 0, 5, 30]),
        witnessTimeoutMs: pick(r, [50, 250]),
      });
      sim.rejectsAllowed = rejects;
      try {
        await sim.run(500 + Math.floor(r() * 1500));
        while (sim.now < 6000) {
          const f = pick(r, FAULTS);
          if (process.env.TANDEM_SIM_TRACE === String(seed)) console.log(sim.now, FAULTS.indexOf(f), sim.state("a"), sim.state("b"));
          f(sim, r);
          await sim.run(10 + Math.floor(r() * 500));
        }
        sim.heal();
        sim.isolateFromWitness("a", false).isolateFromWitness("b", false);
        if (sim.witnessConfigured && !sim.witness) sim.startWitness();
        await sim.run(4000);
      } catch (e) {
        const msg = (e as Error).message;
        throw new Error(`seed ${seed}: ${msg}`);
      }
      steps += sim.steps;
      takeovers += sim.transitions().filter((t) => t.to === "active-held").length;
      switchovers += sim.transitions().filter((t) => /^switchover from/.test(t.reason)).length;
    }
    expect(steps).toBeGreaterThan(200_000);
    expect(takeovers).toBeGreaterThan(50);
    expect(switchovers).toBeGreaterThan(20);
    expect(knownDq1).toEqual([]);
  }, Math.max(60_000, RUNS * 200));
});
