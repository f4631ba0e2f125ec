// Placement of a `balanced` service's instances over the pair's healthy nodes:
// each scheme with figures that make the answer obvious, failover to the
// survivor at once, the return of a node one instance at a time, and
// properties over arbitrary pools, assignments and schemes (fast-check).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeFigures, place, SCHEMES, type NodeFigures, type Placement, type PlacementInput } from "../../runtime/services/placement.js";

const GB = 1e9;

function node(nodeId: string, over: Partial<NodeFigures> = {}): NodeFigures {
  return { nodeId, capacity: 1, freeMemBytes: 4 * GB, cpuPercent: 20, eventsPerSec: 100, netBytesPerSec: 1e6, instances: 0, ...over };
}

function input(over: Partial<PlacementInput> = {}): PlacementInput {
  return {
    service: "historian",
    instances: 1,
    scheme: "fewest-instances",
    pool: [node("a"), node("b")],
    current: [null],
    moving: 0,
    perInstance: { memBytes: 0.5 * GB, cpuPercent: 5, eventsPerSec: 10, netBytesPerSec: 1e5 },
    seed: "pair1:historian",
    rotation: 0,
    ...over,
  };
}

/** The figures a node would report with `own` of this service's instances on top of `others`. */
function counted(p: PlacementInput, assignment: (string | null)[], others: Record<string, number>): NodeFigures[] {
  return p.pool.map((f) => ({ ...f, instances: (others[f.nodeId] ?? 0) + assignment.filter((id) => id === f.nodeId).length }));
}

describe("placement: each scheme picks the node its figures favour", () => {
  it("fewest-instances: the node running fewer", () => {
    const r = place(input({ pool: [node("a", { instances: 3 }), node("b", { instances: 1 })] }));
    expect(r.assignment).toEqual(["b"]);
    expect(r.why).toEqual(["fewest-instances: a runs 3, b runs 1"]);
  });

  it("instances-per-capacity: the bigger node, though it runs more", () => {
    const r = place(input({ scheme: "instances-per-capacity", pool: [node("a", { instances: 2, capacity: 4 }), node("b", { instances: 1, capacity: 1 })] }));
    expect(r.assignment).toEqual(["a"]);
    expect(r.why[0]).toBe("instances-per-capacity: a runs 2 for capacity 4, b runs 1 for capacity 1");
  });

  it("most-free-memory: the node with more memory free", () => {
    const r = place(input({ scheme: "most-free-memory", pool: [node("a", { freeMemBytes: 3.1 * GB }), node("b", { freeMemBytes: 2.4 * GB })] }));
    expect(r.assignment).toEqual(["a"]);
    expect(r.why[0]).toBe("most-free-memory: a 3.1 GB free, b 2.4 GB free");
  });

  it("lowest-cpu, fewest-events, lowest-bandwidth: the lower figure", () => {
    const lowCpu = place(input({ scheme: "lowest-cpu", pool: [node("a", { cpuPercent: 80 }), node("b", { cpuPercent: 10 })] }));
    expect(lowCpu.assignment).toEqual(["b"]);
    expect(lowCpu.why[0]).toBe("lowest-cpu: a 80% CPU, b 10% CPU");
    const fewEvents = place(input({ scheme: "fewest-events", pool: [node("a", { eventsPerSec: 100 }), node("b", { eventsPerSec: 5 })] }));
    expect(fewEvents.assignment).toEqual(["b"]);
    expect(fewEvents.why[0]).toBe("fewest-events: a 100 events/s, b 5 events/s");
    const lowNet = place(input({ scheme: "lowest-bandwidth", pool: [node("a", { netBytesPerSec: 1.2e6 }), node("b", { netBytesPerSec: 5e6 })] }));
    expect(lowNet.assignment).toEqual(["a"]);
    expect(lowNet.why[0]).toBe("lowest-bandwidth: a 1.2 MB/s, b 5 MB/s");
  });

  it("round-robin: instance i on the pool's (i + rotation)-th node by id", () => {
    const pool = [node("b"), node("a")];
    expect(place(input({ scheme: "round-robin", instances: 3, current: [], pool })).assignment).toEqual(["a", "b", "a"]);
    expect(place(input({ scheme: "round-robin", instances: 3, current: [], pool, rotation: 1 })).assignment).toEqual(["b", "a", "b"]);
  });

  it("random: a seeded draw, the same on both nodes, spread over the pool", () => {
    const p = input({ scheme: "random", instances: 200, current: [] });
    const r = place(p);
    expect(place(structuredClone(p))).toEqual(r);
    const onA = r.assignment.filter((id) => id === "a").length;
    expect(onA).toBeGreaterThan(60);
    expect(onA).toBeLessThan(140);
    expect(place({ ...p, seed: "pair1:other" }).assignment).not.toEqual(r.assignment);
  });

  it("equal figures: the lower node id", () => {
    for (const scheme of SCHEMES.filter((s) => s !== "random" && s !== "round-robin")) {
      expect(place(input({ scheme, pool: [node("b"), node("a")] })).assignment, scheme).toEqual(["a"]);
    }
  });

  it("greedy: each instance placed counts for the next", () => {
    const r = place(input({ instances: 4, current: [], pool: [node("a", { instances: 2 }), node("b")] }));
    expect(r.assignment).toEqual(["b", "b", "a", "b"]);
    expect(r.why[2]).toBe("fewest-instances: a runs 2, b runs 2");
    const mem = place(input({ scheme: "most-free-memory", instances: 3, current: [], pool: [node("a", { freeMemBytes: 3 * GB }), node("b", { freeMemBytes: 2 * GB })], perInstance: { memBytes: 0.6 * GB, cpuPercent: 0, eventsPerSec: 0, netBytesPerSec: 0 } }));
    expect(mem.assignment).toEqual(["a", "a", "b"]);
  });
});

