// S2 on a real pair with SQLite: records streamed through the API while the
// active is killed with SIGKILL at random moments; every acknowledged record
// is on the survivor, read from its database file by a reader of our own
// (better-sqlite3 on the file, not Tandem's adapter). Then both databases
// are compared row by row.
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, killAllChildren, waitUntil } from "../helpers/cluster.js";
import { killRounds, type Acked } from "../helpers/kill-rounds.js";

let c: Cluster | null = null;
afterEach(async () => {
  await c?.stop().catch(() => undefined);
  c = null;
  killAllChildren();
});

const replication = (mode: "accept" | "refuse", ack: "flushed" | "written") => `database: { engine: sqlite }
replication:
  mode: sync
  whenPeerAway: ${mode}
  syncAck: ${ack}
  tables: { batch_log: {} }`;

function sqliteFile(c: Cluster, node: "a" | "b"): string {
  return join(c.dir, `data-${node}`, "tandem.db");
}

/** every row of a node's database, read by our own reader */
function rowsOf(file: string): { seq: number; epoch: number; tbl: string; kind: string; key: string | null; body: string | null }[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT seq, epoch, tbl, kind, key, body FROM tandem_rows ORDER BY seq").all() as never;
  } finally {
    db.close();
  }
}

function ackedOnDisk(file: string): Map<string, Acked> {
  const m = new Map<string, Acked>();
  for (const r of rowsOf(file)) if (r.tbl === "batch_log" && r.key) m.set(r.key, { seq: r.seq, epoch: r.epoch });
  return m;
}

describe("S2 sync replication on SQLite: no acknowledged record lost to kill -9", () => {
  it.each([
    ["refuse", "flushed", 8, 101],
    ["accept", "flushed", 6, 202],
    // the standby's copy acknowledged before its disk has it: still on the survivor
    ["refuse", "written", 4, 303],
  ] as const)("whenPeerAway %s, syncAck %s: %i kills of the active during a stream of writes", async (mode, ack, rounds, seed) => {
    c = await Cluster.start({ extra: () => replication(mode, ack) });
    await c.ready();
    const cl = c;
    const r = await killRounds(cl, async (node) => ackedOnDisk(sqliteFile(cl, node)), { rounds, seed });
    expect(r.checks).toBeGreaterThan(rounds * 10);
    // the writers have stopped: once the last restarted node caught up, both
    // databases hold the same rows (compared while both run: a stop would
    // hand over and open a new epoch)
    const { active } = await cl.ready();
    await waitUntil("caught up", () => cl.status(active).then((s) => s?.replication.peer === "live" && s.replication.lagRecords === 0), { timeoutMs: 20_000 });
    const [a, b] = [rowsOf(sqliteFile(cl, "a")), rowsOf(sqliteFile(cl, "b"))];
    expect(a.length).toBeGreaterThan(r.acked);
    expect(b).toEqual(a);
  }, 180_000);
});
