// `npm start` runs `tandem demo`: a whole site on this machine. It must come
// up with one active and one standby, print what a newcomer needs, survive a
// kill -9 of the active (held takeover, restarted node rejoins), and stop
// every process it started on Ctrl-C.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exited, killAllChildren, sleep, spawnCli } from "../helpers/cluster.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-demo-it-"));
let demo: ReturnType<typeof spawnCli> | null = null;
const started: number[] = [];
afterAll(async () => {
  // a failed test must not orphan the demo's nodes: Ctrl-C it, then make sure
  if (demo && demo.exitCode === null) {
    demo.kill("SIGINT");
    await exited(demo, 20_000).catch(() => undefined);
  }
  for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL");
  killAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function health(port: number): Promise<{ state: string; epoch: number } | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/health`, { signal: AbortSignal.timeout(1000) });
    return (await r.json()) as { state: string; epoch: number };
  } catch {
    return null;
  }
}

async function until<T>(f: () => Promise<T | null | false>, ms: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`${what} not reached within ${ms} ms`);
    await sleep(50);
  }
}

describe("tandem demo", () => {
  it("comes up as a pair reading the simulator, takes over held after kill -9, restarts the killed node, and Ctrl-C stops it all", async () => {
    // all of the demo's ports (base − 6197 … base + 1) below the ephemeral range and the clusters' slices
    const base = 14000 + Math.floor(Math.random() * 6000);
    demo = spawnCli(["demo", "--base-port", String(base), "--dir", dir]);
    await until(async () => demo!.output().includes("Ctrl-C stops everything"), 15_000, "the demo banner");
    const out = demo!.output();
    expect(out).toContain(`http://127.0.0.1:${base}/`);
    expect(out).toContain(`http://127.0.0.1:${base + 1}/`);
    expect(out).toContain("viewer/viewer  operator/operator  admin/admin");
    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(4); // a, b, the witness, the simulator
    started.push(...pids);

    const roles = await until(
      async () => {
        const [a, b] = await Promise.all([health(base), health(base + 1)]);
        const states = [a?.state, b?.state].sort().join(",");
        return states === "active,standby" ? { a: a!, b: b! } : null;
      },
      15_000,
      "one active and one standby",
    );
    const [activePort, standbyPort] = roles.a.state === "active" ? [base, base + 1] : [base + 1, base];
    const activePid = pids[activePort === base ? 0 : 1]!; // the banner lists a, b, the witness, the simulator

    // the plant: ≥ 10 tags from the simulator over Modbus and OPC UA, read by both nodes (standby hot)
    const auth = (u: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${u}`).toString("base64")}` });
    const tagsOf = async (port: number) =>
      ((await (await fetch(`http://127.0.0.1:${port}/api/v1/tags`, { headers: auth("viewer") })).json()) as { tags: { name: string; driver: string; value: unknown; quality: string; timestamp: string | null; writable: boolean }[] }).tags;
    const tags = await until(async () => {
      const t = await tagsOf(activePort);
      return t.length >= 10 && t.every((x) => x.quality === "good") ? t : null;
    }, 20_000, "all tags good on the active");
    expect(new Set(tags.map((t) => t.driver))).toEqual(new Set(["modbus", "opcua"]));
    for (const t of tags) expect(Object.keys(t)).toEqual(expect.arrayContaining(["name", "driver", "value", "quality", "timestamp", "writable"]));
    await until(async () => (await tagsOf(standbyPort)).every((x) => x.quality === "good"), 20_000, "all tags good on the standby");
    const write = (port: number, value: number) =>
      fetch(`http://127.0.0.1:${port}/api/v1/tags/line1.tank1.inletValve`, { method: "POST", headers: { ...auth("operator"), "content-type": "application/json" }, body: JSON.stringify({ value }) });
    expect((await write(activePort, 42)).status).toBe(200);
    const refused = await write(standbyPort, 43);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/not active/);
    await until(async () => (await tagsOf(standbyPort)).find((t) => t.name === "line1.tank1.inletValve")?.value === 42, 5000, "the standby reads the written value");

    // the witness just started: after its quiet time (2 s) it can vouch for a takeover
    await sleep(2500);
    process.kill(activePid, "SIGKILL");
    const held = await until(async () => {
      const h = await health(standbyPort);
      return h?.state === "active-held" ? h : null;
    }, 5000, "held takeover");
    expect(held.epoch).toBe(roles.a.epoch + 1);
    await until(async () => (await health(activePort))?.state === "standby", 15_000, "the killed node restarted as standby");
    expect(demo!.output()).toMatch(/exited \(SIGKILL\); restarting it in 3 s/);

    demo!.kill("SIGINT");
    expect((await exited(demo!, 20_000)).code).toBe(0);
    expect(demo!.output()).toContain("demo stopped");
    for (const pid of pids) if (pid !== activePid) expect(alive(pid)).toBe(false);
    expect(await health(base)).toBeNull();
    expect(await health(base + 1)).toBeNull();
  });
});
