// What the benches share: percentiles of a sample list, its summary as the
// tables and JSON records print it, and the timestamped progress line.

/** The p-th percentile (nearest rank) of xs. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** n, min, p50, p90, p99 and max to 0.1; null for no samples. */
export function summary(xs: number[]): Summary | null {
  if (xs.length === 0) return null;
  const r = (v: number) => Math.round(v * 10) / 10;
  return { n: xs.length, min: r(Math.min(...xs)), p50: r(pct(xs, 50)), p90: r(pct(xs, 90)), p99: r(pct(xs, 99)), max: r(Math.max(...xs)) };
}

/** A progress line on stderr, with the wall time. */
export const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${line}\n`);
