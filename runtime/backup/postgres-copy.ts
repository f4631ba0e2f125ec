// The PostgreSQL side of backups: `pg_dump` of Tandem's tables in one
// snapshot — the node opens a repeatable-read transaction, exports its
// snapshot, reads the facts of the manifest in it (rows per table, where the
// rows end, a checksum of every row, as sqlite-copy.ts does) and has
// pg_dump dump exactly that snapshot, so the dump and its facts agree while
// writing goes on. The restore test restores a dump into a throwaway
// database on the same server (`pg_restore`), reads the same facts there and
// drops it. The password never goes on a command line (PGPASSWORD).
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { canonicalRow } from "../../redundancy/storage.js";
import { toRow, type RowRecord } from "../storage/rows.js";
import type { DatabaseFacts, InspectResult } from "./sqlite-copy.js";

export interface PgTarget {
  /** postgres://user:password@host:port/db */
  url: string;
  /** the schema Tandem's tables are in (database.schema), or none: the connection's default */
  schema?: string;
}

const PAGE = 10_000;

function tables(schema: string | undefined) {
  const q = schema === undefined ? "" : `"${schema}".`;
  return { state: `${q}tandem_state`, rows: `${q}tandem_rows`, divergence: `${q}tandem_divergence`, version: `${q}tandem_schema` };
}

/** the URL without its password, and the password for PGPASSWORD */
function split(url: string): { url: string; password: string | null } {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : null;
  u.password = "";
  return { url: u.toString(), password };
}

/** the facts of the manifest, read by `c` (in whatever snapshot it holds) */
export async function pgFacts(c: pg.ClientBase, schema: string | undefined): Promise<DatabaseFacts> {
  const t = tables(schema);
  const version = (await c.query<{ version: number }>(`SELECT version FROM ${t.version}`)).rows[0]?.version ?? 0;
  const st = (await c.query<{ seq: string; epoch: string }>(`SELECT last_seq AS seq, last_epoch AS epoch FROM ${t.state}`)).rows[0];
  const per: Record<string, number> = {};
  for (const r of (await c.query<{ tbl: string; n: string }>(`SELECT tbl, count(*) AS n FROM ${t.rows} WHERE kind IN ('ins', 'put') GROUP BY tbl ORDER BY tbl`)).rows) per[r.tbl] = Number(r.n);
  const h = createHash("sha256");
  let rows = 0;
  for (let after = -1; ; ) {
    const page = (await c.query<{ seq: string; epoch: string; at: string; tbl: string; kind: string; key: string | null; body: string | null }>(`SELECT seq, epoch, at, tbl, kind, key, body FROM ${t.rows} WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`, [after])).rows;
    for (const r of page) h.update(canonicalRow(toRow({ seq: Number(r.seq), epoch: Number(r.epoch), at: Number(r.at), tbl: r.tbl, kind: r.kind, key: r.key, body: r.body } as RowRecord)));
    rows += page.length;
    if (page.length < PAGE) break;
    after = Number(page[page.length - 1]!.seq);
  }
  const divergent = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${t.divergence}`)).rows[0]!.n);
  return { engine: "postgres", schemaVersion: version, lastSeq: Number(st?.seq ?? 0), lastEpoch: Number(st?.epoch ?? 0), rows, tables: per, divergent, checksum: h.digest("hex") };
}

function run(cmd: string, args: string[], password: string | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...(password === null ? {} : { PGPASSWORD: password }) };
    const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString("utf8")).slice(-4000)));
    child.once("error", (e) => reject(new Error(`${cmd}: ${e.message} (install PostgreSQL's client programs)`)));
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err.trim().split("\n").slice(-3).join(" ")}`))));
  });
}

/** A dump of Tandem's tables at `dest` (custom format) and the facts of the snapshot it was made from. */
export async function copyPostgres(target: PgTarget, dest: string): Promise<InspectResult> {
  const c = new pg.Client({ connectionString: target.url });
  await c.connect();
  try {
    await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const snapshot = (await c.query<{ s: string }>("SELECT pg_export_snapshot() AS s")).rows[0]!.s;
    const facts = await pgFacts(c, target.schema);
    const { url, password } = split(target.url);
    const which = target.schema === undefined ? ["--table=tandem_*"] : [`--schema=${target.schema}`];
    await run("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", `--snapshot=${snapshot}`, ...which, `--file=${dest}`, `--dbname=${url}`], password);
    await c.query("COMMIT");
    return { integrity: "ok", facts };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Restores the dump into a throwaway database on the target's server, reads
 * its facts and drops it. The user needs the right to create databases.
 */
export async function inspectPostgresDump(target: PgTarget, dump: string): Promise<InspectResult> {
  const name = `tandem_restore_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: target.url });
  await admin.connect();
  try {
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      return { integrity: "ok", facts: null, error: `cannot create a throwaway database to restore into (${(err as Error).message}): give the database user CREATEDB` };
    }
    const u = new URL(target.url);
    u.pathname = `/${name}`;
    const { url, password } = split(u.toString());
    try {
      await run("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", `--dbname=${url}`, dump], password);
    } catch (err) {
      return { integrity: `pg_restore failed: ${(err as Error).message}`, facts: null };
    }
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    try {
      return { integrity: "ok", facts: await pgFacts(c, target.schema) };
    } catch (err) {
      return { integrity: "ok", facts: null, error: `not a Tandem database: ${(err as Error).message}` };
    } finally {
      await c.end().catch(() => undefined);
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}
