// The HMI's plant card (see app.js): every tag's value, shown only with its
// quality, and how long ago a read confirmed it.
"use strict";

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
