// Tandem operator HMI: the timeline panel. Over the trend's range (the same
// choice), a strip per node of the pair with its states, coloured like the
// state card, from the stored state changes ("standby → active (epoch 4):
// …"), and a marker per takeover, confirm, switchover or alarm; hovering or
// tapping a marker shows its text. Plain DOM: positions are set through the
// CSSOM (element.style), which the CSP allows. The stored events come oldest
// first (GET /events/history?after=SEQ): the panel finds the first one in the
// range by bisecting on `after` (a page of one event each, at most PROBES),
// then pages forward up to MAX_EVENTS; later loads only ask for what came
// after the last one read, when the live feed says an event was recorded and
// every REFRESH_MS. A plain script loaded after app.js, plot-data.js and
// trend.js: it uses app.js's api(), el(), say(), show(), text(), when(), $()
// and lastStatus, board.js's stateLabel(); session.js calls timelinePanel.start() and
// .stop(). Every word a person reads comes from /words.js (trend-words.ts).
"use strict";

const timelinePanel = (() => {
  const PAGE = 1000; // the API's most per request
  const MAX_EVENTS = 10000;
  const PROBES = 48;
  const REFRESH_MS = 10000;
  const STORE = "tandem.trend"; // the trend's choice: its range is this panel's too
  const L = globalThis.TANDEM_WORDS && globalThis.TANDEM_WORDS.trends ? globalThis.TANDEM_WORDS.trends.timeline : null;
  const RANGES = L ? globalThis.TANDEM_WORDS.trends.trend.ranges : [];

  let built = false;
  let on = false;
  let events = []; // stored events read for this range, oldest first
  let after = 0; // the `after` of the next page
  let recordedFrom = null; // the store's first event, when it is inside the range (nothing older is stored)
  let cut = false;
  let failed = null;
  let rangeMs = 0;
  let gen = 0;
  let timer = null;
  let pending = null;
  let reads = Promise.resolve();
  let seenStates = ""; // this node's and the peer's state at the last status

  function build() {
    built = true;
    const strips = el("div", "tl-strips");
    strips.id = "timeline-strips";
    const axis = el("div", ["tl-row", "tl-axis"]);
    axis.id = "timeline-axis";
    const summary = el("p", ["muted", "small"]);
    summary.id = "timeline-summary";
    const detail = el("p", "tl-detail", L.tap);
    detail.id = "timeline-detail";
    const legend = el("ul", "tl-legend");
    legend.replaceChildren(...L.legend.map((k) => el("li", ["tl-key", "tl-" + k.kind], k.label)));
    $("timeline-card").replaceChildren(el("h3", "", L.title), strips, axis, detail, summary, legend);
  }

  function chosenRange() {
    try {
      const s = JSON.parse(localStorage.getItem(STORE) || "null") || {};
      if (RANGES.some((r) => r.ms === s.rangeMs)) return s.rangeMs;
    } catch {
      /* the default */
    }
    return RANGES[0].ms;
  }

  const page = (a, limit) => api("GET", "/events/history?" + new URLSearchParams({ after: String(a), limit: String(limit) }));
  const atOf = (e) => Date.parse(e.at);

  /** The `after` whose page starts at the last event before `from` (or the first of the store). */
  async function firstAfter(from) {
    let lo = 0;
    let hi = 1;
    let probes = 0;
    // grow: the first event after hi is none or in the range
    for (;;) {
      const r = await page(hi, 1);
      if (++probes >= PROBES || !r.events.length || atOf(r.events[0]) >= from) break;
      lo = hi;
      hi *= 2;
    }
    // narrow: the first event after lo is before the range, after hi is not
    while (hi - lo > 1 && probes++ < PROBES) {
      const mid = Math.floor((lo + hi) / 2);
      const r = await page(mid, 1);
      if (!r.events.length || atOf(r.events[0]) >= from) hi = mid;
      else lo = mid;
    }
    return lo;
  }

  /** Reads from `after` on, up to MAX_EVENTS in all. */
  async function readOn(mine) {
    while (events.length < MAX_EVENTS) {
      const r = await page(after, Math.min(PAGE, MAX_EVENTS - events.length));
      if (mine !== gen) return;
      events.push(...r.events);
      if (r.events.length) after = r.events[r.events.length - 1].seq;
      if (r.next === null) return;
    }
    cut = true;
  }

  /** A fresh read for the range (start, or the range changed). */
  async function load() {
    const mine = ++gen;
    rangeMs = chosenRange();
    events = [];
    cut = false;
    try {
      const start = await firstAfter(Date.now() - rangeMs);
      if (mine !== gen) return;
      after = start;
      await readOn(mine);
      recordedFrom = start === 0 && events.length ? atOf(events[0]) : null;
      failed = null;
    } catch (e) {
      if (e.status === 401) return;
      failed = e.message;
    }
    if (mine === gen && on) render();
  }

  /** Forgets what slid out of the range, but each node's last state change before it (the state the range starts in). */
  function prune(from) {
    const last = new Map();
    for (const e of events) if (atOf(e) < from && plotData.stateChange(e)) last.set(e.node, e);
    events = events.filter((e) => atOf(e) >= from || last.get(e.node) === e);
  }

  /** What was recorded since the last read; a changed range reads afresh. */
  async function more() {
    if (!on) return;
    if (chosenRange() !== rangeMs) return load();
    prune(Date.now() - rangeMs);
    cut = events.length >= MAX_EVENTS;
    if (cut) return render();
    const mine = gen;
    try {
      await readOn(mine);
      failed = null;
    } catch (e) {
      if (e.status === 401) return;
      failed = e.message;
    }
    if (mine === gen && on) render();
  }

  /** One read at a time, in order: two would both read on from the same `after`. */
  function queued(fn) {
    reads = reads.then(fn, fn);
    return reads;
  }

  function strip(node, label, now, from, to) {
    const row = el("div", "tl-row");
    row.dataset.node = node;
    const bar = el("div", "tl-strip");
    const segs = plotData.segments(events, node, from, to, now, recordedFrom);
    const at = (t) => when(new Date(t).toISOString());
    segs.forEach((s, i) => {
      // the last stored state is not the state now: the change between was not stored
      const stale = i === segs.length - 1 && s.state && now && s.state !== now;
      const tip = !s.state
        ? say(L.noRecordTip, { at: at(s.to) })
        : stale
          ? say(L.stale, { state: stateLabel(s.state), from: at(s.from), now: stateLabel(now) })
          : say(L.segment, { state: stateLabel(s.state), from: at(s.from), to: at(s.to) });
      const seg = el("div", ["tl-seg", s.state ? "state-" + s.state : "tl-norecord", stale ? "tl-stale" : ""], s.state ? stateLabel(s.state) : L.noRecord, tip);
      seg.dataset.state = s.state || "";
      seg.style.left = plotData.percent(s.from, from, to) + "%";
      seg.style.width = plotData.percent(s.to, from, to) - plotData.percent(s.from, from, to) + "%";
      bar.append(seg);
    });
    const changed = events.some((e) => e.node === node && plotData.stateChange(e));
    const name = el("div", "tl-name", label, changed ? "" : say(L.noChange, { state: stateLabel(now) }));
    row.append(name, bar);
    return row;
  }

  function marker(e, from, to) {
    const kind = plotData.markerKind(e);
    const tip = say(L.detail, { at: when(e.at), node: e.node, severity: e.severity, text: e.text });
    const m = el("button", ["tl-mark", "tl-" + kind], "", tip);
    m.type = "button";
    m.dataset.type = e.type;
    m.setAttribute("aria-label", tip);
    m.style.left = plotData.percent(atOf(e), from, to) + "%";
    const tell = () => {
      text("timeline-detail", tip);
      $("timeline-detail").className = ["tl-detail", "tl-detail-" + kind].join(" ");
    };
    m.addEventListener("click", tell);
    m.addEventListener("mouseenter", tell);
    m.addEventListener("focus", tell);
    return m;
  }

  function render() {
    const to = Date.now();
    const from = to - rangeMs;
    const s = lastStatus || {};
    const peer = s.peer || {};
    const rows = [];
    if (s.nodeId) rows.push(strip(s.nodeId, say(L.thisNode, { node: s.nodeId }), s.state, from, to));
    if (peer.nodeId) rows.push(strip(peer.nodeId, say(L.node, { node: peer.nodeId }), peer.state || "unknown", from, to));
    const marks = el("div", "tl-marks");
    const shown = events.filter((e) => plotData.markerKind(e) && atOf(e) >= from && atOf(e) <= to);
    marks.append(...shown.map((e) => marker(e, from, to)));
    const markRow = el("div", "tl-row");
    markRow.append(el("div", "tl-name"), marks);
    $("timeline-strips").replaceChildren(...rows, markRow);
    const ends = el("div", "tl-ends");
    ends.append(el("span", "", when(new Date(from).toISOString())), el("span", "", when(new Date(to).toISOString())));
    $("timeline-axis").replaceChildren(el("div", "tl-name"), ends);
    const bits = [failed ? say(L.notRead, { message: failed }) : shown.length ? say(L.events, { n: shown.length }) : L.noEvents];
    if (cut) bits.push(say(L.cut, { max: MAX_EVENTS }));
    text("timeline-summary", bits.join(" "));
  }

  /** Many events at once (a takeover records several): one read. */
  function onEvent() {
    if (!on || pending) return;
    pending = setTimeout(() => {
      pending = null;
      queued(more);
    }, 300);
  }

  function start() {
    if (!L) return;
    if (!built) build();
    show("timeline-card", true);
    on = true;
    queued(load);
    clearInterval(timer);
    timer = setInterval(() => queued(more), REFRESH_MS);
  }

  function stop() {
    on = false;
    gen++;
    clearInterval(timer);
    clearTimeout(pending);
    timer = pending = null;
    events = [];
    if (built) show("timeline-card", false);
  }

  /** The trend's range changed: show it now. */
  function refresh() {
    if (on) queued(more);
  }

  /** A node's state changed: its strip ends in the state it is in now. */
  function onStatus(ev) {
    const s = ev.detail || {};
    const states = s.state + "/" + (s.peer ? s.peer.state : "");
    if (states === seenStates) return;
    seenStates = states;
    refresh();
  }

  document.addEventListener("tandem-status", onStatus);
  document.addEventListener("tandem-event", onEvent);
  document.addEventListener("tandem-range", refresh);

  return { start, stop, refresh };
})();
