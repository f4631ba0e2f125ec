// Host monitoring in the node's metrics: each watched item's level and value,
// read from the last assessment when scraped.
import { Gauge, type Registry } from "prom-client";
import type { Item } from "./assess.js";

const LEVEL = { ok: 0, warn: 1, alarm: 2 } as const;

export function hostMetrics(r: Registry, items: () => Item[]): void {
  const refresh = () => {
    level.reset();
    value.reset();
    for (const i of items()) {
      level.set({ item: i.name }, LEVEL[i.level]);
      value.set({ item: i.name }, Math.round(i.value * 100) / 100);
    }
  };
  const level = new Gauge({ name: "tandem_host_level", help: "Host monitoring: each item's level, 0 ok, 1 warning, 2 alarm (items: disk:<path>, memory, swap, cpu)", labelNames: ["item"], registers: [r], collect: refresh });
  const value = new Gauge({ name: "tandem_host_value", help: "Host monitoring: each item's value (disk, memory and CPU in percent used, swap in MB used)", labelNames: ["item"], registers: [r] });
}

export function staleMetrics(r: Registry, items: () => Item[]): void {
  const refresh = () => {
    level.reset();
    age.reset();
    for (const i of items()) {
      level.set({ item: i.name }, LEVEL[i.level]);
      age.set({ item: i.name }, i.value);
    }
  };
  const level = new Gauge({ name: "tandem_stale_level", help: "Silences: each watched item's level, 0 heard, 2 alarm (items: heartbeat:<link>, witness, device:<name>, verify)", labelNames: ["item"], registers: [r], collect: refresh });
  const age = new Gauge({ name: "tandem_stale_seconds", help: "Silences: seconds since each watched item was last heard", labelNames: ["item"], registers: [r] });
}

export function logWatchMetrics(r: Registry, items: () => Item[]): void {
  const refresh = () => {
    level.reset();
    lines.reset();
    for (const i of items()) {
      level.set({ item: i.name }, LEVEL[i.level]);
      lines.set({ item: i.name }, i.value);
    }
  };
  const level = new Gauge({ name: "tandem_log_watch_level", help: "The log watch: each item's level, 0 below its threshold, 2 alarm (items: errors:<component>, pattern:<name>)", labelNames: ["item"], registers: [r], collect: refresh });
  const lines = new Gauge({ name: "tandem_log_watch_lines", help: "The log watch: lines of each item within monitoring.logs.windowSeconds", labelNames: ["item"], registers: [r] });
}
