// runtime/services/balance.ts: who decides where balanced instances run, the
// hand-off rule (start only once the peer says it does not run it), and the
// peer's report treated as hostile input (S5).
import { describe, expect, it } from "vitest";
import { Balancer, PEER_AWAY_MS } from "../../runtime/services/balance.js";
import { servicesSection } from "../../runtime/services/config-schema.js";
import type { ServiceInstance } from "../../runtime/services/instance.js";

const services = servicesSection.parse({ pool: { command: "x", placement: "balanced", instances: 2 } });

function setup(nodeId = "b") {
  const insts = [1, 2].map((i) => ({ key: `pool#${i}`, name: "pool", index: i, config: services.pool!, present: false, ready: false, figures: { cpuPercent: 0, rssBytes: 0, readBytes: 0, writeBytes: 0, eventsPerSec: 0 } }));
  let now = 0;
  const b = new Balancer({ pairId: "line1", nodeId, capacity: 1, services, instances: insts as unknown as ServiceInstance[], now: () => now });
  return { b, insts, tick: (ms: number) => (now += ms) };
}

const figures = (nodeId: string, instances = 0) => ({ nodeId, capacity: 1, freeMemBytes: 1e9, cpuPercent: 5, eventsPerSec: 0, netBytesPerSec: 0, instances });
const report = (over: Record<string, unknown> = {}) => ({ node: "a", state: "active", epoch: 3, figures: figures("a"), present: [] as string[], running: [] as string[], assignment: { pool: ["a", "b"] }, ...over });

describe("balanced instances over the pair", () => {
  it("the standby follows the active's assignment and starts its instance only once the active says it does not run it", () => {
    const { b } = setup("b");
    expect(typeof b.acceptReport(report({ present: ["pool#2"] }))).toBe("object");
    b.update("standby", { id: "a", inPool: true, state: "active" });
    expect(b.assigned("pool#1")?.node).toBe("a");
    expect(b.assigned("pool#2")?.node).toBe("b");
    expect(b.runsHere("pool#2", "standby")).toBe(false); // a still runs it
    expect(b.why("pool#2")).toMatch(/starts here once the peer has stopped it/);
    b.acceptReport(report({ present: [] }));
    b.update("standby", { id: "a", inPool: true, state: "active" });
    expect(b.runsHere("pool#2", "standby")).toBe(true);
    expect(b.runsHere("pool#1", "standby")).toBe(false);
    expect(b.runsHere("pool#2", "maintenance")).toBe(false);
  });

  it("takes every instance when the peer leaves the pool, and forgets that run's report", () => {
    const { b } = setup("b");
    b.acceptReport(report({ present: ["pool#1"] }));
    b.update("standby", { id: "a", inPool: true, state: "active" });
    b.update("active-held", { id: "a", inPool: false, state: "unknown", down: true });
    expect(b.runsHere("pool#1", "active-held")).toBe(true);
    expect(b.runsHere("pool#2", "active-held")).toBe(true);
    // the peer is back, but what it said before it died says nothing now: until it reports, nothing changes
    b.update("active", { id: "a", inPool: true, state: "standby" });
    expect(b.runsHere("pool#1", "active")).toBe(false); // not present here yet: not started while the peer is silent
  });

  it("a peer in the pool that stops reporting changes nothing: what runs here keeps running, nothing new starts", () => {
    const { b, insts, tick } = setup("a");
    b.acceptReport(report({ node: "b", state: "standby", figures: figures("b"), assignment: {} }));
    b.update("active", { id: "b", inPool: true, state: "standby" });
    insts[0]!.present = true;
    tick(3500); // older than a report may be
    b.update("active", { id: "b", inPool: true, state: "standby" });
    expect(b.runsHere("pool#1", "active")).toBe(true);
    expect(b.runsHere("pool#2", "active")).toBe(false);
  });

  it("a peer of the pool that pauses for a moment keeps its instances; one away longer, or known down, gives them up", () => {
    const { b, insts, tick } = setup("a");
    b.acceptReport(report({ node: "b", state: "standby", figures: figures("b"), present: ["pool#2"], running: ["pool#2"], assignment: {} }));
    b.update("active", { id: "b", inPool: true, state: "standby" });
    insts[0]!.present = true;
    expect(b.assigned("pool#2")?.node).toBe("b");
    // heartbeats pause (a loaded host): nothing moves, nothing starts twice
    for (let t = 0; t < 2500; t += 500) {
      tick(500);
      b.update("active", { id: "b", inPool: false, state: "unknown" });
      expect(b.assigned("pool#2")?.node).toBe("b");
      expect(b.runsHere("pool#2", "active")).toBe(false);
    }
    // it is heard again: the pause is forgotten
    b.acceptReport(report({ node: "b", state: "standby", figures: figures("b"), present: ["pool#2"], running: ["pool#2"], assignment: {} }));
    b.update("active", { id: "b", inPool: true, state: "standby" });
    tick(2500);
    b.update("active", { id: "b", inPool: false, state: "unknown" });
    expect(b.runsHere("pool#2", "active")).toBe(false);
    // away longer than PEER_AWAY_MS: its instances come here
    tick(PEER_AWAY_MS);
    b.update("active", { id: "b", inPool: false, state: "unknown" });
    expect(b.assigned("pool#2")?.node).toBe("a");
    expect(b.runsHere("pool#2", "active")).toBe(true);
  });

  it("a peer the pair knows is down gives its instances up at once", () => {
    const { b, insts } = setup("a");
    b.acceptReport(report({ node: "b", state: "standby", figures: figures("b"), present: ["pool#2"], running: ["pool#2"], assignment: {} }));
    b.update("active", { id: "b", inPool: true, state: "standby" });
    insts[0]!.present = true;
    b.update("active", { id: "b", inPool: false, state: "unknown", down: true });
    expect(b.runsHere("pool#2", "active")).toBe(true);
  });

  it("refuses a malformed report with a reason and keeps the last good one (S5)", () => {
    const { b } = setup("b");
    const bad: Record<string, unknown>[] = [
      {},
      report({ figures: { ...figures("a"), cpuPercent: "high" } }),
      report({ figures: figures("zz") }),
      report({ present: "pool#1" }),
      report({ present: Array(20_000).fill("x") }),
      report({ assignment: { pool: "a" } }),
      report({ assignment: { pool: Array(100).fill("a") } }),
      report({ stops: { pool: { stopped: "yes" } } }),
      report({ epoch: 1.5 }),
      report({ figures: { ...figures("a"), freeMemBytes: -1 } }),
    ];
    for (const r of bad) expect(typeof b.acceptReport(r), JSON.stringify(r).slice(0, 80)).toBe("string");
    expect(b.acceptReport(report({ stops: { pool: { stopped: true, by: "op", at: "2026-11-30T00:00:00Z", version: 3, node: "a" } } }))).toMatchObject({ stops: { pool: { stopped: true, version: 3 } } });
  });
});
