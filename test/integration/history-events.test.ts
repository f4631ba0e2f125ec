// Tag history and events in the replicated store, on a real pair of
// `tandem start` processes reading the plant simulator: the active records
// the tags' changes into _history and both databases hold them (read here
// with better-sqlite3, not through Tandem); a change within a tag's deadband
// is not recorded, a quality change is (the simulator stopped: bad,
// comm_lost); a process module that throws and a service given up on are
// alarms in _events; kill -9 of the active leaves the takeover in _events on the
// survivor, with what it saw before it was active; the history and events
// endpoints and CLI commands answer from either node.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoDriversConfig } from "../../drivers/demo-tags.js";
import { exited, freePort, spawnCli, waitUntil, type Cluster } from "../helpers/cluster.js";
import { sampleValue } from "../helpers/prom-text.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-history-"));
let sim: ReturnType<typeof spawnCli> | null = null;
let ports: { modbus: number; opcua: number };

beforeAll(async () => {
  ports = { modbus: await freePort(), opcua: await freePort() };
  sim = spawnCli(["sim", "--modbus-port", String(ports.modbus), "--opcua-port", String(ports.opcua), "--data-dir", join(dir, "sim")]);
  await waitUntil("the simulator serving", () => sim!.output().includes("plant simulator:"), { timeoutMs: 20_000, seen: () => sim!.output() });
  writeFileSync(join(dir, "thrower.js"), `export async function start(ctx) { await ctx.sleep(200); throw new Error("a bug in the site's module"); }\n`);
});

afterAll(async () => {
  if (sim && sim.exitCode === null && sim.signalCode === null) {
    sim.kill("SIGTERM");
    await exited(sim);
  }
  rmSync(dir, { recursive: true, force: true });
});

const LIMIT = "line1.reactor.highLimit";

function extra(): string {
  const drivers = demoDriversConfig("127.0.0.1", ports.modbus, ports.opcua) as { tags: Record<string, unknown>[] };
  // the operator's limit: nothing but this test writes it; history with a deadband of 5 °C
  for (const t of drivers.tags) if (t.name === LIMIT) t.history = { deadband: 5 };
  return `${stringify({ drivers }, { lineWidth: 0 })}
replication: { mode: sync }
history: { enabled: true, flushMs: 200 }
processes:
  thrower: { module: ${JSON.stringify(join(dir, "thrower.js"))} }
services:
  # on both nodes, so the failure lowers both service levels alike
  crasher: { command: /bin/false, placement: both, restartLimit: 1, restartDelayMs: 100 }
`;
}

interface HistRow {
  key: string;
  v: unknown;
  q: string;
  r?: string;
  ts: number;
}

