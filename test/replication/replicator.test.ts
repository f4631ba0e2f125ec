// The replicator between two real SQLite databases over an in-process link
// (harness.ts): what sync acknowledges (S2), the journal and catch-up, the
// snapshot of an empty joiner, a divergent rejoin, a stale epoch (S1).
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ReplicationSettings } from "../../redundancy/replication/settings.js";
import { PostgresStorage } from "../../runtime/storage/postgres.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { startPostgres, type PgCluster } from "../helpers/postgres.js";
import { rec, TestPair, until } from "./harness.js";

interface Engine {
  pair(settings?: Partial<ReplicationSettings>, storage?: undefined, schemas?: { a: number; b: number }): Promise<TestPair>;
  /** changes a row of b's database behind its back */
  tamper(p: TestPair, seq: number, body: string): Promise<void>;
}

const sqlite: Engine = {
  async pair(settings, _s, schemas) {
    return new TestPair(settings, undefined, schemas);
  },
  async tamper(p, seq, body) {
    const db = new Database(join(p.dir, "b.db"));
    db.prepare("UPDATE tandem_rows SET body = ? WHERE seq = ?").run(body, seq);
    db.close();
  },
};

let cluster: PgCluster | null = null;
let dbs = 0;
const urls = new Map<TestPair, { a: string; b: string }>();
const postgres: Engine = {
  async pair(settings, _s, schemas) {
    cluster ??= await startPostgres();
    const u = { a: await cluster.createDatabase(`repl_${++dbs}_a`), b: await cluster.createDatabase(`repl_${dbs}_b`) };
    const p = new TestPair(settings, (id) => new PostgresStorage({ url: u[id as "a" | "b"], poolSize: 3 }), schemas);
    urls.set(p, u);
    return p;
  },
  async tamper(p, seq, body) {
    const c = new pg.Client({ connectionString: urls.get(p)!.b });
    await c.connect();
    await c.query("UPDATE tandem_rows SET body = $1 WHERE seq = $2", [body, seq]);
    await c.end();
  },
};

afterAll(async () => {
  await cluster?.stop();
});


