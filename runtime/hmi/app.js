// Tandem operator HMI: plain JS, no build step. Follows the node's event
// stream (live.js: GET /api/v1/events) and shows this node's state; polls
// /api/v1/status every second only in a browser without EventSource. Actions
// go through the same API as the CLI, signed in with the session cookie. Every fetch carries
// X-Tandem-Client: hmi (no browser Basic dialog; needed for cookie actions).
// Size: the HMI is plain scripts with no build step or module loader; this one's
// sections (login, polling, rendering, log levels, actions) share a few globals,
// which the services, replication and process panels (services.js,
// replication.js, context.js, loaded after this one) use too.
"use strict";

const API = "/api/v1";
const POLL_MS = 1000;
const AUDIT_EVERY = 3; // polls
const RANK = { viewer: 1, operator: 2, admin: 3 };
// The words for states, service levels, log levels and audited actions come
// from the node (/words.js, generated from runtime/words.ts): the same words
// the CLI prints. No copies here.
const WORDS = globalThis.TANDEM_WORDS;

const $ = (id) => document.getElementById(id);

let me = null; // { user, role }
let timer = null;
let polls = 0;
let lastOk = 0;
let lastStatus = null;
let busy = false;
let gen = 0; // the newest poll loop; an older in-flight poll does not reschedule

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const init = { method, headers: { "X-Tandem-Client": "hmi", Accept: "application/json" }, credentials: "same-origin", cache: "no-store" };
  // the node takes a change only as JSON, even with nothing to say
  if (body === undefined && method !== "GET") body = {};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, "NETWORK", "Cannot reach this node. Check the network or whether the Tandem service is running.");
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: "HTTP_" + res.status, message: "The node answered " + res.status + " " + res.statusText };
    throw new ApiError(res.status, err.code, plainMessage(err));
  }
  return data;
}

// The API's messages are meant for people; drop the catalogue prefixes that
// only make sense in a log ("request: ", "login required: ").
function plainMessage(err) {
  let m = String(err.message || err.code || "Unknown error");
  m = m.replace(/^(request|login required|internal error|node unavailable|refused): /, "");
  return m.charAt(0).toUpperCase() + m.slice(1);
}

function show(id, on) {
  $(id).hidden = !on;
}

/** An element; `classes` is a list (or one name), `content` its text, `title` its tooltip. Shared by the panels. */
function el(tag, classes, content, title) {
  const e = document.createElement(tag);
  if (classes) e.classList.add(...[].concat(classes).filter(Boolean));
  if (content !== undefined && content !== null) e.textContent = content;
  if (title) e.title = title;
  return e;
}

/** A word with its {name} marks filled in. Shared by the panels. */
function say(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? String(values[k]) : m));
}

function text(id, value) {
  $(id).textContent = value;
}

function notice(message, kind) {
  text("notice-text", message);
  const n = $("notice");
  n.className = "notice " + (kind === "ok" ? "notice-ok" : "notice-error");
  n.hidden = false;
  clearTimeout(notice.t);
  notice.t = setTimeout(() => (n.hidden = true), kind === "ok" ? 6000 : 15000);
}

// ---- login ----

/** the live feed (live.js), when the browser has EventSource */
function liveFeed() {
  return typeof live === "object" && live.supported() ? live : null;
}

