// The node's backups (runtime/backup/), composed: the files a backup carries
// besides the database (the config, the process modules, certificates and
// keys, the audit log and its key, the epoch file, `backup.files`), its
// results as events of the pair, and its metrics.
import { join } from "node:path";
import type { Registry } from "prom-client";
import type { TandemConfig } from "./config/schema.js";
import type { EventRecorder } from "./events/recorder.js";
import type { LogManager } from "./logging.js";
import { NodeBackups } from "./backup/node-backups.js";
import { TLS_DIR } from "./http/tls.js";

export function nodeFiles(c: TandemConfig, configFile: string | undefined): string[] {
  const t = c.http.tls;
  const m = c.mqtt?.tls;
  const p = c.peer.tls;
  const d = c.node.dataDir;
  return [
    ...(configFile ? [configFile] : []),
    ...Object.values(c.processes).map((x) => x.module),
    ...[t.certFile, t.keyFile, t.caFile, m?.certFile, m?.keyFile, p?.ca, p?.cert, p?.key].filter((f): f is string => typeof f === "string"),
    join(d, TLS_DIR),
    join(d, "audit.log"),
    join(d, "audit.key"),
    join(d, "epoch.json"),
    ...c.backup.files,
  ];
}

export function startBackups(o: {
  config: TandemConfig;
  configFile?: string;
  state(): string;
  epoch(): number;
  database(): { engine: "sqlite" | "postgres"; where: string } | null;
  events: EventRecorder;
  logs: LogManager;
  registry: Registry;
}): NodeBackups {
  const c = o.config;
  const b = new NodeBackups(c.backup, {
    pair: c.pair.id,
    node: c.node.id,
    dataDir: c.node.dataDir,
    state: o.state,
    epoch: o.epoch,
    database: o.database,
    ...(c.database.engine === "postgres" ? { postgres: { url: c.database.url, ...(c.database.schema ? { schema: c.database.schema } : {}) } } : {}),
    files: () => ({ paths: nodeFiles(c, o.configFile) }),
    // about this node alone: sent to the active when this node is the standby
    event: (type, severity, text) => o.events.recordOwn(type, severity, text),
    log: o.logs.get("backup"),
    registry: o.registry,
    now: () => Date.now(),
  });
  b.start();
  return b;
}
