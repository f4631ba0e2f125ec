// The replication messages, carried on the authenticated peer connection as
// `app` frames with topic "repl". The peer is authenticated but its bodies are
// still checked field by field: a bug or a version skew on the other side
// must be a logged refusal, never a crash or a bad row on disk (S5).
import { ROW_KINDS, type EpochStart, type RangeSum, type Row, type RowKind } from "../storage.js";

export const REPL_TOPIC = "repl";

/** the follower's word on what it holds: sent when the connection comes up and whenever rows do not fit */
export interface Hello {
  t: "hello";
  /** the follower's schema version (two adjacent versions replicate) */
  schema: number;
  /** the follower's epoch (rows from an active below it are refused) */
  epoch: number;
  lastSeq: number;
  lastEpoch: number;
  epochs: EpochStart[];
}

/** rows from the active, in seq order; `after` is the seq the active assumes the follower holds */
export interface Rows {
  t: "rows";
  epoch: number;
  after: number;
  rows: Row[];
  /** a write as the active commits it (not a catch-up): the standby may acknowledge it from its received-rows log */
  live?: boolean;
}

/** the follower holds everything up to `seq` durably */
export interface Ack {
  t: "ack";
  epoch: number;
  seq: number;
}

/** the follower refuses the active's rows (a stale epoch, a schema too far apart, a store error) */
export interface Refuse {
  t: "refuse";
  epoch: number;
  reason: string;
}

/** the active's verdict on a hello: go on from `from`; `diverged`: set aside everything above `keep`, then take a snapshot */
export interface Resume {
  t: "resume";
  epoch: number;
  from: number;
  diverged: boolean;
  keep: number;
  /** rows the active holds above `from` (progress: records and percent) */
  total: number;
}

/** the active asks the follower what it holds (it answers with a hello) */
export interface Probe {
  t: "probe";
  epoch: number;
}

/** the follower's checksums at a verify marker (the row `upTo`, table _verify) */
export interface Sums {
  t: "sums";
  epoch: number;
  id: string;
  upTo: number;
  sums: RangeSum[];
}

/** the active asks the follower to rebuild its copy from the active's (a repair after a failed verify) */
export interface Resync {
  t: "resync";
  epoch: number;
}

export type ReplMessage = Hello | Rows | Ack | Refuse | Resume | Probe | Sums | Resync;

/** rows go on the wire as arrays: [seq, epoch, at, table, kind, key, body] */
type WireRow = [number, number, number, string, RowKind, string | null, string | null];

export function encode(msg: ReplMessage): Record<string, unknown> {
  if (msg.t !== "rows") return { ...msg };
  const rows = msg.rows.map((r): WireRow => [r.seq, r.epoch, r.at, r.table, r.kind, r.key, r.body]);
  return msg.live ? { t: "rows", epoch: msg.epoch, after: msg.after, rows, live: true } : { t: "rows", epoch: msg.epoch, after: msg.after, rows };
}

const isInt = (x: unknown, min = 0): x is number => Number.isSafeInteger(x) && (x as number) >= min;
const isStr = (x: unknown, max: number): x is string => typeof x === "string" && x.length <= max;
const KINDS: ReadonlySet<string> = new Set(ROW_KINDS);

/** Table names on the wire: as the API allows them, plus Tandem's own (leading underscore). */
const WIRE_TABLE = /^_?[A-Za-z][A-Za-z0-9_]{0,62}$/;

/**
 * Why the standby would refuse this write's row (parseRow's limits), or null:
 * the active refuses it before it is ordered, so no writer — a process
 * module's context, Tandem's own tables — can stall replication.
 */
export function writeProblem(w: { table: string; key: string | null; body: string | null }, maxRecordBytes: number): string | null {
  if (!WIRE_TABLE.test(w.table)) return "not a table name";
  if (w.key !== null && w.key.length > 512) return `a key of ${w.key.length} characters (at most 512)`;
  if (w.body !== null && w.body.length > maxRecordBytes / 4 && Buffer.byteLength(w.body) > maxRecordBytes) return `${Buffer.byteLength(w.body)} bytes, more than replication.maxRecordBytes (${maxRecordBytes})`;
  return null;
}

