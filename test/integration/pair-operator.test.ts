// Operator paths through the real CLI against real nodes: without a witness a
// standby that lost the active on every link waits for an operator (S1, S3);
// status --json carries the pid; log levels change at runtime; every action
// needs its role and lands in the audit log with who did it (S4).
import { describe, expect, it } from "vitest";
import { exited, spawnCli, waitUntil } from "../helpers/cluster.js";
import { expectOneActive, sampledBoth, useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

async function cli(args: string[], user: string): Promise<{ code: number | null; out: string }> {
  const p = spawnCli(args, { env: { TANDEM_USER: user, TANDEM_PASSWORD: user } });
  const { code } = await exited(p);
  return { code, out: p.output() };
}

describe("operator paths", () => {
  it("no witness: the standby waits for an operator after losing the active on every link; confirm promotes it held, a second confirm resumes (S1, S3, S4)", async () => {
    const cluster = await pair.start({ witness: false });
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(standby))!.epoch;
    cluster.startSampling();
    await sampledBoth(cluster);
    cluster.cutPeer(true);
    await cluster.waitFor(active, (s) => s.state === "isolated", 4000, "isolated");
    const waiting = await cluster.waitFor(standby, (s) => s.awaitingOperator, 4000, "awaiting operator");
    expect(waiting.state).toBe("standby");
    expect(waiting.message).toMatch(/operator must check it is down/);
    // nobody decides for the operator
    await cluster.holds(standby, (s) => s.state === "standby" && s.awaitingOperator && s.epoch === epoch, 1000, "waits for the operator");

    const url = cluster.nodes[standby].url;
    const viewer = await cli(["confirm", "--node", url], "viewer");
    expect(viewer.code).toBe(1);
    expect(viewer.out).toMatch(/needs operator|may not/);
    const first = await cli(["confirm", "--node", url], "operator");
    expect(first.code).toBe(0);
    const held = (await cluster.status(standby))!;
    expect(held.state).toBe("active-held");
    expect(held.epoch).toBe(epoch + 1);
    expect(held.awaitingOperator).toBe(false);
    const second = await cli(["confirm", "--node", url], "operator");
    expect(second.code).toBe(0);
    expect((await cluster.status(standby))!.state).toBe("active");

    const audit = await cluster.api(standby, "GET", "/audit?limit=50", undefined, "viewer");
    const entries = audit.json.entries as { action: string; user: string; result: string; details?: Record<string, unknown> }[];
    expect(entries.some((e) => e.action === "confirm" && e.user === "operator" && e.details?.manualFencing === true)).toBe(true);
    expect(entries.some((e) => e.action === "confirm" && e.user === "viewer")).toBe(false); // refused before the controller

    // the partition heals: the isolated old active follows the higher epoch
    cluster.cutPeer(false);
    await cluster.waitFor(active, (s) => s.state === "standby" && s.epoch === epoch + 1, 5000, "standby with the new epoch");
    await sampledBoth(cluster);
    expectOneActive(cluster, { acted: [active, standby] });
  });

  it("status --json carries the pid; log levels change at runtime without a restart, need the admin role and are audited (S4)", async () => {
    const cluster = await pair.start();
    const { active } = await cluster.ready();
    const url = cluster.nodes[active].url;
    const st = await cli(["status", "--node", url, "--json"], "viewer");
    expect(st.code).toBe(0);
    const s = JSON.parse(st.out);
    expect(s.pid).toBe(cluster.pid(active));
    for (const k of ["pairId", "nodeId", "role", "state", "epoch", "serviceLevel", "leaseRemainingMs", "peer", "witness", "context", "replication"]) expect(s).toHaveProperty(k);
    expect(s.peer.links.map((l: { name: string }) => l.name)).toEqual(["lan", "plant"]);

    expect((await cli(["log-level", "error", "--component", "node", "--node", url], "operator")).code).toBe(1);
    const set = await cli(["log-level", "error", "--component", "node", "--node", url], "admin");
    expect(set.code).toBe(0);
    const levels = await cluster.api(active, "GET", "/log-level", undefined, "viewer");
    expect(levels.json.components.node).toBe("error");
    // The node component logs audit lines at info: silent now, and back after.
    // The http component (still at info) logs each PUT after its audit line,
    // so once that line is in the file, a missing audit line was not written.
    const count = (what: string, component: string) => cluster.logLines(active).filter((l) => l.includes(`"component":"${component}"`) && l.includes(what)).length;
    const auditLines = () => count("audit: admin log-level ok", "node");
    const puts = () => count("PUT /api/v1/log-level → 200", "http");
    const [audited, put] = [auditLines(), puts()];
    expect((await cli(["log-level", "debug", "--component", "peer", "--node", url], "admin")).code).toBe(0);
    await waitUntil("the node logged the PUT", () => puts() > put);
    expect(auditLines()).toBe(audited);
    expect((await cli(["log-level", "info", "--component", "node", "--node", url], "admin")).code).toBe(0);
    expect((await cli(["log-level", "info", "--component", "peer", "--node", url], "admin")).code).toBe(0);
    await waitUntil("the node component's audit lines are back", () => auditLines() === audited + 2, { seen: () => `${auditLines() - audited} new audit lines` });
    const audit = await cluster.api(active, "GET", "/audit?limit=20", undefined, "viewer");
    // every change by admin, in order; the operator's refused attempt never reached the node
    const changes = (audit.json.entries as { action: string; user: string; result: string; details: { level: string; component: string } }[]).filter((e) => e.action === "log-level" && e.result === "ok");
    expect(changes.map((e) => [e.user, e.details.component, e.details.level])).toEqual([
      ["admin", "node", "error"],
      ["admin", "peer", "debug"],
      ["admin", "node", "info"],
      ["admin", "peer", "info"],
    ]);
  });
});
