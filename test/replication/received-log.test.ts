// S2 and the standby's received-rows log: a live write is acknowledged once
// the standby's log holds it, before its database does; a standby that
// dies in between still has every acknowledged row after its restart (the
// log is replayed into the database before anything reads where it ends).
// The log file itself: torn or foreign entries are never replayed.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { nullLogger } from "../../core/logger.js";
import { FileReceivedLog, replayReceived } from "../../redundancy/replication/received-log.js";
import type { Row, Storage } from "../../redundancy/storage.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { rec, TestPair, until } from "./harness.js";

const dirs: string[] = [];
let pair: TestPair | null = null;
afterEach(async () => {
  await pair?.close().catch(() => undefined);
  pair = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tandem-rlog-"));
  dirs.push(d);
  return d;
}

const row = (seq: number, body: unknown = { seq }): Row => ({ seq, epoch: 1, at: 1_700_000_000_000 + seq, table: "t", kind: "ins", key: null, body: JSON.stringify(body) });
const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => row(from + i));

/** seq → body of table t, read from the file with a connection of our own, not through Tandem */
function onDisk(file: string): Map<number, string> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const all = db.prepare("SELECT seq, body FROM tandem_rows WHERE tbl = 't' ORDER BY seq").all() as { seq: number; body: string }[];
    return new Map(all.map((r) => [r.seq, r.body]));
  } finally {
    db.close();
  }
}

describe("the received-rows log file", () => {
  it("gives back what was appended, in order, after a reopen; nothing after a reset", () => {
    const file = join(tempDir(), "received.log");
    const log = new FileReceivedLog(file, true, 64 * 1024);
    expect(statSync(file).size).toBe(64 * 1024);
    log.append({ epoch: 1, after: 0, rows: rows(1, 3) });
    log.append({ epoch: 1, after: 3, rows: rows(4, 2) });
    log.close();
    const again = new FileReceivedLog(file, true, 64 * 1024);
    const got = again.entries();
    expect(got.map((e) => [e.after, e.rows.map((r) => r.seq)])).toEqual([
      [0, [1, 2, 3]],
      [3, [4, 5]],
    ]);
    expect(got[1].rows[0]).toEqual(row(4));
    again.reset();
    expect(again.size).toBe(0);
    // a shorter entry over the old ones: what lies after it is of the old generation and never read
    again.append({ epoch: 1, after: 10, rows: rows(11, 1) });
    again.close();
    const third = new FileReceivedLog(file, true, 64 * 1024);
    expect(third.entries().map((e) => e.rows.map((r) => r.seq))).toEqual([[11]]);
    third.close();
  });

  it("a reset up to what the database holds keeps the entries beyond it, across a reopen, whether or not they fit in front of themselves", () => {
    const file = join(tempDir(), "received.log");
    const log = new FileReceivedLog(file, true, 64 * 1024);
    // held entries larger than the kept one: it is copied to the front under a new generation
    log.append({ epoch: 1, after: 0, rows: rows(1, 20) });
    log.append({ epoch: 1, after: 20, rows: rows(21, 20) });
    log.append({ epoch: 1, after: 40, rows: rows(41, 2) });
    log.reset(40);
    log.close();
    let again = new FileReceivedLog(file, true, 64 * 1024);
    expect(again.entries().map((e) => [e.after, e.rows.map((r) => r.seq)])).toEqual([[40, [41, 42]]]);
    // a held entry smaller than the kept ones: the header moves past it and they stay where they are
    again.append({ epoch: 1, after: 42, rows: rows(43, 30) });
    again.append({ epoch: 1, after: 72, rows: rows(73, 30) });
    again.reset(42);
    again.append({ epoch: 1, after: 102, rows: rows(103, 1) });
    again.close();
    again = new FileReceivedLog(file, true, 64 * 1024);
    expect(again.entries().map((e) => e.after)).toEqual([42, 72, 102]);
    // nothing beyond what the database holds: emptied
    again.reset(103);
    expect(again.size).toBe(0);
    again.close();
    again = new FileReceivedLog(file, true, 64 * 1024);
    expect(again.entries()).toEqual([]);
    again.close();
  });

  it("stops at a torn or altered entry: what follows it is not replayed", () => {
    const file = join(tempDir(), "received.log");
    const log = new FileReceivedLog(file, true, 64 * 1024);
    log.append({ epoch: 1, after: 0, rows: rows(1, 2) });
    const firstEnd = 32 + log.size;
    log.append({ epoch: 1, after: 2, rows: rows(3, 2) });
    log.append({ epoch: 1, after: 4, rows: rows(5, 2) });
    log.close();
    // one byte of the second entry's payload changed (a write torn by a power cut)
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.from("#"), 0, 1, firstEnd + 20 + 5);
    closeSync(fd);
    const again = new FileReceivedLog(file, true, 64 * 1024);
    expect(again.entries().map((e) => e.rows.map((r) => r.seq))).toEqual([[1, 2]]);
    again.close();
  });

  it("a file that is not a received-rows log is started afresh, not read", () => {
    const file = join(tempDir(), "received.log");
    const fd = openSync(file, "w");
    writeSync(fd, Buffer.from("not a log at all\n".repeat(100)));
    closeSync(fd);
    const log = new FileReceivedLog(file, true, 64 * 1024);
    expect(log.entries()).toEqual([]);
    log.close();
  });

  it("on a disk without room for it, opens anyway and grows as it is written", () => {
    const dir = tempDir();
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir]);
    try {
      const log = new FileReceivedLog(join(dir, "received.log"), true, 1 << 20);
      expect(log.preallocated).toMatch(/not written in advance: ENOSPC/);
      log.append({ epoch: 1, after: 0, rows: rows(1, 3) });
      expect(log.entries().map((e) => e.rows.map((r) => r.seq))).toEqual([[1, 2, 3]]);
      log.close();
    } finally {
      execFileSync("umount", ["-l", dir]);
    }
  });

  it("replay applies what the database lacks, skips what it holds, and empties the log", async () => {
    const dir = tempDir();
    const store = new SqliteStorage({ file: join(dir, "b.db") });
    await store.open();
    await store.apply(0, rows(1, 4));
    const log = new FileReceivedLog(join(dir, "received.log"), true, 64 * 1024);
    log.append({ epoch: 1, after: 0, rows: rows(1, 2) }); // in the database already
    log.append({ epoch: 1, after: 2, rows: rows(3, 3) }); // 3 and 4 in it, 5 not
    log.append({ epoch: 1, after: 5, rows: rows(6, 2) });
    expect(await replayReceived(store, log, nullLogger)).toBe(3);
    expect([...(await store.read("t")).map((r) => r.seq)]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(log.entries()).toEqual([]);
    await store.close();
    log.close();
  });
});

