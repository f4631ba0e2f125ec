// A bounded, well-formed copy of any value, for the audit log. What an
// operator or an attacker sends (a tag value, a user name) is stored as it
// was only when it is small and plain; otherwise it is cut down and says so.
// Every reader of the log must be able to read every line: `jq` refuses
// nesting deeper than 256 (1.6), Python's json module recurses once per level,
// and strict UTF-8 readers refuse lone surrogates (which JSON.stringify writes
// as \udXXX escapes). So: depth, width and string length are capped, lone
// surrogates become U+FFFD, and numbers JSON cannot hold become strings.

export const LIMITS = {
  /** levels of arrays/objects kept; deeper ones are summarised */
  depth: 6,
  /** items of an array, keys of an object */
  width: 32,
  /** UTF-16 code units of a string */
  string: 512,
  /** values (of any kind) in one normalised value, all levels together */
  nodes: 256,
} as const;

/** A string with lone surrogates replaced by U+FFFD, cut to `max` code units without splitting a pair. */
export function wellFormed(s: string, max: number = LIMITS.string): string {
  let out = s;
  if (out.length > max) {
    let cut = max;
    // do not leave half a surrogate pair at the cut
    const c = out.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut--;
    out = `${out.slice(0, cut)}…(${s.length - cut} more characters)`;
  }
  return out.replace(LONE_SURROGATE, "\uFFFD");
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v && typeof v === "object") return `an object with ${Object.keys(v).length} keys`;
  return typeof v;
}

/** The bounded, JSON-safe form of `value` (see the limits above). */
export function normalise(value: unknown): unknown {
  let budget: number = LIMITS.nodes;
  const walk = (v: unknown, depth: number): unknown => {
    if (budget-- <= 0) return "…(cut: too many values)";
    switch (typeof v) {
      case "string":
        return wellFormed(v);
      case "number":
        // NaN and ±Infinity would be written as null: say what they were
        return Number.isFinite(v) ? v : String(v);
      case "boolean":
        return v;
      case "bigint":
        return wellFormed(`${v}n`);
      case "undefined":
        return null;
      case "symbol":
      case "function":
        return `(${typeof v})`;
    }
    if (v === null) return null;
    if (depth >= LIMITS.depth) return `…(cut: ${kindOf(v)} nested ${depth} deep)`;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (let i = 0; i < Math.min(v.length, LIMITS.width); i++) out.push(walk(v[i], depth + 1));
      if (v.length > LIMITS.width) out.push(`…(${v.length - LIMITS.width} more items)`);
      return out;
    }
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
    const keys = Object.keys(v as object);
    const out: Record<string, unknown> = {};
    for (const k of keys.slice(0, LIMITS.width)) out[wellFormed(k, 128)] = walk((v as Record<string, unknown>)[k], depth + 1);
    if (keys.length > LIMITS.width) out["…"] = `${keys.length - LIMITS.width} more keys`;
    return out;
  };
  return walk(value, 0);
}
