// `tandem site`: every pair of the site as the node asked sees it (GET
// /api/v1/site, runtime/node-site.ts) — a table of the pairs with their
// active node, epoch, state, health, held takeover and alarms, what is not
// right with each, and each node's HMI address.
import type { ClientPlan } from "./cli-replication.js";
import { HEALTH_WORDS, type SitePairView, type SiteView } from "./site/view.js";

export function siteRequest(words: string[]): ClientPlan | string {
  if (words.length) return `unexpected argument '${words[0]}'`;
  return {
    method: "GET",
    path: "/site",
    timeoutMs: 10_000,
    format: (j) => formatSite(j as SiteView),
    missing: "this node does not offer the site view yet (it has no GET /api/v1/site; a later Tandem version brings it)",
  };
}

const age = (ms: number | null) => (ms === null ? "never" : ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`);
const orDash = (v: number | null) => (v === null ? "-" : String(v));

/** a stranger's text in a terminal: printable, one line, bounded */
const clean = (s: string, n = 120) => {
  const t = s.replace(/[^\x20-\x7e\u00a0-\u024f]/g, "?");
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

function healthCell(p: SitePairView): string {
  return HEALTH_WORDS[p.health] ?? p.health;
}

export function formatSite(v: SiteView): string[] {
  const head = `site view of node ${clean(v.nodeId)} (pair ${clean(v.pairId)}) at ${v.at}: ${clean(v.note, 300)}`;
  const broker = v.broker.url ? [`site broker ${clean(v.broker.url)}: ${v.broker.connected ? "connected" : "NOT connected"}${v.broker.changedAt ? ` since ${v.broker.changedAt}` : ""}`] : [];
  const header = ["PAIR", "ACTIVE", "EPOCH", "STATE", "HEALTH", "HELD", "ALARMS", "HEARD"];
  const rows = v.pairs.map((p) => [
    clean(p.pairId) + (p.self ? " *" : ""),
    p.active === null ? "-" : clean(p.active),
    orDash(p.epoch),
    p.state,
    healthCell(p),
    p.held ? "HELD" : "no",
    p.alarms === null ? "?" : String(p.alarms) + (p.warnings ? ` (+${p.warnings} warn)` : ""),
    p.self ? "now" : age(p.heardMsAgo),
  ]);
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (r: string[]) => r.map((c, k) => c.padEnd(widths[k]!)).join("  ").trimEnd();
  const details = v.pairs.flatMap((p) => [
    ...p.problems.map((x) => `  ${clean(p.pairId)}: ${clean(x, 300)}`),
    ...p.nodes.map(
      (n) =>
        `  ${clean(p.pairId)}/${clean(n.nodeId)}: ${n.state}${n.stale && n.state !== "offline" ? " (stale)" : ""}${n.epoch !== null ? `, epoch ${n.epoch}` : ""}${n.serviceLevel !== null ? `, level ${n.serviceLevel}` : ""}, HMI ${n.hmi ? clean(n.hmi, 200) : "unknown"}`,
    ),
  ]);
  const ignored = v.counters.badTopic + v.counters.badJson + v.counters.badShape + v.counters.tooLarge + v.counters.tooMany;
  return [
    head,
    ...broker,
    line(header),
    ...rows.map(line),
    "(* this node's pair)",
    ...details,
    ...(ignored ? [`${ignored} message${ignored === 1 ? "" : "s"} from the site broker ignored (${Object.entries(v.counters).filter(([k, n]) => n && k !== "messages" && k !== "cleared").map(([k, n]) => `${k} ${n}`).join(", ")})`] : []),
  ];
}
