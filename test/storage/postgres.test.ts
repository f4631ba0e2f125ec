// The PostgreSQL adapter against the storage conformance suite, on a real
// PostgreSQL started for this file in a temporary directory (fsync on), each
// store in a database of its own. Then what is PostgreSQL's own: a newer
// schema refused, two adapters on one database, two stores in two schemas of
// one database, connection errors, and — since apply() turns a batch into a
// few set-based statements instead of replaying it row by row — batches of
// every mix applied to both adapters with the same outcome.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { StorageGapError, type Row, type RowWrite } from "../../redundancy/storage.js";
import { POSTGRES_MIGRATIONS } from "../../runtime/storage/migrations.js";
import { PostgresStorage, redactUrl } from "../../runtime/storage/postgres.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { startPostgres, type PgCluster } from "../helpers/postgres.js";
import { stamp, storageConformance, type StoreHandle } from "./conformance.js";

// A store here is a database: CREATE DATABASE, the migration and DROP
// DATABASE (which forces a checkpoint) cost ≈0.3 s idle and over 1 s under a
// loaded suite, and the conformance property test makes 30 of them: more
// time than the suite's default, not a weaker test.
vi.setConfig({ testTimeout: 180_000 });

let cluster: PgCluster;
let dbs = 0;

beforeAll(async () => {
  cluster = await startPostgres();
});

afterAll(async () => {
  await cluster?.stop();
});

/** runs sql on the database behind the store's back */
async function behind(url: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql, values);
  } finally {
    await c.end();
  }
}

/** a store in a database of its own */
async function pgStore(): Promise<StoreHandle & { url: string }> {
  const name = `t${process.pid}_${++dbs}`;
  const url = await cluster.createDatabase(name);
  const h: StoreHandle & { url: string } = {
    url,
    storage: new PostgresStorage({ url }),
    async tamper(seq, body) {
      await behind(url, "UPDATE tandem_rows SET body = $1 WHERE seq = $2", [body, seq]);
    },
    async reopen() {
      return new PostgresStorage({ url });
    },
    async cleanup() {
      await h.storage.close();
      await cluster.dropDatabase(name);
    },
  };
  return h;
}

