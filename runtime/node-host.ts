// The node's watches (runtime/monitoring/) — its host, silences, its own log
// — started with the node: each change of level logged and recorded as an
// event about this node (an alarm, a warning, or back to normal); their
// metrics; and the host's health, which lowers the service level while the
// data dir's disk is in alarm.
import { dirname, resolve } from "node:path";
import type { Registry } from "prom-client";
import type { LogManager } from "./logging.js";
import type { TandemConfig } from "./config/schema.js";
import type { EventRecorder } from "./events/recorder.js";
import { HostMonitor } from "./monitoring/host.js";
import { hostMetrics, logWatchMetrics, staleMetrics } from "./monitoring/metrics.js";
import { STALE_EVERY_MS, StaleMonitor } from "./monitoring/stale-monitor.js";
import { LogWatch } from "./monitoring/log-watch.js";
import type { Item, Level } from "./monitoring/assess.js";
import type { Logger } from "../core/logger.js";
import { isActiveState } from "../core/types.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { HealthSource } from "./node-status.js";

/** A watched item changed level: logged, and an event about this node (a warning, an alarm, or back to normal). */
function reportChange(log: Logger, events: EventRecorder, type: string, item: Item, from: Level): void {
  if (item.level === "ok") {
    log.info({ item: item.name, from }, `back to normal: ${item.text}`);
    events.recordOwn(type, "info", `back to normal: ${item.text}`);
  } else {
    log.warn({ item: item.name, from, level: item.level }, item.text);
    events.recordOwn(type, item.level === "alarm" ? "alarm" : "warning", item.text);
  }
}

export function startHostMonitoring(o: { config: TandemConfig; events: EventRecorder; logs: LogManager; registry: Registry; addHealthSource(s: HealthSource): void }): HostMonitor {
  const c = o.config;
  const log = o.logs.get("monitoring");
  // the data dir first (its disk decides the health), the log's folder, then the configured paths
  const paths = [...new Set([resolve(c.node.dataDir), ...(c.log.file ? [dirname(resolve(c.log.file))] : []), ...c.monitoring.disk.paths.map((p) => resolve(p))])];
  const host = new HostMonitor({
    config: c.monitoring,
    paths,
    log,
    onChange: (item, from) => reportChange(log, o.events, `host-${item.name.split(":")[0]}`, item, from),
  });
  hostMetrics(o.registry, () => host.items());
  o.addHealthSource({ name: "host", health: () => host.health() });
  host.start();
  return host;
}

/**
 * The node's watch for silences (monitoring/stale.ts): its peer's heartbeats
 * on each link, the witness, the devices it reads, and on the active the
 * replication verify — each change an event (`stale-heartbeat`,
 * `stale-witness`, `stale-device`, `stale-verify`) and a metric.
 */
export function startStaleMonitoring(o: {
  config: TandemConfig;
  runtime: PairRuntime;
  drivers: () => DriverManager | null;
  lastVerifyAt: () => number | null;
  events: EventRecorder;
  logs: LogManager;
  registry: Registry;
}): StaleMonitor {
  const c = o.config;
  const log = o.logs.get("monitoring");
  const verifies = c.replication.mode !== "none" && c.replication.verifyEveryMinutes > 0;
  const m = new StaleMonitor({
    config: c.monitoring.stale,
    sample: () => {
      const rt = o.runtime;
      const s = rt.state;
      const wall = Date.now();
      // the pair's times are monotonic: as wall-clock times for the one clock of the sample
      const toWall = (mono: number | null) => (mono === null ? null : wall - (rt.now() - mono));
      const devices = [...(o.drivers()?.lastGoodByDevice() ?? new Map<string, number | null>())].map(([name, lastAt]) => ({ name, lastAt }));
      return {
        at: wall,
        peer: c.peer.id,
        links: Object.entries(s.peer.links).map(([name, at]) => ({ name, lastAt: toWall(at) })),
        witness: c.witness ? { lastAt: toWall(s.witness.lastOkAt) } : null,
        devices,
        verify: verifies && isActiveState(s.state) ? { lastAt: o.lastVerifyAt() } : null,
      };
    },
    onChange: (item, from) => reportChange(log, o.events, `stale-${item.name.split(":")[0]}`, item, from),
  });
  staleMetrics(o.registry, () => m.items());
  m.start();
  return m;
}

/**
 * The node's watch over its own log (monitoring/log-watch.ts): error lines
 * per component and the site's patterns over a window, each change an event
 * (`log-errors`, `log-pattern`) and a metric. Returns its stop.
 */
export function startLogWatch(o: { config: TandemConfig; events: EventRecorder; logs: LogManager; registry: Registry }): { stop(): void; items(): Item[] } {
  const log = o.logs.get("monitoring");
  const w = new LogWatch(o.config.monitoring.logs, Date.now);
  o.logs.setTap((level, line) => w.line(level, line));
  const timer = setInterval(() => {
    for (const { item, from } of w.assess()) reportChange(log, o.events, `log-${item.name.startsWith("errors:") ? "errors" : "pattern"}`, item, from);
  }, STALE_EVERY_MS);
  timer.unref();
  logWatchMetrics(o.registry, () => w.items());
  return {
    stop: () => {
      clearInterval(timer);
      o.logs.setTap(null);
    },
    items: () => w.items(),
  };
}
