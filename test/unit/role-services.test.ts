// The role machine and a node's services placed `active` (S1 for services):
// a planned switchover waits until they are gone before it hands over, and a
// node that must give up the role says isolated — not standby — until its
// supervisor confirms they are gone. The supervisor is simulated here (it is
// the pair runtime's `stop-services` event and setServicesUp); the real one
// runs real processes in test/services and test/integration/services-pair.
import { describe, expect, it } from "vitest";
import { operator } from "../helpers/pair-sim.js";
import { steadyPair } from "../helpers/steady-pair.js";

describe("services placed active and the role machine (S1 for services)", () => {
  it("a switchover waits, still active, until the old active's services are gone, then hands over", async () => {
    const sim = await steadyPair({ witness: true });
    const a = sim.node("a").runtime!;
    a.setServicesUp(true);
    const asked: string[] = [];
    a.on("stop-services", (why) => asked.push(why));
    const h = sim.op("a", "switchover", operator, { to: "b" });
    await sim.run(300);
    expect(asked).toEqual(["switchover to b"]);
    // quiescing: a is still the only active and b has not started
    expect(sim.state("a")).toBe("active");
    expect(sim.node("a").s.switchoverOut?.phase).toBe("quiescing");
    expect(sim.state("b")).toBe("standby");
    expect(h.reply).toBeUndefined();
    a.setServicesUp(false);
    await sim.until(() => h.reply !== undefined, 1000, "switchover reply");
    expect(h.reply).toMatchObject({ ok: true, value: { from: "a", to: "b" } });
    expect(sim.state("b")).toBe("active");
    expect(sim.state("a")).toBe("standby");
  });

  it("a switchover whose services do not stop in time fails and leaves the old active acting", async () => {
    const sim = await steadyPair({ witness: true });
    sim.node("a").runtime!.setServicesUp(true);
    const h = sim.op("a", "switchover", operator, { to: "b" });
    await sim.until(() => h.reply !== undefined, 10_000, "switchover reply");
    expect(h.reply).toMatchObject({ ok: false, code: "TANDEM_ERR_SWITCHOVER_TIMEOUT" });
    expect(String((h.reply as { args: unknown[] }).args.at(-1))).toMatch(/services placed active did not stop/);
    expect(sim.state("a")).toBe("active");
    expect(sim.node("a").s.switchoverOut).toBeNull();
    expect(sim.state("b")).toBe("standby");
  });

  it("a node that loses its lease says isolated until its services are gone, and only then standby", async () => {
    const sim = await steadyPair({ witness: true });
    const a = sim.node("a").runtime!;
    a.setServicesUp(true);
    sim.partition(); // a keeps the witness: still active
    await sim.run(2000);
    expect(sim.state("a")).toBe("active");
    sim.heal();
    // the lease ends unplanned: cut a from everything
    sim.partition();
    sim.node("a").witnessCut = true;
    await sim.until(() => sim.state("a") === "isolated", 5000, "a isolated");
    sim.node("a").witnessCut = false;
    sim.heal();
    // b took over meanwhile or a sees b again: a would say standby, but its services are up
    await sim.run(3000);
    expect(sim.state("a")).toBe("isolated");
    expect(sim.node("a").s.reason).toMatch(/waiting for its services placed active to stop before it says standby/);
    a.setServicesUp(false);
    await sim.run(200);
    expect(sim.state("a")).toBe("standby");
  });
});
