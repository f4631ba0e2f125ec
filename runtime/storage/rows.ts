// What both storage adapters share about replicated rows beyond the Storage
// interface itself.
import type { Row, RowKind } from "../../redundancy/storage.js";

/** a row as both adapters select it (the column `tbl` is the row's table) */
export interface RowRecord {
  seq: number;
  epoch: number;
  at: number;
  tbl: string;
  kind: RowKind;
  key: string | null;
  body: string | null;
}

export const toRow = (r: RowRecord): Row => ({ seq: r.seq, epoch: r.epoch, at: r.at, table: r.tbl, kind: r.kind, key: r.key, body: r.body });

/** the columns in the order of RowRecord */
export const COLS = "seq, epoch, at, tbl, kind, key, body";

/** the `before` of a purge row's body */
export function purgeBefore(r: Row): number {
  const b = r.body === null ? null : (JSON.parse(r.body) as { before?: unknown });
  if (!b || !Number.isSafeInteger(b.before)) throw new Error(`row ${r.seq}: a purge needs a body {"before": ms}`);
  return b.before as number;
}
