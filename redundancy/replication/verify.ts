// Proving the two databases identical while writing goes on. The active
// writes a verify marker (a row in table `_verify`) like any other write;
// each node takes a snapshot of its database right after the marker's
// transaction, before anything later, and checksums the rows up to the
// marker by ranges of sequence numbers. Both snapshots are of the same point
// of the order, so any difference is a real one, and its range is named.
import type { RangeSum, Row } from "../storage.js";

export const VERIFY_TABLE = "_verify";

export interface Marker {
  id: string;
  span: number;
}

export function markerOf(r: Row): Marker | null {
  if (r.table !== VERIFY_TABLE || r.kind !== "ins" || r.body === null) return null;
  try {
    const b = JSON.parse(r.body) as { id?: unknown; span?: unknown };
    return typeof b.id === "string" && Number.isSafeInteger(b.span) && (b.span as number) > 0 ? { id: b.id, span: b.span as number } : null;
  } catch {
    return null;
  }
}

export interface Mismatch {
  fromSeq: number;
  toSeq: number;
  rowsHere: number | null;
  rowsPeer: number | null;
}

/** the ranges whose checksums differ (or that one side lacks) */
export function compareSums(here: RangeSum[], peer: RangeSum[]): Mismatch[] {
  const byRange = new Map(peer.map((p) => [`${p.fromSeq}-${p.toSeq}`, p]));
  const out: Mismatch[] = [];
  for (const h of here) {
    const k = `${h.fromSeq}-${h.toSeq}`;
    const p = byRange.get(k);
    byRange.delete(k);
    if (!p || p.hash !== h.hash) out.push({ fromSeq: h.fromSeq, toSeq: h.toSeq, rowsHere: h.rows, rowsPeer: p?.rows ?? null });
  }
  for (const p of byRange.values()) out.push({ fromSeq: p.fromSeq, toSeq: p.toSeq, rowsHere: null, rowsPeer: p.rows });
  return out.sort((a, b) => a.fromSeq - b.fromSeq);
}

export interface VerifyResult {
  id: string;
  /** who asked: "schedule" or an operator */
  by: string;
  startedAt: string;
  durationMs: number;
  /** the marker's sequence number: both databases compared as they were right after it */
  upTo: number;
  ranges: number;
  rows: number;
  ok: boolean;
  mismatches: Mismatch[];
  /** why nothing could be compared (the peer away, no answer in time) */
  error: string | null;
}
