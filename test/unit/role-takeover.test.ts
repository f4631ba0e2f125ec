// The role state machine (redundancy/role-machine.ts) in the code that ships
// (the pair runtime, peer link and witness), driven through the simulated
// pair (test/helpers/pair-sim.ts) on a simulated clock and network. Every
// scenario names the promise it defends (DESIGN.md): S1 one active, S3 held
// until confirmed, L1 fast takeover, and the lease rules. The simulator
// checks S1, persist-before-announce, the held rule and our own lease
// promises after EVERY step and fails on a breach, so each scenario also
// asserts "never two actives" throughout.
// This file: start-up, takeovers (causes 1–3), a failing disk, one-way
// faults, links and election grants.
// Size: every takeover path's scenarios side by side, each beside its
// variants (operations and switchovers are in role-operations.test.ts).
import { describe, expect, it } from "vitest";
import { initialState, step } from "../../redundancy/role-machine.js";
import { PairSim, defaultParams, operator, type LinkName } from "../helpers/pair-sim.js";
import { INTERVAL, LEASE, STARTUP, TIMEOUT, steadyPair } from "../helpers/steady-pair.js";

describe("start-up", () => {
  it("S1: both start at once → the main becomes active, the secondary standby", async () => {
    const sim = new PairSim();
    await sim.run(1000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
    expect(sim.epoch("a")).toBe(1);
    expect(sim.epoch("b")).toBe(1);
    expect(sim.persisted("a")).toBe(1);
    expect(sim.persisted("b")).toBe(1); // learnt from a's heartbeat and persisted
    // a clean election: nobody's context was taken over
    expect(sim.transitions("a").at(-1)?.reason).toMatch(/elected/);
  });

  it("S1: both configured main → the lower node id wins", async () => {
    const sim = new PairSim({ params: { role: "main" } });
    await sim.run(1000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
  });

  it("S1: a clearly healthier secondary wins the election over the main", async () => {
    const sim = new PairSim({ start: [] });
    sim.start("a").start("b");
    sim.setLevel("a", 120); // below b's 255 by more than the margin (50)
    await sim.run(1000);
    expect(sim.state("b")).toBe("active");
    expect(sim.state("a")).toBe("standby");
  });

  it("S1: a cold start of both: the preferred main is active though its level, still in its start-up grace, is below the secondary's; settled and still low, it hands over (cause 4)", async () => {
    const sim = new PairSim({ start: [] });
    sim.start("a").start("b");
    sim.setLevel("a", 120, false); // its drivers have not had their first connect attempt yet
    await sim.run(1000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
    await sim.run(10_000); // unsettled: cause 4 does not count it either
    expect(sim.state("a")).toBe("active");
    sim.setLevel("a", 120, true); // settled: really less healthy than b
    await sim.until(() => sim.state("b") === "active", 6000, "b active after cause 4");
    expect(sim.state("a")).toBe("standby");
  });

  it("S1: one node alone with a witness → active once startupWaitMs has passed", async () => {
    const sim = new PairSim({ witness: true, start: ["a"] });
    await sim.run(STARTUP - 20);
    expect(sim.state("a")).toBe("starting");
    const took = await sim.until(() => sim.state("a") === "active", 200, "a active");
    expect(took).toBeLessThan(50);
    expect(sim.epoch("a")).toBe(1);
    expect(sim.witness?.record("line1")).toMatchObject({ holder: "a", epoch: 1 });
    await sim.run(3000); // keeps its lease through the witness alone
    expect(sim.canAct("a")).toBe(true);
  });

  it("S3: one node alone without a witness → standby awaiting an operator; confirm → active-held epoch+1; confirm again → active", async () => {
    const sim = new PairSim({ start: ["a"] });
    await sim.run(STARTUP + 100);
    expect(sim.state("a")).toBe("standby");
    expect(sim.node("a").s.awaitingOperator).toBe(true);
    expect(sim.events("a", "awaiting-operator")).toHaveLength(1);
    await sim.run(5000);
    expect(sim.state("a")).toBe("standby"); // never on its own

    const first = sim.op("a", "confirm", operator);
    expect(first.reply).toMatchObject({ ok: true, value: { state: "active-held", epoch: 1 } });
    expect(sim.persisted("a")).toBe(1);
    expect(sim.canAct("a")).toBe(true);
    expect(sim.effectsOf("a", "audit").at(-1)?.fx).toMatchObject({ action: "confirm", result: "ok", details: { manualFencing: true } });

    const second = sim.op("a", "confirm", operator);
    expect(second.reply).toMatchObject({ ok: true, value: { state: "active", epoch: 1 } });
    await sim.run(3000);
    expect(sim.state("a")).toBe("active");
  });

  it("S1: a node that starts next to a running active joins as standby", async () => {
    const sim = new PairSim({ witness: true, start: ["a"] });
    await sim.until(() => sim.state("a") === "active", 2000, "a active");
    sim.start("b");
    await sim.run(2000);
    expect(sim.state("b")).toBe("standby");
    expect(sim.state("a")).toBe("active");
    expect(sim.epoch("b")).toBe(sim.epoch("a"));
  });

  it("S1: a witness that just restarted grants nobody during its quiet period", async () => {
    const sim = new PairSim({ witness: true, start: ["a"], witnessUpForMs: 0 });
    await sim.run(STARTUP);
    expect(sim.state("a")).toBe("starting");
    await sim.until(() => sim.state("a") === "active", LEASE + 500, "a active after the quiet period");
    expect(sim.now).toBeGreaterThanOrEqual(LEASE);
  });
});

describe("takeover when the active's process dies (cause 2)", () => {
  it("L1: with a witness, the kernel's word on every path (connection closed, port unreachable on each link) is enough: no missed heartbeats are waited for", async () => {
    // kill at every phase of the heartbeat interval: the witness confirms once
    // it has not heard the active for one interval and a margin (120 ms here)
    const took: number[] = [];
    for (let phase = 0; phase < INTERVAL; phase += 7) {
      const sim = await steadyPair({ witness: true });
      await sim.run(phase);
      sim.kill("a");
      took.push(await sim.until(() => sim.state("b") === "active-held", 2000, "b active-held"));
      expect(sim.events("b", "takeover-started")[0]!.message).toMatch(/refused a datagram on every link/);
      expect(sim.witness?.record("line1")).toMatchObject({ holder: "b", epoch: 2 });
    }
    expect(Math.max(...took)).toBeLessThanOrEqual(INTERVAL + 20 + 2 * 10); // + the 10 ms tick, twice at most
    expect(Math.max(...took)).toBeLessThan(3 * INTERVAL); // the slow path's three missed heartbeats
  });

  it("L1: a large process's sockets close only once the kernel has freed its memory (here 250 ms after the kill): that late word still counts, at once", async () => {
    const took: number[] = [];
    for (let phase = 0; phase < INTERVAL; phase += 11) {
      const sim = await steadyPair({ witness: true });
      await sim.run(phase);
      const at = sim.now;
      sim.kill("a", 250);
      await sim.until(() => sim.state("b") === "active-held", 3000, "b active-held");
      took.push(sim.now - at);
      // the refusals on every link (fast), or, when the silence is already
      // three intervals long as the word comes, the lost connection (slow path)
      expect(sim.events("b", "takeover-started")[0]!.message).toMatch(/^the active a's process is gone/);
    }
    expect(Math.max(...took)).toBeLessThanOrEqual(250 + 2 * 10 + 20); // the word, two ticks, the witness's round trip
  });

  it("L1: the killed process's connection closes before its heartbeat ports do: the standby asks the ports again at once, not at its next heartbeat", async () => {
    // the kernel closes a process's files one by one: the probe sent as the
    // connection goes can land on a port that is still open and is never
    // refused; only asking again within the tick finds the port closed
    const took: number[] = [];
    for (let phase = 0; phase < INTERVAL; phase += 13) {
      const sim = await steadyPair({ witness: true });
      await sim.run(phase);
      const at = sim.now;
      sim.kill("a", 150, 5);
      await sim.until(() => sim.state("b") === "active-held", 3000, "b active-held");
      took.push(sim.now - at);
      expect(sim.events("b", "takeover-started")[0]!.message).toMatch(/refused a datagram on every link/);
    }
    // the ports close at 155 ms; then a tick, a round trip, the witness's round trip
    expect(Math.max(...took)).toBeLessThanOrEqual(155 + 2 * 10 + 20);
  });

  it("S1: a REJECT rule against the standby forges the same kernel signals, but the live active, still heard by the witness, is never displaced", async () => {
    const sim = await steadyPair({ witness: true });
    sim.rejectFrom("b"); // b's datagrams and connection to a are refused; a's heartbeats still reach b
    await sim.during(5000, () => {
      expect(sim.state("b")).toBe("standby");
      expect(sim.actors()).toEqual(["a"]);
    });
    // its heartbeats keep coming: the silence the kernel's word needs never comes
    expect(sim.events("b", "takeover-started")).toEqual([]);
  });

  for (const pauseMs of [150, 350, 450]) {
    it(`S1: behind the same rule the active stalls for ${pauseMs} ms (a loaded machine): its heartbeats after the refusals proved them forged, so the stall is not taken for a death and it is not displaced`, async () => {
      const sim = await steadyPair({ witness: true });
      const epoch = sim.epoch("a");
      sim.rejectFrom("b");
      await sim.run(3 * INTERVAL); // the rule is in place: a's heartbeats keep arriving after b's refused ones
      sim.pause("a", pauseMs);
      await sim.during(3000, () => {
        expect(sim.state("b")).toBe("standby");
        expect(sim.actors()).toEqual(["a"]);
      });
      expect(sim.events("b", "takeover-started")).toEqual([]);
      expect(sim.state("a")).toBe("active");
      expect(sim.epoch("a")).toBe(epoch);
      expect(sim.witness?.record("line1")).toMatchObject({ holder: "a", epoch });
    });
  }

  it("S1: without a witness, an active that stalls for 350 ms behind the rule is not taken for dead (the slow path's lost connection is the forged word too)", async () => {
    const sim = await steadyPair();
    sim.rejectFrom("b");
    await sim.run(3 * INTERVAL);
    sim.pause("a", 350);
    // (a gets no grant through the rule: it isolates when its lease runs out, as in the test below)
    await sim.during(600, () => expect(sim.actors()).not.toContain("b"));
    expect(sim.events("b", "takeover-started")).toEqual([]);
    expect(sim.events("b", "refusals-disproved")).toHaveLength(1);
  });

  it("L1: refusals from a peer that was still starting (its sockets not bound yet) are its kernel's true word, not a rule: a kill -9 soon after it became active is taken over on the fast path", async () => {
    const sim = new PairSim({ witness: true, start: ["b"] });
    await sim.run(300); // b's heartbeats to a come back refused: nothing of a runs yet
    sim.start("a");
    await sim.until(() => sim.state("a") === "active" && sim.state("b") === "standby" && sim.node("b").s.peer.state === "active", 3000, "a active, b following");
    await sim.run(INTERVAL);
    expect(sim.events("b", "refusals-disproved")).toEqual([]);
    sim.kill("a");
    await sim.until(() => sim.state("b") === "active-held", 2000, "b active-held");
    expect(sim.events("b", "takeover-started")[0]!.message).toMatch(/refused a datagram on every link/);
  });

  it("L1: once the rule is gone, the kernel's word counts again: a kill -9 is taken over on the fast path", async () => {
    const sim = await steadyPair({ witness: true });
    sim.rejectFrom("b");
    await sim.run(3 * INTERVAL);
    sim.unrejectFrom("b");
    await sim.run(LEASE + 2 * TIMEOUT); // the refusals proved false count again a lease and a timeout after they stop
    sim.kill("a");
    const took = await sim.until(() => sim.state("b") === "active-held", 2000, "b active-held");
    expect(sim.events("b", "takeover-started")[0]!.message).toMatch(/refused a datagram on every link/);
    expect(took).toBeLessThanOrEqual(INTERVAL + 20 + 2 * 10);
  });

  it("S1: without a witness, the same REJECT rule never displaces the active while its heartbeats arrive", async () => {
    const sim = await steadyPair();
    sim.rejectFrom("b");
    // a gets no grant from b any more: it isolates when its lease runs out; until then b waits
    await sim.during(LEASE, () => expect(sim.state("b")).toBe("standby"));
    await sim.until(() => sim.state("a") === "isolated", 2 * LEASE, "a isolated");
    expect(sim.events("b", "takeover")).toEqual([]);
    await sim.until(() => sim.node("b").s.awaitingOperator, LEASE, "b asks an operator");
  });

  for (const witness of [true, false]) {
    it(`L1/S3: kill the active → standby active-held in epoch+1 within (deadProcessMisses+1) intervals, ${witness ? "with" : "without"} a witness`, async () => {
      const sim = await steadyPair({ witness });
      const e = sim.epoch("a");
      sim.kill("a");
      const took = await sim.until(() => sim.state("b") === "active-held", 2000, "b active-held");
      expect(took).toBeLessThanOrEqual((3 + 1) * INTERVAL);
      expect(sim.epoch("b")).toBe(e + 1);
      expect(sim.persisted("b")).toBe(e + 1);
      expect(sim.canAct("b")).toBe(true);
      // S3: held until confirmed, however long it takes
      await sim.run(10_000);
      expect(sim.state("b")).toBe("active-held");
      expect(sim.canAct("b")).toBe(true);
      expect(sim.op("b", "confirm").reply).toMatchObject({ ok: true, value: { state: "active" } });
      if (witness) expect(sim.witness?.record("line1")).toMatchObject({ holder: "b", epoch: e + 1 });
    });
  }

  it("S1: a dead active with the witness unreachable: the standby keeps asking the witness and waits for an operator; confirmed, it claims the witness once it answers", async () => {
    const sim = await steadyPair({ witness: true });
    sim.stopWitness();
    await sim.run(200); // the active still has its lease from b
    sim.kill("a");
    await sim.until(() => sim.node("b").s.awaitingOperator, 3000, "b awaiting operator");
    expect(sim.state("b")).toBe("standby");
    expect(sim.events("b", "witness-unreachable").length).toBeGreaterThanOrEqual(1);
    // epoch 2 was offered to the (silent) witness, on disk before it left; the promotion claims it (the same claim)
    expect(sim.node("b").proposedOnDisk).toBe(2);
    sim.op("b", "confirm", operator); // manual fencing: the operator checked a is down
    expect(sim.state("b")).toBe("active-held");
    expect(sim.epoch("b")).toBe(2);
    sim.startWitness();
    await sim.run(3000);
    expect(sim.witness?.record("line1")).toMatchObject({ holder: "b", epoch: 2 });
    expect(sim.canAct("b")).toBe(true);
  });

  it("S1: a dead active with the witness answering again is taken over through it, without an operator", async () => {
    const sim = await steadyPair({ witness: true });
    sim.stopWitness();
    await sim.run(200);
    sim.kill("a");
    await sim.run(600);
    expect(sim.state("b")).toBe("standby");
    sim.startWitness();
    await sim.until(() => sim.state("b") === "active-held", 5000, "b active-held");
    expect(sim.witness?.record("line1")).toMatchObject({ holder: "b", epoch: 2 });
  });

  it("L1: the dead active's last renewal reaching the witness just after its last heartbeat reached the standby does not cost a whole lease", async () => {
    const sim = await steadyPair({ witness: true });
    // the heartbeats to b stop 30 ms before the process dies; its renewals reach the witness until the end
    sim.cutLinkFrom("lan", "a").cutLinkFrom("plant", "a");
    await sim.run(30);
    const t0 = sim.now;
    sim.kill("a");
    const took = await sim.until(() => sim.state("b") === "active-held", 2000, "b active-held");
    expect(took).toBeLessThan(LEASE / 2); // re-announced once the witness's silence was long enough
    expect(sim.events("b", "dead-process-refused")).toEqual([]);
    expect(sim.now - t0).toBeLessThan(LEASE);
  });

  it("S1: the witness refuses the announce while it still hears the active: a live process whose connection merely broke is not displaced", async () => {
    const sim = await steadyPair({ witness: true });
    // the peer connection is reset (b's kernel reports it) and both links are
    // gone, but a is alive and renews at the witness
    sim.partition();
    sim.resetTcp("b");
    await sim.run(5000);
    expect(sim.events("b", "dead-process-refused").length).toBeGreaterThan(0);
    expect(sim.state("a")).toBe("active");
    expect(sim.canAct("a")).toBe(true);
    expect(sim.state("b")).toBe("standby");
    expect(sim.canAct("b")).toBe(false);
    expect(sim.witness?.record("line1")).toMatchObject({ holder: "a", epoch: 1 });
  });

  it("S1: a restarted old active with a stale epoch rejoins as standby and persists the new epoch", async () => {
    const sim = await steadyPair({ witness: true });
    sim.kill("a");
    await sim.until(() => sim.state("b") === "active-held", 1000, "b active-held");
    sim.op("b", "confirm");
    await sim.run(500);
    sim.restart("a");
    expect(sim.epoch("a")).toBe(1);
    await sim.run(2000);
    expect(sim.state("a")).toBe("standby");
    expect(sim.epoch("a")).toBe(2);
    expect(sim.persisted("a")).toBe(2);
    expect(sim.state("b")).toBe("active");
    // b now renews through a again, not only through the witness
    expect(sim.node("b").s.peer.fenced).toBe(false);
  });

  it("S1: without a witness, a restarted old active that cannot see the new active waits for an operator", async () => {
    const sim = await steadyPair();
    sim.kill("a");
    await sim.until(() => sim.state("b") === "active-held", 1000, "b active-held");
    sim.partition();
    sim.restart("a");
    await sim.run(STARTUP + 3000);
    expect(sim.state("a")).toBe("standby");
    expect(sim.node("a").s.awaitingOperator).toBe(true);
    expect(sim.canAct("b")).toBe(true); // the lone active keeps the plant running
    sim.heal();
    await sim.run(1000);
    expect(sim.state("a")).toBe("standby");
    expect(sim.epoch("a")).toBe(2);
  });
});

describe("takeover when the active is not visible (causes 1 and 3)", () => {
  it("L1/S1: the active's host dies (no reset, silence) → standby active-held through the witness within lease + 0.3 s", async () => {
    const sim = await steadyPair({ witness: true });
    sim.partition(); // the host is gone: nothing more from it, no kernel reset either
    sim.isolateFromWitness("a");
    const took = await sim.until(() => sim.state("b") === "active-held", 3000, "b active-held");
    expect(took).toBeLessThanOrEqual(LEASE + 300);
    expect(sim.state("a")).toBe("isolated");
    expect(sim.epoch("b")).toBe(2);
  });

  it("S1: SIGSTOP the active longer than its lease → the standby takes over only after the lease ran out at the witness; on resume the old active never acts", async () => {
    const sim = await steadyPair({ witness: true });
    const pausedAt = sim.now;
    sim.pause("a", 3000);
    let tookAt = -1;
    await sim.during(3000, () => {
      if (tookAt < 0 && sim.state("b") === "active-held") tookAt = sim.now;
    });
    expect(tookAt).toBeGreaterThan(0);
    // a's last renewal at the witness was before the pause; its lease there ran out first
    expect(tookAt).toBeGreaterThanOrEqual(pausedAt + LEASE - INTERVAL);
    // resume: a wakes with a lease long gone (S1 is checked at every step by the simulator)
    await sim.during(2000, () => expect(sim.canAct("a")).toBe(false));
    expect(["standby", "isolated"]).toContain(sim.state("a"));
    expect(sim.state("a")).toBe("standby");
    expect(sim.epoch("a")).toBe(2);
    expect(sim.state("b")).toBe("active-held");
  });

  it("S1: a pause shorter than the lease is ridden out: no takeover", async () => {
    const sim = await steadyPair({ witness: true });
    sim.pause("a", 600);
    await sim.run(3000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
    expect(sim.epoch("b")).toBe(1);
  });

  it("S1: a clock jump of 10 s (the standby paused) changes nothing on either side", async () => {
    const sim = await steadyPair({ witness: true });
    sim.pause("b", 10_000);
    await sim.run(10_000);
    expect(sim.state("a")).toBe("active"); // it renews through the witness
    await sim.run(2000);
    expect(sim.state("b")).toBe("standby");
    expect(sim.state("a")).toBe("active");
    expect(sim.epoch("b")).toBe(1);
  });

  it("S1: a clock jump of 10 s on the active without a witness → it wakes isolated-then-standby, the standby awaits an operator, never two actives", async () => {
    const sim = await steadyPair();
    sim.pause("a", 10_000);
    await sim.run(10_000);
    expect(sim.state("b")).toBe("standby");
    expect(sim.node("b").s.awaitingOperator).toBe(true);
    await sim.during(2000, () => expect(sim.actors().length).toBeLessThanOrEqual(1));
    // a wakes with an expired lease; the pair elects again (a is the main, its own context)
    expect(sim.state("a")).toBe("active");
    expect(sim.transitions("a").some((t) => t.to === "isolated")).toBe(true);
  });

  it("S1: partition with no witness → the active isolates after its lease, the standby awaits an operator, never two actives", async () => {
    const sim = await steadyPair();
    const cutAt = sim.now;
    sim.partition();
    const isolatedAfter = await sim.until(() => sim.state("a") === "isolated", 2000, "a isolated");
    expect(cutAt + isolatedAfter).toBeLessThanOrEqual(cutAt + LEASE);
    // b asks for an operator only once the lease it granted a has run out
    expect(sim.node("b").s.awaitingOperator).toBe(false);
    await sim.until(() => sim.node("b").s.awaitingOperator, LEASE, "b awaiting operator");
    await sim.run(5000);
    expect(sim.state("a")).toBe("isolated");
    expect(sim.state("b")).toBe("standby");
    expect(sim.actors()).toEqual([]);
    sim.heal();
    await sim.run(1000);
    expect(sim.actors()).toEqual(["a"]);
  });

  it("S1: partition with the witness reachable by the active only → the active keeps the role, the standby does not take over", async () => {
    const sim = await steadyPair({ witness: true });
    sim.partition();
    sim.isolateFromWitness("b");
    await sim.run(5000);
    expect(sim.state("a")).toBe("active");
    expect(sim.canAct("a")).toBe(true);
    expect(sim.state("b")).toBe("standby");
    expect(sim.epoch("b")).toBe(1);
  });

  it("S1: partition with the witness reachable by both → the active keeps the role through the witness; the standby is refused 'held'", async () => {
    const sim = await steadyPair({ witness: true });
    sim.partition();
    await sim.run(5000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
    expect(sim.node("b").s.takeover).not.toBeNull();
    sim.heal();
    await sim.run(1000);
    expect(sim.node("b").s.takeover).toBeNull();
    expect(sim.events("b", "takeover-cancelled").length).toBeGreaterThan(0);
  });

  it("S1: partition with the witness reachable by the standby only → the active isolates, then the standby takes over", async () => {
    const sim = await steadyPair({ witness: true });
    sim.partition();
    sim.isolateFromWitness("a");
    await sim.run(3000);
    expect(sim.state("a")).toBe("isolated");
    expect(sim.state("b")).toBe("active-held");
    sim.heal();
    sim.isolateFromWitness("a", false);
    await sim.run(1000);
    expect(sim.state("a")).toBe("standby");
    expect(sim.epoch("a")).toBe(2);
  });

  it("S1: the witness unreachable for both while the pair sees itself → nothing changes (the peer renews)", async () => {
    const sim = await steadyPair({ witness: true });
    sim.stopWitness();
    await sim.run(5000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
    expect(sim.node("a").s.witness.reachable).toBe(false);
    sim.startWitness();
    await sim.run(3000);
    expect(sim.witness?.record("line1")).toMatchObject({ holder: "a", epoch: 1 });
  });
});

describe("a disk that fails when the epoch must be persisted (S1)", () => {
  it("S1: a standby whose disk fails at takeover stops acting at once, from its last persisted state; nothing carrying the new epoch leaves it", async () => {
    const sim = await steadyPair({ witness: true });
    sim.failDisk("b");
    sim.kill("a");
    await sim.until(() => sim.node("b").faults.length > 0, 2000, "b faulted");
    // the simulator checks every datagram, frame and witness request b sends against its disk (E)
    expect(sim.node("b").faults[0]).toMatch(/ENOSPC/);
    expect(sim.state("b")).toBe("isolated");
    expect(sim.epoch("b")).toBe(1);
    expect(sim.persisted("b")).toBe(1);
    expect(sim.canAct("b")).toBe(false);
    await sim.run(3000);
    expect(sim.actors()).toEqual([]); // it takes no role again, whatever it hears
    expect(sim.state("b")).toBe("isolated");
    expect(sim.witness?.record("line1")?.epoch).toBe(1); // the witness never heard of epoch 2 from it
  });

  it("S1: an active whose disk fails when it learns a higher epoch stops acting at once", async () => {
    const sim = await steadyPair({ params: { plcWatchdog: true } });
    sim.failDisk("a");
    sim.setPlc("a", 9, false); // the PLC fence holds a higher epoch: a must persist 9 before it steps down
    expect(sim.canAct("a")).toBe(false);
    expect(sim.state("a")).toBe("isolated");
    expect(sim.persisted("a")).toBe(1);
  });
});

describe("one-way faults: the active stops hearing the standby, the standby still hears it", () => {
  /** a stops receiving from b on every path (a failing NIC, a one-way firewall rule) */
  const deafen = (sim: PairSim) => sim.cutLinkFrom("lan", "b").cutLinkFrom("plant", "b").cutTcp();

  it("S1, L1: with a witness a cannot reach either, the active isolates and the standby, hearing it say so, takes over held through the witness", async () => {
    const sim = await steadyPair({ witness: true });
    deafen(sim);
    sim.isolateFromWitness("a");
    await sim.until(() => sim.state("a") === "isolated", LEASE + 500, "a isolated");
    const t = await sim.until(() => sim.state("b") === "active-held", 3 * LEASE, "b takes over");
    expect(t).toBeLessThanOrEqual(2 * LEASE);
    expect(sim.node("b").s.reason).toMatch(/said it was isolated/);
    expect(sim.epoch("b")).toBe(2);
    expect(sim.actors()).toEqual(["b"]);
    // the fault lasts: nothing changes, nobody else acts
    await sim.during(5000, () => expect(sim.actors()).toEqual(["b"]));
    expect(sim.state("a")).toBe("isolated");
  });

  it("S1: without a witness, the standby asks an operator at once (never silence), and confirm takes over held", async () => {
    const sim = await steadyPair();
    deafen(sim);
    await sim.until(() => sim.state("a") === "isolated", LEASE + 500, "a isolated");
    await sim.until(() => sim.node("b").s.awaitingOperator, LEASE + 500, "b asks for an operator");
    expect(sim.node("b").s.reason).toMatch(/says it is isolated.*may confirm to take over/);
    expect(sim.events("b", "awaiting-operator")).toHaveLength(1); // said once, not every heartbeat
    await sim.run(3000);
    expect(sim.events("b", "awaiting-operator")).toHaveLength(1);
    expect(sim.actors()).toEqual([]);
    const c = sim.op("b", "confirm", operator);
    expect(c.reply?.ok).toBe(true);
    expect(sim.state("b")).toBe("active-held");
    await sim.during(3000, () => expect(sim.actors()).toEqual(["b"]));
  });

  it("S1: without a witness, a stopped PLC watchdog counter decides for the operator", async () => {
    const sim = await steadyPair({ params: { plcWatchdog: true } });
    deafen(sim);
    await sim.until(() => sim.state("a") === "isolated", LEASE + 500, "a isolated");
    sim.setPlc("b", 1, true);
    await sim.until(() => sim.state("b") === "active-held", 2 * LEASE, "b takes over");
    expect(sim.actors()).toEqual(["b"]);
  });

  it("a peer that is isolated only for a moment (it hears us again) goes back to standby and the pair elects as usual", async () => {
    const sim = await steadyPair({ witness: true });
    sim.partition();
    sim.isolateFromWitness("a");
    await sim.until(() => sim.state("a") === "isolated", LEASE + 500, "a isolated");
    sim.heal();
    sim.isolateFromWitness("a", false);
    await sim.until(() => sim.actors().length === 1, 5000, "one active again");
    await sim.during(3000, () => expect(sim.actors().length).toBeLessThanOrEqual(1));
  });
});

describe("links", () => {
  for (const l of ["lan", "plant"] as LinkName[]) {
    it(`S1: one link of two down (${l}) → no failover, the link shows down`, async () => {
      const sim = await steadyPair({ witness: true });
      sim.cutLink(l);
      await sim.run(5000);
      expect(sim.state("a")).toBe("active");
      expect(sim.state("b")).toBe("standby");
      const last = sim.node("b").s.peer.links;
      expect(sim.now - (last[l] ?? 0)).toBeGreaterThanOrEqual(TIMEOUT);
      const other = l === "lan" ? "plant" : "lan";
      expect(sim.now - (last[other] ?? 0)).toBeLessThan(TIMEOUT);
    });
  }

  it("S1: heartbeats arriving late (one link 250 ms behind) and reordered change nothing", async () => {
    const sim = await steadyPair({ witness: true });
    sim.linkDelay.lan = 250;
    await sim.run(5000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
    sim.cutLink("plant"); // only the slow link left: still within the timeout
    await sim.run(3000);
    expect(sim.state("a")).toBe("active");
    expect(sim.canAct("a")).toBe(true);
  });

  it("S1: a stale heartbeat from the old epoch replayed after a takeover is refused (lease-refuse) and does not disturb the new active", async () => {
    const sim = await steadyPair({ witness: true });
    sim.kill("a");
    await sim.until(() => sim.state("b") === "active-held", 1000, "b active-held");
    sim.fromPeer("b", "hb", { state: "active", epoch: 1, level: 255, role: "main", leaseReq: true, candidate: false, leaseMs: LEASE, settled: true });
    expect(sim.effectsOf("b", "send-lease-refuse").length).toBeGreaterThan(0);
    expect(sim.state("b")).toBe("active-held");
    expect(sim.epoch("b")).toBe(2);
  });

  it("S1: the tcp connection cut alone (links up) changes nothing", async () => {
    const sim = await steadyPair({ witness: true });
    sim.cutTcp();
    await sim.run(5000);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
  });
});

describe("election grants", () => {
  it("S1: grants go only to the agreed election winner", async () => {
    const sim = new PairSim({ start: [] });
    sim.start("a").start("b");
    sim.setLevel("a", 100);
    await sim.run(30); // both standby, b is the winner in both views
    sim.fromPeer("b", "hb", { state: "standby", epoch: 0, level: 100, role: "main", leaseReq: true, candidate: true, leaseMs: LEASE, settled: true });
    expect(sim.effectsOf("b", "send-grant")).toHaveLength(0);
    await sim.run(1000);
    expect(sim.state("b")).toBe("active");
    expect(sim.effectsOf("b", "send-grant")).toHaveLength(0); // b only ever refuses as the active
  });

  it("S1: a node that granted a lease never becomes active before the grant expired", async () => {
    const sim = new PairSim({ start: [] });
    sim.start("a").start("b");
    await sim.run(400); // a elected with b's grant
    expect(sim.state("a")).toBe("active");
    const lastGrant = sim.effectsOf("b", "send-grant").at(-1)!.t;
    sim.partition();
    sim.kill("a"); // no reset reaches b: b only sees silence
    await sim.during(LEASE, () => {
      if (sim.now < lastGrant + LEASE) expect(sim.canAct("b")).toBe(false);
    });
    // the simulator checks the same thing after every step (G)
  });

  it("S1: a candidate that granted the peer first waits out that grant before it can win", async () => {
    const p = defaultParams("b");
    let s = initialState(p, 0, 0);
    const hb = { state: "standby" as const, epoch: 0, level: 255, role: "main" as const, leaseReq: false, candidate: false, leaseMs: LEASE, settled: true };
    s = step(p, s, { type: "heartbeat", link: "lan", seq: 1, inc: 1, hb }, 0).state;
    s = step(p, s, { type: "tick" }, 300).state;
    // a asks as a candidate: b (the loser) grants it
    const g = step(p, s, { type: "heartbeat", link: "lan", seq: 2, inc: 1, hb: { ...hb, leaseReq: true, candidate: true } }, 301);
    expect(g.effects.some((e) => e.type === "send-grant")).toBe(true);
    s = g.state;
    // now a looks unhealthy: b becomes the winner and a candidate itself, a peer grant arrives
    s = step(p, s, { type: "heartbeat", link: "lan", seq: 3, inc: 1, hb: { ...hb, level: 10 } }, 400).state;
    s = step(p, s, { type: "tick" }, 700).state;
    expect(s.candidateSince).not.toBeNull();
    const early = step(p, s, { type: "grant", sentAt: 700, leaseMs: LEASE, epoch: 0 }, 702);
    expect(early.state.state).toBe("standby"); // 702 < 301 + 1000
    const late = step(p, { ...s, peer: { ...s.peer, heardAt: 1302, links: { lan: 1302, plant: null } } }, { type: "grant", sentAt: 1302, leaseMs: LEASE, epoch: 0 }, 1303);
    expect(late.state.state).toBe("active");
  });
});
