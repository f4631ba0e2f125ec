// One suite every storage adapter passes (STYLE.md §3): SQLite and
// PostgreSQL run exactly these cases (sqlite.test.ts, postgres.test.ts).
// A case that needs to reach under the interface (altering a row behind the
// store's back, as a disk fault or a hand edit would) uses the factory's
// `tamper`.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StorageGapError, type Row, type RowWrite, type Storage } from "../../redundancy/storage.js";

export interface StoreHandle {
  storage: Storage;
  /** changes a stored row's body without going through the store (a fault the checksum must find) */
  tamper(seq: number, body: string): Promise<void>;
  /** the same database opened again by a new adapter (after close) */
  reopen(): Promise<Storage>;
  /** closes and removes everything */
  cleanup(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreHandle>;

let clock = 1_700_000_000_000;
/** rows stamped like the replicator stamps them */
export function stamp(writes: RowWrite[], firstSeq: number, epoch: number): Row[] {
  return writes.map((w, i) => ({ ...w, seq: firstSeq + i, epoch, at: clock++ }));
}
const ins = (table: string, body: unknown, key: string | null = null): RowWrite => ({ table, kind: "ins", key, body: JSON.stringify(body) });
const put = (table: string, key: string, body: unknown): RowWrite => ({ table, kind: "put", key, body: JSON.stringify(body) });
const del = (table: string, key: string): RowWrite => ({ table, kind: "del", key, body: null });

async function withStore(factory: StoreFactory, body: (h: StoreHandle) => Promise<void>): Promise<void> {
  const h = await factory();
  try {
    await h.storage.open();
    await body(h);
  } finally {
    await h.cleanup();
  }
}

/** copies every row of `from` above what `to` holds into `to`, in chunks (a catch-up) */
export async function catchUp(from: Storage, to: Storage, chunk = 7): Promise<void> {
  for (;;) {
    const have = (await to.state()).lastSeq;
    const rows = await from.rowsAfter(have, chunk);
    if (rows.length === 0) return;
    await to.apply(have, rows);
  }
}

export function storageConformance(name: string, factory: StoreFactory): void {
  describe(`storage conformance: ${name}`, () => {
    it("creates its schema at the newest version and opens it again with the rows kept", async () => {
      await withStore(factory, async (h) => {
        const v = await h.storage.schemaVersion();
        expect(v).toBeGreaterThanOrEqual(1);
        await h.storage.apply(0, stamp([ins("log", { a: 1 }), put("kv", "k", { b: 2 })], 1, 3));
        await h.storage.close();
        const again = await h.reopen();
        await again.open();
        expect(await again.schemaVersion()).toBe(v);
        const st = await again.state();
        expect(st).toMatchObject({ lastSeq: 2, lastEpoch: 3, epochs: [{ epoch: 3, firstSeq: 1 }] });
        expect((await again.rowsAfter(0, 1000)).length).toBe(2);
        expect((await again.get("kv", "k"))?.body).toBe('{"b":2}');
        h.storage = again;
      });
    });

    it("inserts, sets, removes and purges as the rows say; reads show live rows only", async () => {
      await withStore(factory, async ({ storage: s }) => {
        await s.apply(0, stamp([ins("log", { n: 1 }), ins("log", { n: 2 }, "job-7"), put("kv", "a", 1), put("kv", "b", 2), put("kv", "a", 3), del("kv", "b")], 1, 1));
        expect((await s.read("log")).map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}']);
        expect((await s.get("log", "job-7"))?.seq).toBe(2);
        expect((await s.read("kv")).map((r) => [r.key, r.body])).toEqual([["a", "3"]]);
        expect(await s.get("kv", "b")).toBeNull();
        expect(await s.count("kv")).toBe(1);
        // the overwritten and removed keys' rows are gone; the tombstone stays
        expect((await s.rowsAfter(0, 100)).map((r) => [r.seq, r.kind])).toEqual([
          [1, "ins"],
          [2, "ins"],
          [5, "put"],
          [6, "del"],
        ]);
        const t = (await s.rowsAfter(0, 100))[0].at;
        await s.apply(6, stamp([{ table: "log", kind: "purge", key: null, body: JSON.stringify({ before: t + 1 }) }], 7, 1));
        expect((await s.read("log")).map((r) => r.seq)).toEqual([2]);
        expect(await s.count("log")).toBe(1);
        expect((await s.read("log", { afterSeq: 2 })).length).toBe(0);
        expect((await s.read("kv", { limit: 0 })).length).toBe(0);
      });
    });

    it("skips rows it holds (a resend) and refuses rows that assume more than it holds", async () => {
      await withStore(factory, async ({ storage: s }) => {
        const rows = stamp([ins("log", 1), ins("log", 2), ins("log", 3)], 1, 2);
        await s.apply(0, rows.slice(0, 2));
        await s.apply(0, rows); // 1 and 2 again, then 3
        expect((await s.state()).lastSeq).toBe(3);
        expect(await s.count("log")).toBe(3);
        const err = await s.apply(5, stamp([ins("log", 6)], 6, 2)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StorageGapError);
        expect((err as StorageGapError).have).toBe(3);
        expect((await s.state()).lastSeq).toBe(3);
      });
    });

    it("applies asked not to flush (a standby under syncAck: written) keep the same rows and checks; flush() and a reopen keep them", async () => {
      await withStore(factory, async (h) => {
        const s = h.storage;
        const rows = stamp([ins("log", 1), put("cfg", "a", 1), put("cfg", "a", 2), ins("log", 2)], 1, 3);
        await s.apply(0, rows.slice(0, 2), { flush: false });
        await s.apply(2, rows.slice(2), { flush: false });
        const gap = await s.apply(9, stamp([ins("log", 10)], 10, 3), { flush: false }).catch((e: unknown) => e);
        expect(gap).toBeInstanceOf(StorageGapError);
        // a purge goes the long way on PostgreSQL (a transaction of several statements)
        await s.apply(4, [...stamp([ins("log", 3)], 5, 3), { ...stamp([ins("old", 0)], 6, 3)[0], kind: "purge", body: JSON.stringify({ before: 0 }) }], { flush: false });
        await s.flush();
        await s.flush(); // nothing left: at once
        await s.apply(6, stamp([ins("log", 4)], 7, 3));
        expect(await s.state()).toMatchObject({ lastSeq: 7, lastEpoch: 3 });
        expect((await s.read("log")).map((r) => JSON.parse(r.body ?? "null"))).toEqual([1, 2, 3, 4]);
        expect((await s.get("cfg", "a"))?.body).toBe("2");
        await s.apply(7, stamp([ins("log", 5)], 8, 3), { flush: false });
        await s.close();
        const again = await h.reopen();
        h.storage = again;
        await again.open();
        expect(await again.state()).toMatchObject({ lastSeq: 8, lastEpoch: 3 });
        expect(await again.count("log")).toBe(5);
      });
    });

    it("a batch of thousands of rows (a catch-up) keeps every character of its bodies and keys; a key the store holds spoils all of it", async () => {
      await withStore(factory, async ({ storage: s }) => {
        const odd = ["tab\there", "new\nline", "cr\rhere", "back\\slash", "\\N", "\\.", "quote\"s", "ünï € ✓ 𝄞", ""];
        await s.apply(0, stamp([put("cfg", "k0", "stored")], 1, 1));
        const writes: RowWrite[] = [];
        for (let i = 0; i < 3000; i++) {
          const text = odd[i % odd.length];
          if (i % 500 === 7) writes.push(put("cfg", `k${i % 1000 === 7 ? 0 : i}\t${text}`, { i, text }));
          else writes.push({ table: "log", kind: "ins", key: i % 3 === 0 ? `id-${i}-${text}` : null, body: JSON.stringify({ i, text }) });
        }
        const rows = stamp(writes, 2, 1);
        await s.apply(1, rows);
        const st = await s.state();
        expect(st.lastSeq).toBe(3001);
        const back = await s.rowsAfter(1, 5000);
        expect(back).toEqual(rows);
        expect((await s.get("cfg", "k0"))?.body).toBe('"stored"');
        // an insert whose key the store holds, at the end of a big batch: nothing of it goes in
        const dup = stamp([...writes.slice(0, 2000).map((w, i) => ({ ...w, key: w.table === "log" ? `again-${i}` : w.key })), { table: "log", kind: "ins" as const, key: `id-0-${odd[0]}`, body: "{}" }], 3002, 1);
        await expect(s.apply(3001, dup)).rejects.toThrow();
        expect((await s.state()).lastSeq).toBe(3001);
        expect(await s.count("log")).toBe(writes.filter((w) => w.table === "log").length);
      });
    });

    it("applies a batch whole or not at all: a row of an older epoch spoils the batch it is in", async () => {
      await withStore(factory, async ({ storage: s }) => {
        await s.apply(0, stamp([ins("log", 1)], 1, 5));
        const bad = [...stamp([ins("log", 2)], 2, 5), ...stamp([ins("log", 3)], 3, 4)];
        await expect(s.apply(1, bad)).rejects.toThrow(/epoch 4/);
        expect(await s.state()).toMatchObject({ lastSeq: 1, lastEpoch: 5 });
        await s.apply(1, stamp([ins("log", 2)], 2, 6));
        expect((await s.state()).epochs).toEqual([
          { epoch: 5, firstSeq: 1 },
          { epoch: 6, firstSeq: 2 },
        ]);
      });
    });

    it("a catch-up by rowsAfter makes a second store identical, however the rows were cut", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.record({ op: fc.constant("ins" as const), t: fc.constantFrom("log", "hist"), v: fc.integer() }),
              fc.record({ op: fc.constant("put" as const), k: fc.constantFrom("a", "b", "c", "d"), v: fc.integer() }),
              fc.record({ op: fc.constant("del" as const), k: fc.constantFrom("a", "b", "c", "d") }),
              fc.record({ op: fc.constant("purge" as const), t: fc.constantFrom("log", "hist", "kv"), back: fc.integer({ min: 0, max: 20 }) }),
              fc.record({ op: fc.constant("epoch" as const) }),
            ),
            { maxLength: 60 },
          ),
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: 1, max: 13 }),
          async (ops, cutA, cutB) => {
            const a = await factory();
            const b = await factory();
            try {
              await a.storage.open();
              await b.storage.open();
              // the writer applies in batches of cutA; the peer catches up in chunks of cutB
              // every epoch opens with its marker row, as the replicator writes
              // it: a keyed row nothing removes, so a catch-up carries where
              // each epoch began even when the epoch's other rows are gone
              let seq = 2;
              let epoch = 1;
              let batch: Row[] = stamp([put("_epochs", "1", {})], 1, 1);
              const flush = async () => {
                if (batch.length) await a.storage.apply(batch[0].seq - 1, batch);
                batch = [];
              };
              for (const o of ops) {
                if (o.op === "epoch") {
                  await flush();
                  epoch++;
                  batch.push(...stamp([put("_epochs", String(epoch), {})], seq++, epoch));
                  continue;
                }
                const w: RowWrite =
                  o.op === "ins"
                    ? ins(o.t, o.v)
                    : o.op === "put"
                      ? put("kv", o.k, o.v)
                      : o.op === "del"
                        ? del("kv", o.k)
                        : { table: o.t, kind: "purge", key: null, body: JSON.stringify({ before: clock - o.back }) };
                batch.push(...stamp([w], seq++, epoch));
                if (batch.length >= cutA) await flush();
              }
              await flush();
              await catchUp(a.storage, b.storage, cutB);
              const sa = await a.storage.state();
              const top = sa.lastSeq;
              expect(await b.storage.state()).toEqual(sa);
              expect(await b.storage.checksums(1, Math.max(top, 1), 16)).toEqual(await a.storage.checksums(1, Math.max(top, 1), 16));
              for (const t of ["log", "hist", "kv"]) expect(await b.storage.read(t)).toEqual(await a.storage.read(t));
            } finally {
              await a.cleanup();
              await b.cleanup();
            }
          },
        ),
        { numRuns: 15 },
      );
    });

    it("checksums by range find a row altered behind the store's back and name its range", async () => {
      await withStore(factory, async (h) => {
        const s = h.storage;
        await s.apply(0, stamp(Array.from({ length: 50 }, (_, i) => ins("log", { i })), 1, 1));
        const before = await s.checksums(1, 50, 10);
        expect(before.map((r) => [r.fromSeq, r.toSeq, r.rows])).toEqual([
          [1, 10, 10],
          [11, 20, 10],
          [21, 30, 10],
          [31, 40, 10],
          [41, 50, 10],
        ]);
        expect(await s.checksums(1, 50, 10)).toEqual(before); // stable
        await h.tamper(27, '{"i":999}');
        const after = await s.checksums(1, 50, 10);
        const differ = after.filter((r, i) => r.hash !== before[i].hash).map((r) => [r.fromSeq, r.toSeq]);
        expect(differ).toEqual([[21, 30]]);
      });
    });

    it("a snapshot keeps the store as it was when taken, while writes go on", async () => {
      await withStore(factory, async ({ storage: s }) => {
        await s.apply(0, stamp([ins("log", 1), put("kv", "a", 1), put("kv", "b", 2)], 1, 1));
        const at3 = await s.checksums(1, 10, 5);
        const snap = await s.snapshot();
        try {
          await s.apply(3, stamp([put("kv", "a", 9), del("kv", "b"), ins("log", 2)], 4, 1));
          expect(await snap.checksums(1, 10, 5)).toEqual(at3);
          expect(await s.checksums(1, 10, 5)).not.toEqual(at3);
        } finally {
          await snap.release();
        }
      });
    });

    it("sets rows above a point aside for an operator, forgets their epochs, and can discard them one by one", async () => {
      await withStore(factory, async ({ storage: s }) => {
        await s.apply(0, stamp([ins("log", 1), ins("log", 2)], 1, 3));
        await s.apply(2, stamp([ins("log", 3), put("kv", "x", 4)], 3, 4));
        const moved = await s.setAside(2, 5, 123);
        expect(moved).toBe(2);
        expect(await s.state()).toMatchObject({ lastSeq: 2, lastEpoch: 3, epochs: [{ epoch: 3, firstSeq: 1 }] });
        const d = await s.divergent();
        expect(d.map((r) => [r.seq, r.epoch, r.table, r.kind, r.key, r.body, r.foundAt, r.activeEpoch])).toEqual([
          [3, 4, "log", "ins", null, "3", 123, 5],
          [4, 4, "kv", "put", "x", "4", 123, 5],
        ]);
        // the store goes on from the point it was cut back to
        await s.apply(2, stamp([ins("log", "new")], 3, 5));
        expect((await s.read("log")).map((r) => r.body)).toEqual(["1", "2", '"new"']);
        expect(await s.discardDivergent(d[0].id)).toBe(true);
        expect(await s.discardDivergent(d[0].id)).toBe(false);
        expect((await s.divergent()).map((r) => r.seq)).toEqual([4]);
      });
    });

    it("truncates its rows and epochs for a snapshot, keeping what was set aside", async () => {
      await withStore(factory, async ({ storage: s }) => {
        await s.apply(0, stamp([ins("log", 1), ins("log", 2)], 1, 1));
        await s.setAside(1, 2, 1);
        await s.truncate();
        expect(await s.state()).toEqual({ lastSeq: 0, lastEpoch: 0, epochs: [] });
        expect((await s.divergent()).length).toBe(1);
        await s.apply(0, stamp([ins("log", 9)], 1, 2));
        expect(await s.count("log")).toBe(1);
      });
    });

    it("an insert's idempotency key is unique in its table", async () => {
      await withStore(factory, async ({ storage: s }) => {
        await s.apply(0, stamp([ins("log", 1, "k1"), ins("other", 1, "k1")], 1, 1));
        await expect(s.apply(2, stamp([ins("log", 2, "k1")], 3, 1))).rejects.toThrow();
        expect((await s.state()).lastSeq).toBe(2);
      });
    });
    it("reads one table's rows by a range of keys, in key order either way, live rows only", async () => {
      await withStore(factory, async ({ storage: s }) => {
        // keys that sort by time within a series, as tag history writes them
        const k = (tag: string, t: number, n = 0) => `${tag}@${String(t).padStart(15, "0")}@${n}`;
        await s.apply(
          0,
          stamp(
            [
              ins("hist", { v: 1 }, k("t1", 1000)),
              ins("hist", { v: 2 }, k("t1", 2000)),
              ins("hist", { v: 3 }, k("t1", 2000, 1)),
              ins("hist", { v: 4 }, k("t1", 3000)),
              ins("hist", { v: 5 }, k("t1.x", 2000)),
              ins("hist", { v: 6 }, k("t10", 2000)),
              ins("other", { v: 7 }, k("t1", 2000)),
              ins("hist", { v: 8 }),
            ],
            1,
            1,
          ),
        );
        const vs = (rows: Row[]) => rows.map((r) => (JSON.parse(r.body as string) as { v: number }).v);
        const t1 = { from: "t1@", to: "t1A" };
        expect(vs(await s.readKeys("hist", t1))).toEqual([1, 2, 3, 4]);
        expect(vs(await s.readKeys("hist", { from: k("t1", 2000), to: k("t1", 3000) }))).toEqual([2, 3]);
        expect(vs(await s.readKeys("hist", { ...t1, descending: true, limit: 2 }))).toEqual([4, 3]);
        expect(vs(await s.readKeys("hist", { ...t1, limit: 1 }))).toEqual([1]);
        expect(await s.readKeys("hist", { from: k("t1", 4000), to: "t1A" })).toEqual([]);
        expect(await s.readKeys("nothing", t1)).toEqual([]);
        // a purge removes rows from the range as from every read
        const rows = await s.readKeys("hist", t1);
        await s.apply(8, stamp([{ table: "hist", kind: "purge", key: null, body: JSON.stringify({ before: rows[2].at }) }], 9, 1));
        expect(vs(await s.readKeys("hist", t1))).toEqual([3, 4]);
        expect((await s.readKeys("hist", t1))[0]).toMatchObject({ table: "hist", kind: "ins", key: k("t1", 2000, 1), epoch: 1, seq: 3 });
      });
    });
  });
}
