// The role machine while the two nodes run different pair-wide
// configurations (runtime/config/config-watch.ts hands it configMismatch):
// automatic failback waits, an operator's switchover is refused unless
// accepted, and failback resumes once they are alike. On the simulated pair
// (test/helpers/pair-sim.ts), which checks S1 after every step.
import { describe, expect, it } from "vitest";
import { operator } from "../helpers/pair-sim.js";
import { steadyPair } from "../helpers/steady-pair.js";

describe("nodes that run different configurations", () => {
  it("nodes that run different configurations: no automatic failback, and an operator's switchover only when accepted", async () => {
    const sim = await steadyPair({ witness: true, params: { failback: "automatic", failbackHealthyForMs: 2000 } });
    const h = sim.op("a", "switchover");
    await sim.until(() => h.reply !== undefined, 1000, "switchover");
    expect(sim.state("b")).toBe("active");
    const why = "a runs configuration 1111111111111111, b runs 2222222222222222 (services differ)";
    for (const id of ["a", "b"] as const) sim.node(id).runtime!.setConfigMismatch(why);
    await sim.run(10_000);
    expect(sim.state("b")).toBe("active"); // no failback while they differ
    const refused = sim.op("b", "switchover");
    expect(refused.reply).toMatchObject({ ok: false, code: "TANDEM_ERR_SWITCHOVER", args: [expect.stringContaining("the nodes run different configurations: a runs configuration 1111111111111111")] });
    const accepted = sim.op("b", "switchover", operator, { force: true });
    await sim.until(() => accepted.reply !== undefined, 1000, "accepted switchover");
    expect(accepted.reply).toMatchObject({ ok: true, value: { from: "b", to: "a" } });
  });

  it("once both run the same configuration again, automatic failback resumes", async () => {
    const sim = await steadyPair({ witness: true, params: { failback: "automatic", failbackHealthyForMs: 2000 } });
    for (const id of ["a", "b"] as const) sim.node(id).runtime!.setConfigMismatch("services differ");
    const h = sim.op("a", "switchover", operator, { force: true });
    await sim.until(() => h.reply !== undefined, 1000, "switchover");
    expect(sim.state("b")).toBe("active");
    await sim.run(5000);
    expect(sim.state("b")).toBe("active");
    for (const id of ["a", "b"] as const) sim.node(id).runtime!.setConfigMismatch(null);
    await sim.until(() => sim.state("a") === "active", 5000, "failback");
  });

});