describe("placement: pools of one and none", () => {
  it("no healthy node: nothing runs anywhere", () => {
    const r = place(input({ instances: 2, pool: [], current: ["a", "b"] }));
    expect(r).toEqual({ assignment: [null, null], why: ["no healthy node", "no healthy node"], moved: [], ideal: [null, null] });
  });

  it("one healthy node takes all", () => {
    const r = place(input({ instances: 2, current: [], pool: [node("b")] }));
    expect(r.assignment).toEqual(["b", "b"]);
    expect(r.why).toEqual(["the only healthy node", "the only healthy node"]);
  });
});

describe("placement: a node fails and returns", () => {
  const others = { a: 1, b: 1 };

  it("a failed node's instances start on the survivor at once, all of them", () => {
    const r = place(input({ instances: 4, current: ["a", "b", "a", "b"], pool: [node("b", { instances: 3 })], moving: 1 }));
    expect(r.assignment).toEqual(["b", "b", "b", "b"]);
    expect(r.why).toEqual(["the only healthy node", "runs on b, the only healthy node", "the only healthy node", "runs on b, the only healthy node"]);
    expect(r.moved).toEqual([]);
  });

  it("the returned node gets its instances back one per call, and only when no move is in flight", () => {
    const p = input({ instances: 4, current: ["b", "b", "b", "b"] });
    p.pool = counted(p, p.current, others);
    const waiting = place({ ...p, moving: 1 });
    expect(waiting.assignment).toEqual(p.current);
    expect(waiting.moved).toEqual([]);
    expect(waiting.ideal).toEqual(["a", "b", "a", "b"]);
    expect(waiting.why[3]).toBe("runs on b; fewest-instances now: a runs 1, b runs 5; moves to a once the 1 move in flight is done");

    const first = place(p);
    expect(first.moved).toEqual([3]);
    expect(first.assignment).toEqual(["b", "b", "b", "a"]);
    expect(first.why[3]).toBe("moved from b to a, which returned (one at a time)");

    // while instance 3 starts on a, nothing else moves
    const next = { ...p, current: first.assignment, pool: counted(p, first.assignment, others) };
    expect(place({ ...next, moving: 1 }).assignment).toEqual(first.assignment);
    const second = place(next);
    expect(second.moved).toEqual([2]);
    expect(second.assignment).toEqual(["b", "b", "a", "a"]);
    expect(second.why[2]).toBe("moved from b to a towards the fewest-instances spread a 2, b 2 (one at a time)");
  });

  it("repeated calls converge to the even split for fewest-instances, then stay", () => {
    let p = input({ instances: 5, current: ["b", "b", "b", "b", "b"] });
    p.pool = counted(p, p.current, others);
    const moves: number[] = [];
    for (let call = 0; call < 10; call++) {
      const r = place(p);
      expect(r.moved.length).toBeLessThanOrEqual(1);
      moves.push(...r.moved);
      p = { ...p, current: r.assignment, pool: counted(p, r.assignment, others) };
    }
    // five over two: three on a, the lower id, as a placement from scratch would do
    expect(moves).toEqual([4, 3, 2]);
    expect(p.current).toEqual(["b", "b", "a", "a", "a"]);
  });

  it("load-based schemes give a returned node one instance and do not chase the figures after", () => {
    const pool = [node("a", { freeMemBytes: 8 * GB }), node("b", { freeMemBytes: 1 * GB })];
    const back = place(input({ scheme: "most-free-memory", instances: 3, current: ["b", "b", "b"], pool }));
    expect(back.moved).toEqual([2]);
    const after = place(input({ scheme: "most-free-memory", instances: 3, current: back.assignment, pool }));
    expect(after.moved).toEqual([]);
    expect(after.assignment).toEqual(["b", "b", "a"]);
    expect(after.why[0]).toBe("runs on b; most-free-memory now: a 8 GB free, b 1 GB free");
  });

  it("load-based schemes do not stop a lone instance to move it", () => {
    const r = place(input({ scheme: "lowest-cpu", current: ["b"], pool: [node("a", { cpuPercent: 1 }), node("b", { cpuPercent: 99 })] }));
    expect(r.ideal).toEqual(["a"]);
    expect(r.assignment).toEqual(["b"]);
    expect(r.moved).toEqual([]);
  });
});

