// Host monitoring on real nodes: a disk the node watches (a real filesystem,
// a small tmpfs the test mounts and fills) crosses the warning and alarm
// thresholds: the active records each change as an event of the pair, the
// metrics say the level, and freeing the disk records the return to normal.
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
    const { active } = await c.ready();
    await waitUntil("the disk watched at level 0", async () => (await hostLevel(c, active)) === 0, { timeoutMs: 10_000 });
    fill("a", 70);
    await waitUntil("a warning event", async () => (await events(c, active)).some((e) => e.type === "host-disk" && e.severity === "warning"), { timeoutMs: 10_000 });
    expect(await hostLevel(c, active)).toBe(1);
    fill("b", 20);
    await waitUntil("an alarm event", async () => (await events(c, active)).some((e) => e.type === "host-disk" && e.severity === "alarm"), { timeoutMs: 10_000 });
    const alarm = (await events(c, active)).find((e) => e.type === "host-disk" && e.severity === "alarm")!;
    expect(alarm.text).toMatch(new RegExp(`^9\\d\\.\\d% of the disk holding ${disk} used, 0\\.0 GiB free$`));
    expect(alarm.node).toBe(active);
    expect(await hostLevel(c, active)).toBe(2);
    unlinkSync(join(disk, "a"));
    unlinkSync(join(disk, "b"));
    await waitUntil("back to normal", async () => (await events(c, active)).some((e) => e.type === "host-disk" && e.severity === "info" && e.text.startsWith("back to normal")), { timeoutMs: 10_000 });
    expect(await hostLevel(c, active)).toBe(0);
  });
});
