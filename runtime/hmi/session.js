// The HMI's session (see app.js): login and logout, showing the board and
// starting the panels, and the status poll (a one-off after an action with
// the live feed; every second without it).
"use strict";

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

/** Polls now, with the audit list: it shows an action's result. */
function refreshBoard() {
  polls = 0;
  if (me) poll();
}
