// The PLC watchdog's pure core: counter movement, staleness, the fence.
import { describe, expect, it } from "vitest";
import { failed, initialCore, nextWrite, observe, view } from "../../drivers/watchdog.js";

describe("watchdog core", () => {
  it("a moving counter is fresh; one that stops is stale after staleAfterMs", () => {
    let s = initialCore(0);
    s = observe(s, 1, 4, 100);
    s = observe(s, 2, 4, 600);
    expect(view(s, 4, 1000, 1500, true)).toMatchObject({ counter: 2, plcEpoch: 4, msSinceChange: 900, counterStale: false, fenced: false });
    s = observe(s, 2, 4, 1600); // unchanged
    expect(view(s, 4, 1000, 1600, true).counterStale).toBe(true);
    s = observe(s, 3, 4, 1700);
    expect(view(s, 4, 1000, 1700, true).counterStale).toBe(false);
  });

  it("a counter never read counts as stale from when we started looking", () => {
    const s = failed(initialCore(1000), "timeout");
    expect(view(s, 1, 500, 1400, true)).toMatchObject({ counterStale: false, error: "timeout", counter: null });
    expect(view(s, 1, 500, 1500, true).counterStale).toBe(true);
  });

  it("fenced when the PLC holds a higher epoch (and fence is on)", () => {
    const s = observe(initialCore(0), 7, 9, 10);
    expect(view(s, 8, 1000, 20, true).fenced).toBe(true);
    expect(view(s, 9, 1000, 20, true).fenced).toBe(false);
    expect(view(s, 8, 1000, 20, false).fenced).toBe(false);
  });

  it("the active's next write: counter wraps at 16 bits, epoch never lowered", () => {
    expect(nextWrite(observe(initialCore(0), 0xffff, 3, 0), 3)).toEqual({ counter: 0, epoch: 3 });
    expect(nextWrite(observe(initialCore(0), 5, 3, 0), 4)).toEqual({ counter: 6, epoch: 4 });
    expect(nextWrite(observe(initialCore(0), 5, 6, 0), 4)).toEqual({ counter: 6, epoch: null });
    expect(nextWrite(initialCore(0), 1)).toEqual({ counter: 1, epoch: 1 });
  });
});
