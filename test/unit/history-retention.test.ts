// Retention of Tandem's own tables (runtime/records.ts retain()): tag
// history and events are purged by the same replicated purge rows as the
// records tables, each by its own number of days; 0 keeps them. A real
// SQLite store and a real Replicator (replication off: one node); the pair
// runtime is a stand-in that says "active".
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { nullLogger } from "../../core/logger.js";
import type { PairRuntime } from "../../redundancy/pair-runtime.js";
import { replicationSection } from "../../runtime/config/replication-schema.js";
import { EVENTS_TABLE } from "../../runtime/events/recorder.js";
import { HISTORY_TABLE, historyKey } from "../../runtime/history/keys.js";
import { Records } from "../../runtime/records.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const activeRuntime = {
  state: { state: "active", epoch: 1, peer: { state: "standby" } },
  params: { peerId: "b" },
  canAct: () => true,
  sendPeerApp: () => false,
  setContextSeq: () => {},
  on: () => {},
} as unknown as PairRuntime;

describe("retention of tag history and events", () => {
  it("the active's purge removes each of Tandem's own tables by its own days, beside the configured tables", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-retain-"));
    dirs.push(dir);
    const storage = new SqliteStorage({ file: join(dir, "tandem.db") });
    await storage.open();
    const records = new Records(storage, replicationSection.parse({ mode: "none", verifyEveryMinutes: 0, tables: { batch_log: { retentionDays: 10 } } }), activeRuntime, "a", nullLogger, 1);
    try {
      await records.attach();
      const rows = [
        { table: HISTORY_TABLE, kind: "ins" as const, key: historyKey("t1", 1000, 1, 0), body: JSON.stringify({ v: 1, q: "good", ts: 1000 }) },
        { table: EVENTS_TABLE, kind: "ins" as const, key: null, body: JSON.stringify({ type: "takeover", severity: "alarm", text: "x", node: "a", at: 1 }) },
        { table: "batch_log", kind: "ins" as const, key: null, body: "{}" },
      ];
      // the replicator takes the lead asynchronously
      for (let i = 0; ; i++) {
        try {
          await records.replicator.write(rows, true);
          break;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      records.retain(HISTORY_TABLE, 30);
      records.retain(EVENTS_TABLE, 0);
      const day = 86_400_000;
      // 20 days on: only batch_log (10 days) is old enough
      await records.purge(Date.now() + 20 * day);
      expect([await storage.count(HISTORY_TABLE), await storage.count(EVENTS_TABLE), await storage.count("batch_log")]).toEqual([1, 1, 0]);
      // 31 days on: history too; events are kept (0)
      await records.purge(Date.now() + 31 * day);
      expect([await storage.count(HISTORY_TABLE), await storage.count(EVENTS_TABLE)]).toEqual([0, 1]);
      // the purge is a replicated row like any write
      const purges = (await storage.rowsAfter(0, 100)).filter((r) => r.kind === "purge").map((r) => r.table);
      expect(purges).toContain(HISTORY_TABLE);
      expect(purges).not.toContain(EVENTS_TABLE);
    } finally {
      await records.stop();
    }
  });
});
