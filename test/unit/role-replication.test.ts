// The role machine and replication (S2 for a planned switchover): the old
// active offers the role only once the standby holds every write it
// acknowledged; a standby that never catches up makes the switchover fail,
// named, with the old active still acting. Replication is simulated here
// (setDrained); the real one is in test/replication and the integration tests.
import { describe, expect, it } from "vitest";
import { operator } from "../helpers/pair-sim.js";
import { steadyPair } from "../helpers/steady-pair.js";

describe("a switchover waits for the standby to catch up (S2)", () => {
  it("stays active while the standby lags, and hands over as soon as it caught up", async () => {
    const sim = await steadyPair({ witness: true });
    const a = sim.node("a").runtime!;
    a.setDrained(false);
    const h = sim.op("a", "switchover", operator, { to: "b" });
    await sim.run(300);
    expect(sim.state("a")).toBe("active");
    expect(sim.node("a").s.switchoverOut?.phase).toBe("quiescing");
    expect(sim.state("b")).toBe("standby");
    a.setDrained(true);
    await sim.until(() => h.reply !== undefined, 1000, "switchover reply");
    expect(h.reply).toMatchObject({ ok: true, value: { from: "a", to: "b" } });
    expect(sim.state("b")).toBe("active");
  });

  it("fails, saying why, when the standby does not catch up in time", async () => {
    const sim = await steadyPair({ witness: true });
    sim.node("a").runtime!.setDrained(false);
    const h = sim.op("a", "switchover", operator, { to: "b" });
    await sim.until(() => h.reply !== undefined, 10_000, "switchover reply");
    expect(h.reply).toMatchObject({ ok: false, code: "TANDEM_ERR_SWITCHOVER_TIMEOUT" });
    expect(String((h.reply as { args: unknown[] }).args.at(-1))).toMatch(/the standby did not catch up with replication/);
    expect(sim.state("a")).toBe("active");
    expect(sim.state("b")).toBe("standby");
  });
});