describe("placement: config changes and determinism", () => {
  it("shrinking drops the highest indexes; growing places the new ones", () => {
    const shrunk = place(input({ instances: 2, current: ["a", "b", "a"], pool: [node("a", { instances: 2 }), node("b", { instances: 1 })] }));
    expect(shrunk.assignment).toEqual(["a", "b"]);
    expect(shrunk.moved).toEqual([]);
    const grown = place(input({ instances: 3, current: ["a"], pool: [node("a", { instances: 1 }), node("b")] }));
    expect(grown.assignment).toEqual(["a", "b", "a"]);
    expect(grown.why[0]).toBe("runs on a; fewest-instances now: a runs 1, b runs 0");
  });

  it("the same input gives the same output, whatever the pool's order", () => {
    const p = input({ scheme: "random", instances: 6, current: ["a", null, "c", "b"], pool: [node("b", { instances: 2 }), node("a")] });
    const r = place(p);
    expect(place(structuredClone(p))).toEqual(r);
    expect(place({ ...p, pool: [...p.pool].reverse() })).toEqual(r);
  });

  it("describeFigures: one line for the API and the HMI", () => {
    expect(describeFigures(node("a", { instances: 3, capacity: 2, freeMemBytes: 3.14 * GB, cpuPercent: 35.25, eventsPerSec: 120, netBytesPerSec: 1.2e6 }))).toBe(
      "a: 3 instances, capacity 2, 3.1 GB free, 35.3% CPU, 120 events/s, 1.2 MB/s net",
    );
  });
});

