// The SQLite storage adapter: the embedded default, one file in the node's
// data dir. WAL mode with synchronous FULL: a commit is on disk (WAL fsynced)
// when apply() returns, which is what S2 needs of the standby's
// acknowledgement and of the active's own copy. better-sqlite3 is
// synchronous: a commit holds the event loop for its fsync (≈1 ms on an SSD),
// which the replicator's group commit spreads over many rows. An apply asked
// not to flush (a standby's rows that its received-rows log holds already)
// commits with synchronous NORMAL: in the WAL, in the OS, not yet on the
// disk; the next FULL commit, or flush() (an fdatasync of the WAL file from
// libuv's pool, the node's thread going on meanwhile), syncs the WAL and so
// everything before it. Such an apply may also be sliced (yieldEvery): one
// transaction, the event loop turning between its slices.
import { createHash } from "node:crypto";
import { closeSync, fdatasync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { TandemError } from "../../core/errors.js";
import { canonicalRow, StorageGapError, type ApplyOptions, type DivergentRow, type KeyRange, type RangeSum, type ReadOptions, type Row, type Storage, type StoreSnapshot, type StoreState } from "../../redundancy/storage.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { purgeBefore, toRow, type RowRecord } from "./rows.js";

export { purgeBefore };


export interface SqliteOptions {
  file: string;
  /** FULL (default): every commit fsynced; NORMAL only where durability is not promised (benchmarks of the engine itself) */
  synchronous?: "FULL" | "NORMAL";
}

export class SqliteStorage implements Storage {
  readonly engine = "sqlite" as const;
  readonly where: string;
  private db: Database.Database | null = null;
  private stmts!: Stmts;
  private last = { seq: 0, epoch: 0 };
  /** the connection's synchronous setting now, and whether a commit since the last FULL one waits for the disk */
  private sync: "FULL" | "NORMAL" = "FULL";
  private unflushed = false;
  /** commits so far (a flush knows whether one came during its sync) */
  private commits = 0;
  /** the WAL file, for flush() */
  private walFd: number | null = null;
  /** a sliced apply's transaction, open until it commits */
  private txn: Promise<void> | null = null;

  constructor(private readonly opts: SqliteOptions) {
    this.where = opts.file;
  }

  async open(): Promise<void> {
    mkdirSync(dirname(this.opts.file), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(this.opts.file);
    } catch (err) {
      throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `cannot open: ${(err as Error).message}`]);
    }
    try {
      db.pragma("journal_mode = WAL");
      this.sync = this.opts.synchronous ?? "FULL";
      db.pragma(`synchronous = ${this.sync}`);
      db.pragma("busy_timeout = 5000");
      // a checkpoint every 4 MB of WAL keeps the WAL small without a pause per commit
      db.pragma("wal_autocheckpoint = 1000");
      db.pragma("journal_size_limit = 67108864");
      this.migrate(db);
    } catch (err) {
      db.close();
      if (err instanceof TandemError) throw err;
      throw new TandemError("TANDEM_ERR_DATABASE", [this.where, (err as Error).message]);
    }
    this.db = db;
    this.stmts = prepareStatements(db);
    const meta = this.stmts.meta.get() as { seq: number; epoch: number };
    this.last = { seq: meta.seq, epoch: meta.epoch };
  }

  private migrate(db: Database.Database): void {
    db.exec("CREATE TABLE IF NOT EXISTS tandem_schema (version INTEGER NOT NULL)");
    const row = db.prepare("SELECT version FROM tandem_schema").get() as { version: number } | undefined;
    const have = row?.version ?? 0;
    const known = SQLITE_MIGRATIONS.length;
    if (have > known) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `schema version ${have} is newer than this build knows (${known}): run the newer Tandem, or restore a backup made by this one`]);
    for (let v = have; v < known; v++) {
      db.transaction(() => {
        db.exec(SQLITE_MIGRATIONS[v]);
        if (v === 0) db.prepare("INSERT INTO tandem_schema (version) VALUES (?)").run(v + 1);
        else db.prepare("UPDATE tandem_schema SET version = ?").run(v + 1);
      })();
    }
  }

  private get conn(): Database.Database {
    if (!this.db) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, "not open"]);
    return this.db;
  }

  async close(): Promise<void> {
    while (this.txn) await this.txn;
    this.closeWal();
    const db = this.db;
    this.db = null;
    db?.close();
  }

  async schemaVersion(): Promise<number> {
    while (this.txn) await this.txn;
    return (this.conn.prepare("SELECT version FROM tandem_schema").get() as { version: number }).version;
  }

  async state(): Promise<StoreState> {
    while (this.txn) await this.txn;
    this.conn;
    const epochs = this.stmts.epochs.all() as StoreState["epochs"];
    return { lastSeq: this.last.seq, lastEpoch: this.last.epoch, epochs };
  }

  async apply(afterSeq: number, rows: Row[], opts: ApplyOptions = {}): Promise<void> {
    while (this.txn) await this.txn;
    const db = this.conn;
    if (afterSeq > this.last.seq) throw new StorageGapError(afterSeq, this.last.seq);
    this.setSync(opts.flush === false ? "NORMAL" : (this.opts.synchronous ?? "FULL"));
    const last = { ...this.last };
    const slice = opts.yieldEvery && opts.yieldEvery > 0 && rows.length > opts.yieldEvery ? opts.yieldEvery : 0;
    if (slice) return this.applySliced(rows, last, slice);
    db.transaction(() => {
      this.applyRows(rows, 0, rows.length, last);
      this.stmts.setMeta.run(last.seq, last.epoch);
    }).immediate();
    this.committed(last);
  }

  private committed(last: { seq: number; epoch: number }): void {
    this.last = last;
    this.commits++;
    // a FULL commit synced the WAL, and with it every NORMAL commit before it
    this.unflushed = this.sync === "NORMAL";
  }

  /** rows[from, to) applied after `last` (which moves with them), inside the caller's transaction */
  private applyRows(rows: Row[], from: number, to: number, last: { seq: number; epoch: number }): void {
    const s = this.stmts;
    for (let i = from; i < to; i++) {
      const r = rows[i];
      if (r.seq <= last.seq) continue;
      if (r.epoch < last.epoch) throw new TandemError("TANDEM_ERR_DATABASE", [this.where, `row ${r.seq} carries epoch ${r.epoch}, below epoch ${last.epoch} of row ${last.seq}`]);
      if (r.epoch > last.epoch) s.addEpoch.run(r.epoch, r.seq);
      applyRow(s, r);
      last.seq = r.seq;
      last.epoch = r.epoch;
    }
  }

  /**
   * One transaction, with a turn of the event loop every `slice` rows: the
   * node's thread reads its sockets meanwhile (a standby logs and acknowledges
   * the next batch while this one goes into its database). Every other call
   * waits for the commit: each starts with `while (this.txn) await this.txn`,
   * checked again in the same turn as its own work begins.
   */
  private async applySliced(rows: Row[], last: { seq: number; epoch: number }, slice: number): Promise<void> {
    const db = this.conn;
    let done!: () => void;
    this.txn = new Promise<void>((r) => (done = r));
    try {
      this.stmts.begin.run();
      for (let i = 0; i < rows.length; i += slice) {
        if (i > 0) await new Promise((r) => setImmediate(r));
        this.applyRows(rows, i, Math.min(rows.length, i + slice), last);
      }
      this.stmts.setMeta.run(last.seq, last.epoch);
      this.stmts.commit.run();
      // before the calls waiting for this commit run
      this.committed(last);
    } catch (err) {
      if (db.inTransaction) this.stmts.rollback.run();
      throw err;
    } finally {
      this.txn = null;
      done();
    }
  }

  async flush(): Promise<void> {
    while (this.txn) await this.txn;
    if (!this.unflushed) return;
    // every commit so far is in the WAL file, in the operating system: its blocks to the disk, as a FULL
    // commit's sync would do, but in libuv's pool while this thread goes on (a standby logs and acknowledges meanwhile)
    const upTo = this.commits;
    if (await this.syncWal()) {
      if (this.commits === upTo) this.unflushed = false;
      return;
    }
    this.setSync(this.opts.synchronous ?? "FULL");
    // the WAL is synced by a commit; the state row written again is the smallest one
    const s = this.stmts;
    const last = this.last;
    this.conn.transaction(() => s.setMeta.run(last.seq, last.epoch)).immediate();
    this.unflushed = this.sync === "NORMAL";
  }

  /**
   * fdatasync of the WAL file through a descriptor of its own (opened once;
   * SQLite keeps the file while a connection is open). false when that cannot
   * be done here: the caller syncs by a FULL commit instead.
   */
  private async syncWal(): Promise<boolean> {
    try {
      this.walFd ??= openSync(`${this.opts.file}-wal`, "r+");
      const fd = this.walFd;
      await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      return true;
    } catch {
      this.closeWal();
      return false;
    }
  }

  private closeWal(): void {
    if (this.walFd === null) return;
    try {
      closeSync(this.walFd);
    } catch {
      // already gone: nothing to release
    }
    this.walFd = null;
  }

  /** the changes outside apply() are always durable: their commit syncs the WAL, and every unflushed apply before it */
  private durable(): void {
    this.setSync(this.opts.synchronous ?? "FULL");
  }

  private setSync(to: "FULL" | "NORMAL"): void {
    if (to === this.sync) return;
    this.conn.pragma(`synchronous = ${to}`);
    this.sync = to;
  }

  async rowsAfter(afterSeq: number, limit: number): Promise<Row[]> {
    while (this.txn) await this.txn;
    return (this.stmts.after.all(afterSeq, limit) as RowRecord[]).map(toRow);
  }

  async read(table: string, opts: ReadOptions = {}): Promise<Row[]> {
    while (this.txn) await this.txn;
    return (this.stmts.read.all(table, opts.afterSeq ?? 0, opts.limit ?? 1000) as RowRecord[]).map(toRow);
  }

  async readKeys(table: string, range: KeyRange): Promise<Row[]> {
    while (this.txn) await this.txn;
    const stmt = range.descending ? this.stmts.keysDesc : this.stmts.keys;
    return (stmt.all(table, range.from, range.to, range.limit ?? 1000) as RowRecord[]).map(toRow);
  }

  async get(table: string, key: string): Promise<Row | null> {
    while (this.txn) await this.txn;
    const r = this.stmts.get.get(table, key) as RowRecord | undefined;
    return r ? toRow(r) : null;
  }

  async count(table: string): Promise<number> {
    while (this.txn) await this.txn;
    return (this.stmts.countTable.get(table) as { n: number }).n;
  }

  async checksums(fromSeq: number, toSeq: number, span: number): Promise<RangeSum[]> {
    while (this.txn) await this.txn;
    return rangeSums(this.stmts.range, fromSeq, toSeq, span);
  }

  /**
   * A second, read-only connection holding a read transaction: in WAL mode it
   * sees the database as of its first read, whatever is committed after.
   */
  async snapshot(): Promise<StoreSnapshot> {
    while (this.txn) await this.txn;
    this.conn;
    const db = new Database(this.opts.file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    db.prepare("BEGIN").run();
    db.prepare("SELECT count(*) FROM tandem_state").get();
    const range = db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE seq >= ? AND seq <= ? ORDER BY seq");
    return {
      async checksums(fromSeq, toSeq, span) {
        const out: RangeSum[] = [];
        // one range per turn of the event loop: a big table does not hold the node
        for (let a = fromSeq; a <= toSeq; a += span) {
          out.push(...rangeSums(range, a, Math.min(toSeq, a + span - 1), span));
          await new Promise((r) => setImmediate(r));
        }
        return out;
      },
      async release() {
        if (db.open) {
          db.prepare("COMMIT").run();
          db.close();
        }
      },
    };
  }

  async setAside(afterSeq: number, activeEpoch: number, now: number): Promise<number> {
    while (this.txn) await this.txn;
    this.durable();
    const s = this.stmts;
    let moved = 0;
    this.conn.transaction(() => {
      moved = s.aside.run(now, activeEpoch, afterSeq).changes;
      s.dropAfter.run(afterSeq);
      s.dropEpochsAfter.run(afterSeq);
      const top = s.lastRow.get() as { seq: number; epoch: number } | undefined;
      const seq = Math.min(this.last.seq, afterSeq);
      s.setMeta.run(seq, top?.epoch ?? 0);
      this.last = { seq, epoch: top?.epoch ?? 0 };
    }).immediate();
    this.unflushed = false;
    return moved;
  }

  async divergent(opts: ReadOptions = {}): Promise<DivergentRow[]> {
    while (this.txn) await this.txn;
    return (this.stmts.divergent.all(opts.afterSeq ?? 0, opts.limit ?? 1000) as (RowRecord & { id: number; foundAt: number; activeEpoch: number })[]).map((r) => ({
      ...toRow(r),
      id: r.id,
      foundAt: r.foundAt,
      activeEpoch: r.activeEpoch,
    }));
  }

  async discardDivergent(id: number): Promise<boolean> {
    while (this.txn) await this.txn;
    this.durable();
    const gone = this.stmts.discard.run(id).changes > 0;
    if (gone) this.unflushed = false;
    return gone;
  }

  async truncate(): Promise<void> {
    while (this.txn) await this.txn;
    this.durable();
    this.conn.transaction(() => {
      this.conn.exec("DELETE FROM tandem_rows; DELETE FROM tandem_epochs; UPDATE tandem_state SET last_seq = 0, last_epoch = 0");
    }).immediate();
    this.last = { seq: 0, epoch: 0 };
    this.unflushed = false;
  }
}

