// The epoch is persisted crash-safely before anyone acts on it (DESIGN.md,
// lease rules): never lowered, survives a restart, a torn temp file from a
// crash mid-write is ignored, a foreign or corrupt file is refused loudly.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EpochStore } from "../../redundancy/epoch-store.js";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "tandem-epoch-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("epoch store", () => {
  it("starts at 0, persists raises, never lowers, and survives a restart with a new incarnation", () => {
    const d = fresh();
    const s = EpochStore.open(d, "line1", "a", () => 5000);
    expect(s.epoch).toBe(0);
    expect(s.incarnation).toBe(5000);
    s.persist(3);
    s.persist(2);
    expect(s.epoch).toBe(3);
    expect(JSON.parse(readFileSync(join(d, "epoch.json"), "utf8")).epoch).toBe(3);
    const again = EpochStore.open(d, "line1", "a", () => 7000);
    expect(again.epoch).toBe(3);
    expect(again.incarnation).toBe(7000);
    expect(existsSync(join(d, "epoch.json.tmp"))).toBe(false);
  });

  it("S4: an incarnation never repeats: above the last one even with the clock set back, and above any earlier start after the data dir is lost", () => {
    const d = fresh();
    const first = EpochStore.open(d, "line1", "a", () => 10_000).incarnation;
    const clockBack = EpochStore.open(d, "line1", "a", () => 4_000).incarnation;
    expect(clockBack).toBe(first + 1);
    // the data dir is wiped (the recovery the error message advises): the
    // wall clock still puts the new process above every earlier one, so the
    // peer's replay guard accepts it at once
    rmSync(join(d, "epoch.json"));
    const afterWipe = EpochStore.open(d, "line1", "a").incarnation;
    expect(afterWipe).toBeGreaterThan(clockBack);
    expect(afterWipe).toBeGreaterThanOrEqual(Date.now() - 60_000);
  });

  it("keeps the highest epoch offered the witness apart from the epoch, and never offers below the epoch", () => {
    const d = fresh();
    const s = EpochStore.open(d, "line1", "a");
    s.persist(2, 5);
    expect([s.epoch, s.proposed]).toEqual([2, 5]);
    s.persist(3, 4); // a lower proposal never lowers the record
    expect([s.epoch, s.proposed]).toEqual([3, 5]);
    const again = EpochStore.open(d, "line1", "a");
    expect([again.epoch, again.proposed]).toEqual([3, 5]);
    again.persist(7);
    expect(again.proposed).toBe(7);
    expect(() => again.persist(8, Number.NaN)).toThrow(/refusing to store proposed epoch/);
  });

  it("ignores a torn temp file left by a crash during a write (the rename never happened)", () => {
    const d = fresh();
    EpochStore.open(d, "line1", "a").persist(5);
    writeFileSync(join(d, "epoch.json.tmp"), '{"epoch": 9, "incarn');
    const s = EpochStore.open(d, "line1", "a");
    expect(s.epoch).toBe(5);
  });

  it("refuses a corrupt file and a data dir that belongs to another node, saying what to do", () => {
    const d = fresh();
    writeFileSync(join(d, "epoch.json"), "{garbage");
    expect(() => EpochStore.open(d, "line1", "a")).toThrow(/unreadable .*restore it from a backup/);
    const e = fresh();
    EpochStore.open(e, "line1", "a");
    expect(() => EpochStore.open(e, "line1", "b")).toThrow(/belongs to node 'a' of pair 'line1'.*wrong data dir/);
    writeFileSync(join(e, "epoch.json"), JSON.stringify({ epoch: -1, incarnation: 1, nodeId: "a", pairId: "line1" }));
    expect(() => EpochStore.open(e, "line1", "a")).toThrow(/non-negative integers/);
  });

  it("refuses to store nonsense", () => {
    const s = EpochStore.open(fresh(), "line1", "a");
    expect(() => s.persist(Number.NaN)).toThrow(/refusing to store epoch/);
    expect(() => s.persist(1.5)).toThrow(/refusing to store epoch/);
  });
});

describe("clean owner marker (held rule across restarts)", () => {
  it("is true on a first start, false after a crash (no clean stop), and what the clean stop said otherwise", () => {
    const d = fresh();
    expect(EpochStore.open(d, "line1", "a").cleanOwner).toBe(true); // never ran: nothing to hold
    // that run "crashed": it never called markCleanStop
    const second = EpochStore.open(d, "line1", "a");
    expect(second.cleanOwner).toBe(false);
    second.markCleanStop(true); // stopped cleanly as the active
    const third = EpochStore.open(d, "line1", "a");
    expect(third.cleanOwner).toBe(true);
    third.markCleanStop(false); // stopped cleanly, but as a standby mirroring the peer
    expect(EpochStore.open(d, "line1", "a").cleanOwner).toBe(false);
  });
});
