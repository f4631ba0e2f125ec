// S4: authenticated messages are also replay protected, per sender and channel.
import { describe, expect, it } from "vitest";
import { MAX_REPLAY_KEYS, ReplayGuard } from "../../redundancy/replay-guard.js";
import { prng } from "../helpers/prng.js";


describe("ReplayGuard: one incarnation", () => {
  it("accepts increasing seqs and refuses a repeat", () => {
    const g = new ReplayGuard();
    expect([1, 2, 3, 10].map((s) => g.check("a", "lan", 1, s))).toEqual(["ok", "ok", "ok", "ok"]);
    expect(g.check("a", "lan", 1, 10)).toBe("replay");
    expect(g.check("a", "lan", 1, 2)).toBe("replay");
  });

  it("accepts reordering within the window exactly once", () => {
    const g = new ReplayGuard(64);
    expect(g.check("a", "lan", 1, 100)).toBe("ok");
    for (const s of [99, 50, 37, 98]) expect(g.check("a", "lan", 1, s), `seq ${s}`).toBe("ok");
    for (const s of [99, 50, 37, 98, 100]) expect(g.check("a", "lan", 1, s), `again ${s}`).toBe("replay");
  });

  it("refuses anything below the window, even if never seen", () => {
    const g = new ReplayGuard(64);
    g.check("a", "lan", 1, 100);
    expect(g.check("a", "lan", 1, 36)).toBe("replay"); // 100 - 36 = 64: just outside
    expect(g.check("a", "lan", 1, 37)).toBe("ok"); // 100 - 37 = 63: the window's last slot
    expect(g.check("a", "lan", 1, 1)).toBe("replay");
  });

  it("a jump beyond the window forgets the old bits; a small slide keeps the ones still inside", () => {
    const g = new ReplayGuard(8);
    for (let s = 1; s <= 8; s++) g.check("a", "lan", 1, s);
    expect(g.check("a", "lan", 1, 10)).toBe("ok"); // window now 3..10
    expect(g.check("a", "lan", 1, 9)).toBe("ok"); // skipped, accepted late
    expect(g.check("a", "lan", 1, 5)).toBe("replay"); // seen, still inside
    expect(g.check("a", "lan", 1, 2)).toBe("replay"); // below
    expect(g.check("a", "lan", 1, 1000)).toBe("ok");
    expect(g.check("a", "lan", 1, 995)).toBe("ok"); // ring slot reused from before the jump: must be clear
    expect(g.check("a", "lan", 1, 992)).toBe("replay"); // 1000 - 992 = 8: below
  });

  it("keeps (sender, channel) windows apart: a message for one link is new on another", () => {
    const g = new ReplayGuard();
    expect(g.check("a", "lan", 1, 5)).toBe("ok");
    expect(g.check("a", "wan", 1, 5)).toBe("ok");
    expect(g.check("b", "lan", 1, 5)).toBe("ok");
    expect(g.check("a", "lan", 1, 5)).toBe("replay");
    // ids that would collide if naively joined with a separator
    expect(g.check("a|b", "c", 1, 1)).toBe("ok");
    expect(g.check("a", "b|c", 1, 1)).toBe("ok");
  });

  it("refuses seq/inc values that a valid envelope cannot carry", () => {
    const g = new ReplayGuard();
    expect(g.check("a", "lan", 1, 0)).toBe("replay");
    expect(g.check("a", "lan", 1, 1.5)).toBe("replay");
    expect(g.check("a", "lan", 0, 1)).toBe("replay");
    expect(g.check("a", "lan", 1, Number.NaN)).toBe("replay");
  });

  it("rejects an unusable window size", () => {
    expect(() => new ReplayGuard(0)).toThrow(RangeError);
    expect(() => new ReplayGuard(2.5)).toThrow(RangeError);
  });
});