function prepareStatements(db: Database.Database) {
  return {
    meta: db.prepare("SELECT last_seq AS seq, last_epoch AS epoch FROM tandem_state"),
    setMeta: db.prepare("UPDATE tandem_state SET last_seq = ?, last_epoch = ?"),
    // a sliced apply's own transaction (the others go through db.transaction())
    begin: db.prepare("BEGIN IMMEDIATE"),
    commit: db.prepare("COMMIT"),
    rollback: db.prepare("ROLLBACK"),
    insert: db.prepare("INSERT INTO tandem_rows (seq, epoch, at, tbl, kind, key, body) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    dropKey: db.prepare("DELETE FROM tandem_rows WHERE tbl = ? AND key = ?"),
    purge: db.prepare("DELETE FROM tandem_rows WHERE tbl = ? AND at < ? AND kind <> 'purge'"),
    addEpoch: db.prepare("INSERT OR IGNORE INTO tandem_epochs (epoch, first_seq) VALUES (?, ?)"),
    epochs: db.prepare("SELECT epoch, first_seq AS firstSeq FROM tandem_epochs ORDER BY epoch"),
    after: db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE seq > ? ORDER BY seq LIMIT ?"),
    range: db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE seq >= ? AND seq <= ? ORDER BY seq"),
    read: db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE tbl = ? AND seq > ? AND kind IN ('ins', 'put') ORDER BY seq LIMIT ?"),
    get: db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE tbl = ? AND key = ? AND kind IN ('ins', 'put')"),
    // the range on key implies key IS NOT NULL: the partial index tandem_rows_key (tbl, key) serves both orders
    keys: db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE tbl = ? AND key >= ? AND key < ? AND kind IN ('ins', 'put') ORDER BY key LIMIT ?"),
    keysDesc: db.prepare("SELECT seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE tbl = ? AND key >= ? AND key < ? AND kind IN ('ins', 'put') ORDER BY key DESC LIMIT ?"),
    countTable: db.prepare("SELECT count(*) AS n FROM tandem_rows WHERE tbl = ? AND kind IN ('ins', 'put')"),
    aside: db.prepare(
      "INSERT INTO tandem_divergence (found_at, active_epoch, seq, epoch, at, tbl, kind, key, body) SELECT ?, ?, seq, epoch, at, tbl, kind, key, body FROM tandem_rows WHERE seq > ? ORDER BY seq",
    ),
    dropAfter: db.prepare("DELETE FROM tandem_rows WHERE seq > ?"),
    lastRow: db.prepare("SELECT seq, epoch FROM tandem_rows ORDER BY seq DESC LIMIT 1"),
    dropEpochsAfter: db.prepare("DELETE FROM tandem_epochs WHERE first_seq > ?"),
    divergent: db.prepare(
      "SELECT id, found_at AS foundAt, active_epoch AS activeEpoch, seq, epoch, at, tbl, kind, key, body FROM tandem_divergence WHERE id > ? ORDER BY id LIMIT ?",
    ),
    discard: db.prepare("DELETE FROM tandem_divergence WHERE id = ?"),
  };
}

type Stmts = ReturnType<typeof prepareStatements>;

function rangeSums(range: Database.Statement, fromSeq: number, toSeq: number, span: number): RangeSum[] {
  const out: RangeSum[] = [];
  for (let a = fromSeq; a <= toSeq; a += span) {
    const b = Math.min(toSeq, a + span - 1);
    const h = createHash("sha256");
    let n = 0;
    for (const r of range.iterate(a, b) as IterableIterator<RowRecord>) {
      h.update(canonicalRow(toRow(r)));
      n++;
    }
    out.push({ fromSeq: a, toSeq: b, rows: n, hash: h.digest("hex") });
  }
  return out;
}

function applyRow(s: Stmts, r: Row): void {
  switch (r.kind) {
    case "ins":
      s.insert.run(r.seq, r.epoch, r.at, r.table, r.kind, r.key, r.body);
      return;
    case "put":
    case "del":
      if (r.key === null) throw new Error(`row ${r.seq}: a ${r.kind} needs a key`);
      s.dropKey.run(r.table, r.key);
      s.insert.run(r.seq, r.epoch, r.at, r.table, r.kind, r.key, r.kind === "del" ? null : r.body);
      return;
    case "purge": {
      const before = purgeBefore(r);
      s.purge.run(r.table, before);
      s.insert.run(r.seq, r.epoch, r.at, r.table, r.kind, null, r.body);
      return;
    }
  }
}
