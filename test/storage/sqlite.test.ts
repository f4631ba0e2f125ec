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
});
