// Tandem operator HMI: the replication panel. From the status the board gets
// every second: the mode and what a write's acknowledgement means now, this
// node's part, the peer's phase, the lag, the journal and a catch-up's
// progress. A plain script loaded after app.js: it uses app.js's $(), el(), say() and
// show(), and board.js's render() calls replicationPanel.render(status.replication)
// with each status (a failed poll dims the board, this panel with it). Every word a person
// reads comes from /words.js (runtime/replication-words.ts, which the CLI
// prints too); this file holds none of its own.
"use strict";

const replicationPanel = (() => {
  const W = globalThis.TANDEM_WORDS ? globalThis.TANDEM_WORDS.replication : null;
  const P = W ? W.panel : null;
  let built = false;


  /** A count as the CLI prints it: 12,345. */
  const count = (n) => Number(n || 0).toLocaleString(P.numbers);


  function build() {
    built = true;
    const ack = el("p", "repl-ack");
    ack.id = "replication-ack";
    const facts = el("dl", "repl-facts");
    // one row per label, in the words' order; a row is hidden when it means nothing here now
    for (const [key, label] of Object.entries(P.labels)) {
      const row = el("div", "repl-row");
      row.id = "replication-row-" + key;
      const value = el("span");
      value.id = "replication-" + key;
      const dd = el("dd");
      dd.append(value);
      if (key === "catchup") {
        const bar = el("progress", "repl-progress");
        bar.id = "replication-progress";
        dd.append(bar);
      }
      row.append(el("dt", "", label), dd);
      facts.append(row);
    }
    $("replication-card").replaceChildren(el("h3", "", P.title), ack, facts);
  }

  /** The row's text, or the row hidden when there is none. */
  function set(key, value) {
    const on = value !== null && value !== undefined;
    show("replication-row-" + key, on);
    if (on) $("replication-" + key).textContent = value;
  }

  const phrase = (w) => say(P.phrase, w);

  /** What an acknowledgement means now: the first of the words' rules that matches, as the CLI chooses it (replication-words.ts, ackText). */
  function ackText(facts) {
    const rule = W.ackRules.find((x) => Object.keys(x.when).every((k) => facts[k] === x.when[k]));
    return say(rule.text, { peer: W.peer[facts.peer].label });
  }

  function render(r) {
    if (!W) return;
    if (!built) build();
    show("replication-card", !!r);
    if (!r) return;
    const facts = { mode: r.mode, role: r.role || "starting", acknowledging: r.acknowledging || "n/a", peer: r.peer || "n/a" };
    const ack = $("replication-ack");
    ack.textContent = ackText(facts);
    ack.className = "repl-ack" + (facts.acknowledging === "n/a" ? "" : " repl-ack-" + facts.acknowledging);
    const follows = r.role === "follower";
    // lag and journal are the active's view of its peer; a standby knows how far it has applied
    const leads = !follows && r.mode !== "none";
    set("mode", r.mode === "none" ? P.modeOff : say(P.mode, { mode: r.mode, whenPeerAway: r.whenPeerAway || "accept" }));
    set("role", r.role ? phrase(W.roles[r.role]) : null);
    set("peer", facts.peer === "n/a" ? null : phrase(W.peer[facts.peer]));
    set("lag", leads ? say(P.lag, { records: count(r.lagRecords), ms: count(r.lagMs) }) : null);
    const seq = r.lastSeq === undefined ? null : follows ? say(P.applied, { last: count(r.lastSeq) }) : leads ? say(P.seqs, { last: count(r.lastSeq), peer: r.peerSeq == null ? P.unknown : count(r.peerSeq) }) : null;
    set("seq", seq);
    set("journal", leads ? say(P.journal, { n: count(r.journalRecords) }) : null);
    const c = r.catchUp;
    set("catchup", r.mode === "none" ? null : c ? say(c.snapshot ? P.catchUpSnapshot : P.catchUp, { records: count(c.records), total: count(c.total), percent: c.percent }) : P.noCatchUp);
    const bar = $("replication-progress");
    bar.hidden = !c;
    if (c) {
      bar.max = Math.max(1, c.total);
      bar.value = c.records;
    }
    set("database", r.engine ? say(P.database, { engine: r.engine, database: r.database || P.unknown }) : null);
    set("setaside", r.divergentSetAside ? say(P.setAside, { n: count(r.divergentSetAside) }) : null);
    set("refused", r.refused ? say(P.refused, { n: count(r.refused) }) : null);
  }

  return { render };
})();