// Properties: pools of 0–2 nodes with random figures, any current assignment
// (including a node "c" that is not healthy), every scheme.
const figures = (nodeId: string): fc.Arbitrary<NodeFigures> =>
  fc.record({
    nodeId: fc.constant(nodeId),
    capacity: fc.integer({ min: 1, max: 8 }),
    freeMemBytes: fc.integer({ min: 0, max: 16 * GB }),
    cpuPercent: fc.integer({ min: 0, max: 100 }),
    eventsPerSec: fc.integer({ min: 0, max: 5000 }),
    netBytesPerSec: fc.integer({ min: 0, max: 1e8 }),
    instances: fc.integer({ min: 0, max: 10 }),
  });

const inputs: fc.Arbitrary<PlacementInput> = fc.record({
  service: fc.constant("svc"),
  instances: fc.integer({ min: 0, max: 6 }),
  scheme: fc.constantFrom(...SCHEMES),
  pool: fc.subarray(["a", "b"]).chain((ids) => fc.tuple(...ids.map(figures))),
  current: fc.array(fc.constantFrom<string | null>("a", "b", "c", null), { maxLength: 7 }),
  moving: fc.integer({ min: 0, max: 2 }),
  perInstance: fc.record({
    memBytes: fc.integer({ min: 0, max: 2 * GB }),
    cpuPercent: fc.integer({ min: 0, max: 30 }),
    eventsPerSec: fc.integer({ min: 0, max: 500 }),
    netBytesPerSec: fc.integer({ min: 0, max: 1e7 }),
  }),
  seed: fc.string({ maxLength: 8 }),
  rotation: fc.integer({ min: 0, max: 5 }),
});

/** Indexes of instances running on a healthy node before the call that are on another node after it. */
function runningMoved(p: PlacementInput, r: Placement): number[] {
  const healthy = new Set(p.pool.map((f) => f.nodeId));
  return r.assignment.flatMap((id, i) => {
    const was = p.current[i] ?? null;
    return was !== null && healthy.has(was) && id !== was ? [i] : [];
  });
}

const RUNS = { numRuns: 300 };

describe("placement: properties", () => {
  it("every instance is on a pool node, or nowhere only when the pool is empty", () => {
    fc.assert(fc.property(inputs, (p) => {
      const r = place(p);
      const healthy = new Set(p.pool.map((f) => f.nodeId));
      expect(r.assignment).toHaveLength(p.instances);
      expect(r.why).toHaveLength(p.instances);
      expect(r.ideal).toHaveLength(p.instances);
      for (const id of [...r.assignment, ...r.ideal]) expect(id === null ? p.pool.length === 0 : healthy.has(id)).toBe(true);
    }), RUNS);
  });

  it("at most one running instance changes node per call, and it is the one listed in moved", () => {
    fc.assert(fc.property(inputs, (p) => {
      const r = place(p);
      expect(r.moved.length).toBeLessThanOrEqual(1);
      expect(runningMoved(p, r)).toEqual(r.moved);
    }), RUNS);
  });

  it("while a move is in flight, nothing running on a healthy node moves", () => {
    fc.assert(fc.property(inputs.filter((p) => p.moving > 0), (p) => {
      const r = place(p);
      expect(r.moved).toEqual([]);
      expect(runningMoved(p, r)).toEqual([]);
    }), RUNS);
  });

  it("the same input gives the same output", () => {
    fc.assert(fc.property(inputs, (p) => {
      expect(place(structuredClone(p))).toEqual(place(p));
    }), RUNS);
  });

  it("with fixed figures, repeated calls reach a fixed point within instances + 2 calls, for every scheme", () => {
    fc.assert(fc.property(inputs, (p) => {
      let current = p.current;
      let calls = 0;
      for (;;) {
        const r = place({ ...p, current, moving: 0 });
        calls++;
        if (r.moved.length === 0 && r.assignment.length === current.length && r.assignment.every((id, i) => id === current[i])) break;
        expect(calls).toBeLessThan(p.instances + 2);
        current = r.assignment;
      }
    }), RUNS);
  });
});
