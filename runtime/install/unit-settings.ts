// What a service definition of a node says, resolved from its config: where
// the program and the config are, the user, the memory and open-file limits
// and how long a stop may take. One set of settings renders both the systemd
// unit (systemd.ts) and the Windows service (windows.ts).
import { realpathSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { rootOfRunningBuild } from "../upgrade/versions.js";
import type { TandemConfig } from "../config/schema.js";

export interface NodeUnitSettings {
  kind: "node";
  /** the unit's or Windows service's name */
  name: string;
  pairId: string;
  nodeId: string;
  /** the node program: node.js and Tandem's cli.js */
  nodeExe: string;
  cliJs: string;
  configFile: string;
  dataDir: string;
  /** where the log file goes (log.file), if anywhere but the journal */
  logDir: string | null;
  /**
   * where else the node writes: the config file's folder (a configuration
   * pushed from the active is written there), the backup folder and its second
   * location when outside the data dir (may be missing: a share not mounted)
   */
  alsoWrites: { path: string; mayBeMissing: boolean }[];
  user: string;
  memoryMaxMB: number;
  /** how memoryMaxMB was arrived at, for the unit's comment and the command's output */
  memoryWhy: string;
  maxOpenFiles: number;
  /** the node's own stop bound (node.stopTimeoutMs) plus a margin, so the node's bound acts first */
  stopTimeoutSec: number;
}

export interface WitnessUnitSettings {
  kind: "witness";
  name: string;
  nodeExe: string;
  cliJs: string;
  listen: string;
  user: string;
}

export type UnitSettings = NodeUnitSettings | WitnessUnitSettings;

/** the node's own share before its services: its heap, drivers, broker and database */
export const NODE_BASE_MB = 1024;
/** a service without memoryMaxMB counts this much */
export const SERVICE_DEFAULT_MB = 512;
/** seconds the service manager waits beyond node.stopTimeoutMs before it kills */
export const STOP_MARGIN_SEC = 15;

/**
 * The program as it runs now: this node.js and this Tandem. Installed under
 * an install root (tandem upgrade), through ROOT/current, so that the
 * service runs whichever version is current after an upgrade or rollback.
 */
export function program(): { nodeExe: string; cliJs: string } {
  const cli = realpathSync(new URL("../cli.js", import.meta.url));
  const root = rootOfRunningBuild(cli.replace(/cli\.js$/, join("upgrade", "versions.js")));
  return { nodeExe: process.execPath, cliJs: root ? join(root, "current", "dist", "runtime", "cli.js") : cli };
}

export function nodeUnitSettings(c: TandemConfig, configFile: string, dirOfConfig: string): NodeUnitSettings {
  const services = Object.entries(c.services ?? {});
  const given = services.filter(([, s]) => s.memoryMaxMB !== undefined);
  const computed = NODE_BASE_MB + services.reduce((n, [, s]) => n + (s.memoryMaxMB ?? SERVICE_DEFAULT_MB), 0);
  const memoryWhy =
    c.node.memoryMaxMB !== undefined
      ? "node.memoryMaxMB"
      : `${NODE_BASE_MB} MB for the node` +
        (services.length ? `, plus its ${services.length} service${services.length === 1 ? "" : "s"} (${given.length} with memoryMaxMB, ${SERVICE_DEFAULT_MB} MB for each other)` : "") +
        ": set node.memoryMaxMB to choose";
  const logFile = c.log?.file;
  return {
    kind: "node",
    name: `tandem-${c.pair.id}-${c.node.id}`,
    pairId: c.pair.id,
    nodeId: c.node.id,
    ...program(),
    configFile: resolve(configFile),
    dataDir: isAbsolute(c.node.dataDir) ? c.node.dataDir : resolve(dirOfConfig, c.node.dataDir),
    logDir: logFile ? resolve(dirOfConfig, logFile, "..") : null,
    alsoWrites: [
      { path: dirname(resolve(configFile)), mayBeMissing: false },
      ...[c.backup.dir, c.backup.copyTo].filter((p): p is string => typeof p === "string").map((p) => ({ path: isAbsolute(p) ? p : resolve(dirOfConfig, p), mayBeMissing: true })),
    ],
    user: c.node.serviceUser,
    memoryMaxMB: c.node.memoryMaxMB ?? computed,
    memoryWhy,
    maxOpenFiles: c.node.maxOpenFiles,
    stopTimeoutSec: Math.ceil(c.node.stopTimeoutMs / 1000) + STOP_MARGIN_SEC,
  };
}

export function witnessUnitSettings(listen: string, user: string): WitnessUnitSettings {
  return { kind: "witness", name: "tandem-witness", ...program(), listen, user };
}
