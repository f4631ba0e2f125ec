// Small pieces of the PostgreSQL adapter (postgres.ts): how a URL is shown
// without its password, how a connection or database error reads, the
// migration lock's key, how a batch is cut into segments between purges and
// turned into column arrays for unnest() or COPY text, and a segment's write
// on a connection in a transaction.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Row } from "../../redundancy/storage.js";
import { COLS } from "./rows.js";

/** the URL without its password, for logs and status */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "";
    if (u.searchParams.has("password")) u.searchParams.delete("password");
    return u.toString();
  } catch {
    // not a URL (a key=value connection string): drop what could be a password
    return url.replace(/(:\/\/[^:/@]*):[^@]*@/, "$1@").replace(/password\s*=\s*('[^']*'|\S+)/gi, "password=***");
  }
}

/** a short reason for a failed connection: "ECONNREFUSED 127.0.0.1:5432", or the server's message */
export function connectReason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return [...new Set(err.errors.map(connectReason))].join("; ");
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e && typeof e.code === "string" && e.address) return `${e.code} ${e.address}${e.port ? `:${e.port}` : ""}`;
  return (e as Error)?.message || String(err);
}

/** the text of a database error, with PostgreSQL's detail when it gives one */
export function describe(err: unknown): string {
  const e = err as Error & { detail?: string };
  return e.detail ? `${e.message} (${e.detail})` : e.message;
}

/** a 64-bit advisory lock key for migrating one schema (any node of any build agrees on it) */
export function migrationLockKey(schema: string): string {
  return createHash("sha256").update(`tandem migrate ${schema}`).digest().readBigInt64BE(0).toString();
}

export function safeInt(n: unknown, what: string, seq: unknown): number {
  if (!Number.isSafeInteger(n)) throw new Error(`row ${String(seq)}: ${what} ${String(n)} is not an integer`);
  return n as number;
}

/** the rows of a batch between two purges, as they end up in the store */
export interface Segment {
  kind: "rows";
  /** rows to insert, in seq order; null: replaced later in the same segment */
  rows: (Row | null)[];
  /** keyed rows of this segment: the index in `rows` of the key's latest row, and whether its first row here replaces a stored key (a put or a del) */
  keys: Map<string, { at: number; replaces: boolean }>;
}
export type Step = Segment | { kind: "purge"; table: string; before: number };
export interface Plan {
  steps: Step[];
  /** epochs the batch opens, with their first seq */
  epochs: [number, number][];
  /** the store's last row after the batch */
  top: { seq: number; epoch: number };
  /** rows it writes */
  rows: number;
}

export const newSegment = (): Segment => ({ kind: "rows", rows: [], keys: new Map() });

/** a segment's rows in columns, cut in two: rows inserted as they are, and rows that replace a stored key (upserted) */
export function segmentParams(seg: Segment): unknown[] {
  const cols = () => ({ seq: [] as number[], epoch: [] as number[], at: [] as number[], tbl: [] as string[], kind: [] as string[], key: [] as (string | null)[], body: [] as (string | null)[] });
  const plain = cols();
  const upsert = cols();
  for (const r of seg.rows) {
    if (r === null) continue;
    const c = r.key !== null && seg.keys.get(`${r.table}\u0000${r.key}`)?.replaces ? upsert : plain;
    c.seq.push(r.seq);
    c.epoch.push(r.epoch);
    c.at.push(r.at);
    c.tbl.push(r.table);
    c.kind.push(r.kind);
    c.key.push(r.key);
    c.body.push(r.body);
  }
  return [plain.seq, plain.epoch, plain.at, plain.tbl, plain.kind, plain.key, plain.body, upsert.seq, upsert.epoch, upsert.at, upsert.tbl, upsert.kind, upsert.key, upsert.body];
}

/** a segment's rows that are inserted as they are (no stored key replaced) */
export function plainRows(seg: Segment): Row[] {
  return seg.rows.filter((r): r is Row => r !== null && !(r.key !== null && seg.keys.get(`${r.table}\u0000${r.key}`)?.replaces));
}

/** `seg` without the rows that plainRows() gives: what is left to upsert */
export function upsertOnly(seg: Segment): Segment {
  return { kind: "rows", keys: seg.keys, rows: seg.rows.map((r) => (r !== null && r.key !== null && seg.keys.get(`${r.table}\u0000${r.key}`)?.replaces ? r : null)) };
}

/** COPY's text format: backslash, tab, newline and carriage return escaped, \N for null */
const COPY_ESCAPED = /[\\\t\n\r]/;
const copyField = (v: string | null): string =>
  v === null ? "\\N" : !COPY_ESCAPED.test(v) ? v : v.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"));

/** rows as COPY … FROM STDIN text, in the column order of COLS */
export function copyText(rows: readonly Row[], from = 0, to = rows.length): string {
  let out = "";
  for (let i = from; i < to; i++) {
    const r = rows[i];
    out += `${r.seq}\t${r.epoch}\t${r.at}\t${copyField(r.table)}\t${r.kind}\t${copyField(r.key)}\t${copyField(r.body)}\n`;
  }
  return out;
}

/** rows per piece of COPY data: the server works on one piece while the next is made */
const COPY_PIECE_ROWS = 1000;

/**
 * The COPY data in pieces, each made when the stream asks for it, with a
 * turn of the event loop between pieces: a socket that takes every write at
 * once (loopback) would otherwise have the whole COPY made and sent in one
 * go — ~35 ms of a standby's thread for a catch-up of 16,000 rows, its
 * heartbeats and API waiting.
 */
async function* copyPieces(rows: readonly Row[]): AsyncGenerator<Buffer> {
  for (let i = 0; i < rows.length; i += COPY_PIECE_ROWS) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    yield Buffer.from(copyText(rows, i, Math.min(rows.length, i + COPY_PIECE_ROWS)));
  }
}

/** a segment with at least this many plain inserts is written by COPY (a batch that big goes the long way) */
export const COPY_FROM_ROWS = 1000;

/**
 * A segment's rows, in a transaction: many plain inserts (a catch-up, a
 * snapshot) go by COPY, about twice the rows per second of an INSERT of
 * arrays; the rows that replace a stored key by the segment statement's upsert.
 */
export async function writeSegment(c: pg.PoolClient, seg: Segment, rowsTable: string, segmentSql: string): Promise<void> {
  const plain = plainRows(seg);
  if (plain.length < COPY_FROM_ROWS) {
    await c.query({ name: "tandem_segment", text: segmentSql, values: segmentParams(seg) });
    return;
  }
  await pipeline(Readable.from(copyPieces(plain), { objectMode: false }), c.query(copyFrom(`COPY ${rowsTable} (${COLS}) FROM STDIN`)));
  const rest = upsertOnly(seg);
  if (rest.rows.some((r) => r !== null)) await c.query({ name: "tandem_segment", text: segmentSql, values: segmentParams(rest) });
}