/** a node's database, read by our own reader (not Tandem's) */
function readDb<T>(c: Cluster, node: "a" | "b", sql: string, ...args: unknown[]): T[] {
  const db = new Database(join(c.dir, `data-${node}`, "tandem.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

const history = (c: Cluster, node: "a" | "b", tag: string): HistRow[] =>
  readDb<{ key: string; body: string }>(c, node, "SELECT key, body FROM tandem_rows WHERE tbl = '_history' AND kind = 'ins' AND key LIKE ? ORDER BY key", `${tag}@%`).map((r) => ({ key: r.key, ...(JSON.parse(r.body) as Omit<HistRow, "key">) }));

const events = (c: Cluster, node: "a" | "b") =>
  readDb<{ seq: number; body: string }>(c, node, "SELECT seq, body FROM tandem_rows WHERE tbl = '_events' AND kind = 'ins' ORDER BY seq").map((r) => ({ seq: r.seq, ...(JSON.parse(r.body) as { type: string; severity: string; text: string; node: string; at: number }) }));

async function writeLimit(c: Cluster, active: "a" | "b", value: number): Promise<void> {
  const r = await c.api(active, "POST", `/tags/${LIMIT}`, { value }, "operator");
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  // both nodes read the PLC: the value is back through the drivers
  await waitUntil(`${LIMIT} reads ${value}`, async () => (await c.api(active, "GET", `/tags/${LIMIT}`, undefined, "viewer")).json.value === value, { timeoutMs: 10_000 });
}

/** a client command against a node, as an operator types it */
async function cli(c: Cluster, node: "a" | "b", args: string[]): Promise<string> {
  const p = spawnCli([...args, "--node", c.nodes[node].url], { env: { ...process.env, TANDEM_USER: "viewer", TANDEM_PASSWORD: "viewer" } });
  const r = await exited(p);
  expect(r.code, p.output()).toBe(0);
  return p.output();
}

describe("tag history and events in the replicated store", () => {
  it("records changes past the deadband and quality changes on both databases; a takeover is an event on the survivor", async () => {
    const c = await pair.start({ extra: () => extra() });
    const { active, standby } = await c.ready();

    // the simulator's moving tags are recorded, and reach the standby's database
    await waitUntil("tank level history on both databases", () => history(c, active, "line1.tank1.level").length >= 3 && history(c, standby, "line1.tank1.level").length >= 3, { timeoutMs: 20_000 });

    // a change past the deadband is recorded; one within it is not
    await writeLimit(c, active, 100);
    await waitUntil("100 recorded", () => history(c, active, LIMIT).some((r) => r.v === 100), { timeoutMs: 10_000 });
    await writeLimit(c, active, 103);
    await writeLimit(c, active, 110);
    await waitUntil("110 recorded on both", () => history(c, active, LIMIT).some((r) => r.v === 110) && history(c, standby, LIMIT).some((r) => r.v === 110), { timeoutMs: 10_000 });
    const limits = history(c, active, LIMIT);
    expect(limits.map((r) => r.v)).not.toContain(103);
    expect(limits.map((r) => r.v).slice(-2)).toEqual([100, 110]);
    expect(limits.slice(-2).every((r) => r.q === "good")).toBe(true);
    await waitUntil("the standby's copy equal", () => JSON.stringify(history(c, standby, LIMIT)) === JSON.stringify(history(c, active, LIMIT)), { timeoutMs: 10_000 });

    // the active counts what it wrote; nothing was dropped
    const metrics = await (await fetch(`${c.nodes[active].url}/api/v1/metrics`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` } })).text();
    expect(sampleValue(metrics, "tandem_history_samples_written_total")).toBeGreaterThanOrEqual(limits.length);
    expect(sampleValue(metrics, "tandem_history_samples_dropped_total")).toBe(0);
    expect(sampleValue(metrics, "tandem_events_written_total")).toBeGreaterThan(0);

    // the alarms of the node's parts are events on the active
    await waitUntil("the module's and the service's alarms", () => ["module-failed", "service-failed"].every((t) => events(c, active).some((e) => e.type === t)), { timeoutMs: 15_000 });
    expect(events(c, active).find((e) => e.type === "module-failed")).toMatchObject({ severity: "alarm", node: active, text: expect.stringContaining("process thrower stopped: it threw: Error: a bug in the site's module") });
    expect(events(c, active).find((e) => e.type === "service-failed")).toMatchObject({ severity: "alarm", node: active, text: expect.stringMatching(/^service crasher failed: 2 failed runs in a row/) });

    // the history endpoint, from either node (the standby reads its own copy)
    const from = limits[0]!.ts;
    const h = await c.api(standby, "GET", `/tags/${LIMIT}/history?from=${from}&to=${new Date(Date.now() + 1000).toISOString()}`, undefined, "viewer");
    expect(h.status, JSON.stringify(h.json)).toBe(200);
    expect(h.json.samples.map((s: { value: unknown }) => s.value)).toEqual(limits.map((r) => r.v));
    expect(h.json.samples[0].timestamp).toBe(new Date(from).toISOString());
    expect(h.json.samples.at(-1)).toMatchObject({ value: 110, quality: "good" });
    const newest = await c.api(active, "GET", `/tags/${LIMIT}/history?from=${from}&limit=1&order=desc`, undefined, "viewer");
    expect(newest.json).toMatchObject({ samples: [{ value: 110 }], more: limits.length > 1 });
    for (const q of ["from=yesterday", "limit=0", "limit=10001", `from=${Date.now()}&to=${from}`, "order=sideways", "since=10m"]) {
      const bad = await c.api(active, "GET", `/tags/${LIMIT}/history?${q}`, undefined, "viewer");
      expect(bad.status, q).toBe(400);
      expect(bad.json.error.code, q).toBe("TANDEM_ERR_BAD_REQUEST");
    }
    expect((await c.api(active, "GET", "/tags/no.such.tag/history", undefined, "viewer")).status).toBe(404);
    expect(await cli(c, standby, ["tags", "history", LIMIT, "--since", "10m"])).toMatch(/110\s+good/);

    // the simulator stops: the bad quality is recorded at once, on both databases
    sim!.kill("SIGTERM");
    await exited(sim!);
    await waitUntil("bad quality recorded on both", () => [active, standby].every((n) => history(c, n, LIMIT).at(-1)?.q === "bad"), { timeoutMs: 15_000 });
    const lastBad = history(c, active, LIMIT).at(-1)!;
    expect(lastBad.r).toMatch(/comm_lost|timeout/);
    expect(history(c, standby, LIMIT).at(-1)).toEqual(lastBad);

    // kill -9 of the active: the survivor takes over and records it, with what it saw as standby
    const before = events(c, standby).length;
    c.signal(active, "SIGKILL");
    await c.exited(active);
    await c.waitFor(standby, (s) => s.state === "active" || s.state === "active-held", 15_000, "the survivor takes over");
    await waitUntil("the takeover in the survivor's _events", () => events(c, standby).some((e) => e.type === "takeover"), { timeoutMs: 10_000 });
    const mine = events(c, standby).slice(before);
    const takeover = mine.find((e) => e.type === "takeover")!;
    expect(takeover).toMatchObject({ severity: "alarm", node: standby });
    // seen while it was still standby, written once it was active
    const started = mine.find((e) => e.type === "takeover-started");
    expect(started, JSON.stringify(mine)).toBeDefined();
    expect(started!.at).toBeLessThanOrEqual(takeover.at);
    const api = await c.api(standby, "GET", `/events/history?after=0&limit=1000`, undefined, "viewer");
    expect(api.status).toBe(200);
    expect(api.json.events.some((e: { type: string; node: string }) => e.type === "takeover" && e.node === standby)).toBe(true);
    expect((await c.api(standby, "GET", "/events/history?limit=0", undefined, "viewer")).status).toBe(400);
    expect(await cli(c, standby, ["events", "--limit", "1000"])).toMatch(/ALARM\s+takeover/);

    // the killed node rejoins as standby and catches up: its database gets the takeover too
    c.startNode(active);
    await c.waitFor(active, (s) => s.state === "standby", 30_000, "the old active back as standby");
    await waitUntil("the takeover replicated to the rejoined node", () => events(c, active).some((e) => e.type === "takeover" && e.node === standby), { timeoutMs: 15_000 });
  }, 150_000);
});
