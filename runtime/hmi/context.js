// Tandem operator HMI: the process panel. One block per process module from
// /api/v1/context: its state, the batch's step (big: it is what the operator
// watches), the context compactly, timers with the time left, and the
// sequence, epoch and age of the last write. On a held node the same facts go
// into the held banner, beside confirm and reject: what a confirm resumes.
// A plain script loaded after app.js: it uses app.js's api(), show(), el(), say() and $(),
// and session.js's poll() awaits contextPanel.refresh(status); it fetches the
// context every second poll, and at once when the node's state or context
// sequence moved. Ages and time left count from the node's clock (a write's
// writtenAt + ageMs), not the browser's. Every word a person reads comes from
// /words.js (runtime/context-words.ts, which the CLI prints too); this file
// holds none of its own.
"use strict";

const contextPanel = (() => {
  const FETCH_EVERY = 2; // polls
  const CUT_AT = 40; // characters of a value
  const W = globalThis.TANDEM_WORDS ? globalThis.TANDEM_WORDS.context : null;
  const P = W ? W.panel : null;
  let built = false;
  let view = null; // the last ContextView
  let fetchedAt = 0; // Date.now() when it came
  let seen = ""; // the node's state and context sequence it was fetched for
  let since = 0; // polls since the last fetch


  /** A duration as the CLI prints it (context-words.ts, duration). */
  function duration(ms) {
    const d = P.durations.find((x) => !("under" in x) || ms < x.under);
    return say(d.text, { n: Math.max(0, Math.round(ms / d.unit)) });
  }


  function build() {
    built = true;
    const lines = el("ul", "held-context-lines");
    lines.id = "held-context-lines";
    $("held-context").replaceChildren(el("h3", "", P.heldTitle), lines);
  }

  const words = (state) => W.states[state] || { label: state, meaning: "" };

  /** What a state means on this node: on a standby some say where the batch runs. */
  const meaning = (state, nodeState) => (nodeState === "standby" && words(state).standby) || words(state).meaning;

  /** The state with its meaning, as the CLI prints it (context-words.ts, processStateText). */
  const stateText = (state, nodeState) => say(P.phrase, { label: words(state).label, meaning: meaning(state, nodeState) });

  /** The age of the module's last write now: the node's figure plus the time since it was fetched. */
  function ageNow(p) {
    return p.ageMs === null ? null : p.ageMs + (Date.now() - fetchedAt);
  }

  /** The time left on a timer by the node's clock: it was writtenAt + ageMs when fetched. */
  function leftNow(p, due) {
    const nodeNow = p.writtenAt ? Date.parse(p.writtenAt) + p.ageMs : fetchedAt;
    return Date.parse(due) - nodeNow - (Date.now() - fetchedAt);
  }

  function value(v) {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return s.length > CUT_AT ? s.slice(0, CUT_AT - 1) + P.cut : s;
  }

  /** The module's line in the held banner (context-words.ts, heldLine). */
  function heldLine(p, nodeState) {
    if (p.state !== "held") return say(P.heldOther, { name: p.name, state: stateText(p.state, nodeState) });
    if (p.seq === null) return say(P.heldEmpty, { name: p.name });
    return say(P.held, { name: p.name, step: p.step || P.noStep, seq: p.seq, age: duration(ageNow(p)), epoch: p.epoch });
  }

  /** The module's rows under its step; one without a value is left out. */
  function facts(p) {
    const content = Object.entries(p.content || {})
      .filter(([k]) => k !== "step")
      .map(([k, v]) => say(P.pair, { key: k, value: value(v) }));
    // under half a second left: due (it would read "0 s left")
    const timers = Object.entries(p.timers || {}).map(([name, due]) => {
      const left = leftNow(p, due);
      return left >= 500 ? say(P.timerLeft, { name, left: duration(left) }) : say(P.timerDue, { name });
    });
    return {
      content: content.length ? content.join(P.joiner) : null,
      timers: timers.length ? timers.join(P.joiner) : null,
      seq: p.seq === null ? null : String(p.seq),
      written: p.seq === null ? P.notWritten : say(P.written, { age: duration(ageNow(p)), epoch: p.epoch }),
      resumed: p.resumedFrom === null ? null : say(P.resumed, { seq: p.resumedFrom }),
    };
  }

  function block(p, nodeState) {
    const b = el("div", ["ctx-module", "ctx-" + p.state]);
    b.dataset.process = p.name;
    const head = el("div", "ctx-head");
    head.append(el("span", "ctx-name", p.name), el("span", ["pill", "ctx-state"], words(p.state).label), el("span", ["ctx-meaning", "muted"], meaning(p.state, nodeState)));
    const step = el("div", "ctx-step");
    step.append(el("span", "ctx-step-label", P.step), el("span", "ctx-step-value", p.step || P.noStep));
    b.append(head, step);
    if (p.error) b.append(el("p", ["ctx-error", "error-text"], p.error));
    const dl = el("dl", "ctx-facts");
    const f = facts(p);
    for (const [key, label] of Object.entries(P.labels)) {
      if (f[key] === null) continue;
      const row = el("div", ["ctx-row", "ctx-row-" + key]);
      row.append(el("dt", "", label), el("dd", "", f[key]));
      dl.append(row);
    }
    b.append(dl);
    return b;
  }

  function render() {
    const list = view ? view.processes : [];
    show("context-card", list.length > 0);
    const held = !!view && view.held && list.length > 0;
    show("held-context", held);
    if (!list.length) return;
    $("context-card").replaceChildren(el("h3", "", P.title), ...list.map((p) => block(p, view.state)));
    if (held) $("held-context-lines").replaceChildren(...list.map((p) => el("li", ["held-context-line", "ctx-" + p.state], heldLine(p, view.state))));
  }

  /** At each poll: fetches when due or when the node moved, then shows what it knows (the ages move on). */
  async function refresh(status) {
    if (!W) return;
    if (!built) build();
    const now = status.state + "/" + (status.context ? status.context.seq : "");
    if (!view || now !== seen || ++since >= FETCH_EVERY) {
      try {
        view = await api("GET", "/context");
        fetchedAt = Date.now();
        seen = now;
        since = 0;
        $("context-card").classList.remove("stale");
      } catch (e) {
        if (e.status === 401) throw e; // the status poll takes the page to the login form
        $("context-card").classList.add("stale");
      }
    }
    render();
  }

  /** Forgets what it showed (a logout). */
  function stop() {
    view = null;
    seen = "";
    if (built) render();
  }

  return { refresh, stop, start() {} };
})();
