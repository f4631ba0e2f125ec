// The PostgreSQL storage adapter: the same tables and the same behaviour as
// the SQLite adapter (sqlite.ts), for sites that keep their data in a
// PostgreSQL server. Each node has its own store: two nodes sharing a server
// use two databases, or two schemas of one database (the `schema` option).
//
// Durability: a commit returns once PostgreSQL has flushed it
// (synchronous_commit on; a session whose server default is off turns it
// back on for Tandem's own writes) — but an apply asked not to flush (a
// standby under syncAck: written) commits with it off; flush() then makes
// everything before it durable.
//
// Speed: apply() never sends one statement per row. A batch without a purge
// (nearly every batch) is ONE statement, so one round trip and one commit:
// an INSERT … SELECT FROM unnest(…) of its rows, an upsert (ON CONFLICT on
// the (tbl, key) index) of the rows whose puts and dels replace a stored
// key, the epochs it opens and the store's new state, all guarded by the
// state this adapter last wrote (a row lock on it; when another writer moved
// it meanwhile, nothing is written and the batch goes the long way). The
// long way: a transaction that locks and reads the state first, then one
// such statement per stretch of rows between purges, each purge one DELETE;
// a stretch of 1000 plain inserts or more (a catch-up, a snapshot) goes by
// COPY instead, about twice as fast as the INSERT of arrays.
import pg from "pg";
import { TandemError } from "../../core/errors.js";
import { StorageGapError, type ApplyOptions, type DivergentRow, type KeyRange, type RangeSum, type ReadOptions, type Row, type RowKind, type Storage, type StoreSnapshot, type StoreState } from "../../redundancy/storage.js";
import { COLS, rangeSums, toRow, type RowRecord } from "./postgres-read.js";
import { connectReason, COPY_FROM_ROWS, describe, migrationLockKey, newSegment, redactUrl, safeInt, segmentParams, writeSegment, type Plan, type Segment, type Step } from "./postgres-parts.js";

export { redactUrl };
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { purgeBefore } from "./rows.js";

const { Pool } = pg;

export interface PostgresOptions {
  /** postgres://user:password@host:port/database (a password is never shown in `where`) */
  url: string;
  /** connections in the pool (default 4): writes go one at a time, reads run beside them */
  poolSize?: number;
  /** keep Tandem's tables in this schema (created if missing) instead of the connection's default */
  schema?: string;
}

/** the biggest batch sent as one statement on the state this adapter last saw (a bigger one is rare: a failed guess would cost it twice) */
const AT_ONCE_MAX = 10_000;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const STRONG_SYNC = new Set(["on", "remote_write", "remote_apply", "local"]);

export class PostgresStorage implements Storage {
  readonly engine = "postgres" as const;
  readonly where: string;
  private pool: pg.Pool | null = null;
  /** writes one at a time in this process */
  private chain: Promise<unknown> = Promise.resolve();
  /** how write transactions begin (turning synchronous_commit back on where the server has it off) */
  private begin = "BEGIN";
  private readonly t: { state: string; rows: string; epochs: string; divergence: string; schema: string };
  /** the state this adapter last read or wrote: the guess a one-statement apply is guarded by */
  private last = { seq: 0, epoch: 0 };
  private readonly sql: { segment: string; fastApply: string; fastApplyWritten: string };
  /** an apply since the last flushed commit was committed with synchronous_commit off */
  private unflushed = false;

