// A SQLite standby's catch-up (redundancy/replication/follower.ts,
// CATCH_UP_SLICE_ROWS): the chunks it merges go into its database in one
// transaction per apply, and its event loop turns inside that transaction —
// with an unsliced one, its heartbeats, witness and API would wait for the
// whole of it (~50 ms for 16,000 rows). Two real SQLite databases over the
// in-process link of harness.ts.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ApplyOptions, Row, Storage } from "../../redundancy/storage.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { rec, TestPair, until } from "./harness.js";
describe("a SQLite standby's catch-up does not hold its event loop", () => {
  it("a catch-up's applies over 1,000 rows are sliced, and the event loop turns while they are under way (its heartbeats and API answered meanwhile)", async () => {
    // b's store, watched: how many turns of the event loop came while one of its applies was under way
    let applying = 0;
    const applies: { rows: number; yieldEvery?: number }[] = [];
    const watched = (s: Storage): Storage =>
      new Proxy(s, {
        get(target, prop) {
          if (prop !== "apply") return Reflect.get(target, prop, target);
          return async (after: number, rows: Row[], opts?: ApplyOptions) => {
            applies.push({ rows: rows.length, yieldEvery: opts?.yieldEvery });
            applying++;
            try {
              return await target.apply(after, rows, opts);
            } finally {
              applying--;
            }
          };
        },
      });
    const pair = new TestPair({ whenPeerAway: "accept" }, (id, dir) => {
      const s = new SqliteStorage({ file: join(dir, `${id}.db`) });
      return id === "b" ? watched(s) : s;
    });
    let ticking = true;
    try {
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      pair.cut();
      for (let i = 0; i < 20; i++) await a.repl.write(Array.from({ length: 1000 }, (_, j) => rec("t", { i, j })));
      applies.length = 0;
      let turns = 0;
      let turnsInsideApply = 0;
      const tick = () => {
        turns++;
        if (applying > 0) turnsInsideApply++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      pair.heal();
      await until("caught up", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0, 20_000);
      ticking = false;
      await until("b's database holds every row", async () => (await b.storage.count("t")) === 20_000);
      const big = applies.filter((x) => x.rows > 1000);
      expect(big.length, JSON.stringify(applies)).toBeGreaterThan(0);
      expect(big.every((x) => x.yieldEvery === 1000)).toBe(true);
      // with one unsliced transaction per apply no turn could come inside one
      expect(turnsInsideApply, `${turns} turns in all`).toBeGreaterThanOrEqual(big.length);
    } finally {
      ticking = false;
      await pair.close();
    }
  });
});
