// Backups of a PostgreSQL database on a real server: pg_dump of one snapshot
// while writes go on, its facts read in that snapshot; the restore test
// restores it into a throwaway database (pg_restore), finds the same rows
// per table and checksum, and drops it; a changed dump fails it. Tandem's
// tables in their own schema are dumped and restored the same way.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackupStore } from "../../runtime/backup/backups.js";
import { copyPostgres, inspectPostgresDump, type PgTarget } from "../../runtime/backup/postgres-copy.js";
import { copySqlite, inspectSqlite } from "../../runtime/backup/sqlite-copy.js";
import { PostgresStorage } from "../../runtime/storage/postgres.js";
import type { Row } from "../../redundancy/storage.js";
import { startPostgres, type PgCluster } from "../helpers/postgres.js";

let cluster: PgCluster;
const dir = mkdtempSync(join(tmpdir(), "tandem-pgbackup-"));
beforeAll(async () => {
  cluster = await startPostgres();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const rows = (from: number, n: number, table: string): Row[] => Array.from({ length: n }, (_, i) => ({ seq: from + i, epoch: 3, at: 1_700_000_000_000 + i, table, kind: "ins" as const, key: null, body: JSON.stringify({ i: from + i }) }));

async function fill(target: PgTarget): Promise<PostgresStorage> {
  const s = new PostgresStorage({ url: target.url, poolSize: 2, ...(target.schema ? { schema: target.schema } : {}) });
  await s.open();
  await s.apply(0, rows(1, 2500, "batch_log"));
  await s.apply(2500, rows(2501, 40, "_events"));
  return s;
}

function store(name: string, target: PgTarget): BackupStore {
  return new BackupStore(join(dir, name), { copy: async (a, b) => copySqlite(a, b), inspect: async (f) => inspectSqlite(f), dumpPg: (dest) => copyPostgres(target, dest), inspectPg: (dump) => inspectPostgresDump(target, dump) });
}

const make = (s: BackupStore, where: string, at: string) => s.make({ pair: "line1", node: "b", nodeState: "standby", epoch: 3, tandemVersion: "0.1.0", database: { engine: "postgres", where }, files: { paths: [] }, now: new Date(at) });

describe("PostgreSQL backups", () => {
  it("a dump of one snapshot while writes go on; the restore test restores it into a throwaway database with the same rows, then drops it", async () => {
    const target = { url: await cluster.createDatabase("node_b") };
    const db = await fill(target);
    const s = store("plain", target);
    // writes go on while the dump runs: the manifest and the dump agree on one point of the order
    const writing = (async () => {
      for (let i = 0; i < 20; i++) await db.apply(2540 + i * 5, rows(2541 + i * 5, 5, "batch_log"));
    })();
    const side = await make(s, "postgres://test@127.0.0.1/node_b", "2026-11-30T02:00:00Z");
    await writing;
    expect(side.manifest.database).toMatchObject({ engine: "postgres", entry: "db/tandem.pgdump", schemaVersion: await db.schemaVersion() });
    expect(side.manifest.database.tables._events).toBe(40);
    expect(side.manifest.database.rows).toBe(side.manifest.database.lastSeq);
    const t = await s.restoreTest();
    expect(t.problems).toEqual([]);
    expect(t.ok).toBe(true);
    expect(t.checks.join("\n")).toMatch(/pg_restore into a throwaway database: ok/);
    // the throwaway database is gone
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    const left = (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'tandem_restore_test_%'")).rows;
    await c.end();
    expect(left).toEqual([]);
    await db.close();
  });

  it("Tandem's tables in their own schema are dumped and restored alike; a changed dump fails the restore test", async () => {
    const target = { url: await cluster.createDatabase("shared"), schema: "tandem_b" };
    const db = await fill(target);
    const s = store("schema", target);
    const side = await make(s, "postgres://test@127.0.0.1/shared", "2026-11-30T03:00:00Z");
    expect(side.manifest.database.tables).toEqual({ _events: 40, batch_log: 2500 });
    expect((await s.restoreTest()).ok).toBe(true);
    await db.close();
    // a dump whose rows differ from its manifest (the manifest's count changed by hand, both copies)
    const { readFileSync, writeFileSync } = await import("node:fs");
    const sideFile = join(s.dir, `${side.manifest.name}.json`);
    const j = JSON.parse(readFileSync(sideFile, "utf8"));
    j.manifest.database.checksum = "0".repeat(64);
    writeFileSync(sideFile, JSON.stringify(j));
    const bad = await s.restoreTest();
    expect(bad.ok).toBe(false);
    expect(bad.problems.join("\n")).toMatch(/checksum .* differs from the manifest's 0000000000000000/);
  });
});
