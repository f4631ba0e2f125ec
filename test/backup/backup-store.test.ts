// runtime/backup/backups.ts on a real SQLite database: a backup says what it
// holds, a restore gives back the same rows, a changed byte or a hostile
// archive fails the restore test with the reason, and retention keeps the
// newest.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, openSync, writeSync, closeSync, statSync, existsSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BackupStore, fileEntryName } from "../../runtime/backup/backups.js";
import { copySqlite, inspectSqlite } from "../../runtime/backup/sqlite-copy.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import type { Row } from "../../redundancy/storage.js";

// the node runs these in a worker thread; here in line (the same functions)
const jobs = { copy: async (s: string, d: string) => copySqlite(s, d), inspect: async (f: string) => inspectSqlite(f) };

let dir: string;
let db: SqliteStorage;
const dbFile = () => join(dir, "data", "tandem.db");

function rows(from: number, n: number, table: string): Row[] {
  return Array.from({ length: n }, (_, i) => ({ seq: from + i, epoch: 2, at: 1_700_000_000_000 + from + i, table, kind: "ins" as const, key: null, body: JSON.stringify({ i: from + i, text: "x".repeat(50) }) }));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tandem-backup-"));
  db = new SqliteStorage({ file: dbFile() });
  await db.open();
  await db.apply(0, rows(1, 300, "batch_log"));
  await db.apply(300, rows(301, 50, "_events"));
  await db.apply(350, [{ seq: 351, epoch: 2, at: 1, table: "_context", kind: "put", key: "recipe", body: '{"step":"heat"}' }]);
  writeFileSync(join(dir, "node.yaml"), "pair: { id: line1 }\n");
  mkdirSync(join(dir, "modules"));
  writeFileSync(join(dir, "modules", "batch.js"), "export function start() {}\n");
});

afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const make = (store: BackupStore, at = "2026-11-30T02:00:00Z") =>
  store.make({ pair: "line1", node: "b", nodeState: "standby", epoch: 2, tandemVersion: "0.1.0", database: { engine: "sqlite", file: dbFile() }, files: { paths: [join(dir, "node.yaml"), join(dir, "modules"), join(dir, "missing.pem")] }, now: new Date(at) });

