// The node's host monitoring (runtime/monitoring/): started with the node,
// each change of level recorded as an event of the pair (an alarm, a
// warning, or back to normal) and logged; its metrics; and its health, which
// lowers the service level while the data dir's disk is in alarm.
import { dirname, resolve } from "node:path";
import type { Registry } from "prom-client";
import type { LogManager } from "./logging.js";
import type { TandemConfig } from "./config/schema.js";
import type { EventRecorder } from "./events/recorder.js";
import { HostMonitor } from "./monitoring/host.js";
import { hostMetrics } from "./monitoring/metrics.js";
import type { HealthSource } from "./node-status.js";

export function startHostMonitoring(o: { config: TandemConfig; events: EventRecorder; logs: LogManager; registry: Registry; addHealthSource(s: HealthSource): void }): HostMonitor {
  const c = o.config;
  const log = o.logs.get("monitoring");
  // the data dir first (its disk decides the health), the log's folder, then the configured paths
  const paths = [...new Set([resolve(c.node.dataDir), ...(c.log.file ? [dirname(resolve(c.log.file))] : []), ...c.monitoring.disk.paths.map((p) => resolve(p))])];
  const host = new HostMonitor({
    config: c.monitoring,
    paths,
    log,
    onChange: (item, from) => {
      const type = `host-${item.name.split(":")[0]}`;
      if (item.level === "ok") {
        log.info({ item: item.name, from }, `back to normal: ${item.text}`);
        o.events.recordOwn(type, "info", `back to normal: ${item.text}`);
      } else {
        log.warn({ item: item.name, from, level: item.level }, item.text);
        o.events.recordOwn(type, item.level === "alarm" ? "alarm" : "warning", item.text);
      }
    },
  });
  hostMetrics(o.registry, () => host.items());
  o.addHealthSource({ name: "host", health: () => host.health() });
  host.start();
  return host;
}
