// Tandem operator HMI: the trend panel. The operator chooses up to MAX_TAGS
// numeric tags and a range (kept in the browser's localStorage); the panel
// reads each tag's recorded history (GET /tags/NAME/history, the newest
// LIMIT samples of the range) and draws them with uPlot, served by the node
// itself (/vendor/uPlot.iife.min.js). A value holds until the next sample
// (stepped lines); a sample that is not good is a gap, an uncertain one an
// amber dot (plot-data.js). Values that change while the page is open come
// from the live feed (live.js's "tandem-tag" events) and the window slides
// with the clock. A plain script loaded after app.js and plot-data.js: it uses
// app.js's api(), el(), say(), option(), show(), when() and $(), tags.js's
// formatValue(); session.js calls
// trendPanel.start() and .stop() as the board is shown and left. Every word a
// person reads comes from /words.js (runtime/trend-words.ts).
"use strict";

const trendPanel = (() => {
  const MAX_TAGS = 6;
  const LIMIT = 10000; // the API's most per request
  const SLIDE_MS = 5000;
  const STORE = "tandem.trend";
  const COLORS = ["#4fc3f7", "#ffb74d", "#81c784", "#f48fb1", "#ce93d8", "#fff176"];
  const UNCERTAIN = "#e0a100";
  const AXIS = { stroke: "#9aa7b4", grid: { stroke: "#2c3642", width: 1 }, ticks: { stroke: "#2c3642", width: 1 } };
  const T = globalThis.TANDEM_WORDS && globalThis.TANDEM_WORDS.trends ? globalThis.TANDEM_WORDS.trends.trend : null;

  let built = false;
  let on = false;
  let plot = null;
  let drawn = ""; // the tags the plot was made for
  let numeric = []; // names of the tags that can be drawn
  let current = new Map(); // name → the tag as the node has it now (GET /tags, then the live feed)
  let chosen = [];
  let rangeMs = 0;
  const samples = new Map(); // name → samples, oldest first
  const notes = new Map(); // name → what the operator should know about its line
  let gen = 0; // the newest load; an older one in flight draws nothing
  let timer = null;
  let drawPending = false;
  let sizer = null;

  function restore() {
    let s = {};
    try {
      s = JSON.parse(localStorage.getItem(STORE) || "null") || {};
    } catch {
      s = {};
    }
    chosen = Array.isArray(s.tags) ? s.tags.filter((n) => typeof n === "string").slice(0, MAX_TAGS) : [];
    rangeMs = T.ranges.some((r) => r.ms === s.rangeMs) ? s.rangeMs : T.ranges[0].ms;
  }

  function save() {
    try {
      localStorage.setItem(STORE, JSON.stringify({ tags: chosen, rangeMs }));
    } catch {
      /* a browser without storage forgets the choice */
    }
  }

  function build() {
    built = true;
    const tags = el("fieldset", "trend-tags");
    tags.id = "trend-tags";
    const range = el("select");
    range.id = "trend-range";
    range.replaceChildren(...T.ranges.map((r) => option(String(r.ms), r.label)));
    range.addEventListener("change", () => {
      rangeMs = Number(range.value);
      save();
      load();
      document.dispatchEvent(new CustomEvent("tandem-range")); // the timeline follows
    });
    const rangeLabel = el("label", "", T.range);
    rangeLabel.htmlFor = "trend-range";
    const controls = el("div", "trend-controls");
    const pick = el("div", "trend-range");
    pick.append(rangeLabel, range);
    // folded once tags are chosen: on a phone a plant's tag list is long
    const fold = el("details", "trend-fold");
    fold.id = "trend-fold";
    const summary = el("summary");
    summary.id = "trend-picked";
    fold.append(summary, tags);
    controls.append(fold, pick);
    const hint = el("p", ["muted", "small"]);
    hint.id = "trend-hint";
    const box = el("div", "trend-plot");
    box.id = "trend-plot";
    const legend = el("ul", "trend-legend");
    legend.id = "trend-legend";
    const noteList = el("ul", "trend-notes");
    noteList.id = "trend-notes";
    const quality = el("p", ["muted", "small"], T.quality + " " + T.live);
    quality.id = "trend-quality";
    $("trend-card").replaceChildren(el("h3", "", T.title), controls, hint, box, legend, noteList, quality);
  }

  /** The tag checkboxes: the numeric tags and any chosen one (its value may be bad now). */
  function renderPicker() {
    const names = [...new Set([...numeric, ...chosen])].sort();
    const full = chosen.length >= MAX_TAGS;
    const boxes = names.map((name) => {
      const label = el("label", "trend-tag");
      const box = el("input");
      box.type = "checkbox";
      box.value = name;
      box.checked = chosen.includes(name);
      box.disabled = full && !box.checked;
      box.addEventListener("change", () => {
        chosen = box.checked ? [...chosen, name].slice(0, MAX_TAGS) : chosen.filter((n) => n !== name);
        save();
        renderPicker();
        load();
      });
      label.append(box, el("span", "", name));
      return label;
    });
    $("trend-tags").replaceChildren(...boxes);
    text("trend-picked", say(T.picked, { n: chosen.length, of: names.length }));
    text("trend-hint", names.length === 0 ? T.noNumeric : say(full ? T.atMost : T.choose, { max: MAX_TAGS }));
    $("trend-range").value = String(rangeMs);
  }

  async function loadTags() {
    try {
      const r = await api("GET", "/tags");
      numeric = (r.tags || []).filter((t) => plotData.numberOf(t.value) !== null).map((t) => t.name);
      current = new Map((r.tags || []).map((t) => [t.name, t]));
    } catch {
      numeric = [];
      current = new Map();
    }
  }

  async function loadOne(name, from, to) {
    const q = new URLSearchParams({ from: String(from), to: String(to), limit: String(LIMIT), order: "desc" });
    try {
      const r = await api("GET", "/tags/" + encodeURIComponent(name) + "/history?" + q);
      const list = (r.samples || []).slice().reverse();
      if (list.length === 0) return { name, list, note: say(T.noHistory, { name }) };
      return { name, list, note: r.more ? say(T.cut, { name, limit: LIMIT, since: when(list[0].timestamp) }) : null };
    } catch (e) {
      if (e.status === 401) throw e;
      const note = e.status === 404 ? say(T.noHistory, { name }) : say(T.notRead, { name, message: e.message });
      return { name, list: [], note };
    }
  }

  /** Reads the chosen tags' history for the range, then draws. */
  async function load() {
    const mine = ++gen;
    const to = Date.now();
    const from = to - rangeMs;
    if (chosen.length) text("trend-hint", T.loading);
    let got;
    try {
      got = await Promise.all(chosen.map((n) => loadOne(n, from, to)));
    } catch {
      return; // the session ended: the board goes to the login form
    }
    if (mine !== gen || !on) return;
    samples.clear();
    notes.clear();
    for (const g of got) {
      samples.set(g.name, g.list);
      if (g.note) notes.set(g.name, g.note);
    }
    renderPicker();
    draw();
  }

  function options(width) {
    const series = [{}];
    chosen.forEach((name, i) => {
      series.push({ label: name, stroke: COLORS[i], width: 2, paths: uPlot.paths.stepped({ align: 1 }) });
      series.push({ label: name, stroke: UNCERTAIN, fill: UNCERTAIN, paths: () => null, points: { show: true, size: 7, stroke: UNCERTAIN, fill: UNCERTAIN } });
    });
    return { width, height: height(), legend: { show: false }, scales: { x: { time: true } }, axes: [AXIS, Object.assign({ size: 56 }, AXIS)], series };
  }

  const height = () => (window.innerWidth < 600 ? 220 : 300);
  const width = () => Math.max(200, $("trend-plot").clientWidth);

  function draw() {
    const box = $("trend-plot");
    box.hidden = chosen.length === 0;
    show("trend-quality", chosen.length > 0);
    const now = Date.now();
    const from = now - rangeMs;
    const lists = chosen.map((n) => plotData.trim(samples.get(n) || [], from));
    chosen.forEach((n, i) => samples.set(n, lists[i]));
    renderLegend(lists);
    if (chosen.length === 0 || typeof uPlot !== "function") {
      if (plot) plot.destroy();
      plot = null;
      drawn = "";
      return;
    }
    const data = plotData.aligned(lists, chosen.map((n, i) => (holds(n, lists[i]) ? now : null)));
    const key = JSON.stringify(chosen);
    if (!plot || drawn !== key) {
      if (plot) plot.destroy();
      plot = new uPlot(options(width()), data, box);
      drawn = key;
    } else plot.setData(data);
    plot.setScale("x", { min: from / 1000, max: now / 1000 });
  }

  /** The tag's last sample is its value now (good, the same value): its line runs on to now. */
  function holds(name, list) {
    const c = current.get(name);
    const last = list[list.length - 1];
    return !!c && !!last && c.quality === "good" && last.quality === "good" && c.value === last.value;
  }

  function renderLegend(lists) {
    const items = chosen.map((name, i) => {
      const last = lists[i][lists[i].length - 1];
      const v = last ? plotData.numberOf(last.value) : null;
      const li = el("li", "trend-key", last && last.quality !== "bad" && v !== null ? say(T.value, { name, value: formatValue(last.value) }) : say(T.noValue, { name }));
      const swatch = el("span", "trend-swatch");
      swatch.style.backgroundColor = COLORS[i]; // CSSOM, which the CSP allows (no style attribute)
      li.prepend(swatch);
      return li;
    });
    $("trend-legend").replaceChildren(...items);
    $("trend-notes").replaceChildren(...chosen.filter((n) => notes.has(n)).map((n) => el("li", "trend-note", notes.get(n))));
  }

  /** A value from the live feed: added to its line when it is newer than the last sample (the recorder's rule). */
  function onTag(ev) {
    const t = ev.detail;
    if (t && t.name) current.set(t.name, t);
    if (!on || !t || !chosen.includes(t.name) || !samples.has(t.name)) return;
    const list = samples.get(t.name);
    const last = list[list.length - 1];
    const ts = Math.max(Date.parse(t.timestamp || t.receivedAt) || Date.now(), last ? Date.parse(last.timestamp) : 0);
    const s = { value: t.value, quality: t.quality, timestamp: new Date(ts).toISOString() };
    if (last && Date.parse(last.timestamp) === ts) list[list.length - 1] = s;
    else list.push(s);
    if (notes.get(t.name) === say(T.noHistory, { name: t.name })) notes.delete(t.name);
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      if (on) draw();
    });
  }

  function onResize() {
    if (plot) plot.setSize({ width: width(), height: height() });
  }

  async function start() {
    if (!T) return;
    if (!built) build();
    show("trend-card", true);
    on = true;
    restore();
    await loadTags();
    if (!on) return;
    renderPicker();
    $("trend-fold").open = chosen.length === 0;
    load();
    clearInterval(timer);
    timer = setInterval(() => on && draw(), SLIDE_MS);
    if (!sizer && typeof ResizeObserver === "function") {
      sizer = new ResizeObserver(onResize);
      sizer.observe($("trend-card"));
    }
  }

  /** Forgets what it showed (a logout). */
  function stop() {
    on = false;
    gen++;
    clearInterval(timer);
    timer = null;
    if (plot) plot.destroy();
    plot = null;
    drawn = "";
    samples.clear();
    notes.clear();
    if (built) show("trend-card", false);
  }

  document.addEventListener("tandem-tag", onTag);

  return { start, stop };
})();
