// The two things the SQLite adapter does for a standby's applies (rows the
// received-rows log already holds, applied under syncAck without waiting for
// the disk): a long apply lets the event loop turn while it stays one
// transaction, and flush() puts the WAL on the disk from libuv's pool, not
// from the node's thread. The second is witnessed by strace: which file is
// synced, by which thread, after SQLite's last write to it (S2: what a
// standby acknowledged reaches its disk).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { TandemError } from "../../core/errors.js";
import type { Row } from "../../redundancy/storage.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "tandem-sqlite-standby-"));
  dirs.push(d);
  return d;
};

const rowsFrom = (after: number, n: number, epoch = 1): Row[] =>
  Array.from({ length: n }, (_, i) => ({ seq: after + i + 1, epoch, at: 1_700_000_000_000, table: "log", kind: "ins", key: null, body: JSON.stringify({ i: after + i + 1 }) }));

describe("sqlite adapter: a standby's applies", () => {
  it("applies in slices as one transaction: the event loop turns, other calls wait for the commit, the result is the same", async () => {
    const dir = tempDir();
    const sliced = new SqliteStorage({ file: join(dir, "sliced.db") });
    const whole = new SqliteStorage({ file: join(dir, "whole.db") });
    await sliced.open();
    await whole.open();
    try {
      const rows = rowsFrom(0, 1000);
      let turns = 0;
      let counting = true;
      const tick = () => {
        turns++;
        if (counting) setImmediate(tick);
      };
      setImmediate(tick);
      const applying = sliced.apply(0, rows, { flush: false, yieldEvery: 10 });
      // asked while the transaction is open: answered after its commit, never half of it
      const [state, count] = await Promise.all([sliced.state(), sliced.count("log"), applying]);
      counting = false;
      expect(state.lastSeq).toBe(1000);
      expect(count).toBe(1000);
      // the loop turned between the slices (one whole transaction would give it none)
      expect(turns).toBeGreaterThanOrEqual(50);
      await whole.apply(0, rows, { flush: false });
      expect(await sliced.checksums(1, 1000, 100)).toEqual(await whole.checksums(1, 1000, 100));
      // applies and a flush asked while one is open go after it, one at a time, in order (two waiting
      // for the same commit: the second finds the first's transaction open and waits again)
      await Promise.all([
        sliced.apply(1000, rowsFrom(1000, 100), { flush: false, yieldEvery: 7 }),
        sliced.apply(1100, rowsFrom(1100, 100), { flush: false, yieldEvery: 7 }),
        sliced.apply(1200, rowsFrom(1200, 5)),
        sliced.flush(),
      ]);
      expect((await sliced.state()).lastSeq).toBe(1205);
      expect(await sliced.count("log")).toBe(1205);
    } finally {
      await sliced.close();
      await whole.close();
    }
  });

  it("undoes the whole sliced apply when a row is refused half-way, and takes the next one", async () => {
    const dir = tempDir();
    const s = new SqliteStorage({ file: join(dir, "s.db") });
    await s.open();
    try {
      await s.apply(0, rowsFrom(0, 10, 2));
      const rows = rowsFrom(10, 100, 2);
      rows[60] = { ...rows[60], epoch: 1 };
      const err = await s.apply(10, rows, { flush: false, yieldEvery: 10 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TandemError);
      expect((err as Error).message).toContain("row 71 carries epoch 1, below epoch 2");
      expect((await s.state()).lastSeq).toBe(10);
      expect(await s.count("log")).toBe(10);
      await s.apply(10, rowsFrom(10, 100, 2), { flush: false, yieldEvery: 10 });
      expect(await s.count("log")).toBe(110);
    } finally {
      await s.close();
    }
  });

  it("S2: flush() syncs the WAL SQLite wrote, after its last write, from a thread that is not the node's (strace)", () => {
    const dir = tempDir();
    const db = join(dir, "standby.db");
    const script = join(dir, "flush.mjs");
    const adapter = pathToFileURL(join(process.cwd(), "dist/runtime/storage/sqlite.js")).href;
    writeFileSync(
      script,
      `import { closeSync, openSync } from "node:fs";
       import { SqliteStorage } from ${JSON.stringify(adapter)};
       const s = new SqliteStorage({ file: ${JSON.stringify(db)} });
       await s.open();
       let after = 0;
       for (let i = 0; i < 20; i++, after += 50)
         await s.apply(after, Array.from({ length: 50 }, (_, k) => ({ seq: after + k + 1, epoch: 1, at: 1, table: "log", kind: "ins", key: null, body: "x".repeat(200) })), { flush: false });
       closeSync(openSync(${JSON.stringify(join(dir, "applied.mark"))}, "w"));
       await s.flush();
       closeSync(openSync(${JSON.stringify(join(dir, "flushed.mark"))}, "w"));
       await s.close();`,
    );
    const trace = join(dir, "trace.txt");
    execFileSync("strace", ["-f", "-qq", "-o", trace, "-e", "trace=openat,pwrite64,fsync,fdatasync", process.execPath, script], { stdio: "pipe", timeout: 30_000 });
    const lines = readFileSync(trace, "utf8").split("\n").filter(Boolean);
    const main = lines[0].split(/\s+/)[0];
    const wal = `${db}-wal`;
    // SQLite's own descriptor of the WAL (created by it), and the adapter's (opened r+ for flush)
    const opens = lines.map((l) => l.match(/^(\d+)\s+openat\(AT_FDCWD, "([^"]+)", ([A-Z_|]+)[^)]*\) = (\d+)/)).filter((m): m is RegExpMatchArray => !!m && m[2] === wal);
    const sqliteFd = opens.find((m) => m[3].includes("O_CREAT"))?.[4];
    const flushFd = opens.find((m) => !m[3].includes("O_CREAT"))?.[4];
    expect(sqliteFd, lines.slice(0, 40).join("\n")).toBeDefined();
    expect(flushFd).toBeDefined();
    const mark = (name: string) => lines.findIndex((l) => l.includes(`"${join(dir, name)}"`));
    const applied = mark("applied.mark");
    const flushed = mark("flushed.mark");
    expect(applied).toBeGreaterThan(0);
    expect(flushed).toBeGreaterThan(applied);
    // the applies wrote the WAL through SQLite's descriptor, without a sync (synchronous NORMAL)
    const applies = lines.slice(0, applied);
    expect(applies.filter((l) => new RegExp(`^${main}\\s+pwrite64\\(${sqliteFd},`).test(l)).length).toBeGreaterThan(20);
    // flush(): an fdatasync of the same file, from another thread, and no sync in the node's thread
    const during = lines.slice(applied, flushed);
    const sync = during.find((l) => new RegExp(`^\\d+\\s+fdatasync\\(${flushFd}[,)< ]`).test(l));
    expect(sync, during.join("\n")).toBeDefined();
    expect(sync!.split(/\s+/)[0], "synced from libuv's pool, not the node's thread").not.toBe(main);
    expect(during.filter((l) => new RegExp(`^${main}\\s+f(data)?sync\\(`).test(l))).toEqual([]);
  });
});
