// The pair-wide part of a node's configuration — what both nodes must run
// alike: the devices and tags, the PLC watchdog, the services, the process
// modules (their files' contents, not where they lie), the users, history,
// events and replication — versioned by content: a SHA-256 of each section
// as loaded (defaults filled in, so the same meaning written two ways is
// the same version) and of them all. Node-local parts (ids, addresses, the
// data dir, log, TLS files, monitoring, backups) are not in it.
// The nodes exchange their versions over the peer link; a mismatch is
// shown in status and the HMI, raised as an alarm, and holds automatic
// switchovers (config-watch.ts).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
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

export function pairConfigVersion(c: TandemConfig, readFile: (file: string) => string = fileHash): PairConfigVersion {
  const parts: Record<PairWideSection, unknown> = {
    drivers: c.drivers ?? null,
    watchdog: c.watchdog ?? null,
    // a service's cwd is where its config file lies on that node: resolved, it differs by host
    services: Object.fromEntries(Object.entries(c.services).map(([n, s]) => [n, { ...s, cwd: undefined }])),
    processes: Object.fromEntries(Object.entries(c.processes).map(([n, p]) => [n, { ...p, module: readFile(p.module) }])),
    users: c.http.users,
    history: c.history,
    events: c.events,
    replication: c.replication,
  };
  const sections = Object.fromEntries(PAIR_WIDE.map((k) => [k, hash(canonical(parts[k]))])) as Record<PairWideSection, string>;
  return { version: hash(PAIR_WIDE.map((k) => `${k}=${sections[k]}`).join("\n")), sections };
}

/** The sections whose hashes differ (a peer's report, checked by the caller). */
export function differingSections(mine: PairConfigVersion, peer: { sections: Record<string, string> }): string[] {
  return PAIR_WIDE.filter((k) => mine.sections[k] !== peer.sections[k]);
}
