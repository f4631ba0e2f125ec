// Reading rows back from PostgreSQL: the row shape as the adapter selects
// it, and the checksums by ranges (the same hashes as the SQLite adapter's:
// sha256 over canonicalRow in seq order), read in pages on a client that the
// caller holds in one snapshot.
import { createHash } from "node:crypto";
import type pg from "pg";
import { canonicalRow, type RangeSum } from "../../redundancy/storage.js";
import { COLS, toRow, type RowRecord } from "./rows.js";

export { COLS, toRow, type RowRecord };

/** rows per read while computing checksums */
const CHECKSUM_PAGE = 5_000;

/** checksums of [fromSeq, toSeq] cut into ranges of `span`, read through `c` (in the caller's transaction) */
export async function rangeSums(c: pg.PoolClient, table: string, fromSeq: number, toSeq: number, span: number): Promise<RangeSum[]> {
  const out: RangeSum[] = [];
  if (fromSeq > toSeq) return out;
  let a = fromSeq;
  let b = Math.min(toSeq, a + span - 1);
  let h = createHash("sha256");
  let n = 0;
  const next = () => {
    out.push({ fromSeq: a, toSeq: b, rows: n, hash: h.digest("hex") });
    a += span;
    b = Math.min(toSeq, a + span - 1);
    h = createHash("sha256");
    n = 0;
  };
  let cursor = fromSeq - 1;
  for (;;) {
    const page = (await c.query<RowRecord>({ text: `SELECT ${COLS} FROM ${table} WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, values: [cursor, toSeq, CHECKSUM_PAGE] })).rows;
    for (const r of page) {
      while (r.seq > b) next();
      h.update(canonicalRow(toRow(r)));
      n++;
    }
    if (page.length < CHECKSUM_PAGE) break;
    cursor = page[page.length - 1].seq;
  }
  while (a <= toSeq) next();
  return out;
}
