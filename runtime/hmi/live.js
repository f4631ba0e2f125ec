// The board follows the node's event stream (GET /api/v1/events, server-sent
// events) instead of polling: the status arrives at once, on every state
// change and each second; tag values when they change; audit entries as they
// are written; the services' view as it changes. When the stream is lost the
// page says so at once, greys the board (it shows what was known, and when)
// and the browser reconnects by itself; the node's "retry" asks for one
// second. A stream that ends because the session ended takes the page to the
// login form.
//
// Tag ages ("read 0.4 s ago") are the node's own count (ageMs, from GET
// /tags), so a steady value confirmed by every scan is not shown as growing
// old: the list is read again every AGES_EVERY_MS while the stream is up.
//
// Plain script, loaded after app.js and the board's scripts: it uses their
// globals (app.js's api, show, text, clock, lastStatus, me; session.js's
// showLogin; board.js's render; tags.js's renderTags; audit.js's renderAudit).
// Panels in scripts of their own follow the stream without this file knowing
// them: each message is also dispatched on document as "tandem-<type>" (a
// CustomEvent whose detail is the message's data), and the stream's loss and
// return as "tandem-stream" ({ up }).
"use strict";

const live = (() => {
  const AGES_EVERY_MS = 5000;
  const AUDIT_SHOWN = 10;
  const RETRY_CLOSED_MS = 3000;
  let es = null;
  let up = false;
  let lostAt = 0;
  let tags = new Map();
  let audit = [];
  let agesTimer = null;
  let drawPending = false;
  let retryTimer = null;

  function supported() {
    return typeof EventSource === "function";
  }

  function start() {
    stop();
    es = new EventSource(API + "/events");
    es.addEventListener("open", onOpen);
    es.addEventListener("error", onError);
    es.addEventListener("status", (m) => onStatus(JSON.parse(m.data)));
    es.addEventListener("tag", (m) => onTag(JSON.parse(m.data)));
    es.addEventListener("audit", (m) => onAudit(JSON.parse(m.data)));
    es.addEventListener("event", (m) => relay("event", JSON.parse(m.data)));
    es.addEventListener("services", (m) => relay("services", JSON.parse(m.data)));
  }

  function relay(type, data) {
    document.dispatchEvent(new CustomEvent("tandem-" + type, { detail: data }));
  }

  function stop() {
    clearTimeout(retryTimer);
    if (es) es.close();
    es = null;
    up = false;
    clearInterval(agesTimer);
    agesTimer = null;
  }

  async function onOpen() {
    up = true;
    const was = lostAt;
    lostAt = 0;
    show("conn-error", false);
    $("board").classList.remove("stale");
    if (was) notice("Live updates are back (lost at " + clock(new Date(was)) + ").", "ok");
    relay("stream", { up: true });
    // what happened while the stream was away: the whole tag list and the latest audit entries
    await Promise.all([loadAllTags(), loadLatestAudit()]);
    clearInterval(agesTimer);
    agesTimer = setInterval(loadAllTags, AGES_EVERY_MS);
  }

  async function onError() {
    if (!es) return;
    // a refused stream (503: the node holds as many as it takes) is not retried by the browser: try again shortly
    if (es.readyState === EventSource.CLOSED) {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        if (es && es.readyState === EventSource.CLOSED) start();
      }, RETRY_CLOSED_MS);
    }
    const first = up || !lostAt;
    up = false;
    clearInterval(agesTimer);
    agesTimer = null;
    if (first) lostAt = Date.now();
    if (first) relay("stream", { up: false });
    const since = lastOk ? " The board shows what was known at " + clock(new Date(lastOk)) + "." : "";
    text("conn-error", "Live updates from this node were lost at " + clock(new Date(lostAt)) + "; reconnecting…" + since);
    show("conn-error", true);
    $("board").classList.add("stale");
    // a stream refused for an ended session looks like any lost stream: ask
    try {
      await api("GET", "/whoami");
    } catch (e) {
      if (e.status === 401) {
        stop();
        showLogin("Your session has ended. Please log in again.");
      }
    }
  }

  function onStatus(s) {
    lastOk = Date.now();
    lastStatus = s;
    render(s);
    relay("status", s);
    if (typeof contextPanel === "object") contextPanel.refresh(s).catch(() => undefined);
  }

  function onTag(t) {
    // the stream's snapshot has no age of its own: the last change confirmed it now
    const had = tags.get(t.name) || {};
    tags.set(t.name, Object.assign({}, had, t, { ageMs: 0, confirmedAt: t.confirmedAt || new Date().toISOString() }));
    relay("tag", t);
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      renderTags([...tags.values()]);
    });
  }

  function onAudit(e) {
    relay("audit", e);
    audit.push(e);
    audit = audit.slice(-AUDIT_SHOWN);
    renderAudit(audit);
  }

  async function loadAllTags() {
    try {
      const r = await api("GET", "/tags");
      tags = new Map((r.tags || []).map((t) => [t.name, t]));
      renderTags(r.tags || []);
    } catch {
      /* the stream says when the node is away */
    }
  }

  async function loadLatestAudit() {
    try {
      const r = await api("GET", "/audit?limit=" + AUDIT_SHOWN);
      audit = (r.entries || []).slice(-AUDIT_SHOWN);
      renderAudit(audit);
    } catch {
      /* the stream says when the node is away */
    }
  }

  return {
    supported,
    start,
    stop,
    get up() {
      return up;
    },
  };
})();
