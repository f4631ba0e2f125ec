// The HMI's site page (site.html; its API call is api.js, as the board's):
// every pair of the site as this node sees it (GET /api/v1/site,
// runtime/node-site.ts) — its active node, epoch,
// state, health, a held takeover, alarms, what is not right, and a link to
// each node's HMI. Live: it follows the node's event stream (GET
// /api/v1/events, its "site" messages: on a change and every two seconds);
// polls every two seconds in a browser without EventSource. The same login
// and session cookie as the board (index.html).
//
// Everything shown came from other pairs through the site broker: it is
// put on the page as text, never as HTML, and a link is made only of an
// http(s):// address (the node checks this too).
"use strict";

(() => {
  const EVERY_MS = 2000;
  const WORDS = globalThis.TANDEM_WORDS;
  // the words of runtime/site/view.ts HEALTH_WORDS
  const HEALTH = { good: "good", degraded: "degraded", "no-active": "no active", stale: "stale", unknown: "unknown" };
  const $ = (id) => document.getElementById(id);
  let es = null;
  let pollTimer = null;
  let lostAt = 0;

  function el(tag, cls, content, title) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined && content !== null) e.textContent = String(content);
    if (title) e.title = title;
    return e;
  }

  function stateLabel(s) {
    const w = WORDS && WORDS.stateWords && WORDS.stateWords[s];
    return w ? w.label : String(s).toUpperCase();
  }

  function age(ms) {
    if (ms === null || ms === undefined) return "never";
    if (ms < 1000) return Math.round(ms) + " ms ago";
    if (ms < 120000) return (ms / 1000).toFixed(1) + " s ago";
    return Math.round(ms / 60000) + " min ago";
  }

  const httpUrl = (u) => typeof u === "string" && /^https?:\/\/[^\s"'<>`\\]+$/.test(u);

  function nodeCell(n) {
    const li = el("span", "node-link" + (n.stale && n.state !== "offline" ? " node-stale" : ""));
    const label = n.nodeId + ": " + (n.state === "offline" ? "OFFLINE" : stateLabel(n.state)) + (n.stale && n.state !== "offline" ? " (stale)" : "");
    if (httpUrl(n.hmi)) {
      const a = el("a", null, label, "Open the HMI of " + n.nodeId + " (" + n.hmi + ")");
      a.href = n.hmi;
      a.rel = "noopener noreferrer";
      li.append(a);
    } else li.append(el("span", null, label, "this node's HMI address is not known"));
    return li;
  }

  function render(v) {
    if (!v || !Array.isArray(v.pairs)) return;
    $("site-note").textContent = v.note || "";
    $("site-label").textContent = "site, seen from " + v.pairId + "/" + v.nodeId;
    const rows = $("site-rows");
    rows.replaceChildren();
    for (const p of v.pairs) {
      const tr = el("tr", "pair-main" + (p.self ? " pair-self" : ""));
      tr.dataset.pair = p.pairId;
      tr.append(el("td", "pair-id", p.pairId));
      tr.append(el("td", null, p.active === null ? "–" : p.active));
      tr.append(el("td", null, p.epoch === null ? "–" : p.epoch));
      const st = el("td");
      st.append(el("span", "pill pill-" + p.state, p.state === "offline" ? "OFFLINE" : stateLabel(p.state)));
      tr.append(st);
      const h = el("td");
      h.append(el("span", "health health-" + p.health, HEALTH[p.health] || p.health));
      tr.append(h);
      tr.append(el("td", p.held ? "held-yes" : null, p.held ? "HELD" : "no"));
      tr.append(el("td", p.alarms ? "bad-text" : null, p.alarms === null ? "?" : p.alarms + (p.warnings ? " (+" + p.warnings + " warnings)" : "")));
      tr.append(el("td", null, p.self ? "now (first hand)" : age(p.heardMsAgo)));
      const nodes = el("td");
      const box = el("div", "node-links");
      for (const n of p.nodes) box.append(nodeCell(n));
      nodes.append(box);
      tr.append(nodes);
      rows.append(tr);
      const pr = el("tr", "pair-problems");
      pr.dataset.pair = p.pairId;
      const td = el("td");
      td.colSpan = 9;
      if (p.problems.length) {
        const ul = el("ul", "problems");
        for (const x of p.problems) ul.append(el("li", null, x));
        td.append(ul);
      } else td.append(el("span", "ok-text", "nothing to report"));
      pr.append(td);
      rows.append(pr);
    }
    const c = v.counters || {};
    const ignored = (c.badTopic || 0) + (c.badJson || 0) + (c.badShape || 0) + (c.tooLarge || 0) + (c.tooMany || 0);
    $("site-ignored").hidden = ignored === 0;
    $("site-ignored").textContent = ignored + " message" + (ignored === 1 ? "" : "s") + " from the site broker ignored (not a pair's state or status)";
    $("site-updated").textContent = "Updated " + new Date(v.at).toLocaleTimeString();
  }

  async function load() {
    try {
      render(await api("GET", "/site"));
      lost(false);
    } catch (e) {
      if (e.status === 401) return showLogin("");
      lost(true, e.message);
    }
  }

  function lost(on, why) {
    if (on && !lostAt) lostAt = Date.now();
    if (!on) lostAt = 0;
    $("conn-error").hidden = !on;
    $("site").classList.toggle("stale", on);
    if (on) $("conn-error").textContent = "Live updates lost at " + new Date(lostAt).toLocaleTimeString() + (why ? ": " + why : "") + ". What is shown is what was known then.";
  }

  function follow() {
    stop();
    if (typeof EventSource !== "function") {
      pollTimer = setInterval(load, EVERY_MS);
      return;
    }
    es = new EventSource(API + "/events");
    es.addEventListener("open", () => load());
    es.addEventListener("site", (m) => {
      try {
        render(JSON.parse(m.data));
        lost(false);
      } catch {
        /* a message the page cannot read: the next one will do */
      }
    });
    es.addEventListener("error", async () => {
      lost(true);
      // a stream ended by a logout or an expired session: back to the login form
      try {
        await api("GET", "/whoami");
      } catch (e) {
        if (e.status === 401) showLogin("Your session has ended; log in again.");
      }
    });
  }

  function stop() {
    if (es) es.close();
    es = null;
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function showLogin(message) {
    stop();
    $("site").hidden = true;
    $("who").hidden = true;
    $("login-view").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("login-user").focus();
  }

  function showSite(me) {
    $("login-view").hidden = true;
    $("site").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = me.user;
    $("who-role").textContent = me.role;
    load();
    follow();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    $("login-submit").disabled = true;
    try {
      const me = await api("POST", "/login", { user: $("login-user").value, password: $("login-password").value });
      $("login-password").value = "";
      showSite(me);
    } catch (e) {
      $("login-error").textContent = e.status === 401 ? "Wrong user name or password." : e.message;
      $("login-error").hidden = false;
    } finally {
      $("login-submit").disabled = false;
    }
  }

  async function onLogout() {
    await api("POST", "/logout", {}).catch(() => undefined);
    showLogin();
  }

  async function start() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    try {
      showSite(await api("GET", "/whoami"));
    } catch (e) {
      showLogin(e.status === 401 || e.status === undefined ? "" : e.message);
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