describe("ReplayGuard: incarnations", () => {
  it("a higher incarnation resets the window and is accepted from any seq; a lower one is old", () => {
    const g = new ReplayGuard();
    expect(g.check("a", "lan", 5, 500)).toBe("ok");
    expect(g.check("a", "lan", 6, 1)).toBe("ok");
    expect(g.check("a", "lan", 6, 2)).toBe("ok");
    expect(g.check("a", "lan", 6, 1)).toBe("replay");
    expect(g.check("a", "lan", 5, 501)).toBe("old-incarnation");
    expect(g.check("a", "lan", 5, 1)).toBe("old-incarnation");
    expect(g.check("a", "lan", 6, 3)).toBe("ok");
  });
});

describe("ReplayGuard: memory", () => {
  it("forget(from) drops that sender on every channel; forget() drops everyone", () => {
    const g = new ReplayGuard();
    g.check("a", "lan", 1, 1);
    g.check("a", "wan", 1, 1);
    g.check("b", "lan", 1, 1);
    g.forget("a");
    expect(g.size).toBe(1);
    expect(g.check("a", "lan", 1, 1)).toBe("ok");
    expect(g.check("b", "lan", 1, 1)).toBe("replay");
    g.forget();
    expect(g.size).toBe(0);
    expect(g.check("b", "lan", 1, 1)).toBe("ok");
  });

  it(`holds at most ${MAX_REPLAY_KEYS} keys and evicts the least recently used`, () => {
    const g = new ReplayGuard();
    g.check("keep", "lan", 1, 1);
    for (let i = 0; i < MAX_REPLAY_KEYS - 1; i++) g.check(`n${i}`, "lan", 1, 1);
    expect(g.size).toBe(MAX_REPLAY_KEYS);
    g.check("keep", "lan", 1, 2); // touch: now the most recent
    g.check("new", "lan", 1, 1); // evicts n0, the least recently used
    expect(g.size).toBe(MAX_REPLAY_KEYS);
    expect(g.check("keep", "lan", 1, 2)).toBe("replay"); // still remembered
    expect(g.check("n1", "lan", 1, 1)).toBe("replay"); // still remembered (this touch evicts n2)
    expect(g.check("n0", "lan", 1, 1)).toBe("ok"); // forgotten: starts over
  });
});

describe("ReplayGuard: agrees with a reference model on random traffic", () => {
  // The reference keeps every seq ever accepted in a Set: accept iff new and above top - window.
  for (const window of [1, 7, 32, 64, 100]) {
    it(`window ${window}`, () => {
      const rnd = prng(window * 7919);
      const g = new ReplayGuard(window);
      let inc = 1;
      let top = 0;
      let seen = new Set<number>();
      let sent = 0;
      for (let i = 0; i < 20_000; i++) {
        const r = rnd();
        let seqv: number;
        let incv = inc;
        if (r < 0.002) {
          inc += 1; // restart
          incv = inc;
          top = 0;
          seen = new Set();
          sent = 0;
          seqv = 1 + Math.floor(rnd() * 3);
        } else if (r < 0.004 && inc > 1) {
          incv = inc - 1 - Math.floor(rnd() * (inc - 1));
          seqv = 1 + Math.floor(rnd() * 100);
        } else if (r < 0.6) {
          sent += 1 + Math.floor(rnd() * 3);
          seqv = sent;
        } else {
          seqv = Math.max(1, sent - Math.floor(rnd() * (window * 2 + 2)));
        }
        let expected: string;
        if (incv < inc) expected = "old-incarnation";
        else if (top === 0 || seqv > top) expected = "ok";
        else if (top - seqv >= window || seen.has(seqv)) expected = "replay";
        else expected = "ok";
        if (incv === inc && expected === "ok") {
          seen.add(seqv);
          top = Math.max(top, seqv);
          sent = Math.max(sent, seqv);
        }
        expect(g.check("a", "lan", incv, seqv), `step ${i}: inc ${incv} seq ${seqv} top ${top}`).toBe(expected);
      }
    });
  }
});