describe("backups", () => {
  it("a backup's manifest says what the database held; a restore gives back the same rows per table, checked", async () => {
    const store = new BackupStore(join(dir, "backups"), jobs);
    const side = await make(store);
    expect(side.manifest.name).toBe("tandem-line1-b-20261130-020000");
    expect(side.manifest.database).toMatchObject({ engine: "sqlite", lastSeq: 351, lastEpoch: 2, rows: 351, tables: { batch_log: 300, _events: 50, _context: 1 }, divergent: 0 });
    expect(side.manifest.files.map((f) => f.name)).toEqual(["db/tandem.db", fileEntryName(join(dir, "node.yaml")), fileEntryName(join(dir, "modules", "batch.js"))]);
    expect(side.manifest.skipped).toEqual([{ source: join(dir, "missing.pem"), why: "not found" }]);
    // the node's files are private
    expect(statSync(join(store.dir, `${side.manifest.name}.tar.gz`)).mode & 0o077).toBe(0);

    const to = join(dir, "restored");
    const r = await store.restore(side.manifest.name, to);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    const back = new SqliteStorage({ file: r.dbFile! });
    await back.open();
    expect(await back.count("batch_log")).toBe(300);
    expect(await back.count("_events")).toBe(50);
    expect((await back.get("_context", "recipe"))?.body).toBe('{"step":"heat"}');
    expect((await back.state()).lastSeq).toBe(351);
    await back.close();
    expect(readFileSync(join(to, fileEntryName(join(dir, "modules", "batch.js"))), "utf8")).toContain("export function start");
    // the restore test does the same in a scratch folder and leaves nothing behind
    const t = await store.restoreTest();
    expect(t).toMatchObject({ ok: true, backup: side.manifest.name, problems: [] });
    expect(t.checks.join("\n")).toMatch(/PRAGMA integrity_check: ok/);
    expect(store.list().map((b) => b.name)).toEqual([side.manifest.name]);
  });

  it("one changed byte in the archive fails the restore test, naming the archive (and the next backup passes again)", async () => {
    const store = new BackupStore(join(dir, "backups"), jobs);
    const side = await make(store);
    const archive = join(store.dir, side.archive.file);
    const fd = openSync(archive, "r+");
    writeSync(fd, Buffer.from([0x5a]), 0, 1, Math.floor(statSync(archive).size / 2));
    closeSync(fd);
    const t = await store.restoreTest();
    expect(t.ok).toBe(false);
    expect(t.problems[0]).toMatch(/has changed since it was made/);
    // a new backup is good
    await make(store, "2026-11-30T03:00:00Z");
    expect((await store.restoreTest()).ok).toBe(true);
  });

  it("a database that differs from its manifest fails on its rows, not only on hashes", async () => {
    const store = new BackupStore(join(dir, "backups"), jobs);
    const side = await make(store);
    // a manifest rewritten by hand to claim another count: the archive's own manifest and the rows disagree
    const sideFile = join(store.dir, `${side.manifest.name}.json`);
    const s = JSON.parse(readFileSync(sideFile, "utf8"));
    s.manifest.database.tables.batch_log = 301;
    writeFileSync(sideFile, JSON.stringify(s));
    const t = await store.restoreTest();
    expect(t.ok).toBe(false);
    expect(t.problems).toContain("the manifest inside the archive differs from the one beside it");
    expect(t.problems).toContain("table batch_log: 300 rows, the manifest says 301");
  });

  it("an archive with an entry outside its folder, or not in its manifest, is refused before anything is written there", async () => {
    const store = new BackupStore(join(dir, "backups"), jobs);
    const side = await make(store);
    const archive = join(store.dir, side.archive.file);
    const tar = pack();
    tar.entry({ name: "../../escaped.txt" }, "owned");
    tar.entry({ name: "db/tandem.db" }, "not a database");
    tar.finalize();
    await pipeline(tar, createGzip(), createWriteStream(archive));
    // the sidecar is rewritten to match the hostile archive's hash, as an attacker with the share would
    const { fileSha256 } = await import("../../runtime/backup/archive.js");
    const h = await fileSha256(archive);
    const sideFile = join(store.dir, `${side.manifest.name}.json`);
    const s = JSON.parse(readFileSync(sideFile, "utf8"));
    s.archive = { ...s.archive, ...h };
    writeFileSync(sideFile, JSON.stringify(s));
    const to = join(dir, "r", "x");
    const r = await store.restore(side.manifest.name, to);
    expect(r.ok).toBe(false);
    expect(r.problems.join("\n")).toMatch(/would be written outside the restore folder/);
    expect(r.problems.join("\n")).toMatch(/entry 'db\/tandem.db' differs from the manifest/);
    expect(existsSync(join(dir, "r", "escaped.txt"))).toBe(false);
    expect(existsSync(join(dir, "escaped.txt"))).toBe(false);
  });

  it("retention keeps the newest `count` and none older than `days`, and always the newest good one", async () => {
    const store = new BackupStore(join(dir, "backups"), jobs);
    for (const at of ["2026-10-01T02:00:00Z", "2026-11-27T02:00:00Z", "2026-11-28T02:00:00Z", "2026-11-29T02:00:00Z"]) await make(store, at);
    const now = Date.parse("2026-11-30T02:00:00Z");
    expect(store.prune({ count: 2, days: 30 }, now)).toEqual(["tandem-line1-b-20261127-020000", "tandem-line1-b-20261001-020000"]);
    expect(store.list().map((b) => b.name)).toEqual(["tandem-line1-b-20261129-020000", "tandem-line1-b-20261128-020000"]);
    // everything older than a day: only the newest stays
    expect(store.prune({ count: 10, days: 1 }, now + 5 * 86_400_000)).toEqual(["tandem-line1-b-20261128-020000"]);
    expect(store.list().map((b) => b.name)).toEqual(["tandem-line1-b-20261129-020000"]);
  });

  it("a manifest that is not one is listed as unusable with why; a name that is not a backup's is refused", async () => {
    const store = new BackupStore(join(dir, "backups"), jobs);
    await make(store);
    writeFileSync(join(store.dir, "tandem-line1-b-20261130-030000.json"), "{ not json");
    expect(store.list()[0]).toMatchObject({ name: "tandem-line1-b-20261130-030000", problem: expect.stringMatching(/not JSON/) });
    expect(() => store.read("../../etc/passwd")).toThrow(/not a backup name/);
    // the restore test takes the newest good one
    expect((await store.restoreTest()).backup).toBe("tandem-line1-b-20261130-020000");
  });
});
