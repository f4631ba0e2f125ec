// The storage interface the replicator writes through, and the shape of a
// replicated row. Two adapters implement it (runtime/storage/: SQLite, the
// embedded default, and PostgreSQL); both pass one conformance suite
// (test/storage/conformance.ts).
//
// Every replicated table lives in one physical table of rows, each stamped
// with the pair-wide sequence number of the write that produced it and the
// epoch of the active that made that write. The rows *are* the replication
// log: a write that replaces a key removes the key's older row, a delete
// leaves a tombstone row, a purge (retention) leaves a row saying what it
// purged. So "everything the peer lacks" is exactly "every row above the
// sequence number the peer holds, in sequence order", a snapshot of an empty
// joiner is the same query from 0, and a seq-ordered read of a live database
// converges without freezing it (whatever changes meanwhile lands at a higher
// sequence number, which the read reaches later).
//
// Applying rows is idempotent by (epoch, seq): rows at or below what a store
// holds are skipped, rows above are applied in order in one transaction.

/** What a row does when applied. */
export type RowKind =
  /** appends a record (a `key`, when present, is the writer's idempotency key: unique in its table) */
  | "ins"
  /** sets `key` in a keyed table (the key's previous row goes) */
  | "put"
  /** removes `key` from a keyed table: the row stays as a tombstone (body null) so the removal replicates */
  | "del"
  /** removes the rows of `table` written before `body.before` (ms, the rows' `at`): retention, replicated like any write */
  | "purge";

export const ROW_KINDS: readonly RowKind[] = ["ins", "put", "del", "purge"];

/** One replicated row, as stored and as sent to the peer. */
export interface Row {
  /** pair-wide order of writes; never reused */
  seq: number;
  /** epoch of the active that made the write */
  epoch: number;
  /** the writer's wall clock, ms since 1970 */
  at: number;
  /** logical table ("batch_log", "_context" …) */
  table: string;
  kind: RowKind;
  key: string | null;
  /** JSON text; null for a tombstone */
  body: string | null;
}

/** A write before it has a place in the order: the replicator stamps seq, epoch and at. */
export type RowWrite = Pick<Row, "table" | "kind" | "key" | "body">;

/** From which sequence number an epoch's writes start, as a store holds them. */
export interface EpochStart {
  epoch: number;
  firstSeq: number;
}

export interface StoreState {
  /** highest sequence number applied (0: empty) */
  lastSeq: number;
  /** epoch of the row at lastSeq (0: empty) */
  lastEpoch: number;
  /** every epoch this store holds writes of, oldest first */
  epochs: EpochStart[];
  // no count of the rows: it costs a scan of them all (~20 ms per million on SQLite, blocking
  // the event loop), and state() is read as a node takes over
}

/** Rows kept aside: written by a node under an old epoch, never seen by the active that followed. */
export interface DivergentRow extends Row {
  id: number;
  /** when this node set it aside, ms */
  foundAt: number;
  /** the epoch of the active whose history it did not match */
  activeEpoch: number;
}

/** A checksum over the rows whose seq is in [fromSeq, toSeq]. */
export interface RangeSum {
  fromSeq: number;
  toSeq: number;
  rows: number;
  /** hex sha256 of the rows' canonical text, in seq order */
  hash: string;
}

/**
 * A read-only view of the store frozen at the moment it was taken; later
 * writes do not show in it. Both nodes take one at the same point of the
 * order (a verify marker), so their checksums compare like with like while
 * writing goes on.
 */
export interface StoreSnapshot {
  checksums(fromSeq: number, toSeq: number, span: number): Promise<RangeSum[]>;
  release(): Promise<void>;
}

export interface ReadOptions {
  afterSeq?: number;
  limit?: number;
}

export interface ApplyOptions {
  /**
   * false: the commit is written to the operating system (SQLite) or the
   * server's WAL (PostgreSQL) but not waited for on the disk: it survives
   * this process, not a power loss, until flush(). Default true.
   */
  flush?: boolean;
  /**
   * An adapter that applies in the caller's thread (SQLite) lets the event
   * loop run after every this many rows; the transaction stays one, so that
   * a long apply (a standby's logged rows, a catch-up's merged chunks) does
   * not hold the node's sockets.
   */
  yieldEvery?: number;
}

