// runtime/history/deadband.ts: which values history records — a quality
// change always, a numeric change only beyond the deadband, strings and
// booleans on change, the minimum interval (the latest change waits its
// turn) and the heartbeat sample. Pure: the clock is a number passed in.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EMPTY, offer, outsideDeadband, tick, type HistorySettings, type Sample, type TagState } from "../../runtime/history/deadband.js";
import { historyKey, historyRange } from "../../runtime/history/keys.js";

const cfg = (over: Partial<HistorySettings> = {}): HistorySettings => ({ deadband: 0, minIntervalMs: 0, maxIntervalMs: 0, ...over });
const good = (v: unknown, ts = 0): Sample => ({ v, q: "good", ts });

/** feeds samples at the given times; returns what was recorded */
function run(settings: HistorySettings, feed: [number, Sample][]): Sample[] {
  let st: TagState = EMPTY;
  const out: Sample[] = [];
  for (const [now, s] of feed) {
    const r = offer(st, s, settings, now);
    st = r.state;
    if (r.record) out.push(r.record);
  }
  return out;
}

describe("history deadband filter", () => {
  it("records the first value, then a numeric value only once it moved more than the deadband from the last one recorded", () => {
    const got = run(cfg({ deadband: 1 }), [
      [0, good(10)],
      [1, good(10.5)],
      [2, good(11)], // exactly the deadband: not beyond it
      [3, good(11.01)],
      [4, good(10.5)], // within 1 of 11.01
      [5, good(9.9)],
    ]);
    expect(got.map((s) => s.v)).toEqual([10, 11.01, 9.9]);
  });

  it("does not creep: the distance is from the last value recorded, not the last seen", () => {
    // 0.4 steps never record with deadband 1 when measured step to step; from the last record they do
    const got = run(cfg({ deadband: 1 }), [0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4].map((v, i) => [i, good(v)] as [number, Sample]));
    expect(got.map((s) => s.v)).toEqual([0, 1.2, 2.4]);
  });

  it("always records a change of quality or of its reason, even with the value inside the deadband", () => {
    const got = run(cfg({ deadband: 100, minIntervalMs: 60_000 }), [
      [0, good(5)],
      [1, { v: 5, q: "bad", r: "comm_lost", ts: 1 }],
      [2, { v: 5, q: "bad", r: "timeout", ts: 2 }],
      [3, { v: 5, q: "bad", r: "timeout", ts: 3 }],
      [4, good(5.1, 4)],
    ]);
    expect(got.map((s) => [s.q, s.r])).toEqual([
      ["good", undefined],
      ["bad", "comm_lost"],
      ["bad", "timeout"],
      ["good", undefined],
    ]);
  });

  it("records strings, booleans and arrays on change, whatever the deadband", () => {
    expect(run(cfg({ deadband: 5 }), [[0, good("a")], [1, good("a")], [2, good("b")]]).map((s) => s.v)).toEqual(["a", "b"]);
    expect(run(cfg({ deadband: 5 }), [[0, good(false)], [1, good(false)], [2, good(true)]]).map((s) => s.v)).toEqual([false, true]);
    expect(run(cfg({ deadband: 5 }), [[0, good([1, 2])], [1, good([1, 2])], [2, good([1, 3])]]).map((s) => s.v)).toEqual([[1, 2], [1, 3]]);
  });

  it("deadband 0 records every numeric change, NaN included, and no repeat", () => {
    expect(run(cfg(), [[0, good(1)], [1, good(1)], [2, good(1.0000001)], [3, good(NaN)], [4, good(NaN)], [5, good(2)]]).length).toBe(4);
    expect(outsideDeadband(0, -0, 0)).toBe(true);
  });

  it("minIntervalMs: a change too soon waits, the latest wins, and goes once the interval is up if still outside the deadband", () => {
    const s = cfg({ deadband: 1, minIntervalMs: 1000 });
    let st = offer(EMPTY, good(0), s, 0).state;
    let r = offer(st, good(5), s, 100);
    expect(r.record).toBeNull();
    r = offer(r.state, good(7), s, 200);
    expect(r.record).toBeNull();
    expect(tick(r.state, s, 900, null).record).toBeNull();
    const due = tick(r.state, s, 1000, null);
    expect(due.record?.v).toBe(7);
    st = due.state;
    // a waiting change that falls back within the deadband is dropped
    r = offer(st, good(10), s, 1100);
    r = offer(r.state, good(7.5), s, 1200);
    expect(r.state.pending).toBeNull();
    expect(tick(r.state, s, 5000, null).record).toBeNull();
  });

  it("maxIntervalMs: a steady value is recorded again with the time a read last confirmed it; never with 0", () => {
    const s = cfg({ deadband: 1, maxIntervalMs: 10_000 });
    const st = offer(EMPTY, good(3, 500), s, 1000).state;
    expect(tick(st, s, 10_999, good(3.4, 10_900)).record).toBeNull();
    const hb = tick(st, s, 11_000, good(3.4, 10_950));
    expect(hb.record).toEqual(good(3.4, 10_950));
    expect(hb.state.last?.at).toBe(11_000);
    expect(tick(hb.state, s, 20_999, null).record).toBeNull();
    // no current value known: the last one again, at no earlier time than it had
    expect(tick(hb.state, s, 21_000, null).record).toEqual(good(3.4, 10_950));
    expect(tick(st, cfg({ deadband: 1 }), 1e9, good(3, 1e9)).record).toBeNull();
  });

  it("property: every quality change is recorded, and no two records in a row are within the deadband with the same quality", () => {
    const sample = fc.record({ v: fc.double({ min: -100, max: 100, noNaN: true }), q: fc.constantFrom("good" as const, "bad" as const, "uncertain" as const), ts: fc.nat() });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 60 }), fc.double({ min: 0, max: 20, noNaN: true }), (xs, deadband) => {
        const got = run(cfg({ deadband }), xs.map((x, i) => [i, x] as [number, Sample]));
        const qualityChanges = xs.filter((x, i) => i === 0 || x.q !== xs[i - 1]!.q).length;
        expect(got.length).toBeGreaterThanOrEqual(qualityChanges);
        for (let i = 1; i < got.length; i++) if (got[i]!.q === got[i - 1]!.q) expect(Math.abs(got[i]!.v as number - (got[i - 1]!.v as number))).toBeGreaterThan(deadband);
      }),
    );
  });
});

describe("history keys", () => {
  it("sort by tag then time, and a tag's range holds its keys only", () => {
    const keys = [historyKey("t1", 2000, 3, 0), historyKey("t1", 1000, 4, 35), historyKey("t1.x", 1500, 3, 1), historyKey("t10", 1500, 3, 2), historyKey("t1", 10_000, 3, 3)];
    const r = historyRange("t1", 1000, 2000);
    const inside = keys.filter((k) => k >= r.from && k < r.to).sort();
    expect(inside).toEqual([historyKey("t1", 1000, 4, 35), historyKey("t1", 2000, 3, 0)]);
    expect(historyKey("t1", 1000, 4, 35)).toBe("t1@000000000001000@4.z");
  });
});
