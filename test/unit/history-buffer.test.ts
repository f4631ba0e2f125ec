// runtime/history/buffer.ts and the recorder over it: memory stays bounded
// whatever the store does — past the bound the oldest go and are counted,
// with a warning — and a failed write is tried again while the node is
// active. The recorder runs against a fake store port (this is a unit test of
// its logic; the real store is in test/integration/history-events.test.ts).
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import type { Logger } from "../../core/logger.js";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import type { TagConfig } from "../../drivers/config-schema.js";
import type { RowWrite } from "../../redundancy/storage.js";
import { BoundedBuffer } from "../../runtime/history/buffer.js";
import { historySection } from "../../runtime/history/config-schema.js";
import { HistoryRecorder } from "../../runtime/history/recorder.js";

describe("bounded buffer", () => {
  it("keeps order, and past its size drops the oldest and counts them", () => {
    const b = new BoundedBuffer<number>(3);
    expect([1, 2, 3].map((x) => b.push(x))).toEqual([0, 0, 0]);
    expect(b.push(4)).toBe(1);
    expect(b.push(5)).toBe(1);
    expect(b.size).toBe(3);
    expect(b.dropped).toBe(2);
    expect(b.take(2)).toEqual([3, 4]);
    b.push(6);
    b.push(7);
    expect(b.take(10)).toEqual([5, 6, 7]);
    expect(b.size).toBe(0);
    expect(b.take(1)).toEqual([]);
  });

  it("puts a failed batch back in front, dropping from its oldest end what no longer fits", () => {
    const b = new BoundedBuffer<number>(4);
    for (const x of [1, 2, 3]) b.push(x);
    const taken = b.take(3);
    b.push(4);
    b.push(5);
    expect(b.unshift(taken)).toBe(1);
    expect(b.dropped).toBe(1);
    expect(b.take(10)).toEqual([2, 3, 4, 5]);
  });

  it("stays within its size over many pushes, takes and put-backs (a ring that wraps)", () => {
    const b = new BoundedBuffer<number>(7);
    let next = 0;
    let seen: number[] = [];
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < (round % 5) + 1; i++) b.push(next++);
      const t = b.take(round % 3);
      if (round % 4 === 0) b.unshift(t);
      else seen = seen.concat(t);
      expect(b.size).toBeLessThanOrEqual(7);
    }
    seen = seen.concat(b.take(7));
    // what came out is in order, and what is missing was counted as dropped
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    expect(seen.length + b.dropped).toBe(next);
  });

  it("refuses a size below 1", () => {
    expect(() => new BoundedBuffer(0)).toThrow(RangeError);
  });
});

function logger(lines: string[]): Logger {
  const fn = (a: unknown, b?: string) => void lines.push(typeof a === "string" ? a : (b ?? ""));
  const l = { fatal: fn, error: fn, warn: fn, info: fn, debug: fn, trace: fn, child: () => l } as Logger;
  return l;
}

const snap = (name: string, value: number, ts: number): TagSnapshot => ({ name, driver: "modbus", value, quality: "good", timestamp: new Date(ts).toISOString(), receivedAt: new Date(ts).toISOString(), writable: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(25);
  if (!cond()) throw new Error(`not within 5 s: ${what}`);
}

describe("history recorder over a slow store", () => {
  it("holds at most maxBuffered samples while a write hangs, drops the oldest with a warning, and writes the rest once the store answers", async () => {
    const lines: string[] = [];
    let listener: ((t: TagSnapshot) => void) | null = null;
    const writes: RowWrite[][] = [];
    let release: () => void = () => {};
    let hang = true;
    const cfg = historySection.parse({ enabled: true, flushMs: 50, maxBuffered: 100 });
    const tags = [{ name: "t1" }] as TagConfig[];
    const rec = new HistoryRecorder(
      cfg,
      tags,
      {
        acting: () => true,
        epoch: () => 3,
        write: (rows) => {
          writes.push(rows);
          return hang ? new Promise<void>((r) => (release = r)) : Promise.resolve();
        },
        subscribe: (fn) => {
          listener = fn;
          return () => (listener = null);
        },
        tags: () => [],
        now: Date.now,
        elapsed: () => performance.now(),
      },
      logger(lines),
    );
    rec.start();
    listener!(snap("t1", 0, 1));
    await until("the first write", () => writes.length === 1);
    // the first write hangs; 500 more changes arrive meanwhile
    for (let i = 1; i <= 500; i++) listener!(snap("t1", i, 1 + i));
    await until("the warning", () => lines.some((l) => l.includes("not keeping up")));
    expect(writes.length).toBe(1);
    const c = rec.counters();
    expect(c.buffered).toBe(100);
    expect(c.dropped).toBe(400);
    expect(lines.some((l) => /not keeping up: 400 oldest samples dropped/.test(l))).toBe(true);
    hang = false;
    release();
    await until("the rest written", () => rec.counters().written === 101);
    // what was kept is the newest, in order, and was written
    const after = writes.slice(1).flat().map((w) => (JSON.parse(w.body!) as { v: number }).v);
    expect(after).toEqual(Array.from({ length: 100 }, (_, i) => 401 + i));
    expect(writes.flat().every((w) => w.table === "_history" && w.kind === "ins" && w.key!.startsWith("t1@"))).toBe(true);
    expect(new Set(writes.flat().map((w) => w.key)).size).toBe(writes.flat().length);
    expect(rec.counters()).toMatchObject({ recorded: 501, written: 101, dropped: 400, buffered: 0 });
    await rec.stop();
    expect(listener).toBeNull();
  });

  it("records nothing while the node is not active, and every tag's value once as it becomes active", async () => {
    let acting = false;
    let listener: ((t: TagSnapshot) => void) | null = null;
    const written: RowWrite[] = [];
    const rec = new HistoryRecorder(
      historySection.parse({ flushMs: 50 }),
      [{ name: "a", history: { enabled: true } }, { name: "b", history: { enabled: true, deadband: 10 } }, { name: "off" }] as TagConfig[],
      {
        acting: () => acting,
        epoch: () => 1,
        write: async (rows) => void written.push(...rows),
        subscribe: (fn) => ((listener = fn), () => (listener = null)),
        tags: () => [snap("a", 1, 10), snap("b", 2, 10), snap("off", 3, 10)],
        now: Date.now,
        elapsed: () => performance.now(),
      },
      logger([]),
    );
    rec.start();
    listener!(snap("a", 5, 20));
    await sleep(120);
    expect(written).toEqual([]);
    acting = true;
    await until("the values as the node became active", () => written.length === 2);
    listener!(snap("b", 5, 30)); // within b's deadband of 10
    listener!(snap("off", 9, 30)); // not recorded at all
    await sleep(120);
    expect(written.map((w) => [w.key!.split("@")[0], (JSON.parse(w.body!) as { v: number }).v])).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
    await rec.stop();
  });
});
