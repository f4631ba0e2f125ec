// The SQLite adapter against the storage conformance suite, on a real file
// in a temporary directory (WAL, synchronous FULL: as a node runs it).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { storageConformance, type StoreHandle } from "./conformance.js";

async function sqliteStore(): Promise<StoreHandle> {
  const dir = mkdtempSync(join(tmpdir(), "tandem-sqlite-"));
  const file = join(dir, "tandem.db");
  const h: StoreHandle = {
    storage: new SqliteStorage({ file }),
    async tamper(seq, body) {
      const db = new Database(file);
      db.prepare("UPDATE tandem_rows SET body = ? WHERE seq = ?").run(body, seq);
      db.close();
    },
    async reopen() {
      return new SqliteStorage({ file });
    },
    async cleanup() {
      await h.storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

storageConformance("sqlite", sqliteStore);

describe("sqlite adapter", () => {
  it("runs in WAL mode with synchronous FULL, and refuses a schema newer than it knows", async () => {
    const h = await sqliteStore();
    try {
      await h.storage.open();
      const file = h.storage.where;
      const db = new Database(file);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      db.prepare("UPDATE tandem_schema SET version = 99").run();
      db.close();
      await h.storage.close();
      const again = await h.reopen();
      await expect(again.open()).rejects.toThrow(/schema version 99 is newer than this build knows/);
    } finally {
      await h.cleanup();
    }
  });

  it("reads a range of keys through the (table, key) index, in both orders", async () => {
    const h = await sqliteStore();
    try {
      await h.storage.open();
      const db = new Database(h.storage.where, { readonly: true });
      for (const order of ["", " DESC"]) {
        const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT seq FROM tandem_rows WHERE tbl = ? AND key >= ? AND key < ? AND kind IN ('ins', 'put') ORDER BY key${order} LIMIT ?`).all("h", "a", "b", 10) as { detail: string }[];
        const text = plan.map((p) => p.detail).join(" | ");
        expect(text).toContain("USING INDEX tandem_rows_key (tbl=? AND key>? AND key<?)");
        expect(text).not.toContain("TEMP B-TREE");
      }
      db.close();
    } finally {
      await h.cleanup();
    }
  });
});
