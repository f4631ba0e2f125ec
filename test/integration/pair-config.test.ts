// Both nodes' pair-wide configurations compared on a real pair: a config
// hand-edited on one node (a service's command changed) is reported on both
// nodes' status with the section that differs, raised as an alarm of the
// pair, and holds an operator's switchover until it is accepted.
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";
import { runCli } from "../helpers/spawned.js";

const pair = useCluster();

// not spawnSync: the pair's relays run in this process
const cli = (c: Cluster, args: string[], user = "admin") => runCli(args, { ...process.env, ...c.env(), TANDEM_USER: user, TANDEM_PASSWORD: user });

describe("configuration kept identical", () => {
  it("a hand-edited difference is reported on both nodes, raised as an alarm, and a switchover waits for an operator's word", async () => {
    const c = await pair.start({ extra: (id) => `services:\n  agent: { command: /bin/sleep, args: ["${id === "a" ? 600 : 601}"], placement: both }` });
    const { active, standby } = await c.ready();
    const st = await c.waitFor(active, (s) => s.config?.match === false, 10_000, "the mismatch seen");
    expect(st.config).toMatchObject({ match: false, differs: ["services"] });
    expect(st.config!.peerVersion).not.toBe(st.config!.version);
    const sb = await c.waitFor(standby, (s) => s.config?.match === false, 10_000, "the mismatch seen on the standby");
    expect(sb.config!.version).toBe(st.config!.peerVersion);
    const events = async () => (await c.api(active, "GET", "/events/history?limit=1000", undefined, "viewer")).json.events as { type: string; severity: string; text: string }[];
    const alarm = await waitUntil("the alarm", async () => (await events()).find((e) => e.type === "config-mismatch" && e.severity === "alarm"), { timeoutMs: 10_000 });
    expect(alarm.text).toContain("services differ");
    const s = await cli(c, ["status", "--node", c.nodes[active].url], "viewer");
    expect(s.out).toMatch(new RegExp(`! configuration ${st.config!.version}, but ${standby} runs ${st.config!.peerVersion}: services differ`));

    const refused = await cli(c, ["switchover", "--node", c.nodes[active].url]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/the nodes run different configurations: .*services differ.*--accept-config/);
    expect((await c.status(active))?.state).toBe("active");
    const ok = await cli(c, ["switchover", "--accept-config", "--node", c.nodes[active].url]);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    await c.waitFor(standby, (x) => x.state === "active", 10_000, "the other node active");
  });

  it("nodes that run the same configuration say so", async () => {
    const c = await pair.start();
    const { active } = await c.ready();
    const st = await c.waitFor(active, (s) => s.config?.match === true, 10_000, "the match seen");
    expect(st.config).toMatchObject({ match: true, differs: [], peerVersion: st.config!.version });
  });

  it("a change made in the active's config file reaches the standby's with tandem config push; restarted one by one around a switchover, both run it", async () => {
    const c = await pair.start({ extra: () => `services:\n  agent: { command: /bin/sleep, args: ["600"], placement: both }` });
    const { active, standby } = await c.ready();
    const before = (await c.waitFor(active, (s) => s.config?.match === true, 10_000, "alike")).config!.version;
    const file = c.nodes[active].config;
    writeFileSync(file, readFileSync(file, "utf8").replace('args: ["600"]', 'args: ["700"]'));
    const push = await cli(c, ["config", "push", "--node", c.nodes[active].url]);
    expect(push.err).toBe("");
    expect(push.code).toBe(0);
    const version = new RegExp(`^configuration ([0-9a-f]{16}) is now in ${standby}'s config file`, "m").exec(push.out);
    expect(version).not.toBeNull();
    const next = version![1]!;
    expect(next).not.toBe(before);
    expect(readFileSync(c.nodes[standby].config, "utf8")).toMatch(/- "700"/);
    expect((await c.status(standby))?.config).toMatchObject({ version: before, onDisk: next, match: true });
    expect((await c.status(active))?.config).toMatchObject({ version: before, onDisk: next });

    // the standby restarted runs it: the nodes differ until the other is restarted too
    c.signal(standby, "SIGTERM");
    await c.exited(standby);
    c.startNode(standby);
    await c.waitFor(active, (s) => s.config?.match === false && s.config.peerVersion === next, 20_000, "the standby runs the new version");
    const sw = await cli(c, ["switchover", "--accept-config", "--node", c.nodes[active].url]);
    expect(sw.code).toBe(0);
    await c.waitFor(standby, (s) => s.state === "active", 10_000, "the restarted node active");
    c.signal(active, "SIGTERM");
    await c.exited(active);
    c.startNode(active);
    const done = await c.waitFor(standby, (s) => s.config?.match === true, 20_000, "both run the new version");
    expect(done.config).toMatchObject({ version: next, peerVersion: next, onDisk: null });
  });
});
