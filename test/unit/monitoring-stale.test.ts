// runtime/monitoring/stale.ts: what should be heard and was not — an alarm
// past its threshold, never-heard counted from the watch's start, back to
// normal once heard, an item no longer watched leaving its alarm, 0 = off.
import { describe, expect, it } from "vitest";
import { assessStale, type StaleConfig, type StaleSample, type StaleState } from "../../runtime/monitoring/stale.js";

const cfg: StaleConfig = { heartbeatSeconds: 5, witnessSeconds: 30, deviceSeconds: 60, verifyMinutes: 60 };
const T0 = 1_800_000_000_000;

function sample(at: number, over: Partial<StaleSample> = {}): StaleSample {
  return { at, peer: "b", links: [{ name: "lan", lastAt: at - 100 }, { name: "plant", lastAt: at - 100 }], witness: { lastAt: at - 200 }, devices: [{ name: "plc1", lastAt: at - 500 }], verify: null, ...over };
}

describe("staleness", () => {
  it("a link silent past its threshold is an alarm naming the peer, the link and how long; heard again, back to normal", () => {
    let s: StaleState | null = assessStale(sample(T0), cfg, null);
    expect(s.changes).toEqual([]);
    expect(s.items.every((i) => i.level === "ok")).toBe(true);
    s = assessStale(sample(T0 + 4000, { links: [{ name: "lan", lastAt: T0 + 3900 }, { name: "plant", lastAt: T0 - 100 }] }), cfg, s);
    expect(s.changes).toEqual([]);
    s = assessStale(sample(T0 + 6000, { links: [{ name: "lan", lastAt: T0 + 5900 }, { name: "plant", lastAt: T0 - 100 }] }), cfg, s);
    expect(s.changes.map((c) => [c.item.name, c.from, c.item.level, c.item.text])).toEqual([["heartbeat:plant", "ok", "alarm", "no heartbeat from b on link plant for 6 s (threshold 5 s)"]]);
    // still silent: no new change
    s = assessStale(sample(T0 + 9000, { links: [{ name: "lan", lastAt: T0 + 8900 }, { name: "plant", lastAt: T0 - 100 }] }), cfg, s);
    expect(s.changes).toEqual([]);
    expect(s.items.find((i) => i.name === "heartbeat:plant")).toMatchObject({ level: "alarm", value: 9 });
    s = assessStale(sample(T0 + 10_000), cfg, s);
    expect(s.changes.map((c) => [c.item.name, c.item.level, c.item.text])).toEqual([["heartbeat:plant", "ok", "heartbeats from b on link plant"]]);
  });

  it("never heard counts from when the watch began; a device no longer read leaves its alarm; 0 watches nothing", () => {
    let s = assessStale(sample(T0, { witness: { lastAt: null }, devices: [{ name: "plc1", lastAt: null }] }), cfg, null);
    expect(s.changes).toEqual([]);
    s = assessStale(sample(T0 + 31_000, { witness: { lastAt: null }, devices: [{ name: "plc1", lastAt: null }] }), cfg, s);
    expect(s.changes.map((c) => c.item.name)).toEqual(["witness"]);
    s = assessStale(sample(T0 + 61_000, { witness: { lastAt: T0 + 60_000 }, devices: [{ name: "plc1", lastAt: null }] }), cfg, s);
    expect(s.changes.map((c) => `${c.item.name} ${c.item.level}`)).toEqual(["witness ok", "device:plc1 alarm"]);
    expect(s.items.find((i) => i.name === "device:plc1")?.text).toBe("no good value from device plc1 for 61 s (threshold 60 s)");
    // the node stops reading the device (a cold standby): its alarm ends
    s = assessStale(sample(T0 + 62_000, { devices: [] }), cfg, s);
    expect(s.changes.map((c) => `${c.item.name} ${c.item.level} ${c.item.text}`)).toEqual(["device:plc1 ok device:plc1 is no longer watched on this node"]);
    const off = assessStale(sample(T0 + 999_000, { links: [{ name: "lan", lastAt: 0 }] }), { ...cfg, heartbeatSeconds: 0 }, null);
    expect(off.items.some((i) => i.name.startsWith("heartbeat"))).toBe(false);
  });

  it("on the active, no replication verify for verifyMinutes is an alarm", () => {
    let s = assessStale(sample(T0, { verify: { lastAt: T0 - 50 * 60_000 } }), cfg, null);
    expect(s.items.find((i) => i.name === "verify")?.level).toBe("ok");
    s = assessStale(sample(T0 + 11 * 60_000, { verify: { lastAt: T0 - 50 * 60_000 } }), cfg, s);
    expect(s.changes.map((c) => c.item.text)).toEqual(["no replication verify for 61 min (threshold 60 min)"]);
  });
});
