// The independent checker is tested before any scenario relies on it: clean
// logs of a takeover pass; each planted breach — two nodes writing at once,
// an old epoch after a newer one, one epoch from two nodes, an `active`
// service on both nodes, an acknowledged write missing from a survivor, a
// process write during a held takeover — fails it, naming what and when.
import { describe, expect, it } from "vitest";
import { check, type CheckerInput, type PlantWrite } from "./checker.js";

const w = (at: number, node: string, epoch: number, source: PlantWrite["source"] = "process"): PlantWrite => ({ at, node, epoch, source });

/** a takeover as it should be: a writes in epoch 1, dies; b takes over held at 1000, confirmed at 1500, writes in epoch 2 */
function clean(): CheckerInput {
  return {
    plant: [w(100, "a", 1), w(200, "a", 1), w(900, "a", 1), w(1200, "b", 2, "operator"), w(1600, "b", 2), w(1700, "b", 2)],
    services: [
      { at: 100, node: "a", epoch: 1 },
      { at: 600, node: "a", epoch: 1 },
      { at: 950, node: "a", epoch: 1 },
      { at: 1100, node: "b", epoch: 2 },
      { at: 1800, node: "b", epoch: 2 },
    ],
    acked: [
      { id: "1-10", epoch: 1, seq: 10 },
      { id: "2-11", epoch: 2, seq: 11 },
    ],
    survivors: { b: [{ epoch: 1, seq: 10 }, { epoch: 2, seq: 11 }, { epoch: 2, seq: 12 }] },
    holds: [{ node: "b", epoch: 2, from: 1000, confirmedAt: 1500 }],
  };
}

describe("the independent checker", () => {
  it("passes a takeover as it should be", () => {
    const r = check(clean());
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.counts).toEqual({ plantWrites: 6, epochs: 2, serviceRuns: 2, acked: 2, holds: 1 });
  });

  it("S1: two nodes writing to the plant in overlapping spans fail it", () => {
    const i = clean();
    i.plant.push(w(1650, "a", 1)); // the old active woke up and wrote once more
    const r = check(i);
    expect(r.ok).toBe(false);
    expect(r.violations.map((x) => x.promise)).toEqual(["S1", "S1"]);
    expect(r.violations[0]!.text).toBe("a write from a with epoch 1 reached the plant at 1650, after b had written with epoch 2");
    expect(r.violations[1]!.text).toMatch(/^the plant writes of a \(epoch 1, 100–1650\) and of b \(epoch 2, 1200–1700\) overlap$/);
  });

  it("S1: one epoch written from two nodes fails it", () => {
    const i = clean();
    i.plant.push(w(1750, "a", 2));
    expect(check(i).violations.map((x) => x.text)).toContain("epoch 2 wrote to the plant from two nodes: b and a (at 1750)");
  });

  it("S1: a service placed active running on both nodes at once fails it", () => {
    const i = clean();
    i.services!.push({ at: 1150, node: "a", epoch: 1 }); // a's run goes on past b's start
    const r = check(i);
    expect(r.violations).toEqual([{ promise: "S1", text: "the active service's runs of a (epoch 1, 100–1150) and of b (epoch 2, 1100–1800) overlap" }]);
  });

  it("S2: an acknowledged write missing from a surviving database fails it", () => {
    const i = clean();
    i.survivors!.b = i.survivors!.b!.filter((r) => r.seq !== 11);
    expect(check(i).violations).toEqual([{ promise: "S2", text: "1 acknowledged write(s) missing from b's database: 2-11" }]);
  });

  it("S3: a process write while the takeover is held fails it; an operator's does not", () => {
    const i = clean();
    i.plant.push(w(1300, "b", 2, "process"));
    expect(check(i).violations).toEqual([{ promise: "S3", text: "1 process write(s) from b (epoch 2) reached the plant while its takeover was held (1000–1500), the first at 1300" }]);
    // a hold never confirmed: every process write of that epoch after it counts
    const j = clean();
    j.holds = [{ node: "b", epoch: 2, from: 1000, confirmedAt: null }];
    expect(check(j).violations.map((x) => x.promise)).toEqual(["S3"]);
  });
});
