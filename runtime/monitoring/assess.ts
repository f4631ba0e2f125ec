// Host monitoring's decisions, pure: a sample of the host in, each item's
// level (ok, warn, alarm) out, with the changes since the last assessment.
// A level is left only once the value is a margin below its threshold
// (hysteresis: a disk at 85.0–85.9% does not flap), and CPU counts only once
// it has held above a threshold for cpu.forSeconds.
import type { MonitoringConfig } from "./config-schema.js";

export type Level = "ok" | "warn" | "alarm";

export interface HostSample {
  at: number;
  /** each watched path's filesystem: used bytes, and total as a user sees it (used + available to users, as df) */
  disks: { path: string; usedBytes: number; totalBytes: number }[];
  memory: { usedBytes: number; totalBytes: number };
  swapUsedBytes: number;
  /** all cores, 0–100 */
  cpuPercent: number;
}

export interface Item {
  /** disk:<path>, memory, swap, cpu */
  name: string;
  level: Level;
  /** the value as operators read it ("96.2% of /var/lib/tandem (/var) used") */
  text: string;
  value: number;
}

export interface Assessment {
  items: Item[];
  changes: { item: Item; from: Level }[];
  /** cpu: since when it has been above each threshold (ms), carried to the next assessment */
  cpuAbove: { warn: number | null; alarm: number | null };
}

/** points below a threshold a value must fall to leave its level */
export const HYSTERESIS = 2;

function levelOf(value: number, warn: number, alarm: number, prev: Level, margin: number): Level {
  if (value >= alarm || (prev === "alarm" && value > alarm - margin)) return "alarm";
  if (value >= warn || ((prev === "warn" || prev === "alarm") && value > warn - margin)) return "warn";
  return "ok";
}

const pct = (used: number, total: number) => (total > 0 ? (100 * used) / total : 0);
const mb = (b: number) => b / 2 ** 20;

export function assess(s: HostSample, cfg: MonitoringConfig, prev: Assessment | null): Assessment {
  const before = new Map((prev?.items ?? []).map((i) => [i.name, i.level]));
  const items: Item[] = [];
  for (const d of s.disks) {
    const v = pct(d.usedBytes, d.totalBytes);
    const name = `disk:${d.path}`;
    items.push({ name, value: v, level: levelOf(v, cfg.disk.warnPercent, cfg.disk.alarmPercent, before.get(name) ?? "ok", HYSTERESIS), text: `${v.toFixed(1)}% of the disk holding ${d.path} used, ${(mb(d.totalBytes - d.usedBytes) / 1024).toFixed(1)} GiB free` });
  }
  const m = pct(s.memory.usedBytes, s.memory.totalBytes);
  items.push({ name: "memory", value: m, level: levelOf(m, cfg.memory.warnPercent, cfg.memory.alarmPercent, before.get("memory") ?? "ok", HYSTERESIS), text: `${m.toFixed(1)}% of memory used (${Math.round(mb(s.memory.usedBytes))} of ${Math.round(mb(s.memory.totalBytes))} MB)` });
  const sw = mb(s.swapUsedBytes);
  const swapLevel: Level = sw >= cfg.swap.alarmMB ? "alarm" : sw >= cfg.swap.warnMB ? "warn" : "ok";
  items.push({ name: "swap", value: sw, level: swapLevel, text: `${Math.round(sw)} MB of swap in use (a plant server should use none)` });
  // CPU: above a threshold for forSeconds before it counts
  const hold = cfg.cpu.forSeconds * 1000;
  const above = {
    warn: s.cpuPercent >= cfg.cpu.warnPercent ? (prev?.cpuAbove.warn ?? s.at) : null,
    alarm: s.cpuPercent >= cfg.cpu.alarmPercent ? (prev?.cpuAbove.alarm ?? s.at) : null,
  };
  const prevCpu = before.get("cpu") ?? "ok";
  let cpu: Level = above.alarm !== null && s.at - above.alarm >= hold ? "alarm" : above.warn !== null && s.at - above.warn >= hold ? "warn" : "ok";
  // leaving a level: only once below its threshold by the margin
  if (prevCpu === "alarm" && cpu !== "alarm" && s.cpuPercent > cfg.cpu.alarmPercent - HYSTERESIS) cpu = "alarm";
  else if (prevCpu !== "ok" && cpu === "ok" && s.cpuPercent > cfg.cpu.warnPercent - HYSTERESIS) cpu = "warn";
  items.push({ name: "cpu", value: s.cpuPercent, level: cpu, text: `${s.cpuPercent.toFixed(0)}% CPU in use${cpu !== "ok" ? ` for ${cfg.cpu.forSeconds} s or more` : ""}` });
  const changes = items.filter((i) => (before.get(i.name) ?? "ok") !== i.level).map((item) => ({ item, from: before.get(item.name) ?? ("ok" as Level) }));
  return { items, changes, cpuAbove: above };
}