/** a store in a schema of its own, beside the others in one shared database (as two nodes sharing a database keep theirs) */
let shared: Promise<string> | null = null;
let schemas = 0;
async function pgSchemaStore(): Promise<StoreHandle & { url: string }> {
  shared ??= cluster.createDatabase(`shared${process.pid}`);
  const url = await shared;
  const schema = `node_${++schemas}`;
  const h: StoreHandle & { url: string } = {
    url,
    storage: new PostgresStorage({ url, schema }),
    async tamper(seq, body) {
      await behind(url, `UPDATE ${schema}.tandem_rows SET body = $1 WHERE seq = $2`, [body, seq]);
    },
    async reopen() {
      return new PostgresStorage({ url, schema });
    },
    async cleanup() {
      await h.storage.close();
      await behind(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
  return h;
}

storageConformance("postgres", pgStore);
storageConformance("postgres (a schema of a shared database)", pgSchemaStore);

const ins = (table: string, body: unknown, key: string | null = null): RowWrite => ({ table, kind: "ins", key, body: JSON.stringify(body) });
const put = (table: string, key: string, body: unknown): RowWrite => ({ table, kind: "put", key, body: JSON.stringify(body) });

describe("the test PostgreSQL", () => {
  it("is durable (fsync and synchronous_commit on), hands out fresh databases, and stops once however often asked", async () => {
    const r = await behind(cluster.url("postgres"), "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync, current_setting('listen_addresses') AS listen");
    expect(r.rows).toEqual([{ fsync: "on", sync: "on", listen: "127.0.0.1" }]);
    const other = await startPostgres();
    expect(other.port).not.toBe(cluster.port);
    expect(existsSync(join(other.dataDir, "PG_VERSION"))).toBe(true);
    const url = await other.createDatabase("fresh");
    expect((await behind(url, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).rows).toEqual([{ n: 0 }]);
    await other.dropDatabase("fresh");
    await expect(behind(url, "SELECT 1")).rejects.toThrow(/does not exist/);
    await Promise.all([other.stop(), other.stop()]);
    await other.stop();
    expect(existsSync(other.socketDir)).toBe(false);
    await expect(behind(other.url("postgres"), "SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("postgres adapter", () => {
  it("refuses a schema newer than it knows", async () => {
    const h = await pgStore();
    try {
      await h.storage.open();
      await behind(h.url, "UPDATE tandem_schema SET version = 99");
      await h.storage.close();
      h.storage = await h.reopen();
      const err = await h.storage.open().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "TANDEM_ERR_DATABASE" });
      expect((err as Error).message).toContain(`schema version 99 is newer than this build knows (${POSTGRES_MIGRATIONS.length})`);
      expect(await behind(h.url, "SELECT version FROM tandem_schema").then((r) => r.rows)).toEqual([{ version: 99 }]);
    } finally {
      await h.cleanup();
    }
  });

  it("reads a range of keys through the (table, key) index, in both orders", async () => {
    const h = await pgStore();
    try {
      await h.storage.open();
      for (const order of ["ASC", "DESC"]) {
        // a tiny table is scanned whatever the indexes: forbid that, so the plan shows whether the index can serve
        const r = (await behind(h.url, `SET enable_seqscan = off; SET enable_sort = off; EXPLAIN SELECT seq FROM tandem_rows WHERE tbl = 'h' AND key >= 'a' AND key < 'b' AND kind IN ('ins', 'put') ORDER BY key ${order} LIMIT 10`)) as unknown as pg.QueryResult[];
        const plan = r[2]!.rows.map((x: Record<string, string>) => x["QUERY PLAN"]).join("\n");
        expect(plan).toMatch(/Index Scan( Backward)? using tandem_rows_key/);
        expect(plan).not.toMatch(/Sort/);
      }
    } finally {
      await h.cleanup();
    }
  });

  it("a second adapter on the same database sees the same store, and two writes after the same row do not collide", async () => {
    const h = await pgStore();
    const other = new PostgresStorage({ url: h.url, poolSize: 2 });
    try {
      await h.storage.open();
      await h.storage.apply(0, stamp([ins("log", 1), put("kv", "a", 2)], 1, 7));
      await other.open();
      expect(await other.state()).toEqual(await h.storage.state());
      expect(await other.state()).toMatchObject({ lastSeq: 2, lastEpoch: 7 });
      expect((await other.rowsAfter(0, 1000)).length).toBe(2);
      expect((await other.get("kv", "a"))?.body).toBe("2");
      // both write "after 2": each transaction locks and reads the store's
      // state first, so the second one sees the first's rows and skips what
      // it already holds (a resend) instead of colliding on seq 3
      await Promise.all([h.storage.apply(2, stamp([ins("log", "x")], 3, 7)), other.apply(2, stamp([ins("log", "y"), ins("log", "z")], 3, 7))]);
      const st = await h.storage.state();
      expect(st).toMatchObject({ lastSeq: 4, lastEpoch: 7 });
      expect((await h.storage.rowsAfter(0, 1000)).length).toBe(4);
      expect(await other.state()).toEqual(st);
      expect((await other.read("log")).map((r) => r.body)).toContain('"z"');
      expect(await h.storage.checksums(1, 4, 2)).toEqual(await other.checksums(1, 4, 2));
      // one empties the store behind the other's back: the other's idea of
      // where the store stands is stale (4), the store's own state decides
      await other.truncate();
      const gap = await h.storage.apply(4, stamp([ins("log", 5)], 5, 7)).catch((e: unknown) => e);
      expect(gap).toBeInstanceOf(StorageGapError);
      expect((gap as StorageGapError).have).toBe(0);
      await h.storage.apply(0, stamp([ins("log", 1), ins("log", 2)], 1, 8)); // at or below 4, but not a resend here
      expect(await other.state()).toMatchObject({ lastSeq: 2, lastEpoch: 8, epochs: [{ epoch: 8, firstSeq: 1 }] });
      expect((await other.rowsAfter(0, 1000)).length).toBe(2);
    } finally {
      await other.close();
      await h.cleanup();
    }
  });

  it("upgrades a version 1 database in place (its age index becomes a BRIN); rows, reads and purges go on as before", async () => {
    const h = await pgStore();
    try {
      // a database as version 1 left it, with rows
      await behind(h.url, `${POSTGRES_MIGRATIONS[0]} CREATE TABLE tandem_schema (version INTEGER NOT NULL); INSERT INTO tandem_schema VALUES (1);`);
      await behind(h.url, "INSERT INTO tandem_rows (seq, epoch, at, tbl, kind, key, body) VALUES (1, 1, 1000, 'log', 'ins', NULL, '1'), (2, 1, 5000, 'log', 'ins', NULL, '2'); UPDATE tandem_state SET last_seq = 2, last_epoch = 1; INSERT INTO tandem_epochs VALUES (1, 1)");
      await h.storage.open();
      expect(await h.storage.schemaVersion()).toBe(2);
      const idx = await behind(h.url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'tandem_rows_age'");
      expect(idx.rows[0].indexdef).toMatch(/USING brin \(at\)/);
      expect(await h.storage.state()).toMatchObject({ lastSeq: 2, lastEpoch: 1 });
      await h.storage.apply(2, [...stamp([ins("log", 3)], 3, 1), { seq: 4, epoch: 1, at: 9000, table: "log", kind: "purge", key: null, body: JSON.stringify({ before: 2000 }) }]);
      expect((await h.storage.read("log")).map((r) => r.body)).toEqual(["2", "3"]);
    } finally {
      await h.cleanup();
    }
  });

  it("keeps two stores apart in two schemas of one database (two nodes sharing one database)", async () => {
    const h = await pgStore();
    const a = new PostgresStorage({ url: h.url, schema: "node_a" });
    const b = new PostgresStorage({ url: h.url, schema: "node_b" });
    try {
      // both open at once: the migrations take turns under the advisory lock
      await Promise.all([a.open(), b.open()]);
      await a.apply(0, stamp([ins("log", "a1"), ins("log", "a2")], 1, 1));
      await b.apply(0, stamp([ins("log", "b1")], 1, 2));
      expect(await a.state()).toMatchObject({ lastSeq: 2, lastEpoch: 1 });
      expect(await b.state()).toMatchObject({ lastSeq: 1, lastEpoch: 2 });
      expect((await a.rowsAfter(0, 1000)).length).toBe(2);
      expect((await b.rowsAfter(0, 1000)).length).toBe(1);
      expect((await b.read("log")).map((r) => r.body)).toEqual(['"b1"']);
      const tables = await behind(h.url, "SELECT table_schema, count(*)::int AS n FROM information_schema.tables WHERE table_name LIKE 'tandem_%' GROUP BY 1 ORDER BY 1");
      expect(tables.rows).toEqual([
        { table_schema: "node_a", n: 5 },
        { table_schema: "node_b", n: 5 },
      ]);
      expect(() => new PostgresStorage({ url: h.url, schema: 'x"; DROP TABLE y; --' })).toThrow(/schema name/);
      // each schema has its own version: a newer one in node_b does not stop node_a
      await behind(h.url, "UPDATE node_b.tandem_schema SET version = 99");
      await a.close();
      await b.close();
      await expect(b.open()).rejects.toThrow(/schema version 99 is newer/);
      await a.open();
      expect(await a.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
    } finally {
      await a.close();
      await b.close();
      await h.cleanup();
    }
  });

  it("applies calls made without waiting one at a time, in the order made", async () => {
    const h = await pgStore();
    try {
      await h.storage.open();
      const calls: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) calls.push(h.storage.apply(i * 5, stamp(Array.from({ length: 5 }, (_, j) => ins("log", i * 5 + j)), i * 5 + 1, 1)));
      await Promise.all(calls);
      expect((await h.storage.state()).lastSeq).toBe(100);
      expect((await h.storage.read("log")).map((r) => Number(r.body))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    } finally {
      await h.cleanup();
    }
  });

  it("names the server it cannot reach, and never shows a password", async () => {
    expect(redactUrl("postgres://tandem:s3cret@db1:5432/tandem")).toBe("postgres://tandem@db1:5432/tandem");
    expect(redactUrl("postgres://db1/tandem?password=s3cret&sslmode=require")).toBe("postgres://db1/tandem?sslmode=require");
    // a port nothing listens on: the kernel's pick, closed again
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer();
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const s = new PostgresStorage({ url: `postgres://tandem:s3cret@127.0.0.1:${port}/tandem` });
    expect(s.where).not.toContain("s3cret");
    const err = (await s.open().catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: "TANDEM_ERR_DATABASE" });
    expect(err.message).toBe(`database postgres://tandem@127.0.0.1:${port}/tandem: cannot connect: ECONNREFUSED 127.0.0.1:${port}`);
    const missing = new PostgresStorage({ url: cluster.url("no_such_db") });
    await expect(missing.open()).rejects.toThrow(/cannot connect: database "no_such_db" does not exist/);
    await expect(missing.state()).rejects.toThrow(/not open/);
  });

  it("checksums a range bigger than one read, with gaps, exactly as SQLite does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-pg-sums-"));
    const h = await pgSchemaStore();
    const lite = new SqliteStorage({ file: join(dir, "s.db") });
    try {
      await h.storage.open();
      await lite.open();
      // 12,000 rows, a third of them puts over 100 keys: the replaced ones leave gaps
      const writes: RowWrite[] = Array.from({ length: 12_000 }, (_, i) => (i % 3 === 0 ? put("kv", `k${i % 100}`, i) : ins("log", { i, s: 'q"uote\\' })));
      for (let i = 0; i < writes.length; i += 1000) {
        const rows = stamp(writes.slice(i, i + 1000), i + 1, 1);
        await h.storage.apply(i, rows);
        await lite.apply(i, rows);
      }
      expect((await h.storage.count("kv")) + (await h.storage.count("log"))).toBe(8_100);
      for (const [from, to, span] of [
        [1, 12_000, 1000],
        [3, 11_999, 777],
        [5_000, 5_000, 1],
        [11_990, 12_010, 4],
      ]) {
        expect(await h.storage.checksums(from, to, span)).toEqual(await lite.checksums(from, to, span));
      }
      expect(await h.storage.checksums(10, 9, 5)).toEqual([]);
    } finally {
      await lite.close();
      await h.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("applies any mix of inserts, keyed writes, deletes and purges exactly as the SQLite adapter does, failures included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-pg-vs-sqlite-"));
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.array(
              fc.oneof(
                fc.record({ op: fc.constant("ins" as const), t: fc.constantFrom("log", "kv"), k: fc.option(fc.constantFrom("a", "b", "c"), { nil: null }) }),
                fc.record({ op: fc.constantFrom("put" as const, "del" as const), t: fc.constantFrom("log", "kv"), k: fc.constantFrom("a", "b", "c") }),
                fc.record({ op: fc.constant("purge" as const), t: fc.constantFrom("log", "kv"), back: fc.integer({ min: 0, max: 12 }) }),
              ),
              { minLength: 1, maxLength: 12 },
            ),
            { minLength: 1, maxLength: 6 },
          ),
          async (batches) => {
            const h = await pgSchemaStore();
            const lite = new SqliteStorage({ file: join(dir, `s${++n}.db`) });
            try {
              await h.storage.open();
              await lite.open();
              let seq = 1;
              let at = 1_000;
              for (const ops of batches) {
                const rows: Row[] = ops.map((o) => {
                  const r: Row = { seq: seq++, epoch: 1, at: at++, table: o.t, kind: o.op, key: null, body: null };
                  if (o.op === "purge") return { ...r, body: JSON.stringify({ before: at - o.back }) };
                  return { ...r, key: o.k, body: o.op === "del" ? null : JSON.stringify(r.seq) };
                });
                const after = (await lite.state()).lastSeq;
                const [a, b] = await Promise.allSettled([lite.apply(after, rows), h.storage.apply(after, rows)]);
                expect(b.status).toBe(a.status);
                // a failed batch left both as they were: go on from there, the seq numbers it used are gone
                expect(await h.storage.state()).toEqual(await lite.state());
              }
              const top = Math.max(1, seq);
              expect(await h.storage.rowsAfter(0, 1000)).toEqual(await lite.rowsAfter(0, 1000));
              expect(await h.storage.checksums(1, top, 4)).toEqual(await lite.checksums(1, top, 4));
            } finally {
              await lite.close();
              await h.cleanup();
            }
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
