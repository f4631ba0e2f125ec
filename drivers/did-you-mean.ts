// "Did you mean": the known key closest to an unknown one, for config
// messages (`writeable` → `writable`, `len` → `length`, `order` → `byteOrder`).
import { distance } from "fastest-levenshtein";

/**
 * The known word meant by `given`, or undefined when none is close: a small
 * edit distance (1 for words up to 4 letters, else 2, case ignored), or one
 * word holding the other (3 letters at least: `len` in `length`).
 */
export function suggest(given: string, known: readonly string[]): string | undefined {
  const g = given.toLowerCase();
  let best: { word: string; score: number } | undefined;
  for (const word of known) {
    const w = word.toLowerCase();
    if (w === g) return word;
    const d = distance(g, w);
    const near = d <= (Math.min(g.length, w.length) <= 4 ? 1 : 2);
    const contains = Math.min(g.length, w.length) >= 3 && (w.includes(g) || g.includes(w));
    if (!near && !contains) continue;
    // a close edit beats containment; among equals, the smaller distance
    const score = near ? d : 10 + d;
    if (!best || score < best.score) best = { word, score };
  }
  return best?.word;
}

/** "unknown key 'writeable' (did you mean 'writable'?)" */
export function unknownKeyMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((k) => {
      const s = suggest(k, known);
      return `unknown key '${k}'${s ? ` (did you mean '${s}'?)` : ""}`;
    })
    .join("; ");
}
