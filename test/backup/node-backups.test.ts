// runtime/backup/node-backups.ts: which node makes the scheduled backups, and
// the alarms — a failed backup, none for maxAgeHours on the node that makes
// them (counted from when it took that duty), cleared once one succeeds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backupSection } from "../../runtime/backup/config-schema.js";
import { NodeBackups } from "../../runtime/backup/node-backups.js";
import { copySqlite, inspectSqlite } from "../../runtime/backup/sqlite-copy.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";

const HOUR = 3_600_000;
let dir: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tandem-nodebackups-"));
  const db = new SqliteStorage({ file: join(dir, "tandem.db") });
  await db.open();
  await db.apply(0, [{ seq: 1, epoch: 1, at: 1, table: "t", kind: "ins", key: null, body: "{}" }]);
  await db.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(over: Record<string, unknown> = {}) {
  let now = Date.parse("2026-11-30T00:00:00Z");
  let state = "standby";
  let dbFile = join(dir, "tandem.db");
  const events: { type: string; severity: string; text: string }[] = [];
  const log = { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, trace() {}, child() { return log; } } as never;
  const b = new NodeBackups(backupSection.parse({ schedule: "off", restoreTest: { schedule: "off" }, maxAgeHours: 24, ...over }), {
    pair: "line1",
    node: "b",
    dataDir: dir,
    state: () => state,
    epoch: () => 3,
    database: () => ({ engine: "sqlite", where: dbFile }),
    files: () => ({ paths: [] }),
    event: (type, severity, text) => events.push({ type, severity, text }),
    log,
    registry: new Registry(),
    now: () => now,
    jobs: { copy: async (s, d) => copySqlite(s, d), inspect: async (f) => inspectSqlite(f) },
  });
  return { b, events, tick: (ms: number) => (now += ms), setState: (s: string) => (state = s), setDb: (f: string) => (dbFile = f) };
}

describe("a node's backups", () => {
  it("runs on the standby by default, on the active or each node when asked, never in maintenance", () => {
    const s = setup();
    expect(s.b.makesBackups()).toBe(true);
    s.setState("active");
    expect(s.b.makesBackups()).toBe(false);
    const a = setup({ runOn: "active" });
    a.setState("active-held");
    expect(a.b.makesBackups()).toBe(true);
    const any = setup({ runOn: "any" });
    any.setState("maintenance");
    expect(any.b.makesBackups()).toBe(false);
  });

  it("no backup for maxAgeHours on the node that makes them is an alarm, once; a backup clears it", async () => {
    const s = setup();
    s.b.checkAges();
    s.tick(23 * HOUR);
    s.b.checkAges();
    expect(s.events).toEqual([]);
    s.tick(2 * HOUR);
    s.b.checkAges();
    s.b.checkAges();
    expect(s.events.filter((e) => e.type === "backup-stale")).toEqual([{ type: "backup-stale", severity: "alarm", text: expect.stringMatching(/^no backup for 24 h on b \(the newest: none\)/) }]);
    await s.b.backupNow("operator");
    s.b.checkAges();
    expect(s.events.map((e) => `${e.type} ${e.severity}`)).toEqual(["backup-stale alarm", "backup info", "backup-stale info"]);
    // the active does not make them: its age is not judged, and its duty starts anew when it is standby again
    s.setState("active");
    s.tick(48 * HOUR);
    s.b.checkAges();
    s.setState("standby");
    s.b.checkAges();
    expect(s.events.filter((e) => e.severity === "alarm")).toHaveLength(1);
  });

  it("a failed backup is an alarm naming why; the previous ones stay; the next good one clears it", async () => {
    const s = setup();
    await s.b.backupNow("schedule");
    s.setDb(join(dir, "gone.db"));
    await expect(s.b.backupNow("schedule")).rejects.toThrow(/backup failed: .*gone\.db/);
    expect(s.events.at(-1)).toMatchObject({ type: "backup", severity: "alarm", text: expect.stringMatching(/^backup failed: .*the previous backups are kept/) });
    expect(s.b.view().backups).toHaveLength(1);
    expect(s.b.view().alarms).toHaveLength(1);
    s.setDb(join(dir, "tandem.db"));
    s.tick(1000);
    await s.b.backupNow("schedule");
    expect(s.events.at(-1)).toMatchObject({ type: "backup", severity: "info", text: "back to normal: backups succeed again" });
    expect(s.b.view().alarms).toEqual([]);
  });

  it("one job at a time: a second asks again later", async () => {
    const s = setup();
    const first = s.b.backupNow("operator");
    expect(() => s.b.restoreTest("operator")).toThrow(/a backup is running/);
    await first;
    expect((await s.b.restoreTest("operator")).ok).toBe(true);
  });
});
