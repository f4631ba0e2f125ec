// Which tag values history records: a pure step per tag, with the clock
// passed in (STYLE.md §1). The drivers publish a tag on the bus when its own
// deadband or its quality says so; history filters again with its own
// settings:
// - a change of quality (or of its reason) is always recorded, at once:
//   good→bad must never be filtered out;
// - a numeric value is recorded when it moved more than `deadband` from the
//   last one recorded (0: any change); anything else (strings, booleans,
//   arrays) when it differs;
// - `minIntervalMs`: a value change sooner than that after the last record
//   waits (the latest one wins) and goes when the interval is up, if it is
//   still outside the deadband then;
// - `maxIntervalMs`: a value that stays is recorded again after that long
//   (a heartbeat sample), so any time range shows what the tag held.
import type { Quality } from "../../drivers/tag-model.js";

export interface HistorySettings {
  deadband: number;
  minIntervalMs: number;
  maxIntervalMs: number;
}

/** One value as history keeps it: value, quality, its reason when not good, source time (ms). */
export interface Sample {
  v: unknown;
  q: Quality;
  r?: string;
  ts: number;
}

export interface TagState {
  /** the last sample recorded and when (the recorder's clock) */
  last: { s: Sample; at: number } | null;
  /** a change that waits for minIntervalMs */
  pending: Sample | null;
}

export const EMPTY: TagState = { last: null, pending: null };

export interface Step {
  state: TagState;
  /** what to record now, if anything */
  record: Sample | null;
}

/** Whether `next` differs enough from `prev` to be recorded as a value change (same quality). */
export function outsideDeadband(prev: unknown, next: unknown, deadband: number): boolean {
  if (typeof prev === "number" && typeof next === "number") {
    if (Number.isNaN(prev) || Number.isNaN(next)) return Number.isNaN(prev) !== Number.isNaN(next);
    return deadband > 0 ? Math.abs(next - prev) > deadband : !Object.is(prev, next);
  }
  return JSON.stringify(prev) !== JSON.stringify(next);
}

const qualityChanged = (a: Sample, b: Sample) => a.q !== b.q || a.r !== b.r;

/** A new value of the tag arrived. */
export function offer(st: TagState, s: Sample, cfg: HistorySettings, now: number): Step {
  const last = st.last;
  const recordNow = (): Step => ({ state: { last: { s, at: now }, pending: null }, record: s });
  if (!last || qualityChanged(last.s, s)) return recordNow();
  if (!outsideDeadband(last.s.v, s.v, cfg.deadband)) {
    // back within the deadband: a change that waited is no longer one
    return { state: st.pending ? { last, pending: null } : st, record: null };
  }
  if (cfg.minIntervalMs > 0 && now - last.at < cfg.minIntervalMs) return { state: { last, pending: s }, record: null };
  return recordNow();
}

/**
 * Time passed: a change that waited for minIntervalMs goes once it is up; a
 * value recorded maxIntervalMs ago is recorded again: `current` is the tag as
 * the drivers hold it now, with the time a read last confirmed it as its
 * source time (the drivers may hold a value within the deadband of the last
 * one recorded: that is the one to show).
 */
export function tick(st: TagState, cfg: HistorySettings, now: number, current: Sample | null): Step {
  const last = st.last;
  if (!last) return { state: st, record: null };
  if (st.pending && now - last.at >= cfg.minIntervalMs) {
    const s = st.pending;
    return { state: { last: { s, at: now }, pending: null }, record: s };
  }
  if (cfg.maxIntervalMs > 0 && !st.pending && now - last.at >= cfg.maxIntervalMs) {
    const base = current && !qualityChanged(last.s, current) ? current : last.s;
    const s = { ...base, ts: Math.max(last.s.ts, base.ts) };
    return { state: { last: { s, at: now }, pending: null }, record: s };
  }
  return { state: st, record: null };
}
