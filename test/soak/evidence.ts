// What the independent checker (test/checker/checker.ts) reads after a
// fault-injection run, gathered from outside the nodes: the simulator's log
// of every write it received (its own receive time; the writer's node from
// its source address on the plant network, the epoch it last wrote to the
// fence), the `active` service's beats, the writes the client got
// acknowledged, the takeovers the run held and confirmed, and the rows read
// straight from each node's SQLite file (better-sqlite3, read-only: not
// through Tandem).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { AckedWrite, CheckerInput, Hold, PlantWrite, ServiceBeat, StoredRow } from "../checker/checker.js";
import { TABLE, WATCHDOG_REGISTERS, type FaultSite, type Id } from "./site.js";

/** one line of the simulator's write log (drivers/simulator/write-log.ts) */
interface PlantLine {
  at: number;
  from: string;
  fc: number;
  table: string;
  addr: number;
  values: unknown[];
  epoch: number | null;
}

function jsonLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  for (const l of readFileSync(file, "utf8").split("\n")) {
    if (!l.trim()) continue;
    try {
      out.push(JSON.parse(l) as T);
    } catch {
      /* a line torn by a kill: the writer's, not a write */
    }
  }
  return out;
}

/** the plant's writes with their node and epoch; a write from an address that is no node's is a finding of its own */
export function plantWrites(site: FaultSite): { writes: PlantWrite[]; strangers: PlantLine[] } {
  const nodeOf = new Map<string, Id>();
  for (const id of ["a", "b"] as const) for (const a of site.ns.addresses(id)) nodeOf.set(a, id);
  const writes: PlantWrite[] = [];
  const strangers: PlantLine[] = [];
  for (const l of jsonLines<PlantLine>(site.files.plantLog)) {
    const node = nodeOf.get(l.from);
    if (!node) {
      strangers.push(l);
      continue;
    }
    const watchdog = l.table === "hr" && l.addr >= WATCHDOG_REGISTERS.counter && l.addr <= WATCHDOG_REGISTERS.epoch + 1;
    // a write whose writer never wrote an epoch counts as epoch 0: the checker then says it came after higher ones
    writes.push({ at: l.at, node, epoch: l.epoch ?? 0, source: watchdog ? "watchdog" : "process", what: `${l.table}:${l.addr}=${JSON.stringify(l.values)}` });
  }
  return { writes, strangers };
}

export function serviceBeats(site: FaultSite): ServiceBeat[] {
  return jsonLines<ServiceBeat>(site.files.beats).filter((b) => typeof b.at === "number" && typeof b.node === "string" && Number.isFinite(b.epoch));
}

/** the records table's rows in one node's database, read by our own reader */
export function storedRows(site: FaultSite, id: Id): StoredRow[] {
  const file = join(site.ns.dataDir(id), "tandem.db");
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT seq, epoch FROM tandem_rows WHERE tbl = ? AND kind = 'ins'").all(TABLE) as StoredRow[];
  } finally {
    db.close();
  }
}

export function checkerInput(site: FaultSite, acked: Map<string, { seq: number; epoch: number }>, holds: Hold[]): { input: CheckerInput; strangers: number } {
  const { writes, strangers } = plantWrites(site);
  const ackedWrites: AckedWrite[] = [...acked].map(([id, a]) => ({ id, seq: a.seq, epoch: a.epoch }));
  return {
    input: {
      plant: writes,
      services: serviceBeats(site),
      acked: ackedWrites,
      survivors: { a: storedRows(site, "a"), b: storedRows(site, "b") },
      holds,
      // the service beats every 100 ms; a run is one node's beats no further apart than this
      beatGapMs: 1000,
    },
    strangers: strangers.length,
  };
}
