// The HMI's actions (see app.js): the log levels (admin) and confirm, reject,
// switchover and promote, each behind a second confirmation. The node audits
// every one; services.js asks its own confirmations with ask() too.
"use strict";

// ---- log levels (admin): the same levels `tandem log-level` takes ----

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