function parseRow(x: unknown, i: number, maxBody: number): Row | string {
  if (!Array.isArray(x) || x.length !== 7) return `rows[${i}]: not a row`;
  const [seq, epoch, at, table, kind, key, body] = x as unknown[];
  if (!isInt(seq, 1) || !isInt(epoch) || !isInt(at)) return `rows[${i}]: seq, epoch or at`;
  if (!isStr(table, 64) || !WIRE_TABLE.test(table)) return `rows[${i}]: table`;
  if (!isStr(kind, 8) || !KINDS.has(kind)) return `rows[${i}]: kind`;
  if (key !== null && !isStr(key, 512)) return `rows[${i}]: key`;
  if (body !== null && !isStr(body, maxBody)) return `rows[${i}]: body`;
  if ((kind === "put" || kind === "del") && key === null) return `rows[${i}]: a ${kind} without a key`;
  if (kind !== "del" && body === null) return `rows[${i}]: a ${kind} without a body`;
  return { seq, epoch, at, table, kind: kind as RowKind, key: key as string | null, body: body as string | null };
}

function parseEpochs(x: unknown): EpochStart[] | string {
  if (!Array.isArray(x) || x.length > 100_000) return "epochs";
  const out: EpochStart[] = [];
  for (const e of x as unknown[]) {
    const o = e as Record<string, unknown>;
    if (typeof e !== "object" || e === null || !isInt(o.epoch) || !isInt(o.firstSeq, 1)) return "epochs";
    out.push({ epoch: o.epoch, firstSeq: o.firstSeq });
  }
  return out;
}

/** A message from the peer, or why it is refused. */
export function parse(d: Record<string, unknown>, maxBody: number): ReplMessage | string {
  if (!isInt(d.epoch)) return "epoch";
  switch (d.t) {
    case "hello": {
      if (!isInt(d.schema, 1) || !isInt(d.lastSeq) || !isInt(d.lastEpoch)) return "hello fields";
      const epochs = parseEpochs(d.epochs);
      if (typeof epochs === "string") return epochs;
      return { t: "hello", schema: d.schema, epoch: d.epoch, lastSeq: d.lastSeq, lastEpoch: d.lastEpoch, epochs };
    }
    case "rows": {
      if (!isInt(d.after) || !Array.isArray(d.rows) || d.rows.length > 100_000) return "rows fields";
      const rows: Row[] = [];
      let prev = d.after;
      for (let i = 0; i < d.rows.length; i++) {
        const r = parseRow(d.rows[i], i, maxBody);
        if (typeof r === "string") return r;
        if (r.seq <= prev) return `rows[${i}]: seq ${r.seq} not above ${prev}`;
        prev = r.seq;
        rows.push(r);
      }
      return d.live === true ? { t: "rows", epoch: d.epoch, after: d.after, rows, live: true } : { t: "rows", epoch: d.epoch, after: d.after, rows };
    }
    case "probe":
      return { t: "probe", epoch: d.epoch };
    case "resync":
      return { t: "resync", epoch: d.epoch };
    case "sums": {
      if (!isStr(d.id, 64) || !isInt(d.upTo) || !Array.isArray(d.sums) || d.sums.length > 100_000) return "sums fields";
      const sums: RangeSum[] = [];
      for (const x of d.sums as unknown[]) {
        const o = x as Record<string, unknown>;
        if (typeof x !== "object" || x === null || !isInt(o.fromSeq) || !isInt(o.toSeq) || !isInt(o.rows) || !isStr(o.hash, 64) || !/^[0-9a-f]{64}$/.test(o.hash)) return "sums";
        sums.push({ fromSeq: o.fromSeq, toSeq: o.toSeq, rows: o.rows, hash: o.hash });
      }
      return { t: "sums", epoch: d.epoch, id: d.id, upTo: d.upTo, sums };
    }
    case "ack":
      return isInt(d.seq) ? { t: "ack", epoch: d.epoch, seq: d.seq } : "seq";
    case "refuse":
      return isStr(d.reason, 500) ? { t: "refuse", epoch: d.epoch, reason: d.reason } : "reason";
    case "resume":
      if (!isInt(d.from) || !isInt(d.keep) || !isInt(d.total) || typeof d.diverged !== "boolean") return "resume fields";
      return { t: "resume", epoch: d.epoch, from: d.from, keep: d.keep, diverged: d.diverged, total: d.total };
  }
  return "type";
}
