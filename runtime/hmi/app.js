// Tandem operator HMI: plain JS, no build step. Follows the node's event
// stream (live.js: GET /api/v1/events) and shows this node's state; polls
// /api/v1/status every second only in a browser without EventSource. Actions
// go through the same API as the CLI, signed in with the session cookie. Every fetch carries
// X-Tandem-Client: hmi (no browser Basic dialog; needed for cookie actions).
// The HMI is plain scripts with no build step or module loader, sharing a few
// globals. This one, loaded first (after words.js and api.js, the API call),
// holds the page helpers the panels share and start(); the board's parts are in
// session.js (login, polling), board.js (the state card), tags.js, audit.js
// and actions.js (confirmed actions, log levels), the panels in services.js,
// replication.js, context.js, trend.js and timeline.js.
"use strict";

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

/** An <option> of a select. Shared by the panels. */
function option(value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
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

// ---- times and roles, for every panel ----

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
