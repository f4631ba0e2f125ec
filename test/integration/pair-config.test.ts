// Both nodes' pair-wide configurations compared on a real pair: a config
// hand-edited on one node (a service's command changed) is reported on both
// nodes' status with the section that differs, raised as an alarm of the
// pair, and holds an operator's switchover until it is accepted.
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
});
