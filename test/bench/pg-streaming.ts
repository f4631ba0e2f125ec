// PostgreSQL's own synchronous streaming replication, for the replication
// bench's reference: a primary (test/helpers/postgres.ts: a throwaway cluster,
// fsync on, synchronous_commit on, wal_level replica) and a hot standby made
// from it with pg_basebackup -R, both on loopback in temp dirs, the standby
// named in primary_conninfo (application_name) and the primary told
// synchronous_standby_names = '*'. A commit on the primary then returns once
// the standby has flushed its WAL (synchronous_commit = on): the same promise
// as Tandem's sync mode, both copies on disk.
import { chmodSync, chownSync, appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePgPort, logTail, postgresBinDir, postgresOwner, runPgBinary, startPostgres, type PgCluster } from "../helpers/postgres.js";

export const STANDBY_NAME = "tandem_bench_standby";

export interface ReplicationRow {
  application_name: string;
  state: string;
  sync_state: string;
  sync_priority: number;
}

export interface StreamingPair {
  primary: PgCluster;
  standbyPort: number;
  /** pg_stat_replication on the primary */
  replication(): Promise<ReplicationRow[]>;
  /** what both servers say of the settings that matter here */
  settings(): Promise<{ primary: Record<string, string>; standby: Record<string, string> }>;
  /** stops both (immediate) and removes their directories; safe to call twice */
  stop(): Promise<void>;
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql)).rows;
  } finally {
    await c.end();
  }
}

async function show(url: string, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = (await query<Record<string, string>>(url, `SHOW ${n}`))[0][n];
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `register` is told each directory as it is made, so a bench that dies half-way can still remove it */
export async function startStreamingPair(register?: (dir: string, data: string) => void): Promise<StreamingPair> {
  const bin = postgresBinDir();
  const primary = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), "tandem-pg-standby-"));
  const data = join(dir, "data");
  register?.(dir, data);
  const log = join(dir, "postgres.log");
  let standbyPort = 0;
  let started = false;
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      if (started) await runPgBinary(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      await primary.stop();
    })());
  try {
    const owner = postgresOwner();
    if (owner) chownSync(dir, owner.uid, owner.gid);
    chmodSync(dir, 0o700);
    // a copy of the primary with standby.signal and primary_conninfo (-R); --no-sync: a throwaway copy, its steady-state commits are what counts
    await runPgBinary(join(bin, "pg_basebackup"), ["-D", data, "-h", "127.0.0.1", "-p", String(primary.port), "-U", "test", "-X", "stream", "-c", "fast", "-R", "--no-sync"]);
    // the name synchronous_standby_names and pg_stat_replication know it by (a later line wins over -R's)
    appendFileSync(data + "/postgresql.auto.conf", `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=test application_name=${STANDBY_NAME}'\n`);
    for (let attempt = 1; ; attempt++) {
      standbyPort = await freePgPort();
      try {
        await runPgBinary(join(bin, "pg_ctl"), ["-D", data, "-l", log, "-w", "-t", "60", "-o", `-p ${standbyPort} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c hot_standby=on`, "start"]);
        started = true;
        break;
      } catch (err) {
        await runPgBinary(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]).catch(() => undefined);
        if (attempt >= 5) throw new Error(`standby: ${(err as Error).message}\nserver log:\n${logTail(log)}`);
      }
    }
    const admin = primary.url("postgres");
    await query(admin, "ALTER SYSTEM SET synchronous_standby_names = '*'");
    await query(admin, "SELECT pg_reload_conf()");
    const replication = () => query<ReplicationRow>(admin, "SELECT application_name, state, sync_state, sync_priority FROM pg_stat_replication");
    const t0 = Date.now();
    for (;;) {
      const rows = await replication();
      if (rows.some((r) => r.application_name === STANDBY_NAME && r.state === "streaming" && r.sync_state === "sync")) break;
      if (Date.now() - t0 > 30_000) throw new Error(`the standby is not a synchronous one 30 s after it started: pg_stat_replication ${JSON.stringify(rows)}\nstandby log:\n${logTail(log)}`);
      await sleep(50);
    }
    const standbyUrl = `postgres://test@127.0.0.1:${standbyPort}/postgres`;
    return {
      primary,
      standbyPort,
      replication,
      async settings() {
        const p = await show(admin, ["server_version", "wal_level", "fsync", "synchronous_commit", "synchronous_standby_names", "full_page_writes", "wal_sync_method", "shared_buffers", "max_wal_size"]);
        const s = await show(standbyUrl, ["fsync", "synchronous_commit", "hot_standby", "wal_sync_method", "primary_conninfo"]);
        s.in_recovery = String((await query<{ r: boolean }>(standbyUrl, "SELECT pg_is_in_recovery() AS r"))[0].r);
        return { primary: p, standby: s };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