/** Keys from `from` (included) to `to` (excluded), compared bytewise. */
export interface KeyRange {
  from: string;
  to: string;
  limit?: number;
  /** greatest key first */
  descending?: boolean;
}

/**
 * A store of replicated rows. Every method that changes it is one
 * transaction, durable when its promise resolves (SQLite: WAL with
 * synchronous FULL; PostgreSQL: synchronous_commit on) — except an apply
 * asked not to flush, which is durable once flush() resolves.
 */
export interface Storage {
  readonly engine: "sqlite" | "postgres";
  /** where, for logs and status ("/var/lib/tandem/tandem.db", "postgres://db1/tandem") — no password */
  readonly where: string;
  /** creates or migrates the schema; refuses a schema newer than this build knows */
  open(): Promise<void>;
  close(): Promise<void>;
  /** the schema version now in the store */
  schemaVersion(): Promise<number>;
  state(): Promise<StoreState>;
  /**
   * Applies rows in seq order. `afterSeq` is the sequence number the writer
   * assumes this store holds: a mismatch applies nothing and throws
   * StorageGapError (the replicator then asks where to resume). Rows at or
   * below lastSeq are skipped (a resend). Gaps between rows are allowed (a
   * catch-up sends only rows that still exist).
   */
  apply(afterSeq: number, rows: Row[], opts?: ApplyOptions): Promise<void>;
  /**
   * Makes every row applied so far durable (after applies with `flush:
   * false`); resolves at once when nothing waits for the disk.
   */
  flush(): Promise<void>;
  /** rows with seq > afterSeq, in seq order, at most `limit` */
  rowsAfter(afterSeq: number, limit: number): Promise<Row[]>;
  /** the live rows of one table (no tombstones), in seq order */
  read(table: string, opts?: ReadOptions): Promise<Row[]>;
  /**
   * The live rows of one table whose key is in a range, in key order (the
   * (table, key) index serves it): a reader of one series whose keys sort by
   * time (tag history: runtime/history/keys.ts) reads a time range without
   * scanning the table.
   */
  readKeys(table: string, range: KeyRange): Promise<Row[]>;
  /** one live row of a table by key (a keyed row, or an insert's idempotency key), or null */
  get(table: string, key: string): Promise<Row | null>;
  /** how many live rows a table has */
  count(table: string): Promise<number>;
  /** checksums of the rows in [fromSeq, toSeq], cut into ranges of at most `span` sequence numbers */
  checksums(fromSeq: number, toSeq: number, span: number): Promise<RangeSum[]>;
  /** a frozen read-only view (see StoreSnapshot); resolves once it is frozen */
  snapshot(): Promise<StoreSnapshot>;
  /**
   * Moves every row above `afterSeq` into the divergence table (as found
   * under `activeEpoch`) and forgets the epochs they belonged to; returns how
   * many it moved.
   */
  setAside(afterSeq: number, activeEpoch: number, now: number): Promise<number>;
  divergent(opts?: ReadOptions): Promise<DivergentRow[]>;
  discardDivergent(id: number): Promise<boolean>;
  /** empties the replicated rows and epochs (a snapshot follows); the divergence table stays */
  truncate(): Promise<void>;
}

export class StorageGapError extends Error {
  constructor(
    readonly expected: number,
    readonly have: number,
  ) {
    super(`rows assume sequence number ${expected} is the last one here, but the store holds ${have}`);
    this.name = "StorageGapError";
  }
}

/**
 * The canonical text of a row for checksums: the same on every adapter and
 * every engine, so two stores are compared by content, not by how they keep it.
 */
export function canonicalRow(r: Row): string {
  return `${r.seq}|${r.epoch}|${r.at}|${r.table}|${r.kind}|${r.key ?? "\u0000"}|${r.body ?? "\u0000"}\n`;
}

/** Table names a service or process may use: letters, digits, underscore; a leading underscore is Tandem's own. */
export const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