describe("S2: the standby acknowledges from its received-rows log", () => {
  it("an acknowledged write whose apply a crash of the standby cut off is in the standby's database after its restart", async () => {
    /** b's database stops taking applies (the process dies right after its acknowledgement went out) */
    let frozen = false;
    let release: (err: Error) => void = () => undefined;
    pair = new TestPair({}, (id, dir) => {
      const s = new SqliteStorage({ file: join(dir, `${id}.db`) });
      if (id === "b") {
        const apply = s.apply.bind(s);
        s.apply = (after, r, opts) => (frozen ? new Promise((_, reject) => (release = reject)) : apply(after, r, opts));
      }
      return s;
    });
    const { a, b } = pair;
    await pair.open();
    await pair.lead(a, 1);
    await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
    const first = await a.repl.write([rec("t", { n: 1 })]);
    await until("b applied the first write", async () => (await b.storage.count("t")) === 1);
    frozen = true;
    const acked = await a.repl.write(Array.from({ length: 50 }, (_, i) => rec("t", { n: 2 + i })));
    // acknowledged by the standby, yet not in its database
    const bFile = join(pair.dir, "b.db");
    expect([...onDisk(bFile).keys()]).toEqual([first[0].seq]);
    expect(b.received.size).toBeGreaterThan(0);
    // the standby "restarts": a new store over the same file, its log reopened and replayed
    const restarted: Storage = new SqliteStorage({ file: bFile });
    await restarted.open();
    const log = new FileReceivedLog(join(pair.dir, "b.received"), true, 1 << 20);
    expect(await replayReceived(restarted, log, nullLogger)).toBe(50);
    await restarted.close();
    log.close();
    const after = onDisk(bFile);
    for (const r of acked) expect(after.get(r.seq)).toBe(r.body);
    frozen = false;
    release(new Error("the standby process died"));
  });

  it("a standby whose database refuses a batch it acknowledged from its log acknowledges nothing more above its database, and is caught up", async () => {
    let failNext = false;
    pair = new TestPair({}, (id, dir) => {
      const s = new SqliteStorage({ file: join(dir, `${id}.db`) });
      if (id === "b") {
        const apply = s.apply.bind(s);
        s.apply = (after, r, opts) => {
          if (!failNext) return apply(after, r, opts);
          failNext = false;
          return Promise.reject(new Error("SQLITE_FULL: database or disk is full"));
        };
      }
      return s;
    });
    const { a, b } = pair;
    await pair.open();
    await pair.lead(a, 1);
    await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
    await a.repl.write([rec("t", { n: 1 })]);
    failNext = true;
    // acknowledged from b's log; b's database refuses it and b says so
    await a.repl.write([rec("t", { n: 2 })]);
    await until("a sees the refusal", () => a.repl.status().peer !== "live");
    const bHolds = (await b.storage.state()).lastSeq;
    expect(b.repl.status().lastSeq).toBe(bHolds);
    // writes go on (accept); the peer is caught up once the active asks again, and both databases agree
    for (let i = 3; i <= 5; i++) await a.repl.write([rec("t", { n: i })]);
    await until("caught up", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0, 10_000);
    expect(await b.storage.count("t")).toBe(5);
    const sa = await a.storage.checksums(1, a.repl.status().lastSeq, 1_000_000);
    const sb = await b.storage.checksums(1, a.repl.status().lastSeq, 1_000_000);
    expect(sb).toEqual(sa);
  }, 20_000);

  it("the log is emptied once the standby's database is flushed, and before the standby leads", async () => {
    pair = new TestPair({ flushWrittenMs: 100 });
    const { a, b } = pair;
    await pair.open();
    await pair.lead(a, 1);
    await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
    await a.repl.write([rec("t", { n: 1 })]);
    expect(b.received.size).toBeGreaterThan(0);
    await until("the flush emptied the log", () => b.received.size === 0, 2000);
    await pair.close();

    pair = new TestPair({ flushWrittenMs: 60_000 });
    const p = pair;
    await p.open();
    await p.lead(p.a, 1);
    await until("live", () => p.a.repl.status().peer === "live" && p.a.repl.status().lagRecords === 0);
    await p.a.repl.write([rec("t", { n: 1 })]);
    expect(p.b.received.size).toBeGreaterThan(0);
    p.a.canWrite = false;
    await p.lead(p.b, 2);
    expect(p.b.received.size).toBe(0);
    expect(await p.b.storage.count("t")).toBe(1);
  });

  it("a live write is logged and acknowledged while the one before it is still being applied; stopping applies what was logged", async () => {
    /** b's database holds its applies until released */
    let gate: Promise<void> | null = null;
    let open: () => void = () => undefined;
    pair = new TestPair({ flushWrittenMs: 60_000 }, (id, dir) => {
      const s = new SqliteStorage({ file: join(dir, `${id}.db`) });
      if (id === "b") {
        const apply = s.apply.bind(s);
        s.apply = async (after, r, opts) => {
          if (gate) await gate;
          return apply(after, r, opts);
        };
      }
      return s;
    });
    const { a, b } = pair;
    await pair.open();
    await pair.lead(a, 1);
    await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
    gate = new Promise((r) => (open = r));
    const first = await a.repl.write([rec("t", { n: 1 })]);
    // the first write's apply is held on b: the second is acknowledged from b's log all the same
    const second = await Promise.race([
      a.repl.write([rec("t", { n: 2 }), rec("t", { n: 3 })]),
      new Promise<null>((r) => setTimeout(() => r(null), 2000)),
    ]);
    expect(second).not.toBeNull();
    expect(await b.storage.count("t")).toBe(0);
    // b is to lead: it stops following while the first apply is still held, then the apply goes through;
    // the second write, logged and acknowledged but never applied by the follower, is applied from the log
    a.canWrite = false;
    const leading = pair.lead(b, 2);
    await new Promise((r) => setTimeout(r, 50));
    gate = null;
    open();
    await leading;
    const bFile = join(pair.dir, "b.db");
    const held = onDisk(bFile);
    for (const r of [...first, ...(second ?? [])]) expect(held.get(r.seq)).toBe(r.body);
    expect(b.received.size).toBe(0);
  });

  it("catch-up rows are not logged: applied and flushed, then acknowledged", async () => {
    pair = new TestPair({});
    const { a, b } = pair;
    await pair.open();
    await pair.lead(a, 1);
    pair.cut();
    for (let i = 0; i < 10; i++) await a.repl.write(Array.from({ length: 100 }, (_, j) => rec("t", { i, j })));
    pair.heal();
    await until("caught up", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
    expect(b.received.size).toBe(0);
    expect(await b.storage.count("t")).toBe(1000);
  });
});