function showLogin(message) {
  stopPolling();
  if (liveFeed()) live.stop();
  panels((p) => p.stop());
  me = null;
  show("board", false);
  show("who", false);
  show("login-view", true);
  if (message) {
    text("login-error", message);
    show("login-error", true);
  }
  $("login-user").focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  show("login-error", false);
  $("login-submit").disabled = true;
  try {
    me = await api("POST", "/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    showBoard();
  } catch (e) {
    text("login-error", e.status === 401 ? "Wrong user name or password." : e.message);
    show("login-error", true);
  } finally {
    $("login-submit").disabled = false;
  }
}

async function onLogout() {
  try {
    await api("POST", "/logout", {});
  } catch {
    /* logged out locally anyway */
  }
  showLogin();
}

function showBoard() {
  show("login-view", false);
  show("login-error", false);
  show("board", true);
  show("who", true);
  text("who-name", me.user);
  text("who-role", me.role);
  show("levels-card", can("admin"));
  if (can("admin")) loadLevels();
  polls = 0;
  if (liveFeed()) live.start();
  else poll();
  panels((p) => p.start());
}

// The panels in scripts of their own (services.js, context.js, trend.js, timeline.js), when the page has them.
function panels(fn) {
  if (typeof servicesPanel === "object") fn(servicesPanel);
  if (typeof contextPanel === "object") fn(contextPanel);
  if (typeof trendPanel === "object") fn(trendPanel);
  if (typeof timelinePanel === "object") fn(timelinePanel);
}

// ---- polling ----

function stopPolling() {
  clearTimeout(timer);
  timer = null;
}

async function poll() {
  const mine = ++gen;
  stopPolling();
  try {
    const status = await api("GET", "/status");
    lastOk = Date.now();
    lastStatus = status;
    show("conn-error", false);
    $("board").classList.remove("stale");
    render(status);
    if (typeof contextPanel === "object") await contextPanel.refresh(status);
    await loadTags();
    if (polls % AUDIT_EVERY === 0) await loadAudit();
  } catch (e) {
    if (e.status === 401) return showLogin("Your session has ended. Please log in again.");
    const since = lastOk ? " The board shows what was known at " + clock(new Date(lastOk)) + "." : "";
    text("conn-error", e.message + since);
    show("conn-error", true);
    $("board").classList.add("stale");
  }
  polls++;
  // with the live feed a poll is a one-off (after an action); without it, the loop
  if (me && mine === gen && !liveFeed()) timer = setTimeout(poll, POLL_MS);
}

async function loadAudit() {
  try {
    const { entries } = await api("GET", "/audit?limit=10");
    renderAudit(entries);
  } catch (e) {
    if (e.status === 401) throw e;
  }
}

// ---- rendering ----

function clock(d) {
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const today = new Date().toDateString() === d.toDateString();
  return (today ? "" : d.toLocaleDateString() + " ") + clock(d);
}

function ago(ms) {
  if (ms === null || ms === undefined) return "never seen";
  if (ms < 1000) return "seen " + Math.round(ms) + " ms ago";
  if (ms < 120000) return "seen " + (ms / 1000).toFixed(1) + " s ago";
  return "seen " + Math.round(ms / 60000) + " min ago";
}

function can(role) {
  return me && RANK[me.role] >= RANK[role];
}

function render(s) {
  text("pair-label", "pair " + s.pairId);
  text("node-label", "Node " + s.nodeId + " · preferred " + s.role + " · pair " + s.pairId);
  const card = $("state-card");
  card.className = "state-card state-" + s.state;
  text("state", stateLabel(s.state));
  text("message", s.message || "");
  document.title = stateLabel(s.state) + " · " + s.nodeId + " · Tandem";

  text("epoch", String(s.epoch));
  text("service-level", s.serviceLevel + " — " + levelWords(s.serviceLevel));
  const why = s.serviceLevelReasons || [];
  text("level-why", why.join("; "));
  show("level-why", why.length > 0);
  renderDevices(s.devices || []);
  const acting = WORDS.actingStates.includes(s.state);
  text("lease", acting ? (s.leaseRemainingMs / 1000).toFixed(2) + " s" : "– (not active)");
  text("since", when(s.since));
  const ctx = s.context || {};
  text("context", (ctx.held ? "HELD at seq " : "running, seq ") + ctx.seq + (ctx.held && ctx.heldSince ? " since " + when(ctx.heldSince) : ""));
  if (typeof replicationPanel === "object") replicationPanel.render(s.replication || null);

  const p = s.peer || {};
  text("peer-id", p.nodeId || "");
  const ps = $("peer-state");
  ps.textContent = stateLabel(p.state || "unknown");
  ps.className = "pill pill-" + (p.state || "unknown");
  text("peer-seen", (p.connected ? "connected, " : "not connected, ") + ago(p.lastSeenMs) + (p.epoch != null ? ", epoch " + p.epoch : ""));
  const ul = $("peer-links");
  ul.replaceChildren(
    ...(p.links || []).map((l) => {
      const li = document.createElement("li");
      li.className = l.up ? "link-up" : "link-down";
      li.textContent = "Link " + l.name + ": " + (l.up ? "up" : "DOWN") + (l.up ? "" : " (" + ago(l.lastSeenMs) + ")");
      return li;
    }),
  );

  const w = s.witness || {};
  const wl = $("witness");
  if (!w.configured) {
    wl.textContent = "No witness configured";
    wl.className = "big-line muted";
  } else {
    wl.textContent = w.reachable ? "Reachable" : "NOT reachable";
    wl.className = "big-line " + (w.reachable ? "ok-text" : "bad-text");
  }
  const wd = [];
  if (w.address) wd.push("at " + w.address);
  if (w.holder) wd.push("lease holder: node " + w.holder + (w.holderEpoch != null ? " (epoch " + w.holderEpoch + ")" : ""));
  text("witness-detail", wd.join(", "));

  renderElsewhere(s);

  // Held takeover
  const held = s.state === "active-held";
  show("held-banner", held);
  if (held) {
    const bits = ["Process context held at sequence " + ctx.seq];
    if (ctx.heldSince) bits.push("since " + when(ctx.heldSince));
    if (ctx.autoConfirmAt) bits.push("it will be confirmed automatically at " + when(ctx.autoConfirmAt));
    text("held-detail", bits.join(", ") + ".");
  }
  show("held-actions", held && can("operator"));
  show("held-viewer", held && !can("operator"));

  // Standby without active and without witness
  show("await-panel", !!s.awaitingOperator);
  show("promote", !!s.awaitingOperator && can("operator"));
  show("await-viewer", !!s.awaitingOperator && !can("operator"));

  // Switchover (admin)
  const sw = can("admin") && (s.state === "active" || s.state === "standby");
  show("admin-card", sw);
  if (sw) text("switchover", s.state === "active" ? "Switch over to node " + p.nodeId : "Switch over: make this node active");

  text("updated", "Updated " + clock(new Date()) + (liveFeed() && live.up ? " · live" : " · polling every second"));
}

// Not the active, and the peer is: say so plainly and link to the active's HMI
// (the node's peer.api address, when configured). Actions of the active sent
// here are answered with its address (421), shown in the notice.
function renderElsewhere(s) {
  const p = s.peer || {};
  const there = !WORDS.actingStates.includes(s.state) && WORDS.actingStates.includes(p.state);
  show("standby-banner", there);
  if (!there) return;
  const what = s.state === "standby" ? "the standby" : "not the active (" + stateLabel(s.state) + ")";
  text("standby-here", "This is " + what + " (node " + s.nodeId + ").");
  const hmi = hmiOf(p.api);
  text("standby-there", "The active is node " + p.nodeId + (hmi ? ":" : ". Its address is not configured on this node (peer.api)."));
  const a = $("standby-link");
  a.hidden = !hmi;
  if (hmi) a.href = hmi;
}

/** The HMI of a node from its API base (http://host:port/api/v1), or null for anything else. */
function hmiOf(api) {
  if (typeof api !== "string" || !/^https?:\/\/[A-Za-z0-9.\-[\]:]+\/api\/v1$/.test(api)) return null;
  return api.slice(0, -"/api/v1".length) + "/";
}

async function loadTags() {
  try {
    const { tags } = await api("GET", "/tags");
    renderTags(tags || []);
  } catch (e) {
    if (e.status === 401) throw e;
  }
}

const QUALITY_WORDS = { good: "good", uncertain: "uncertain", bad: "BAD" };

// A value is shown only with its quality: a bad value is never shown as a number.
function renderTags(tags) {
  show("plant-card", tags.length > 0);
  if (tags.length === 0) return;
  const bad = tags.filter((t) => t.quality !== "good").length;
  text("plant-summary", "· " + tags.length + " tags" + (bad ? " · " + bad + " not good" : " · all good"));
  const rows = tags.map((t) => {
    const tr = document.createElement("tr");
    tr.className = "quality-" + t.quality;
    const value = t.quality === "bad" || t.value === null || t.value === undefined ? "no value" : formatValue(t.value) + (t.units ? " " + t.units : "");
    const quality = QUALITY_WORDS[t.quality] + (t.reason ? " (" + t.reason + ")" : "");
    const read = [readAgo(t), t.timestamp ? "value since " + when(t.timestamp) + " (source time)" : ""];
    for (const [v, title] of [[t.name, t.description || ""], [value, t.writable ? "writable" : ""], [quality, ""], read]) {
      const td = document.createElement("td");
      td.textContent = v;
      if (title) td.title = title;
      tr.append(td);
    }
    return tr;
  });
  $("tag-rows").replaceChildren(...rows);
}

// Age from the last read that confirmed the value (the node's own count,
// ageMs, so the browser's clock does not matter), not from its last change:
// a steady value polled every scan is fresh, however old its source time.
function readAgo(t) {
  const ms = typeof t.ageMs === "number" ? t.ageMs : t.confirmedAt ? Date.now() - Date.parse(t.confirmedAt) : null;
  if (ms === null || isNaN(ms)) return "never";
  if (ms < 1000) return Math.max(0, Math.round(ms)) + " ms ago";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s ago";
  return Math.round(ms / 60000) + " min ago";
}

function formatValue(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (typeof v === "boolean") return v ? "on" : "off";
  return String(v);
}

function renderDevices(devices) {
  const items = devices.map((d) => {
    const li = document.createElement("li");
    li.className = d.connected ? "link-up" : "link-down";
    li.textContent = "PLC " + d.device + " at " + d.endpoint + ": " + (d.connected ? "connected" + (d.path && d.path !== "preferred" ? " (" + d.path + ")" : "") : "NOT CONNECTED");
    return li;
  });
  $("devices").replaceChildren(...items);
}

function levelWords(n) {
  const bands = WORDS.serviceLevelBands;
  return (bands.find((b) => n <= b.upTo) || bands[bands.length - 1]).word;
}

function stateLabel(state) {
  const w = WORDS.stateWords[state];
  return w ? w.label : String(state || "unknown").toUpperCase();
}

function renderAudit(entries) {
  const rows = (entries || []).slice().reverse().map((e) => {
    const tr = document.createElement("tr");
    tr.className = "result-" + e.result;
    const details = e.details && typeof e.details === "object" ? Object.entries(e.details).map(([k, v]) => k + " " + JSON.stringify(v)).join(", ") : "";
    for (const v of [when(e.ts), e.user + " (" + e.role + ")" + (e.from ? " from " + e.from : ""), (WORDS.actionWords[e.action] || e.action) + (details ? " — " + details : ""), e.result, String(e.epoch)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 5;
    td.className = "muted";
    td.textContent = "No actions recorded yet.";
    tr.append(td);
    rows.push(tr);
  }
  $("audit-rows").replaceChildren(...rows);
}

// ---- log levels (admin): the same levels `tandem log-level` takes ----

function option(value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
}

let lastLevels = null;

function renderLevels(l) {
  lastLevels = l;
  const parts = ["default: " + l.default].concat(Object.keys(l.components).sort().map((c) => c + ": " + l.components[c]));
  text("levels-now", parts.join(" · "));
  const comp = $("levels-component");
  const chosen = comp.value;
  comp.replaceChildren(option("", "all components"), ...Object.keys(l.components).sort().map((c) => option(c, c)));
  comp.value = chosen && l.components[chosen] ? chosen : "";
  const lvl = $("levels-level");
  if (lvl.options.length === 0) lvl.replaceChildren(...WORDS.logLevels.map((v) => option(v, v)));
  lvl.value = comp.value ? l.components[comp.value] : l.default;
}

async function loadLevels() {
  try {
    renderLevels(await api("GET", "/log-level"));
  } catch (e) {
    if (e.status === 401) return showLogin("Your session has ended. Please log in again.");
    text("levels-now", "Cannot read the log levels: " + e.message);
  }
}

async function onSetLevel(ev) {
  ev.preventDefault();
  const component = $("levels-component").value;
  const level = $("levels-level").value;
  const body = component ? { level, component } : { level };
  try {
    renderLevels(await api("PUT", "/log-level", body));
    notice("Log level of " + (component || "all components") + " set to " + level + ".", "ok");
  } catch (e) {
    if (e.status === 401) return showLogin("Your session has ended. Please log in again.");
    notice("Change log level refused: " + e.message, "error");
  }
  polls = 0; // the change is audited: refresh the list
}

// ---- actions, each behind a second confirmation ----

function ask(title, body, yesLabel, yesClass) {
  return new Promise((resolve) => {
    const d = $("ask");
    text("ask-title", title);
    text("ask-text", body);
    const yes = $("ask-yes");
    yes.textContent = yesLabel;
    yes.className = "btn " + (yesClass || "btn-primary");
    const done = (v) => {
      yes.onclick = null;
      $("ask-no").onclick = null;
      d.onclose = null;
      if (d.open) d.close();
      resolve(v);
    };
    yes.onclick = () => done(true);
    $("ask-no").onclick = () => done(false);
    d.onclose = () => done(false);
    d.showModal();
    $("ask-no").focus(); // the safe choice has the focus
  });
}

async function act(label, path, body, okText) {
  if (busy) return;
  busy = true;
  document.body.classList.add("busy");
  try {
    const r = await api("POST", path, body);
    notice(okText(r), "ok");
  } catch (e) {
    if (e.status === 401) return showLogin("Your session has ended. Please log in again.");
    notice(label + " refused: " + e.message, "error");
  } finally {
    busy = false;
    document.body.classList.remove("busy");
    refreshBoard();
  }
}

/** Polls now, with the audit list: it shows an action's result. */
function refreshBoard() {
  polls = 0;
  if (me) poll();
}

async function onConfirm() {
  const yes = await ask(
    "Resume the process?",
    "The process continues where it stopped, on this node, from the held context. Do this only when the plant is ready to continue.",
    "Yes, resume the process",
    "btn-go",
  );
  if (yes) await act("Confirm", "/confirm", {}, (r) => "Confirmed. This node is now " + r.state + " (epoch " + r.epoch + ").");
}

async function onReject() {
  const yes = await ask(
    "Restart the process from its beginning?",
    "The held context is discarded and the process starts again from its initial state. Do this only when continuing the interrupted run would be unsafe.",
    "Yes, restart the process",
    "btn-warn",
  );
  if (yes) await act("Reject", "/reject", {}, (r) => "Rejected. The process restarts from the beginning; node is " + r.state + ".");
}

async function onSwitchover() {
  const peer = lastStatus && lastStatus.peer ? lastStatus.peer.nodeId : "the peer";
  const text =
    lastStatus && lastStatus.state === "standby"
      ? "The active node hands its role to this node. Replication is drained first, so nothing is lost."
      : "This node hands the active role to node " + peer + ". Replication is drained first, so nothing is lost.";
  const yes = await ask("Switch over?", text, "Yes, switch over", "btn-primary");
  if (yes) await act("Switchover", "/switchover", {}, (r) => "Switched over: " + r.to + " is active now (epoch " + r.epoch + ", " + r.durationMs + " ms).");
}

async function onPromote() {
  const yes = await ask(
    "Have you checked that the active node is down?",
    "Promote only if the other server is switched off or cut off from the plant. If it is still running, two nodes will drive the plant at once. This node will start in the held state and wait for a confirm.",
    "Yes, it is down — promote this node",
    "btn-danger",
  );
  if (yes) await act("Promote", "/promote", { confirmActiveIsDown: true }, (r) => "Promoted. This node is now " + r.state + " (epoch " + r.epoch + ").");
}

// ---- start ----

async function start() {
  if (!WORDS) {
    document.body.textContent = "The HMI could not load its words from this node (/words.js). Reload the page; if it persists, check the node's log.";
    return;
  }
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("confirm").addEventListener("click", onConfirm);
  $("reject").addEventListener("click", onReject);
  $("switchover").addEventListener("click", onSwitchover);
  $("promote").addEventListener("click", onPromote);
  $("levels-form").addEventListener("submit", onSetLevel);
  $("levels-component").addEventListener("change", () => {
    if (!lastLevels) return;
    const c = $("levels-component").value;
    $("levels-level").value = c ? lastLevels.components[c] : lastLevels.default;
  });
  $("notice-close").addEventListener("click", () => show("notice", false));
  try {
    me = await api("GET", "/whoami");
    showBoard();
  } catch (e) {
    showLogin(e.status === 401 || e.status === undefined ? "" : e.message);
  }
}

document.addEventListener("DOMContentLoaded", start);
