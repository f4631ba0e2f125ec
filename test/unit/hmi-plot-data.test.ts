// The pure part of the HMI's trend and timeline panels (runtime/hmi/plot-data.js),
// run as the browser runs it: a classic script, in a context of its own.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { findHmiDir } from "../../runtime/http/hmi-files.js";

interface Sample {
  timestamp: string;
  value: unknown;
  quality: "good" | "uncertain" | "bad";
}
interface Event {
  seq: number;
  type: string;
  severity: string;
  text: string;
  node: string;
  at: string;
}
interface PlotData {
  numberOf(v: unknown): number | null;
  aligned(lists: Sample[][], untils?: (number | null)[]): (number | null | undefined)[][];
  trim(list: Sample[], from: number): Sample[];
  stateChange(e: Event): { from: string; to: string; epoch: number } | null;
  segments(events: Event[], node: string, from: number, to: number, now: string, recordedFrom?: number | null): { state: string | null; from: number; to: number }[];
  markerKind(e: Event): string | null;
  percent(t: number, from: number, to: number): number;
}

const code = readFileSync(join(findHmiDir()!, "plot-data.js"), "utf8");
const p = vm.runInNewContext(`${code}\nplotData`, {}) as PlotData;

const T0 = Date.parse("2026-11-30T08:00:00.000Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const sample = (s: number, value: unknown, quality: Sample["quality"] = "good"): Sample => ({ timestamp: at(s), value, quality });
const ev = (seq: number, s: number, node: string, type: string, text: string, severity = "info"): Event => ({ seq, type, severity, text, node, at: at(s) });
const x = (s: number) => (T0 + s * 1000) / 1000;

describe("trend data: samples into uPlot's aligned series", () => {
  it("numbers as they are, booleans as 0/1, anything else not drawn", () => {
    expect([3.5, true, false, "7", null, NaN, Infinity, { a: 1 }].map((v) => p.numberOf(v))).toEqual([3.5, 1, 0, null, null, null, null, null]);
  });

  it("one time axis for all tags; a sample that is not good is a gap (null), an uncertain one also a dot; another tag's time is undefined (drawn across)", () => {
    const a = [sample(0, 10), sample(2, 11, "uncertain"), sample(4, null, "bad"), sample(6, 12)];
    const b = [sample(1, true), sample(4, false)];
    const d = p.aligned([a, b]);
    // 10 holds until the uncertain sample: a point 1 ms before it carries it
    expect(d[0]).toEqual([x(0), x(1), x(2) - 0.001, x(2), x(4), x(6)]);
    expect(d[1]).toEqual([10, undefined, 10, null, null, 12]); // a's line
    expect(d[2]).toEqual([undefined, undefined, undefined, 11, undefined, undefined]); // a's uncertain dots
    expect(d[3]).toEqual([undefined, 1, undefined, undefined, 0, undefined]); // b's line
    expect(d[4].every((v) => v === undefined)).toBe(true);
  });

  it("a tag whose last sample is still its value runs on to `until`; one that ended not good, or without `until`, does not", () => {
    const until = T0 + 60_000;
    expect(p.aligned([[sample(0, 5), sample(10, 6)]], [until])).toEqual([[x(0), x(10), x(60)], [5, 6, 6], [undefined, undefined, undefined]]);
    expect(p.aligned([[sample(0, 5), sample(10, null, "bad")]], [until])[0]).toEqual([x(0), x(10) - 0.001, x(10)]);
    expect(p.aligned([[sample(0, 5)]], [null])[0]).toEqual([x(0)]);
    expect(p.aligned([[]], [until])).toEqual([[], [], []]);
  });

  it("a good sample with a value that cannot be drawn is a gap; a tag without samples gives empty series", () => {
    const none = [undefined, undefined];
    expect(p.aligned([[sample(0, "open"), sample(1, 5)], []])).toEqual([[x(0), x(1)], [null, 5], none, none, none]);
    expect(p.aligned([])).toEqual([[]]);
  });

  it("trimming to a range keeps the last sample before it: the value the range starts with", () => {
    const list = [sample(0, 1), sample(10, 2), sample(20, 3), sample(30, 4)];
    expect(p.trim(list, T0 + 15_000).map((s) => s.value)).toEqual([2, 3, 4]);
    expect(p.trim(list, T0).map((s) => s.value)).toEqual([1, 2, 3, 4]);
    expect(p.trim(list, T0 + 60_000).map((s) => s.value)).toEqual([4]);
    expect(p.trim([], T0)).toEqual([]);
  });
});

describe("timeline data: stored events into state segments and markers", () => {
  const events = [
    ev(1, -100, "a", "state", "starting → standby (epoch 1): the peer is active"),
    ev(5, 10, "a", "takeover", "took over from b: b not seen on any link", "alarm"),
    ev(6, 10, "a", "state", "standby → active-held (epoch 2): takeover"),
    ev(7, 40, "a", "confirm", "takeover confirmed by otto: the process resumes from its context"),
    ev(8, 40, "a", "state", "active-held → active (epoch 2): confirmed"),
    ev(9, 50, "b", "state", "active → isolated (epoch 1): fenced"),
  ];

  it("reads a state change's text; other events are not state changes", () => {
    expect(p.stateChange(events[2])).toEqual({ from: "standby", to: "active-held", epoch: 2 });
    expect(p.stateChange(events[1])).toBeNull();
    expect(p.stateChange(ev(2, 0, "a", "state", "garbled"))).toBeNull();
  });

  it("a node's segments cover the range: the state before the first change in it (from an earlier one), each change, the last to the end", () => {
    expect(p.segments(events, "a", T0, T0 + 60_000, "active")).toEqual([
      { state: "standby", from: T0, to: T0 + 10_000 },
      { state: "active-held", from: T0 + 10_000, to: T0 + 40_000 },
      { state: "active", from: T0 + 40_000, to: T0 + 60_000 },
    ]);
  });

  it("without an earlier change the range starts in the state the first change left; without any, the state now throughout", () => {
    expect(p.segments(events.slice(1), "a", T0, T0 + 60_000, "active")[0]).toEqual({ state: "standby", from: T0, to: T0 + 10_000 });
    expect(p.segments(events, "b", T0, T0 + 60_000, "isolated")).toEqual([
      { state: "active", from: T0, to: T0 + 50_000 },
      { state: "isolated", from: T0 + 50_000, to: T0 + 60_000 },
    ]);
    expect(p.segments(events, "c", T0, T0 + 60_000, "standby")).toEqual([{ state: "standby", from: T0, to: T0 + 60_000 }]);
    // a change after the range's end is not in it
    expect(p.segments(events, "a", T0, T0 + 20_000, "active")).toEqual([
      { state: "standby", from: T0, to: T0 + 10_000 },
      { state: "active-held", from: T0 + 10_000, to: T0 + 20_000 },
    ]);
  });

  it("before the store's first event (inside the range) there is no record, not a state", () => {
    const since = events.slice(1); // the store begins with the takeover at 10 s
    expect(p.segments(since, "a", T0 - 60_000, T0 + 60_000, "active", T0 + 10_000)).toEqual([
      { state: null, from: T0 - 60_000, to: T0 + 10_000 },
      { state: "active-held", from: T0 + 10_000, to: T0 + 40_000 },
      { state: "active", from: T0 + 40_000, to: T0 + 60_000 },
    ]);
    expect(p.segments([], "b", T0, T0 + 60_000, "standby", T0 + 30_000)).toEqual([
      { state: null, from: T0, to: T0 + 30_000 },
      { state: "standby", from: T0 + 30_000, to: T0 + 60_000 },
    ]);
    // a store that begins before the range changes nothing
    expect(p.segments(events, "a", T0, T0 + 60_000, "active", T0 - 100_000)).toEqual(p.segments(events, "a", T0, T0 + 60_000, "active"));
  });

  it("markers by kind: alarms first, then takeovers, confirms and rejects, switchovers, the rest; a state change is no marker", () => {
    const kind = (type: string, severity = "info") => p.markerKind(ev(1, 0, "a", type, "", severity));
    expect(kind("state")).toBeNull();
    expect(kind("takeover", "alarm")).toBe("alarm");
    expect(kind("takeover-started", "warning")).toBe("takeover");
    expect(kind("confirm")).toBe("confirm");
    expect(kind("reject")).toBe("confirm");
    expect(kind("switchover-failed", "warning")).toBe("switchover");
    expect(kind("witness-unreachable", "warning")).toBe("other");
  });

  it("positions in percent stay inside the range", () => {
    expect([-5, 0, 25, 100, 120].map((t) => p.percent(t, 0, 100))).toEqual([0, 0, 25, 100, 100]);
    expect(p.percent(5, 10, 10)).toBe(0);
  });
});
