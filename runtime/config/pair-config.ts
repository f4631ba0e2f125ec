// The pair-wide part of a node's configuration — what both nodes must run
// alike: the devices and tags, the PLC watchdog, the services, the process
// modules (their files' contents, not where they lie), the users, history,
// events and replication — versioned by content: a SHA-256 of each section
// and of them all. Node-local parts (ids, addresses, the data dir, log, TLS
// files, monitoring, backups) are not in it, nor is the route to a device
// (its endpoints or serial ports: each server may reach the PLC its own
// way). Sections are taken as written in the file (key order and YAML style
// aside) with `${VARIABLES}` unexpanded: a value that must differ between
// the nodes comes from each node's environment.
// The nodes exchange their versions over the peer link; a mismatch is
// shown in status and the HMI, raised as an alarm, and holds automatic
// switchovers (config-watch.ts).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { TandemConfig } from "./schema.js";

export const PAIR_WIDE = ["drivers", "watchdog", "services", "processes", "users", "history", "events", "replication"] as const;
export type PairWideSection = (typeof PAIR_WIDE)[number];

export interface PairConfigVersion {
  /** the first 16 hex digits of the SHA-256 over every section's hash */
  version: string;
  /** each section's hash (16 hex digits) */
  sections: Record<PairWideSection, string>;
}

/** JSON with object keys sorted: one text for one meaning */
export function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(",")}]`;
  if (x !== null && typeof x === "object") {
    return `{${Object.keys(x as object)
      .sort()
      .filter((k) => (x as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((x as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(x ?? null);
}

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

/** A module file's content hash, or why it cannot be read (then both nodes differ unless both cannot). */
function fileHash(file: string): string {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  } catch (err) {
    return `unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

/** the devices without their routes (endpoints, serial ports): the same PLC reached by each node its own way */
function withoutRoutes(drivers: TandemConfig["drivers"]): unknown {
  if (!drivers) return null;
  return { ...drivers, devices: drivers.devices.map((d) => ({ ...d, endpoints: undefined, serial: undefined })) };
}

/**
 * `raw`: the file's sections as written (the YAML as data, before
 * `${VARIABLE}` expansion); without it (a config made in code) the loaded
 * values stand in. The devices and tags are taken as loaded (tag CSV files
 * read in), without their routes; a process module by its file's content.
 */
export function pairConfigVersion(c: TandemConfig, raw?: Record<string, unknown> | null, readFile: (file: string) => string = fileHash): PairConfigVersion {
  const r = raw ?? null;
  const written = (k: string, loaded: unknown) => (r ? (r[k] ?? null) : loaded);
  const rawProcesses = (r?.processes ?? null) as Record<string, Record<string, unknown>> | null;
  const parts: Record<PairWideSection, unknown> = {
    drivers: withoutRoutes(c.drivers),
    watchdog: written("watchdog", c.watchdog ?? null),
    // loaded, a service's cwd is resolved where its config file lies: it differs by host
    services: written("services", Object.fromEntries(Object.entries(c.services).map(([n, s]) => [n, { ...s, cwd: undefined }]))),
    processes: Object.fromEntries(Object.entries(c.processes).map(([n, p]) => [n, { ...(rawProcesses?.[n] ?? p), module: readFile(p.module) }])),
    users: r ? ((r.http as Record<string, unknown> | undefined)?.users ?? null) : c.http.users,
    history: written("history", c.history),
    events: written("events", c.events),
    replication: written("replication", c.replication),
  };
  const sections = Object.fromEntries(PAIR_WIDE.map((k) => [k, hash(canonical(parts[k]))])) as Record<PairWideSection, string>;
  return { version: hash(PAIR_WIDE.map((k) => `${k}=${sections[k]}`).join("\n")), sections };
}

/** The sections whose hashes differ (a peer's report, checked by the caller). */
export function differingSections(mine: PairConfigVersion, peer: { sections: Record<string, string> }): string[] {
  return PAIR_WIDE.filter((k) => mine.sections[k] !== peer.sections[k]);
}

/** The file's sections as written: the YAML as data, `${VARIABLES}` unexpanded. */
export function writtenSections(text: string): Record<string, unknown> | null {
  try {
    const x = parseDocument(text).toJS() as unknown;
    return x !== null && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
