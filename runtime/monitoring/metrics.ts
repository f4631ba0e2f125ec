// The node's watches in its metrics — the host, silences, its own log: each
// watched item's level and value, read from the last assessment when
// scraped. One pair of gauges per watch, made by itemMetrics.
import { Gauge, type Registry } from "prom-client";
import type { Item } from "./assess.js";

const LEVEL = { ok: 0, warn: 1, alarm: 2 } as const;

/** a gauge of each item's level (0 ok, 1 warning, 2 alarm) and one of its value, both labelled by item */
function itemMetrics(r: Registry, level: { name: string; help: string }, value: { name: string; help: string; round?: boolean }, items: () => Item[]): void {
  const refresh = () => {
    lv.reset();
    val.reset();
    for (const i of items()) {
      lv.set({ item: i.name }, LEVEL[i.level]);
      val.set({ item: i.name }, value.round ? Math.round(i.value * 100) / 100 : i.value);
    }
  };
  const lv = new Gauge({ ...level, labelNames: ["item"], registers: [r], collect: refresh });
  const val = new Gauge({ ...value, labelNames: ["item"], registers: [r] });
}

export function hostMetrics(r: Registry, items: () => Item[]): void {
  itemMetrics(
    r,
    { name: "tandem_host_level", help: "Host monitoring: each item's level, 0 ok, 1 warning, 2 alarm (items: disk:<path>, memory, swap, cpu)" },
    { name: "tandem_host_value", help: "Host monitoring: each item's value (disk, memory and CPU in percent used, swap in MB used)", round: true },
    items,
  );
}

export function staleMetrics(r: Registry, items: () => Item[]): void {
  itemMetrics(
    r,
    { name: "tandem_stale_level", help: "Silences: each watched item's level, 0 heard, 2 alarm (items: heartbeat:<link>, witness, device:<name>, verify)" },
    { name: "tandem_stale_seconds", help: "Silences: seconds since each watched item was last heard" },
    items,
  );
}

export function logWatchMetrics(r: Registry, items: () => Item[]): void {
  itemMetrics(
    r,
    { name: "tandem_log_watch_level", help: "The log watch: each item's level, 0 below its threshold, 2 alarm (items: errors:<component>, pattern:<name>)" },
    { name: "tandem_log_watch_lines", help: "The log watch: lines of each item within monitoring.logs.windowSeconds" },
    items,
  );
}
