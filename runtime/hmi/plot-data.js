// Tandem operator HMI: the pure part of the trend and timeline panels —
// recorded samples into uPlot's data, stored events into state segments and
// markers. No DOM, no fetch, no clock: the unit tests run this very file
// (test/unit/hmi-plot-data.test.ts) as the browser does, a classic script.
"use strict";

const plotData = (() => {
  /** A sample's value as a number to draw, or null: booleans as 0/1, anything else not drawn. */
  function numberOf(v) {
    if (typeof v === "number") return Number.isFinite(v) ? v : null;
    if (typeof v === "boolean") return v ? 1 : 0;
    return null;
  }

  /**
   * A tag's points to draw, {t (ms), line, dot}: a good sample's value on the
   * line, null (a gap) for one that is not good, an uncertain sample's value
   * as a dot. A value holds until the next sample (the lines are stepped), so
   * before a sample that is not good a point 1 ms earlier carries the good
   * value up to it, and with `until` (ms; the tag's value is still that one
   * now) the last good value is carried to it.
   */
  function points(list, until) {
    const out = [];
    let good = null;
    for (const s of list) {
      const t = Date.parse(s.timestamp);
      if (!Number.isFinite(t)) continue;
      const v = numberOf(s.value);
      const ok = s.quality === "good" && v !== null;
      if (!ok && good !== null) out.push({ t: t - 1, line: good, dot: undefined });
      out.push({ t, line: ok ? v : null, dot: s.quality === "uncertain" && v !== null ? v : undefined });
      good = ok ? v : null;
    }
    if (until !== null && until !== undefined && good !== null && until > out[out.length - 1].t) out.push({ t: until, line: good, dot: undefined });
    return out;
  }

  /**
   * The tags' samples ({timestamp, value, quality}, oldest first, one list per
   * tag) as uPlot's aligned data: [times in s, line of tag 1, dots of tag 1,
   * line of tag 2, …] (see points; `untils` holds each tag's `until`, or
   * null). Where only another tag has a point, both hold undefined, which
   * uPlot draws across (no gap).
   */
  function aligned(lists, untils) {
    const each = lists.map((list, i) => points(list, untils ? untils[i] : null));
    const times = new Set();
    for (const ps of each) for (const p of ps) times.add(p.t);
    const ms = [...times].sort((a, b) => a - b);
    const at = new Map(ms.map((t, i) => [t, i]));
    const data = [ms.map((t) => t / 1000)];
    for (const ps of each) {
      const line = new Array(ms.length).fill(undefined);
      const dots = new Array(ms.length).fill(undefined);
      for (const p of ps) {
        const i = at.get(p.t);
        line[i] = p.line;
        dots[i] = p.dot;
      }
      data.push(line, dots);
    }
    return data;
  }

  /** Samples older than `from` (ms) dropped, keeping the last one before it (the value the range starts with). */
  function trim(list, from) {
    let first = list.findIndex((s) => Date.parse(s.timestamp) >= from);
    if (first === -1) first = list.length;
    return list.slice(Math.max(0, first - 1));
  }

  /** A stored state event's text, "standby → active (epoch 4): the peer's lease ran out", as {from, to, epoch}; null for another. */
  function stateChange(e) {
    if (e.type !== "state") return null;
    const m = /^(\S+) → (\S+) \(epoch (\d+)\)/.exec(e.text);
    return m ? { from: m[1], to: m[2], epoch: Number(m[3]) } : null;
  }

  /**
   * One node's states over [from, to] (ms) from its stored state events, as
   * segments {state, from, to} that cover the range: before its first change
   * the state it changed from, after its last one the state it changed to;
   * with no change in the range, `now` (the state it is in) throughout.
   * With `recordedFrom` (ms, inside the range: the store holds nothing
   * older), the time before it is a segment of state null: no record.
   */
  function segments(events, node, from, to, now, recordedFrom) {
    if (recordedFrom > from && recordedFrom < to) return [{ state: null, from, to: recordedFrom }, ...segments(events, node, recordedFrom, to, now)];
    const changes = events
      .filter((e) => e.node === node)
      .map((e) => ({ at: Date.parse(e.at), change: stateChange(e) }))
      .filter((c) => c.change && c.at <= to)
      .sort((a, b) => a.at - b.at);
    const before = changes.filter((c) => c.at < from);
    const inside = changes.filter((c) => c.at >= from);
    let state = before.length ? before[before.length - 1].change.to : inside.length ? inside[0].change.from : now;
    const out = [];
    let start = from;
    for (const c of inside) {
      if (c.at > start) out.push({ state, from: start, to: c.at });
      state = c.change.to;
      start = c.at;
    }
    out.push({ state, from: start, to });
    return out;
  }

  /** The marker kind of a stored event (the colour it is drawn in), or null for a state change (the strip shows it). */
  function markerKind(e) {
    if (e.type === "state") return null;
    if (e.severity === "alarm") return "alarm";
    if (e.type.startsWith("takeover")) return "takeover";
    if (e.type === "confirm" || e.type === "reject") return "confirm";
    if (e.type.startsWith("switchover")) return "switchover";
    return "other";
  }

  /** Where a time falls in [from, to], in percent, kept inside the range. */
  function percent(t, from, to) {
    return to > from ? Math.min(100, Math.max(0, ((t - from) / (to - from)) * 100)) : 0;
  }

  return { numberOf, points, aligned, trim, stateChange, segments, markerKind, percent };
})();
