// What both storage adapters share about replicated rows beyond the Storage
// interface itself.
import type { Row } from "../../redundancy/storage.js";

/** the `before` of a purge row's body */
export function purgeBefore(r: Row): number {
  const b = r.body === null ? null : (JSON.parse(r.body) as { before?: unknown });
  if (!b || !Number.isSafeInteger(b.before)) throw new Error(`row ${r.seq}: a purge needs a body {"before": ms}`);
  return b.before as number;
}
