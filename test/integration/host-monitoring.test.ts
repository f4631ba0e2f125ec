// Host monitoring on real nodes: a disk the node watches (a real filesystem,
// a small tmpfs the test mounts and fills) crosses the warning and alarm
// thresholds: the active records each change as an event of the pair, the
// metrics say the level, and freeing the disk records the return to normal.
// A peer link whose heartbeats stop (the test's relay drops them) past the
// stale threshold: an alarm from each node, the standby's written by the
// active, and back to normal once heartbeats flow again.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
const disk = mkdtempSync(join(tmpdir(), "tandem-disk-"));
execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]);
afterAll(() => {
  execFileSync("umount", ["-l", disk]);
  rmSync(disk, { recursive: true, force: true });
});

/** fills the watched disk up to about `percent` (a file of zeros) */
function fill(name: string, percent: number): void {
  writeFileSync(join(disk, name), Buffer.alloc(Math.floor((percent / 100) * 1024 * 1024)));
}

async function events(c: Cluster, id: "a" | "b"): Promise<{ type: string; severity: string; text: string; node: string }[]> {
  const r = await c.api(id, "GET", "/events/history?after=0&limit=1000", undefined, "viewer");
  return r.json.events;
}

async function hostLevel(c: Cluster, id: "a" | "b"): Promise<number | null> {
  const r = await fetch(`${c.nodes[id].url}/api/v1/metrics`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` } });
  const text = await r.text();
  const m = text.match(new RegExp(`^tandem_host_level\\{item="disk:${disk}"[^}]*\\} (\\d)$`, "m"));
  return m ? Number(m[1]) : null;
}

describe("host monitoring", () => {
  it("a watched disk filling up: a warning, then an alarm, as events and metrics; freed, back to normal", async () => {
    const c = await pair.start({ extra: () => `monitoring: { everyMs: 1000, disk: { paths: ["${disk}"], warnPercent: 60, alarmPercent: 85 } }` });
    const { active, standby } = await c.ready();
    await waitUntil("the disk watched at level 0", async () => (await hostLevel(c, active)) === 0, { timeoutMs: 10_000 });
    fill("a", 70);
    await waitUntil("a warning event", async () => (await events(c, active)).some((e) => e.type === "host-disk" && e.severity === "warning" && e.node === active), { timeoutMs: 10_000 });
    expect(await hostLevel(c, active)).toBe(1);
    fill("b", 20);
    await waitUntil("an alarm event", async () => (await events(c, active)).some((e) => e.type === "host-disk" && e.severity === "alarm" && e.node === active), { timeoutMs: 10_000 });
    const alarm = (await events(c, active)).find((e) => e.type === "host-disk" && e.severity === "alarm" && e.node === active)!;
    expect(alarm.text).toMatch(new RegExp(`^9\\d\\.\\d% of the disk holding ${disk} used, 0\\.0 GiB free$`));
    // the standby watches the same disk: its alarm reaches the pair's events through the active
    await waitUntil("the standby's alarm", async () => (await events(c, active)).some((e) => e.type === "host-disk" && e.severity === "alarm" && e.node === standby), { timeoutMs: 10_000 });
    expect(await hostLevel(c, active)).toBe(2);
    // the node's status (and its HMI card) lists it among what needs attention
    expect((await c.status(active))?.attention?.alarms.some((a) => a.source === "host" && a.level === "alarm" && a.text.includes(disk))).toBe(true);
    unlinkSync(join(disk, "a"));
    unlinkSync(join(disk, "b"));
    await waitUntil("back to normal", async () => (await events(c, active)).some((e) => e.type === "host-disk" && e.severity === "info" && e.node === active && e.text.startsWith("back to normal")), { timeoutMs: 10_000 });
    expect(await hostLevel(c, active)).toBe(0);
  });

  it("a peer link silent past its threshold: an alarm from each node in the pair's events and the metrics; heard again, back to normal", async () => {
    const c = await pair.start({ extra: () => "monitoring: { stale: { heartbeatSeconds: 2 } }" });
    const { active, standby } = await c.ready();
    const staleLevel = async (id: "a" | "b") => {
      const text = await (await fetch(`${c.nodes[id].url}/api/v1/metrics`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` } })).text();
      const m = text.match(/^tandem_stale_level\{item="heartbeat:plant"[^}]*\} (\d)$/m);
      return m ? Number(m[1]) : null;
    };
    await waitUntil("the link watched", async () => (await staleLevel(active)) === 0, { timeoutMs: 10_000 });
    c.cutLink("plant", true);
    const alarmOf = (id: string) => async () => (await events(c, active)).find((e) => e.type === "stale-heartbeat" && e.severity === "alarm" && e.node === id);
    const a = await waitUntil("the active's alarm", alarmOf(active), { timeoutMs: 10_000 });
    expect(a.text).toMatch(new RegExp(`^no heartbeat from ${standby} on link plant for \\d+ s \\(threshold 2 s\\)$`));
    const b = await waitUntil("the standby's alarm, written by the active", alarmOf(standby), { timeoutMs: 10_000 });
    expect(b.text).toMatch(new RegExp(`^no heartbeat from ${active} on link plant`));
    expect(await staleLevel(active)).toBe(2);
    expect(await staleLevel(standby)).toBe(2);
    // one link down is a degradation, not a failure: the pair holds
    expect((await c.status(active))?.state).toBe("active");
    c.cutLink("plant", false);
    await waitUntil("back to normal on both", async () => (await events(c, active)).filter((e) => e.type === "stale-heartbeat" && e.severity === "info" && e.text === `back to normal: heartbeats from ${e.node === active ? standby : active} on link plant`).length === 2, { timeoutMs: 10_000 });
    expect(await staleLevel(active)).toBe(0);
  });

  it("a service's output matching a site pattern: an alarm in the pair's events, from the node that ran it", async () => {
    const c = await pair.start({
      extra: () => `monitoring: { logs: { windowSeconds: 60, patterns: [ { name: smtp, match: "SMTP.*refused", count: 2 } ] } }
services:
  mailer:
    command: /bin/sh
    # the words are put together at run time: the service's start line (its command) must not match
    args:
      - -c
      - 'w=fused; echo "SMTP 554: relay re$w" >&2; sleep 0.2; echo "SMTP 554: relay re$w" >&2; sleep 600'
    placement: active`,
    });
    const { active } = await c.ready();
    const e = await waitUntil("the pattern's alarm", async () => (await events(c, active)).find((x) => x.type === "log-pattern" && x.severity === "alarm"), { timeoutMs: 15_000 });
    expect(e.text).toBe("2 log lines matching 'smtp' in the last 60 s (threshold 2)");
    expect(e.node).toBe(active);
  });
});
