// Staleness, decided: what should be heard regularly and was not — the
// peer's heartbeats on each link, the witness, each device this node reads,
// the replication verify the active runs — each against its threshold in
// seconds. Pure: a sample of when each was last heard in, each item's level
// (ok or alarm) and the changes out. Something never heard counts from when
// the watch began (a node's start), so a cold start is judged like a
// silence. The backups' and restore tests' ages are judged by
// runtime/backup/ (backup.maxAgeHours).
import type { Item, Level } from "./assess.js";

export interface StaleConfig {
  /** a peer link without a heartbeat for this long; 0: not watched */
  heartbeatSeconds: number;
  /** the witness unreachable for this long */
  witnessSeconds: number;
  /** a device this node reads without a good value for this long */
  deviceSeconds: number;
  /** on the active, no replication verify for this long (when verifies are scheduled) */
  verifyMinutes: number;
}

export interface StaleSample {
  /** ms, wall clock */
  at: number;
  peer: string;
  /** each heartbeat link: when the peer was last heard on it (ms), null never */
  links: { name: string; lastAt: number | null }[];
  /** null: no witness configured; else when it last answered (ms), null never */
  witness: { lastAt: number | null } | null;
  /** the devices this node reads now: when one last gave a good value (ms), null never */
  devices: { name: string; lastAt: number | null }[];
  /** null: no verify expected here now; else when the last one ran (ms), null never */
  verify: { lastAt: number | null } | null;
}

export interface StaleState {
  items: Item[];
  changes: { item: Item; from: Level }[];
  /** when the watch of each item began (its first sample): "never heard" counts from here */
  since: Record<string, number>;
}

const secs = (ms: number) => Math.round(ms / 1000);

export function assessStale(s: StaleSample, cfg: StaleConfig, prev: StaleState | null): StaleState {
  const before = new Map((prev?.items ?? []).map((i) => [i.name, i.level]));
  const since: Record<string, number> = {};
  const items: Item[] = [];
  const watch = (name: string, lastAt: number | null, limitS: number, what: (ageS: number) => string, fine: string, limitText = `${limitS} s`) => {
    if (limitS <= 0) return;
    since[name] = prev?.since[name] ?? s.at;
    const age = s.at - (lastAt ?? since[name]!);
    const stale = age > limitS * 1000;
    items.push({ name, value: secs(Math.max(0, age)), level: stale ? "alarm" : "ok", text: stale ? `${what(secs(age))} (threshold ${limitText})` : fine });
  };
  for (const l of s.links)
    watch(`heartbeat:${l.name}`, l.lastAt, cfg.heartbeatSeconds, (a) => `no heartbeat from ${s.peer} on link ${l.name} for ${a} s${l.lastAt === null ? " (none since this node started)" : ""}`, `heartbeats from ${s.peer} on link ${l.name}`);
  if (s.witness) watch("witness", s.witness.lastAt, cfg.witnessSeconds, (a) => `the witness has not answered for ${a} s`, "the witness answers");
  for (const d of s.devices) watch(`device:${d.name}`, d.lastAt, cfg.deviceSeconds, (a) => `no good value from device ${d.name} for ${a} s`, `device ${d.name} gives good values`);
  if (s.verify) watch("verify", s.verify.lastAt, cfg.verifyMinutes * 60, (a) => `no replication verify for ${Math.round(a / 60)} min`, "replication verifies run", `${cfg.verifyMinutes} min`);
  const changes = items.filter((i) => (before.get(i.name) ?? "ok") !== i.level).map((item) => ({ item, from: before.get(item.name) ?? ("ok" as Level) }));
  // an item no longer watched (a device this node stopped reading, a verify no longer expected here) leaves its alarm
  const now = new Set(items.map((i) => i.name));
  for (const p of prev?.items ?? []) if (!now.has(p.name) && p.level === "alarm") changes.push({ item: { name: p.name, value: 0, level: "ok", text: `${p.name} is no longer watched on this node` }, from: "alarm" });
  return { items, changes, since };
}
