// The HMI's state card (see app.js): this node's state, level, lease and
// context, its peer and links, the witness, the devices, where the active is
// when it is not this node, and which actions the state and the user's role
// allow. render() is called with every status.
"use strict";

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
  renderAttention(s.attention);
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

  // The nodes' pair-wide configurations differ
  const cf = s.config;
  const differ = !!cf && cf.match === false;
  show("config-banner", differ);
  if (differ) text("config-detail", "This node (" + s.nodeId + ") runs " + cf.version + ", node " + p.nodeId + " runs " + cf.peerVersion + ": " + cf.differs.join(", ") + " differ.");

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

// What on this node needs an eye: its monitoring alarms and warnings (host,
// silences, its log, backups), and where its backups stand.
function renderAttention(a) {
  show("attention-card", !!a);
  if (!a) return;
  const list = $("attention-list");
  const items = (a.alarms || []).map((x) => {
    const li = document.createElement("li");
    li.className = x.level === "alarm" ? "bad-text" : "warn-text";
    li.textContent = (x.level === "alarm" ? "ALARM (" : "Warning (") + x.source + "): " + x.text;
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "ok-text";
    li.textContent = "Nothing needs attention on this node.";
    items.push(li);
  }
  list.replaceChildren(...items);
  const b = a.backups;
  let line = "";
  if (b) {
    const last = b.last ? (b.last.ok ? "last backup " + when(b.last.at) : "last backup FAILED " + when(b.last.at) + (b.last.error ? ": " + b.last.error : "")) : "no backup yet";
    const test = b.restoreTest ? (b.restoreTest.ok ? "restore test passed " : "restore test FAILED ") + when(b.restoreTest.at) : "no restore test yet";
    line = "Backups: " + b.count + " kept, " + last + "; " + test + (b.makesBackups ? "." : ". This node makes no scheduled backups now (the other node does).");
  }
  text("backup-line", line);
}
