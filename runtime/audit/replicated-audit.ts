// The pair's audit in the replicated store: every line the active appends to
// its audit log (audit-log.ts: fsync'd before the action runs) is also written
// to the `_audit` table, one appended row per line, the body the line exactly
// as in the file — its `seq`, `prev` and `mac` included — so both databases
// keep the pair's audit when a node's disk is lost, and a line from the table
// can still be checked with the key of the node that wrote it.
//
// Each node's file and its chain stay as they were (`tandem audit verify`
// checks a node's own file). Only the active writes the store: what a node
// records while it is not active (a refused request on the standby, its own
// start) is in its file only. The rows are Tandem's own writes, never refused
// by whenPeerAway: refuse, and nobody waits for them: the file is the record
// an action waits for. Lines written in the moments between the node becoming
// active and its replication leading wait for it (at most MAX_WAIT_MS).
import { createHash } from "node:crypto";
import type { Logger } from "../../core/logger.js";
import type { ReadOptions, Row, RowWrite } from "../../redundancy/storage.js";
import type { AuditEntry } from "../node-api.js";

export const AUDIT_TABLE = "_audit";

const RETRY_MS = 50;
const MAX_WAIT_MS = 5_000;
/** lines held while replication does not lead yet; more are left to the file */
const MAX_PENDING = 1_000;
const WARN_EVERY_MS = 60_000;

/**
 * The row for a line: the line itself, or — when it is longer than a row may
 * be (replication.maxRecordBytes: the standby refuses longer ones) — the entry
 * without its details, with `cut` giving the whole line's size and sha256, to
 * find it in the writer's file (its mac is over the whole line). Null when
 * even that is too long (a tiny maxRecordBytes): the line stays in the file.
 */
export function auditRow(line: string, maxBytes = Infinity): RowWrite | null {
  const bytes = Buffer.byteLength(line);
  if (bytes <= maxBytes) return { table: AUDIT_TABLE, kind: "ins", key: null, body: line };
  const { details: _details, ...entry } = JSON.parse(line) as AuditEntry;
  const cut = { bytes, sha256: createHash("sha256").update(line, "utf8").digest("hex") };
  const body = JSON.stringify({ ...entry, cut });
  return Buffer.byteLength(body) <= maxBytes ? { table: AUDIT_TABLE, kind: "ins", key: null, body } : null;
}

/** An entry of the pair's audit: the line as the node that wrote it has it, and where it is in the pair's order. */
export interface PairAuditEntry extends AuditEntry {
  /** the row's pair-wide sequence number (page with `since`) and the epoch of the active that wrote it */
  row: { seq: number; epoch: number };
}

export function auditOfRow(r: Row): PairAuditEntry | null {
  if (r.table !== AUDIT_TABLE || r.body === null) return null;
  try {
    const e = JSON.parse(r.body) as AuditEntry;
    return e && typeof e === "object" ? { ...e, row: { seq: r.seq, epoch: r.epoch } } : null;
  } catch {
    return null;
  }
}

export interface AuditStorePort {
  /** the node holds the active role (the lines it writes now belong in the store) */
  active(): boolean;
  /** its replication leads: a write can go now */
  leads(): boolean;
  /** an internal write: never refused by whenPeerAway */
  write(writes: RowWrite[]): Promise<unknown>;
  read(table: string, opts: ReadOptions): Promise<Row[]>;
}

export class ReplicatedAudit {
  private pending: string[] = [];
  private retry: NodeJS.Timeout | null = null;
  private waitingSince: number | null = null;
  private lastWarn = -Infinity;
  private stopped = false;
  /** lines the store did not get (they are in the file) */
  missed = 0;

  constructor(
    private readonly port: AuditStorePort,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** replication.maxRecordBytes */
    private readonly maxBytes = Infinity,
  ) {}

  /** a line this node appended to its audit log */
  line(line: string): void {
    // after the database closed (the node's last lines): the file only
    if (this.stopped || !this.port.active()) return;
    if (this.pending.length >= MAX_PENDING) return this.miss(1, "too many lines wait for replication to lead");
    this.pending.push(line);
    this.flush();
  }

  private flush(): void {
    if (this.retry || !this.pending.length) return;
    if (!this.port.leads()) {
      // the role just moved here: replication leads within moments
      this.waitingSince ??= this.now();
      if (!this.port.active() || this.now() - this.waitingSince > MAX_WAIT_MS) {
        const n = this.pending.length;
        this.pending = [];
        this.waitingSince = null;
        return this.miss(n, this.port.active() ? `replication did not lead within ${MAX_WAIT_MS} ms` : "the node is no longer active");
      }
      this.retry = setTimeout(() => {
        this.retry = null;
        this.flush();
      }, RETRY_MS);
      return;
    }
    this.waitingSince = null;
    const lines = this.pending.splice(0);
    const rows = lines.map((l) => auditRow(l, this.maxBytes)).filter((r): r is RowWrite => r !== null);
    if (rows.length < lines.length) this.miss(lines.length - rows.length, `longer than replication.maxRecordBytes (${this.maxBytes}) even without its details`);
    if (rows.length) this.port.write(rows).catch((err: unknown) => this.miss(rows.length, (err as Error).message));
  }

  private miss(n: number, why: string): void {
    this.missed += n;
    const t = this.now();
    if (t - this.lastWarn < WARN_EVERY_MS) return;
    this.lastWarn = t;
    this.log.warn({ lines: n, missed: this.missed }, `${n} audit line(s) not written to the replicated store (${why}): they are in this node's audit log only (${this.missed} so far)`);
  }

  /** the pair's audit as this node's database holds it, in the pair's order; `since`: a row sequence number */
  async list(since: number, limit: number): Promise<{ entries: PairAuditEntry[]; next: number | null }> {
    const rows = await this.port.read(AUDIT_TABLE, { afterSeq: since, limit });
    const entries = rows.map(auditOfRow).filter((e): e is PairAuditEntry => e !== null);
    return { entries, next: rows.length === limit ? rows[rows.length - 1].seq : null };
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.pending = [];
  }
}

/** The part of the node's Records the audit uses (runtime/records.ts). */
export interface AuditRecordsLike {
  replicator: { status(): { role: string }; write(writes: RowWrite[], internal: boolean): Promise<Row[]> };
  storage: { read(table: string, opts: ReadOptions): Promise<Row[]> };
}

/** The pair's audit; null when replication.mode is none (there is no pair copy to keep). */
export function openReplicatedAudit(records: AuditRecordsLike, o: { mode: string; maxRecordBytes: number; active: () => boolean; log: Logger }): ReplicatedAudit | null {
  if (o.mode === "none") return null;
  return new ReplicatedAudit(
    {
      active: o.active,
      leads: () => records.replicator.status().role === "leader",
      write: (writes) => records.replicator.write(writes, true),
      read: (table, opts) => records.storage.read(table, opts),
    },
    o.log,
    Date.now,
    o.maxRecordBytes,
  );
}