  constructor(private readonly opts: PostgresOptions) {
    this.where = redactUrl(opts.url);
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `schema name ${JSON.stringify(opts.schema)}: letters, digits and underscores only, not starting with a digit`]);
    }
    const q = opts.schema === undefined ? "" : `"${opts.schema}".`;
    this.t = { state: `${q}tandem_state`, rows: `${q}tandem_rows`, epochs: `${q}tandem_epochs`, divergence: `${q}tandem_divergence`, schema: `${q}tandem_schema` };
    // A segment's two inserts touch disjoint keys: `a` the rows that take a
    // key nobody here replaced (an insert finding its key stored fails on the
    // unique index, as in SQLite), `b` the last row of each key whose first
    // row here is a put or a del, taking the stored row's place.
    // In the one-statement apply, `g` locks the state row if it is still the
    // one this adapter last saw, and every part writes only if it was. The
    // UPDATE (the main statement) runs before the inserts, which nothing
    // reads: so it must be the UPDATE that evaluates `g` first (its EXISTS is
    // an initplan, run before the row is updated), and the inserts find `g`
    // already read — evaluated after the update, `g` would skip the row this
    // statement changed and match nothing.
    const guard = (on: boolean) => (on ? " WHERE EXISTS (SELECT 1 FROM g)" : "");
    const inserts = (guarded: boolean) =>
      `a AS (INSERT INTO ${this.t.rows} (${COLS}) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])${guard(guarded)}),
       b AS (INSERT INTO ${this.t.rows} (${COLS}) SELECT * FROM unnest($8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[])${guard(guarded)}
             ON CONFLICT (tbl, key) WHERE key IS NOT NULL DO UPDATE SET seq = EXCLUDED.seq, epoch = EXCLUDED.epoch, at = EXCLUDED.at, kind = EXCLUDED.kind, body = EXCLUDED.body)`;
    const fastApply = (written: boolean) =>
      `WITH g AS (SELECT 1 FROM ${this.t.state} WHERE last_seq = $15 AND last_epoch = $16 FOR UPDATE),
       ${inserts(true)},
       e AS (INSERT INTO ${this.t.epochs} (epoch, first_seq) SELECT * FROM unnest($17::bigint[], $18::bigint[])${guard(true)} ON CONFLICT DO NOTHING)${
         // not flushed (syncAck: written): synchronous_commit off for this statement's own transaction, set by the UPDATE as it runs
         written ? `,\n       w AS (SELECT set_config('synchronous_commit', 'off', true) AS v)` : ""
       }
       UPDATE ${this.t.state} SET last_seq = $19, last_epoch = $20${guard(true)}${written ? " AND EXISTS (SELECT 1 FROM w WHERE v = 'off')" : ""}`;
    this.sql = { segment: `WITH ${inserts(false)} SELECT 1`, fastApply: fastApply(false), fastApplyWritten: fastApply(true) };
  }

  async open(): Promise<void> {
    if (this.pool) return;
    // BIGINT (int8) comes back as text by default: every one of ours is a
    // sequence number, epoch, ms timestamp, id or count, all far below 2^53
    const types = new pg.TypeOverrides();
    types.setTypeParser(20, (v: string) => Number(v));
    const pool = new Pool({
      connectionString: this.opts.url,
      max: this.opts.poolSize ?? 4,
      types,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      application_name: "tandem",
    });
    // an idle connection the server dropped: the pool removes it and the next query opens another
    pool.on("error", () => undefined);
    let c: pg.PoolClient;
    try {
      c = await pool.connect();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `cannot connect: ${connectReason(err)}`]);
    }
    c.on("error", () => undefined);
    try {
      await this.migrate(c);
      const sync = (await c.query<{ synchronous_commit: string }>("SHOW synchronous_commit")).rows[0].synchronous_commit;
      this.begin = STRONG_SYNC.has(sync) ? "BEGIN" : "BEGIN; SET LOCAL synchronous_commit TO on";
      const st = (await c.query<{ last_seq: number; last_epoch: number }>(`SELECT last_seq, last_epoch FROM ${this.t.state}`)).rows[0];
      this.last = { seq: st.last_seq, epoch: st.last_epoch };
      c.release();
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      c.release(true);
      await pool.end().catch(() => undefined);
      if (err instanceof TandemError) throw err;
      throw new TandemError("TANDEM_ERR_DATABASE", [this.where, describe(err)]);
    }
    this.pool = pool;
  }

  /** creates or migrates the schema in one transaction, under a lock both nodes of a shared server take */
  private async migrate(c: pg.PoolClient): Promise<void> {
    const schema = this.opts.schema;
    await c.query("BEGIN");
    await c.query("SELECT pg_advisory_xact_lock($1::bigint)", [migrationLockKey(schema ?? "")]);
    if (schema !== undefined) {
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await c.query(`SET LOCAL search_path TO "${schema}"`);
    }
    await c.query(`CREATE TABLE IF NOT EXISTS ${this.t.schema} (version INTEGER NOT NULL)`);
    const row = (await c.query<{ version: number }>(`SELECT version FROM ${this.t.schema}`)).rows[0];
    const have = row?.version ?? 0;
    const known = POSTGRES_MIGRATIONS.length;
    if (have > known) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `schema version ${have} is newer than this build knows (${known}): run the newer Tandem, or restore a backup made by this one`]);
    for (let v = have; v < known; v++) {
      await c.query(POSTGRES_MIGRATIONS[v]);
      if (v === 0) await c.query(`INSERT INTO ${this.t.schema} (version) VALUES ($1)`, [v + 1]);
      else await c.query(`UPDATE ${this.t.schema} SET version = $1`, [v + 1]);
    }
    await c.query("COMMIT");
  }

  private get conn(): pg.Pool {
    if (!this.pool) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, "not open"]);
    return this.pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (!pool) return;
    await this.chain.catch(() => undefined);
    await pool.end();
  }

  /** one query on any pooled connection, its errors named after this store */
  private async query<R extends pg.QueryResultRow>(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>> {
    const pool = this.conn;
    try {
      return await pool.query<R>(name === undefined ? { text, values } : { name, text, values });
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private wrap(err: unknown): Error {
    if (err instanceof TandemError || err instanceof StorageGapError) return err;
    return new TandemError("TANDEM_ERR_DATABASE", [this.where, describe(err)]);
  }

  /** runs fn on one connection; a transaction fn left open is rolled back */
  private async withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await pool.connect();
    } catch (err) {
      throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `cannot connect: ${connectReason(err)}`]);
    }
    const onError = () => undefined;
    c.on("error", onError);
    try {
      const out = await fn(c);
      c.off("error", onError);
      c.release();
      return out;
    } catch (err) {
      let broken: Error | undefined;
      try {
        await c.query("ROLLBACK");
      } catch (e) {
        broken = e as Error; // the connection is gone or unusable: the pool drops it
      }
      c.off("error", onError);
      c.release(broken);
      throw this.wrap(err);
    }
  }

  /** a write: one at a time in this process, in the order called */
  private serial<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = this.conn;
    const run = this.chain.then(
      () => this.withClient(pool, fn),
      () => this.withClient(pool, fn),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** BEGIN, then the store's state, locked against any other writer until commit */
  private async beginLocked(c: pg.PoolClient, flush = true): Promise<{ seq: number; epoch: number }> {
    const begin = flush ? this.begin : "BEGIN; SET LOCAL synchronous_commit TO off";
    const res = (await c.query(`${begin}; SELECT last_seq, last_epoch FROM ${this.t.state} FOR UPDATE`)) as unknown as pg.QueryResult[];
    const row = res[res.length - 1].rows[0] as { last_seq: number; last_epoch: number };
    this.last = { seq: row.last_seq, epoch: row.last_epoch };
    return { ...this.last };
  }

  async schemaVersion(): Promise<number> {
    return (await this.query<{ version: number }>(`SELECT version FROM ${this.t.schema}`)).rows[0].version;
  }

  async state(): Promise<StoreState> {
    // one statement: one snapshot
    const r = (
      await this.query<{ last_seq: number; last_epoch: number; epochs: StoreState["epochs"] }>(
        `SELECT last_seq, last_epoch,
           (SELECT coalesce(json_agg(json_build_object('epoch', epoch, 'firstSeq', first_seq) ORDER BY epoch), '[]'::json) FROM ${this.t.epochs}) AS epochs
         FROM ${this.t.state}`,
      )
    ).rows[0];
    return { lastSeq: r.last_seq, lastEpoch: r.last_epoch, epochs: r.epochs };
  }

  async apply(afterSeq: number, rows: Row[], opts: ApplyOptions = {}): Promise<void> {
    const flush = opts.flush !== false;
    await this.serial(async (c) => {
      if (await this.applyAtOnce(c, afterSeq, rows, flush)) return this.flushed(flush);
      const last = await this.beginLocked(c, flush);
      if (afterSeq > last.seq) throw new StorageGapError(afterSeq, last.seq);
      const { steps, epochs, top } = this.plan(last, rows);
      if (top.seq === last.seq) {
        await c.query("COMMIT"); // a resend: nothing new
        return;
      }
      for (const step of steps) {
        if (step.kind === "purge") await c.query({ name: "tandem_purge", text: `DELETE FROM ${this.t.rows} WHERE tbl = $1 AND at < $2 AND kind <> 'purge'`, values: [step.table, step.before] });
        else await writeSegment(c, step, this.t.rows, this.sql.segment);
      }
      // the numbers are checked safe integers: literals keep this one round trip
      const addEpochs = epochs.length ? `INSERT INTO ${this.t.epochs} (epoch, first_seq) VALUES ${epochs.map(([e, s]) => `(${e}, ${s})`).join(", ")} ON CONFLICT DO NOTHING; ` : "";
      await c.query(`${addEpochs}UPDATE ${this.t.state} SET last_seq = ${top.seq}, last_epoch = ${top.epoch}; COMMIT`);
      this.last = top;
      this.flushed(flush);
    });
  }

  /**
   * A commit with synchronous_commit on flushes the server's WAL up to its
   * own record, and so every commit made with it off before it: the state
   * row written again is the smallest such commit.
   */
  async flush(): Promise<void> {
    if (!this.unflushed) return;
    await this.serial(async (c) => {
      await this.beginLocked(c);
      await c.query(`UPDATE ${this.t.state} SET last_seq = last_seq; COMMIT`);
      this.unflushed = false;
    });
  }

  private flushed(flush: boolean): void {
    this.unflushed = !flush;
  }

  /**
   * A batch without a purge, planned on the state this adapter last saw, as
   * one statement (its own transaction). False when it cannot go that way:
   * a purge, a batch too big for one statement, a server that does not
   * flush commits by default, nothing new or an error in
   * it by that state (the long way reads the store's state and decides), or
   * a state someone else moved (the guard matched nothing: nothing written).
   */
  private async applyAtOnce(c: pg.PoolClient, afterSeq: number, rows: Row[], flush: boolean): Promise<boolean> {
    const last = this.last;
    // (a server whose synchronous_commit is off would not flush a statement's own commit)
    if (afterSeq > last.seq || rows.length > AT_ONCE_MAX || this.begin !== "BEGIN") return false;
    let plan: Plan;
    try {
      plan = this.plan(last, rows);
    } catch {
      return false;
    }
    if (plan.rows === 0 || plan.steps.length !== 1 || plan.steps[0].kind !== "rows" || plan.rows >= COPY_FROM_ROWS) return false;
    const values = [...segmentParams(plan.steps[0]), last.seq, last.epoch, plan.epochs.map((e) => e[0]), plan.epochs.map((e) => e[1]), plan.top.seq, plan.top.epoch];
    const res = flush ? await c.query({ name: "tandem_apply", text: this.sql.fastApply, values }) : await c.query({ name: "tandem_apply_written", text: this.sql.fastApplyWritten, values });
    if (res.rowCount !== 1) return false;
    this.last = plan.top;
    return true;
  }

  /**
   * Cuts a batch into statements with the effect of applying its rows one by
   * one, as sqlite.ts's applyRow does: rows at or below the store's last are
   * skipped, epochs may not go down. Within a segment (the rows between two
   * purges), per key: each put or del replaces the key's row, so only the
   * key's last row is written, in place of the stored row when the key's
   * first row here is a put or a del; an insert finds the key taken when it
   * is not the key's first row here (an earlier row holds it), and otherwise
   * when the store holds the key, which the unique index reports.
   * Throws before anything is written.
   */
  private plan(start: { seq: number; epoch: number }, rows: Row[]): Plan {
    const steps: Step[] = [];
    const epochs: [number, number][] = [];
    const last = { ...start };
    let n = 0;
    let seg = newSegment();
    const flush = () => {
      if (seg.rows.length > 0) steps.push(seg);
      seg = newSegment();
    };
    for (const r of rows) {
      if (r.seq <= last.seq) continue;
      safeInt(r.seq, "seq", r.seq);
      safeInt(r.epoch, "epoch", r.seq);
      safeInt(r.at, "at", r.seq);
      if (r.epoch < last.epoch) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `row ${r.seq} carries epoch ${r.epoch}, below epoch ${last.epoch} of row ${last.seq}`]);
      if (r.epoch > last.epoch) epochs.push([r.epoch, r.seq]);
      switch (r.kind) {
        case "ins": {
          if (r.key !== null) {
            const k = `${r.table}\u0000${r.key}`;
            if (seg.keys.has(k)) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `row ${r.seq}: key ${JSON.stringify(r.key)} of table ${r.table} is taken by an earlier row (an insert's key is unique in its table)`]);
            seg.keys.set(k, { at: seg.rows.length, replaces: false });
          }
          seg.rows.push(r);
          break;
        }
        case "put":
        case "del": {
          if (r.key === null) throw new Error(`row ${r.seq}: a ${r.kind} needs a key`);
          const k = `${r.table}\u0000${r.key}`;
          const prev = seg.keys.get(k);
          if (prev) seg.rows[prev.at] = null;
          seg.keys.set(k, { at: seg.rows.length, replaces: prev ? prev.replaces : true });
          seg.rows.push(r.kind === "del" ? { ...r, body: null } : r);
          break;
        }
        case "purge": {
          const before = purgeBefore(r);
          flush();
          steps.push({ kind: "purge", table: r.table, before });
          // the purge's own row: kept by every purge (kind <> 'purge'), so it may go with the next rows
          seg.rows.push({ ...r, key: null });
          break;
        }
        default:
          throw new Error(`row ${r.seq}: unknown kind ${JSON.stringify(r.kind)}`);
      }
      last.seq = r.seq;
      last.epoch = r.epoch;
      n++;
    }
    flush();
    return { steps, epochs, top: last, rows: n };
  }

  async rowsAfter(afterSeq: number, limit: number): Promise<Row[]> {
    const r = await this.query<RowRecord>(`SELECT ${COLS} FROM ${this.t.rows} WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limitOf(limit)], "tandem_after");
    return r.rows.map(toRow);
  }

  async read(table: string, opts: ReadOptions = {}): Promise<Row[]> {
    const r = await this.query<RowRecord>(`SELECT ${COLS} FROM ${this.t.rows} WHERE tbl = $1 AND seq > $2 AND kind IN ('ins', 'put') ORDER BY seq LIMIT $3`, [table, opts.afterSeq ?? 0, limitOf(opts.limit ?? 1000)]);
    return r.rows.map(toRow);
  }

  async readKeys(table: string, range: KeyRange): Promise<Row[]> {
    // key is COLLATE "C": bytewise, as SQLite compares; the range implies key IS NOT NULL, so the partial index tandem_rows_key serves it
    const order = range.descending ? "DESC" : "ASC";
    const r = await this.query<RowRecord>(`SELECT ${COLS} FROM ${this.t.rows} WHERE tbl = $1 AND key >= $2 AND key < $3 AND kind IN ('ins', 'put') ORDER BY key ${order} LIMIT $4`, [table, range.from, range.to, limitOf(range.limit ?? 1000)]);
    return r.rows.map(toRow);
  }

  async get(table: string, key: string): Promise<Row | null> {
    const r = await this.query<RowRecord>(`SELECT ${COLS} FROM ${this.t.rows} WHERE tbl = $1 AND key = $2 AND kind IN ('ins', 'put')`, [table, key]);
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  async count(table: string): Promise<number> {
    return (await this.query<{ n: number }>(`SELECT count(*) AS n FROM ${this.t.rows} WHERE tbl = $1 AND kind IN ('ins', 'put')`, [table])).rows[0].n;
  }

  async checksums(fromSeq: number, toSeq: number, span: number): Promise<RangeSum[]> {
    if (!(span >= 1)) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `checksum span ${span}: at least 1`]);
    // one snapshot for the whole read, in pages, so a big range never sits in memory at once
    return this.withClient(this.conn, async (c) => {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const out = await rangeSums(c, this.t.rows, fromSeq, toSeq, span);
      await c.query("COMMIT");
      return out;
    });
  }

  /**
   * A connection of the pool holding a repeatable-read transaction: its
   * snapshot is taken at its first query, before this resolves, and sees
   * nothing committed after.
   */
  async snapshot(): Promise<StoreSnapshot> {
    const c = await this.conn.connect();
    try {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await c.query(`SELECT 1 FROM ${this.t.state}`);
    } catch (err) {
      c.release(err as Error);
      throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `snapshot: ${(err as Error).message}`]);
    }
    let released = false;
    const table = this.t.rows;
    const where = this.where;
    return {
      async checksums(fromSeq, toSeq, span) {
        if (!(span >= 1)) throw new TandemError("TANDEM_ERR_DATABASE", [where, `checksum span ${span}: at least 1`]);
        return rangeSums(c, table, fromSeq, toSeq, span);
      },
      async release() {
        if (released) return;
        released = true;
        await c.query("COMMIT").catch(() => undefined);
        c.release();
      },
    };
  }

  async setAside(afterSeq: number, activeEpoch: number, now: number): Promise<number> {
    return this.serial(async (c) => {
      const last = await this.beginLocked(c);
      const moved = (
        await c.query(
          `INSERT INTO ${this.t.divergence} (found_at, active_epoch, ${COLS}) SELECT $1, $2, ${COLS} FROM ${this.t.rows} WHERE seq > $3 ORDER BY seq`,
          [now, activeEpoch, afterSeq],
        )
      ).rowCount;
      await c.query(`DELETE FROM ${this.t.rows} WHERE seq > $1`, [afterSeq]);
      await c.query(`DELETE FROM ${this.t.epochs} WHERE first_seq > $1`, [afterSeq]);
      const top = (await c.query<{ epoch: number }>(`SELECT epoch FROM ${this.t.rows} ORDER BY seq DESC LIMIT 1`)).rows[0];
      const cut = { seq: Math.min(last.seq, afterSeq), epoch: top?.epoch ?? 0 };
      await c.query(`UPDATE ${this.t.state} SET last_seq = $1, last_epoch = $2`, [cut.seq, cut.epoch]);
      await c.query("COMMIT");
      this.last = cut;
      return moved ?? 0;
    });
  }

  async divergent(opts: ReadOptions = {}): Promise<DivergentRow[]> {
    const r = await this.query<RowRecord & { id: number; found_at: number; active_epoch: number }>(
      `SELECT id, found_at, active_epoch, ${COLS} FROM ${this.t.divergence} WHERE id > $1 ORDER BY id LIMIT $2`,
      [opts.afterSeq ?? 0, limitOf(opts.limit ?? 1000)],
    );
    return r.rows.map((d) => ({ ...toRow(d), id: d.id, foundAt: d.found_at, activeEpoch: d.active_epoch }));
  }

  async discardDivergent(id: number): Promise<boolean> {
    return ((await this.query(`DELETE FROM ${this.t.divergence} WHERE id = $1`, [id])).rowCount ?? 0) > 0;
  }

  async truncate(): Promise<void> {
    await this.serial(async (c) => {
      await this.beginLocked(c);
      await c.query(`TRUNCATE ${this.t.rows}, ${this.t.epochs}; UPDATE ${this.t.state} SET last_seq = 0, last_epoch = 0; COMMIT`);
      this.last = { seq: 0, epoch: 0 };
    });
  }
}

/** SQLite reads a negative LIMIT as no limit; PostgreSQL's is LIMIT NULL */
const limitOf = (n: number): number | null => (n < 0 ? null : n);
