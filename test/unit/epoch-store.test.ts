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
    const s = EpochStore.open(d, "line1", "a");
    expect(s.epoch).toBe(0);
    expect(s.incarnation).toBe(1);
    s.persist(3);
    s.persist(2);
    expect(s.epoch).toBe(3);
    expect(JSON.parse(readFileSync(join(d, "epoch.json"), "utf8")).epoch).toBe(3);
    const again = EpochStore.open(d, "line1", "a");
    expect(again.epoch).toBe(3);
    expect(again.incarnation).toBe(2);
    expect(existsSync(join(d, "epoch.json.tmp"))).toBe(false);
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
