// `tandem tags [list | history NAME]` and `tandem events`: the tags as the
// node reads them now, one tag's recorded values over a time range, and the
// pair's stored events and alarms (runtime/history/, runtime/events/).
import type { EventsView, TagHistoryView, TagView } from "./node-api.js";
import type { ClientPlan } from "./cli-replication.js";

const TIMEOUT_MS = 10_000;
const missing = (what: string, path: string) => `this node does not offer ${what} yet (it has no GET /api/v1${path}; a later Tandem version brings it)`;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "10m", "2h", "30s", "1d" back from now, or an ISO 8601 time; a usage problem as a string */
export function timeArg(name: string, text: string, now: number): number | string {
  const rel = /^(\d{1,9})([smhd])$/.exec(text);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]]!;
  const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  return Number.isFinite(t) ? t : `--${name}: expected a time back from now (30s, 10m, 2h, 1d) or an ISO 8601 time, got '${text}'`;
}

export interface TagsOptions {
  since?: string;
  until?: string;
  limit?: number;
}

/** The request for the words after `tandem tags`, or a usage problem as a string. */
export function tagsRequest(words: string[], o: TagsOptions, now: number): ClientPlan | string {
  const [what = "list", name, ...rest] = words;
  if (rest.length) return `unexpected argument '${rest[0]}'`;
  if (what === "list") {
    if (name !== undefined) return `unexpected argument '${name}' (list takes none)`;
    if (o.since !== undefined || o.until !== undefined || o.limit !== undefined) return "--since, --until and --limit are for history";
    return { method: "GET", path: "/tags", timeoutMs: TIMEOUT_MS, format: (j) => formatTags((j as { tags: TagView[] }).tags), missing: missing("tags", "/tags") };
  }
  if (what !== "history") return `expected list or history NAME, got '${what}'`;
  if (name === undefined) return "history needs a tag NAME";
  const from = timeArg("since", o.since ?? "1h", now);
  if (typeof from === "string") return from;
  const to = o.until === undefined ? now : timeArg("until", o.until, now);
  if (typeof to === "string") return to;
  if (from > to) return "--since is after --until";
  const q = new URLSearchParams({ from: String(from), to: String(to), limit: String(o.limit ?? 1000) });
  const path = `/tags/${encodeURIComponent(name)}/history?${q}`;
  return { method: "GET", path, timeoutMs: TIMEOUT_MS, format: (j) => formatHistory(j as TagHistoryView), missing: missing("tag history", `/tags/${name}/history`) };
}

const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

export function formatTags(tags: TagView[]): string[] {
  if (!tags.length) return ["no tags (the config has no drivers section)"];
  const rows = tags.map((t) => [t.name, t.value === undefined ? "-" : `${text(t.value)}${t.units ? ` ${t.units}` : ""}`, t.quality + (t.reason ? ` (${t.reason})` : ""), t.timestamp ?? "-"]);
  return table(["TAG", "VALUE", "QUALITY", "SOURCE TIME"], rows);
}

export function formatHistory(h: TagHistoryView): string[] {
  const head = `${h.name}: ${h.samples.length} recorded value${h.samples.length === 1 ? "" : "s"} from ${h.from} to ${h.to}`;
  if (!h.samples.length) return [head, "nothing recorded in this range (is history enabled for this tag? the history section of the config)"];
  const rows = h.samples.map((s) => [s.timestamp, text(s.value), s.quality + (s.reason ? ` (${s.reason})` : "")]);
  return [head, ...table(["SOURCE TIME", "VALUE", "QUALITY"], rows), ...(h.more ? ["… more in this range: narrow it (--since/--until) or raise --limit"] : [])];
}

export interface EventsOptions {
  after?: number;
  limit?: number;
}

export function eventsRequest(words: string[], o: EventsOptions): ClientPlan | string {
  if (words.length) return `unexpected argument '${words[0]}'`;
  const q = new URLSearchParams({ after: String(o.after ?? 0), limit: String(o.limit ?? 100) });
  return { method: "GET", path: `/events/history?${q}`, timeoutMs: TIMEOUT_MS, format: (j) => formatEvents(j as EventsView), missing: missing("stored events", "/events/history") };
}

export function formatEvents(v: EventsView): string[] {
  if (!v.events.length) return ["no events stored (after the sequence number asked)"];
  const rows = v.events.map((e) => [String(e.seq), e.at, e.node, e.severity.toUpperCase(), e.type, e.text]);
  return [...table(["SEQ", "AT", "NODE", "SEVERITY", "TYPE", "WHAT"], rows), ...(v.next !== null ? [`… more: tandem events --after ${v.next}`] : [])];
}

function table(header: string[], rows: string[][]): string[] {
  // the last column is free text: not padded
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (r: string[]) => r.map((c, k) => (k === r.length - 1 ? c : c.padEnd(widths[k]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}