function replicationSuite(name: string, engine: Engine): void {
describe(`replication on ${name}`, () => {
  let pair: TestPair | null = null;
  afterEach(async () => {
    await pair?.close();
    pair = null;
  });

  async function sums(p: TestPair) {
    const top = Math.max((await p.a.storage.state()).lastSeq, 1);
    // acknowledged live rows are in the standby's received-rows log; its database applies them in their turn
    await until("the standby's database holds what the active's does", async () => (await p.b.storage.state()).lastSeq >= top);
    return [await p.a.storage.checksums(1, top, 1000), await p.b.storage.checksums(1, top, 1000)];
  }

  describe("S2 sync: acknowledged only when both databases hold it", () => {
    it("a write is not acknowledged while the peer's acknowledgement is held, and is on both disks when it is", async () => {
      pair = await engine.pair();
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("the peer is live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      pair.hold();
      let done = false;
      const w = a.repl.write([rec("batch_log", { batch: 1 })]).then((r) => ((done = true), r));
      await new Promise((r) => setTimeout(r, 100));
      expect(done).toBe(false);
      expect(await b.storage.count("batch_log")).toBe(0);
      pair.release();
      const rows = await w;
      expect(await b.storage.get("batch_log", "x")).toBeNull();
      const onB = await b.storage.read("batch_log");
      expect(onB.map((r) => [r.seq, r.epoch, r.body])).toEqual([[rows[0].seq, 1, '{"batch":1}']]);
      expect(a.repl.status()).toMatchObject({ role: "leader", peer: "live", acknowledging: "both", lagRecords: 0 });
    });

    it("groups concurrent writes into few transactions and keeps their order on both sides", async () => {
      pair = await engine.pair();
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("the peer is live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      const before = a.sent.rows ?? 0;
      const all = await Promise.all(Array.from({ length: 2000 }, (_, i) => a.repl.write([rec("t", { i })])));
      const seqs = all.map((r) => r[0].seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect((a.sent.rows ?? 0) - before).toBeLessThan(50);
      const [sa, sb] = await sums(pair);
      expect(sb).toEqual(sa);
      expect(await b.storage.count("t")).toBe(2000);
    });
  });

  describe("S2 syncAck written: acknowledged once written on the standby, flushed soon and before it acts", () => {
    /** b's store calls in order: applies with their flush option, flushes */
    function watch(n: TestPair["b"]): string[] {
      const calls: string[] = [];
      const st = n.storage;
      const apply = st.apply.bind(st);
      const flush = st.flush.bind(st);
      st.apply = (after, rows, opts) => (calls.push(`apply ${opts?.flush === false ? "written" : "flushed"}`), apply(after, rows, opts));
      st.flush = () => (calls.push("flush"), flush());
      return calls;
    }

    it("the standby applies without flushing, flushes within flushWrittenMs, and flushes before it leads", async () => {
      pair = await engine.pair({ syncAck: "written", flushWrittenMs: 150 });
      const { a, b } = pair;
      await pair.open();
      const calls = watch(b);
      await pair.lead(a, 1);
      await until("the peer is live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      calls.length = 0;
      const rows = await a.repl.write([rec("t", { n: 1 })]);
      // acknowledged: b's received-rows log holds it, its database has it right after (written), the flush is still to come
      expect(b.received.size).toBeGreaterThan(0);
      await until("b applied", async () => (await b.storage.read("t")).length === 1);
      expect((await b.storage.read("t")).map((r) => r.seq)).toEqual([rows[0].seq]);
      expect(calls).toEqual(["apply written"]);
      await until("b flushed", () => calls.includes("flush"), 2000);
      calls.length = 0;
      // a long flush interval: only the role change can flush what b acknowledged
      await pair.close();
      pair = await engine.pair({ syncAck: "written", flushWrittenMs: 60_000 });
      const p2 = pair;
      await p2.open();
      const calls2 = watch(p2.b);
      await p2.lead(p2.a, 1);
      await until("the peer is live", () => p2.a.repl.status().peer === "live" && p2.a.repl.status().lagRecords === 0);
      await p2.a.repl.write([rec("t", { n: 2 })]);
      calls2.length = 0;
      p2.a.canWrite = false;
      await p2.lead(p2.b, 2);
      // the flush comes before b's first write as the active (its epoch's marker row, flushed)
      expect(calls2.slice(0, 2)).toEqual(["flush", "apply flushed"]);
      await p2.b.repl.write([rec("t", { n: 3 })]);
      expect(await p2.b.storage.count("t")).toBe(2);
    });
  });

  describe("rows the standby would refuse", () => {
    it("a write the standby could not take (too large, a key too long) is refused on the active, nothing written, and replication goes on", async () => {
      pair = await engine.pair({ maxRecordBytes: 1024 });
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("the peer is live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      const head = a.repl.status().lastSeq;
      await expect(a.repl.write([rec("t", { pad: "é".repeat(600) })], true)).rejects.toThrow(/t: \d+ bytes, more than replication.maxRecordBytes \(1024\): nothing was written/);
      await expect(a.repl.write([{ table: "_context", kind: "put", key: "k".repeat(513), body: "1" }])).rejects.toThrow(/a key of 513 characters/);
      expect(a.repl.status().lastSeq).toBe(head);
      await a.repl.write([rec("t", { pad: "x".repeat(900) })]);
      await until("the row in b's database", async () => (await b.storage.count("t")) === 1);
    });
  });

  describe("becoming active", () => {
    it("a write made as the node becomes active waits for its epoch to open, and is written in that epoch", async () => {
      pair = await engine.pair({ syncAck: "written", flushWrittenMs: 60_000 });
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("the peer is live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      await a.repl.write([rec("t", { n: 1 })]);
      // b takes over: its first write comes in the same turn as the state change (a process module starting)
      a.canWrite = false;
      b.epoch = 2;
      void a.repl.setRole(false, 2, "test");
      void b.repl.setRole(true, 2, "test");
      const [row] = await b.repl.write([rec("t", { n: 2 })]);
      expect(row.epoch).toBe(2);
      expect((await b.storage.read("t")).map((r) => r.epoch)).toEqual([1, 2]);
    });
  });

  describe("peer away: journal, then catch-up in order", () => {
    it("accepts writes locally while the peer is away (accept), reports the journal, and replays it when the peer returns", async () => {
      pair = await engine.pair({ whenPeerAway: "accept" });
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      pair.cut();
      for (let i = 0; i < 50; i++) await a.repl.write(Array.from({ length: 10 }, (_, j) => rec("t", { i, j })));
      const st = a.repl.status();
      expect(st).toMatchObject({ peer: "away", acknowledging: "local", journalRecords: 500 });
      expect(await b.storage.count("t")).toBe(0);
      pair.heal();
      await until("caught up", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      const [sa, sb] = await sums(pair);
      expect(sb).toEqual(sa);
      expect(await b.storage.count("t")).toBe(500);
      expect(a.repl.status().journalRecords).toBe(0);
    });

    it("refuses writes while the peer is away when whenPeerAway is refuse, writing nothing", async () => {
      pair = await engine.pair({ whenPeerAway: "refuse" });
      const { a } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      pair.cut();
      const before = (await a.storage.state()).lastSeq;
      await expect(a.repl.write([rec("t", 1)])).rejects.toThrow(/whenPeerAway is refuse: nothing was written/);
      expect((await a.storage.state()).lastSeq).toBe(before);
      expect(a.repl.status().acknowledging).toBe("refusing");
    });

    it("a peer that stops acknowledging (frozen) is declared away after ackTimeoutMs and the waiting writes follow the policy", async () => {
      pair = await engine.pair({ whenPeerAway: "accept", ackTimeoutMs: 200 });
      const { a } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      pair.dropTypes.add("ack");
      const t0 = Date.now();
      await a.repl.write([rec("t", 1)]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
      expect(a.repl.status().peer).not.toBe("live");
    });
  });

  describe("snapshot and divergence", () => {
    it("an empty joiner gets every row, with progress, and then follows live", async () => {
      pair = await engine.pair({ catchUpChunk: 500 });
      const { a, b } = pair;
      await pair.open();
      pair.cut();
      await pair.lead(a, 1);
      for (let i = 0; i < 20; i++) await a.repl.write(Array.from({ length: 500 }, (_, j) => rec("hist", { i, j })));
      await a.repl.write([{ table: "_context", kind: "put", key: "batch", body: '{"step":"heat"}' }]);
      pair.heal();
      await until("snapshot starts", () => a.repl.status().catchUp !== null || a.repl.status().peer === "live");
      await until("caught up", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0, 10_000);
      const [sa, sb] = await sums(pair);
      expect(sb).toEqual(sa);
      expect((await b.storage.get("_context", "batch"))?.body).toBe('{"step":"heat"}');
      await a.repl.write([rec("hist", "after")]);
      await until("the row in b's database", async () => (await b.storage.count("hist")) === 10_001);
    });

    it("a node that wrote under an old epoch what the new active never saw sets it aside and is rebuilt from the active", async () => {
      pair = await engine.pair({ whenPeerAway: "accept" });
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      await a.repl.write([rec("t", "both-1"), rec("t", "both-2")]);
      pair.cut();
      // a goes on alone (accepted locally), then b takes over in epoch 2 and writes
      await a.repl.write([rec("t", "only-a-1"), rec("t", "only-a-2")]);
      await pair.lead(b, 2);
      await b.repl.write([rec("t", "b-after-takeover")]);
      expect(b.repl.status().role).toBe("leader");
      pair.heal();
      await until("a rebuilt", async () => b.repl.status().peer === "live" && b.repl.status().lagRecords === 0 && (await a.storage.divergent()).length > 0, 10_000);
      const d = await a.storage.divergent();
      expect(d.filter((r) => r.table === "t").map((r) => [r.body, r.epoch, r.activeEpoch])).toEqual([
        ['"only-a-1"', 1, 2],
        ['"only-a-2"', 1, 2],
      ]);
      const [sa, sb] = await sums(pair);
      expect(sa).toEqual(sb);
      expect((await a.storage.read("t")).map((r) => r.body)).toEqual(['"both-1"', '"both-2"', '"b-after-takeover"']);
      expect(a.repl.status().divergentSetAside).toBeGreaterThanOrEqual(2);
    });
  });

  describe("S1: rows from an active below the epoch a node knows are refused", () => {
    it("a deposed active's rows never reach the database of a node that knows a newer epoch", async () => {
      pair = await engine.pair({ whenPeerAway: "accept" });
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      // b learns of epoch 3 (say, from the witness) while a still believes it leads epoch 1
      b.epoch = 3;
      const before = await b.storage.state();
      await a.repl.write([rec("t", "stale")]);
      await until("a hears the refusal", () => a.repl.status().peer === "away");
      expect(await b.storage.state()).toEqual(before);
      expect(b.repl.status().refused).toBeGreaterThan(0);
    });
  });

  describe("verify and resync", () => {
    it("finds a row altered behind the standby's back while writes go on, names its range, and a resync repairs it", async () => {
      pair = await engine.pair({ verifySpan: 100 });
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      for (let i = 0; i < 5; i++) await a.repl.write(Array.from({ length: 100 }, (_, j) => rec("hist", { i, j })));
      const ok = await a.repl.verify("test");
      expect(ok).toMatchObject({ ok: true, error: null, mismatches: [] });
      expect(ok.rows).toBeGreaterThan(500);
      // a disk fault or a hand edit on the standby
      const victim = (await b.storage.read("hist", { afterSeq: 250, limit: 1 }))[0];
      await engine.tamper(pair, victim.seq, '{"tampered":true}');
      // writes go on while the verify runs: both sides compare the same point
      const writing = Promise.all(Array.from({ length: 20 }, (_, i) => a.repl.write([rec("hist", { more: i })])));
      const bad = await a.repl.verify("test");
      await writing;
      expect(bad.ok).toBe(false);
      const from = Math.floor((victim.seq - 1) / 100) * 100 + 1;
      expect(bad.mismatches).toEqual([{ fromSeq: from, toSeq: from + 99, rowsHere: 100, rowsPeer: 100 }]);
      expect(a.repl.status().lastVerify?.ok).toBe(false);
      expect(a.repl.resync()).toBe(true);
      await until("rebuilt", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0, 10_000);
      expect((await a.repl.verify("test")).ok).toBe(true);
      const [sa, sb] = await sums(pair);
      expect(sb).toEqual(sa);
    });

    it("says there is nothing to compare while the peer is away", async () => {
      pair = await engine.pair();
      const { a } = pair;
      await pair.open();
      await pair.lead(a, 1);
      pair.cut();
      const r = await a.repl.verify("test");
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/the peer is away/);
    });
  });

  describe("schema versions", () => {
    it("two adjacent schema versions replicate to each other; two apart do not", async () => {
      pair = await engine.pair({}, undefined, { a: 2, b: 1 });
      await pair.open();
      await pair.lead(pair.a, 1);
      await until("live across versions 2 → 1", () => pair!.a.repl.status().peer === "live" && pair!.a.repl.status().lagRecords === 0);
      await pair.a.repl.write([rec("t", "v2 to v1")]);
      // acknowledged once b's received-rows log holds it; its database (PostgreSQL: another process) takes it in its turn
      await until("the row in b's database", async () => (await pair!.b.storage.count("t")) === 1);
      await pair.close();
      pair = await engine.pair({}, undefined, { a: 3, b: 1 });
      await pair.open();
      await pair.lead(pair.a, 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(pair.a.repl.status().peer).toBe("away");
    });
  });
});
}

replicationSuite("sqlite", sqlite);
replicationSuite("postgres", postgres);

describe("a write as the node becomes active", () => {
  it("waits until the leader knows where its store ends: numbered above it, after the epoch's marker, never skipped as a resend", async () => {
    // a store whose state() answers late, as a database over the network does
    let slow = false;
    const pair = new TestPair({}, (id, dir) => {
      const s = new SqliteStorage({ file: join(dir, `${id}.db`) });
      const state = s.state.bind(s);
      s.state = async () => {
        if (slow) await new Promise((r) => setTimeout(r, 100));
        return state();
      };
      return s;
    });
    try {
      const { a, b } = pair;
      await pair.open();
      await pair.lead(a, 1);
      await until("live", () => a.repl.status().peer === "live" && a.repl.status().lagRecords === 0);
      for (let i = 0; i < 5; i++) await a.repl.write([rec("t", { i })]);
      const before = (await a.storage.state()).lastSeq;
      expect(before).toBeGreaterThanOrEqual(6);
      // the next epoch: the new leader is in place while it still reads the head
      slow = true;
      a.epoch = 2;
      b.epoch = 2;
      const switched = a.repl.setRole(true, 2, "test");
      await new Promise((r) => setTimeout(r, 30));
      const rows = await a.repl.write([rec("t", { early: true })], true);
      await switched;
      slow = false;
      expect(rows[0]!.seq).toBe(before + 2);
      expect(rows[0]!.epoch).toBe(2);
      const onA = await a.storage.rowsAfter(before, 10);
      expect(onA.map((r) => [r.seq, r.table])).toEqual([
        [before + 1, "_epochs"],
        [before + 2, "t"],
      ]);
      expect((await a.storage.read("t")).map((r) => r.body)).toContain('{"early":true}');
      await until("on b too", async () => (await b.storage.read("t")).some((r) => r.body === '{"early":true}'));
    } finally {
      await pair.close();
    }
  });
});

describe("a new epoch while a commit is under way", () => {
  it("the next leader reads where the store ends once the old leader's commit is in: no row numbered twice, none skipped", async () => {
    // a store whose commits take a while, as a database over the network does
    let slowApply = false;
    const pair = new TestPair({ mode: "none" }, (id, dir) => {
      const s = new SqliteStorage({ file: join(dir, `${id}.db`) });
      const apply = s.apply.bind(s);
      s.apply = async (after, rows) => {
        if (slowApply) await new Promise((r) => setTimeout(r, 100));
        return apply(after, rows);
      };
      return s;
    });
    try {
      const { a } = pair;
      await pair.open();
      a.epoch = 1;
      await a.repl.setRole(true, 1, "test");
      await a.repl.write([rec("t", { n: 1 })]);
      slowApply = true;
      const inFlight = a.repl.write([rec("t", { n: 2 })]).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 30));
      a.epoch = 2;
      await a.repl.setRole(true, 2, "test");
      expect(await inFlight).toHaveLength(1);
      slowApply = false;
      await a.repl.write([rec("t", { n: 3 })]);
      const rows = await a.storage.rowsAfter(0, 100);
      const seqs = rows.map((r) => r.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(rows.filter((r) => r.table === "t").map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
      expect(rows.filter((r) => r.table === "_epochs").map((r) => r.key)).toEqual(["1", "2"]);
    } finally {
      await pair.close();
    }
  });
});
