// The HMI's audit list (see app.js): the node's last ten audited actions,
// newest first, read with every few polls and pushed by the live feed.
"use strict";

async function loadAudit() {
  try {
    const { entries } = await api("GET", "/audit?limit=10");
    renderAudit(entries);
  } catch (e) {
    if (e.status === 401) throw e;
  }
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
