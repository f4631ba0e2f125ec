// Services an operator stopped: they stay stopped on both nodes, across a
// takeover and a restart of the node, until an operator starts them again.
// Kept on disk here and shared with the peer in the services report; of two
// different words on one service the one with the higher version wins (ties:
// the node id, so both nodes settle on the same).
import { existsSync, readFileSync } from "node:fs";
import type { Logger } from "../../core/logger.js";
import { writePrivateFile } from "../private-files.js";

export interface OperatorStop {
  stopped: boolean;
  by: string;
  at: string;
  version: number;
  /** the node where the operator acted */
  node: string;
}

export class OperatorStops {
  private map = new Map<string, OperatorStop>();

  constructor(
    private readonly file: string,
    private readonly nodeId: string,
  ) {}

  load(log: Logger): void {
    if (!existsSync(this.file)) return;
    try {
      const data = JSON.parse(readFileSync(this.file, "utf8")) as unknown;
      const checked = checkStops(data);
      if (typeof checked === "string") throw new Error(checked);
      this.map = new Map(Object.entries(checked));
      const stopped = [...this.map].filter(([, s]) => s.stopped).map(([n, s]) => `${n} (by ${s.by} at ${s.at})`);
      if (stopped.length) log.info(`services stopped by an operator stay stopped: ${stopped.join(", ")}`);
    } catch (err) {
      log.error(`cannot read ${this.file}: ${(err as Error).message}; no service is taken as stopped by an operator`);
    }
  }

  stopped(name: string): boolean {
    return this.map.get(name)?.stopped === true;
  }

  get(name: string): OperatorStop | undefined {
    return this.map.get(name);
  }

  all(): Record<string, OperatorStop> {
    return Object.fromEntries(this.map);
  }

  set(name: string, stopped: boolean, by: string): void {
    const version = Math.max(0, ...[...this.map.values()].map((s) => s.version)) + 1;
    this.map.set(name, { stopped, by, at: new Date().toISOString(), version, node: this.nodeId });
    this.save();
  }

  /** The peer's words; true when anything changed here. */
  merge(peer: Record<string, OperatorStop>): boolean {
    let changed = false;
    for (const [name, p] of Object.entries(peer)) {
      const mine = this.map.get(name);
      if (mine && (mine.version > p.version || (mine.version === p.version && mine.node >= p.node))) continue;
      if (mine && mine.version === p.version && mine.node === p.node && mine.stopped === p.stopped) continue;
      this.map.set(name, p);
      changed = true;
    }
    if (changed) this.save();
    return changed;
  }

  private save(): void {
    writePrivateFile(this.file, JSON.stringify(this.all(), null, 1));
  }
}

/** The stops in a report or a file: anything else is refused with what was wrong. */
export function checkStops(x: unknown): Record<string, OperatorStop> | string {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return "stops: not an object";
  const out: Record<string, OperatorStop> = {};
  const entries = Object.entries(x as Record<string, unknown>);
  if (entries.length > 1000) return "stops: too many entries";
  for (const [name, v] of entries) {
    if (name.length > 48) return "stops: a name is too long";
    const s = v as Record<string, unknown>;
    if (typeof s !== "object" || s === null) return `stops.${name}: not an object`;
    if (typeof s.stopped !== "boolean" || typeof s.by !== "string" || typeof s.at !== "string" || typeof s.node !== "string") return `stops.${name}: bad fields`;
    if (!Number.isSafeInteger(s.version) || (s.version as number) < 0) return `stops.${name}: bad version`;
    out[name] = { stopped: s.stopped, by: s.by.slice(0, 64), at: s.at.slice(0, 40), version: s.version as number, node: s.node.slice(0, 64) };
  }
  return out;
}
