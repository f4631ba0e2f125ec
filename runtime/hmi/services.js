// Tandem operator HMI: the services panel. It follows the node's event
// stream (live.js relays its "services" messages as "tandem-services"): the
// node sends the view when an instance changes and every few seconds for the
// figures. The list is read with GET /api/v1/services when the board is
// shown, after an action, when the stream comes back, and every 2 s while
// there is no stream or a read failed. It lists every instance under its
// service; operators start, stop and restart a service (by name, all its
// instances) behind the same second confirmation as the other actions.
// A plain script loaded after app.js: it uses app.js's api(), notice(), can(),
// when(), show(), el(), say(), $() and `me`, actions.js's ask(), live.js's
// `live` and session.js's refreshBoard(); session.js calls
// servicesPanel.start() and .stop() as the board is shown and left. Every
// word a person reads comes from /words.js (runtime/service-words.ts); this
// file holds none of its own.
"use strict";

const servicesPanel = (() => {
  const POLL_MS = 2000;
  const COLUMNS = ["instance", "placement", "state", "node", "pid", "uptime", "restarts", "cpu", "rss", "events", "health"];
  const ACTIONS = ["start", "stop", "restart"];
  const YES_CLASS = { start: "btn-go", stop: "btn-danger", restart: "btn-warn" };
  const W = globalThis.TANDEM_WORDS ? globalThis.TANDEM_WORDS.services : null;
  const P = W ? W.panel : null;

  let timer = null;
  let gen = 0; // the newest refresh; an older one in flight neither renders nor reschedules
  let on = false;
  // actions in flight, by service: a stop waits for the service to end (up to
  // its stop timeout), so only that service's buttons wait with it
  const pending = new Map(); // name → { action, at }
  let built = false;
  let lastOk = 0;
  let lost = false; // the event stream was lost (not yet back)



  function build() {
    if (built) return;
    built = true;
    const card = $("services-card");
    const h = el("h3", "", P.title + " ");
    const summary = el("span", "muted");
    summary.id = "services-summary";
    h.append(summary);
    const figures = el("p", ["muted", "small", "svc-figures"]);
    figures.id = "services-figures";
    figures.hidden = true;
    const error = el("p", "error-text");
    error.id = "services-error";
    error.hidden = true;
    error.setAttribute("role", "alert");
    const table = el("table", ["audit", "services"]);
    const head = el("tr");
    for (const c of COLUMNS) head.append(el("th", "", P.columns[c]));
    table.append(el("thead"));
    table.tHead.append(head);
    table.id = "services-table";
    table.addEventListener("click", onClick);
    const scroll = el("div", "svc-scroll");
    scroll.append(table);
    const viewer = el("p", "role-note", P.viewerNote);
    viewer.id = "services-viewer";
    viewer.hidden = true;
    card.replaceChildren(h, figures, error, scroll, viewer);
    document.addEventListener("visibilitychange", () => {
      if (!on) return;
      if (document.hidden) halt();
      else refresh();
    });
    document.addEventListener("tandem-services", (e) => {
      if (!on || document.hidden) return;
      // the node's own view, newer than any read in flight
      halt();
      shown(e.detail);
    });
    // the stream lost: read the list until it is back; back: read what changed meanwhile
    document.addEventListener("tandem-stream", (e) => {
      const back = e.detail.up && lost;
      lost = !e.detail.up;
      if (on && !document.hidden && (lost || back)) refresh();
    });
  }

  const streaming = () => typeof live === "object" && live.up;

  function halt() {
    clearTimeout(timer);
    timer = null;
    gen++;
  }

  async function refresh() {
    halt();
    const mine = gen;
    try {
      const view = await api("GET", "/services");
      if (mine !== gen) return;
      shown(view);
    } catch (e) {
      if (mine !== gen) return;
      // a lost session: the status poll takes the page to the login form
      if (e.status === 401) return;
      // what is still shown is dimmed, and says how old it is
      $("services-card").classList.add("stale");
      show("services-card", true);
      text("services-error", say(P.unreadable, { message: sentence(e.message) }) + (lastOk ? " " + say(P.knownAt, { at: clock(new Date(lastOk)) }) : ""));
      show("services-error", true);
    }
    if (on && mine === gen && !document.hidden && (!streaming() || $("services-card").classList.contains("stale"))) timer = setTimeout(refresh, POLL_MS);
  }

  function shown(view) {
    lastOk = Date.now();
    $("services-card").classList.remove("stale");
    render(view);
  }

  // ---- rendering ----

  const empty = () => P.empty;
  const sentence = (m) => (/[.!?]$/.test(m) ? m : m + ".");

  function bytes(b) {
    let n = b;
    let i = 0;
    while (n >= 1024 && i < P.bytes.length - 1) {
      n /= 1024;
      i++;
    }
    return say(P.bytes[i], { n: i === 0 ? n : n < 10 ? n.toFixed(1) : Math.round(n) });
  }

  function uptime(ms) {
    if (ms === null || ms === undefined) return empty();
    const s = Math.floor(ms / 1000);
    if (s < 120) return say(P.uptime.s, { n: s });
    const min = Math.floor(s / 60);
    if (min < 60) return say(P.uptime.min, { n: min });
    const h = Math.floor(min / 60);
    if (h < 48) return say(P.uptime.h, { h, min: min % 60 });
    return say(P.uptime.d, { d: Math.floor(h / 24), h: h % 24 });
  }

  function word(table, key) {
    const w = table[key];
    if (!w) return { label: String(key), meaning: "" };
    return typeof w === "string" ? { label: w, meaning: "" } : w;
  }

  /** The services in the order the node lists them, each with its instances. */
  function byService(list) {
    const groups = new Map();
    for (const s of list) {
      if (!groups.has(s.name)) groups.set(s.name, []);
      groups.get(s.name).push(s);
    }
    return [...groups.entries()];
  }

  function render(v) {
    const list = v.services || [];
    show("services-card", list.length > 0);
    show("services-error", false);
    if (list.length === 0) return;
    const failed = list.filter((s) => s.state === "failed").length;
    const unhealthy = list.filter((s) => s.health === "failing").length;
    text(
      "services-summary",
      (list.length === 1 ? P.summaryOne : say(P.summary, { count: list.length })) + (failed ? " " + say(P.summaryFailed, { n: failed }) : "") + (unhealthy ? " " + say(P.summaryUnhealthy, { n: unhealthy }) : ""),
    );
    const balanced = list.some((s) => s.placement === "balanced");
    text("services-figures", balanced ? figuresLine(v.figures || {}) : "");
    show("services-figures", balanced);
    const operator = can("operator");
    show("services-viewer", !operator);
    const bodies = byService(list).map(([name, instances]) => serviceBody(v, name, instances, operator));
    const table = $("services-table");
    for (const b of [...table.tBodies]) b.remove();
    table.append(...bodies);
  }

  /** The load figures both nodes share for balanced services, this node's first. */
  function figuresLine(f) {
    const F = P.figures;
    const part = (x, node) => {
      const bits = [];
      if (typeof x.instances === "number") bits.push(say(F.instances, { n: x.instances }));
      if (typeof x.capacity === "number") bits.push(say(F.capacity, { n: x.capacity }));
      if (typeof x.cpuPercent === "number") bits.push(say(F.cpu, { n: x.cpuPercent }));
      if (typeof x.freeMemBytes === "number") bits.push(say(F.freeMem, { n: bytes(x.freeMemBytes) }));
      if (typeof x.eventsPerSec === "number") bits.push(say(F.events, { n: x.eventsPerSec }));
      if (typeof x.netBytesPerSec === "number") bits.push(say(F.net, { n: bytes(x.netBytesPerSec) }));
      return say(F.node, { node, figures: bits.join(P.list) });
    };
    const own = f.own || {};
    const parts = [part(own, say(P.thisNode, { node: own.nodeId || "" })), f.peer ? part(f.peer, String(f.peer.nodeId || "")) : F.peerOut];
    return say(F.line, { nodes: parts.join(F.nodesBetween) });
  }

  function serviceBody(v, name, instances, operator) {
    const body = el("tbody", "svc");
    body.dataset.service = name;
    const first = instances[0];
    const headRow = el("tr", "svc-head");
    const th = el("th");
    th.colSpan = COLUMNS.length;
    const title = el("div", "svc-title");
    title.append(el("span", "svc-name", name));
    const about = [];
    if (instances.length > 1) about.push(say(P.instances, { count: instances.length }));
    if (first.scheme) about.push(say(P.scheme, { scheme: first.scheme }));
    if (first.dependsOn && first.dependsOn.length) about.push(say(P.dependsOn, { names: first.dependsOn.join(P.list) }));
    if (about.length) title.append(el("span", ["muted", "svc-about"], about.join(P.between)));
    if (operator) {
      const buttons = el("span", "svc-actions");
      for (const a of ACTIONS) {
        const b = el("button", ["btn", "btn-quiet", "svc-" + a], P.buttons[a]);
        b.type = "button";
        b.dataset.action = a;
        b.dataset.service = name;
        b.disabled = pending.has(name);
        buttons.append(b);
      }
      title.append(buttons);
    }
    th.append(title);
    const asked = pending.get(name);
    if (asked) th.append(el("div", "svc-pending", say(P.pending, { action: P.buttons[asked.action], at: clock(asked.at) })));
    const stop = (instances.find((s) => s.stoppedByOperator) || {}).stoppedByOperator;
    if (stop) th.append(el("div", "svc-stopped", say(P.stoppedBy, { by: stop.by, at: when(stop.at), stays: P.stays })));
    headRow.append(th);
    body.append(headRow);
    for (const s of instances) body.append(instanceRow(v, s), whyRow(s));
    return body;
  }

  function instanceRow(v, s) {
    const tr = el("tr", ["svc-row", "svc-row-" + s.state, s.health === "failing" && "svc-row-unhealthy"]);
    const here = s.pid !== null;
    const state = word(W.states, s.state);
    const place = word(W.placement, s.placement);
    const node = s.node === null ? P.nowhere : s.node === v.nodeId ? say(P.thisNode, { node: s.node }) : s.node;
    const cells = {
      instance: el("td", "svc-instance", s.instance),
      placement: el("td", "", place.label, place.meaning),
      state: el("td"),
      node: el("td", s.node === null ? "muted" : "", node),
      pid: el("td", "num", here ? String(s.pid) : empty()),
      uptime: el("td", "num", uptime(s.uptimeMs)),
      restarts: el("td", "num", String(s.restarts)),
      cpu: el("td", "num", here ? say(P.percent, { n: s.cpuPercent }) : empty()),
      rss: el("td", "num", here ? bytes(s.rssBytes) : empty()),
      events: el("td", "num", here ? String(s.eventsPerSec) : empty()),
      health: el("td", ["svc-health", "svc-health-" + s.health], word(W.health, s.health).label, s.healthDetail || ""),
    };
    cells.state.append(el("span", ["pill", "svc-state", "svc-state-" + s.state], state.label, state.meaning));
    if (s.health === "failing") cells.state.append(" ", el("span", ["pill", "svc-state", "svc-unhealthy"], P.healthFailing, s.healthDetail || ""));
    tr.append(...COLUMNS.map((c) => cells[c]));
    return tr;
  }

  /** Under each instance, the plain words: why it is (not) running here, its health check's answer, its last exit. */
  function whyRow(s) {
    const tr = el("tr", ["svc-why", "svc-why-" + s.state]);
    const td = el("td");
    td.colSpan = COLUMNS.length;
    td.append(el("span", "svc-reason", s.reason));
    if (s.healthDetail && s.health !== "none") td.append(el("span", "svc-detail", say(P.healthDetail, { health: word(W.health, s.health).label, detail: s.healthDetail })));
    if (s.lastExit && s.state !== "running" && s.state !== "starting") td.append(el("span", "svc-detail", say(P.lastExit, { at: when(s.lastExit.at), description: s.lastExit.description })));
    tr.append(td);
    return tr;
  }

  // ---- actions (operators), each behind a second confirmation ----

  function onClick(ev) {
    const b = ev.target.closest("button[data-action]");
    if (!b || b.disabled) return;
    void act(b.dataset.service, b.dataset.action);
  }

  function setPending(name, action) {
    if (action) pending.set(name, { action, at: new Date() });
    else pending.delete(name);
    document.body.classList.toggle("busy", pending.size > 0);
  }

  async function act(name, action) {
    if (pending.has(name)) return;
    const a = P.ask[action];
    const yes = await ask(say(a.title, { name }), say(a.text, { name, stays: P.stays }), say(a.yes, { name }), YES_CLASS[action]);
    if (!yes || pending.has(name)) return;
    setPending(name, action);
    refresh(); // shows the buttons held and the action asked
    try {
      const r = await api("POST", "/services/" + encodeURIComponent(name) + "/" + action, {});
      const done = W.actionDone[action];
      const many = r.instances && r.instances.length > 1;
      notice(say(many ? P.doneInstances : P.done, { name: r.name, done, instances: many ? r.instances.join(P.list) : "" }), "ok");
    } catch (e) {
      notice(say(P.refused, { action: P.buttons[action], name, message: e.message }), "error");
    } finally {
      setPending(name, null);
      if (on) {
        refresh();
        refreshBoard(); // the audit list shows the action and its result
      }
    }
  }

  return {
    /** the board is shown */
    start() {
      if (!W) return;
      build();
      on = true;
      refresh();
    },
    /** the board is left (logged out, session ended) */
    stop() {
      on = false;
      halt();
      if (built) show("services-card", false);
    },
  };
})();
