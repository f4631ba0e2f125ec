// The SQLite side of backups, run in a worker thread so that neither the copy
// nor the checks hold the node's event loop: `VACUUM INTO` writes a
// consistent copy of the live database (one read transaction: writes go on
// meanwhile, and land after it), and `inspect` reads what a copy holds —
// integrity, schema version, where the rows end, the live rows per table and
// a checksum of every row — for the manifest and again for the restore test.
import { createHash } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { canonicalRow } from "../../redundancy/storage.js";
import { toRow, type RowRecord } from "../storage/rows.js";

export interface DatabaseFacts {
  engine: "sqlite" | "postgres";
  schemaVersion: number;
  lastSeq: number;
  lastEpoch: number;
  /** every row, tombstones and purge marks included */
  rows: number;
  /** live rows per table (what `count(table)` answers) */
  tables: Record<string, number>;
  /** rows set aside as divergent */
  divergent: number;
  /** sha256 of every row's canonical text in seq order (redundancy/storage.ts canonicalRow) */
  checksum: string;
}

export interface InspectResult {
  /** "ok", or what PRAGMA integrity_check found */
  integrity: string;
  facts: DatabaseFacts | null;
  /** why the facts could not be read */
  error?: string;
}

export function inspectSqlite(file: string): InspectResult {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    return { integrity: `cannot open: ${(err as Error).message}`, facts: null };
  }
  try {
    const problems = (db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check);
    const integrity = problems.length === 1 && problems[0] === "ok" ? "ok" : problems.slice(0, 5).join("; ");
    if (integrity !== "ok") return { integrity, facts: null };
    const version = (db.prepare("SELECT version FROM tandem_schema").get() as { version: number }).version;
    const state = db.prepare("SELECT last_seq AS seq, last_epoch AS epoch FROM tandem_state").get() as { seq: number; epoch: number };
    const tables: Record<string, number> = {};
    for (const r of db.prepare("SELECT tbl, count(*) AS n FROM tandem_rows WHERE kind IN ('ins', 'put') GROUP BY tbl ORDER BY tbl").all() as { tbl: string; n: number }[]) tables[r.tbl] = r.n;
    const h = createHash("sha256");
    let rows = 0;
    for (const r of db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows ORDER BY seq").iterate() as IterableIterator<RowRecord>) {
      h.update(canonicalRow(toRow(r)));
      rows++;
    }
    const divergent = (db.prepare("SELECT count(*) AS n FROM tandem_divergence").get() as { n: number }).n;
    return { integrity, facts: { engine: "sqlite", schemaVersion: version, lastSeq: state.seq, lastEpoch: state.epoch, rows, tables, divergent, checksum: h.digest("hex") } };
  } catch (err) {
    return { integrity: "ok", facts: null, error: `not a Tandem database: ${(err as Error).message}` };
  } finally {
    db.close();
  }
}

/** A consistent copy of the live database at `dest` (which must not exist), and what it holds. */
export function copySqlite(src: string, dest: string): InspectResult {
  if (existsSync(dest)) rmSync(dest);
  let db: Database.Database;
  try {
    db = new Database(src, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`cannot open the database ${src}: ${(err as Error).message}`);
  }
  try {
    db.pragma("busy_timeout = 10000");
    db.prepare("VACUUM INTO ?").run(dest);
  } catch (err) {
    throw new Error(`cannot copy the database ${src} to ${dest}: ${(err as Error).message}`);
  } finally {
    db.close();
  }
  return inspectSqlite(dest);
}

type Job = { op: "copy"; src: string; dest: string } | { op: "inspect"; file: string };

/** Runs one job in a worker thread; the node's event loop only waits for the answer. */
export function runSqliteJob(job: Job): Promise<InspectResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: job });
    let done = false;
    w.once("message", (m: { ok: InspectResult } | { error: string }) => {
      done = true;
      if ("ok" in m) resolve(m.ok);
      else reject(new Error(m.error));
    });
    w.once("error", (err) => {
      done = true;
      reject(err);
    });
    w.once("exit", (code) => {
      if (!done) reject(new Error(`the backup worker ended (code ${code}) without an answer`));
    });
  });
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.op) {
  const job = workerData as Job;
  try {
    parentPort.postMessage({ ok: job.op === "copy" ? copySqlite(job.src, job.dest) : inspectSqlite(job.file) });
  } catch (err) {
    parentPort.postMessage({ error: (err as Error).message });
  }
}
