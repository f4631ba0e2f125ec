import { describe, expect, it } from "vitest";
import { applyScaling, badSample, passesDeadband, scaleToEng, scaleToRaw, toSnapshot, type TagSample } from "../../drivers/tag-model.js";
import { TagBus } from "../../drivers/tag-bus.js";

const good = (value: unknown, t = 1000): TagSample => ({ value, quality: "good", sourceTime: t, receivedAt: t + 1 });
const s420 = { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 };

describe("tag model", () => {
  it("scales raw to engineering units and back", () => {
    expect(scaleToEng(13824, s420)).toEqual({ value: 50, outOfRange: false });
    expect(scaleToRaw(50, s420)).toBe(13824);
    expect(scaleToEng(-10, { rawMin: -10, rawMax: 10, engMin: 100, engMax: 0 }).value).toBe(100);
  });

  it("marks a raw value outside the scaling range uncertain/out_of_range, optionally clamped", () => {
    expect(applyScaling(good(30000), s420)).toMatchObject({ quality: "uncertain", reason: "out_of_range" });
    expect(applyScaling(good(30000), { ...s420, clamp: true }).value).toBe(100);
    expect(applyScaling(good(27648), s420)).toMatchObject({ quality: "good", value: 100 });
    expect(applyScaling(badSample("comm_lost", 5), s420)).toMatchObject({ quality: "bad", reason: "comm_lost" });
  });

  it("deadband: publishes beyond it, and always on a quality change", () => {
    expect(passesDeadband(undefined, good(1), 5)).toBe(true);
    expect(passesDeadband(good(10), good(14), 5)).toBe(false);
    expect(passesDeadband(good(10), good(15.5), 5)).toBe(true);
    expect(passesDeadband(good(10), { ...good(10), quality: "bad", reason: "comm_lost" }, 5)).toBe(true);
    expect(passesDeadband(good(10), good(10), 0)).toBe(false);
    expect(passesDeadband(good("a"), good("b"), 0)).toBe(true);
    expect(passesDeadband(good(1n), good(2n), 0)).toBe(true);
  });

  it("snapshots: bad values show no value, times are ISO, bigint is JSON-safe", () => {
    const meta = { name: "a.b", driver: "modbus" as const, device: "plc", writable: true, units: "%" };
    expect(toSnapshot(meta, undefined)).toMatchObject({ quality: "bad", reason: "no_data", value: null, timestamp: null, receivedAt: null });
    const s = toSnapshot(meta, { value: 42, quality: "bad", reason: "comm_lost", sourceTime: null, receivedAt: 0 });
    expect(s).toMatchObject({ value: null, quality: "bad", reason: "comm_lost", receivedAt: "1970-01-01T00:00:00.000Z" });
    expect(toSnapshot(meta, good(2n ** 63n - 1n)).value).toBe("9223372036854775807");
    // a 64-bit integer is a decimal string whatever its size (docs/drivers.md, Value rules)
    expect(toSnapshot(meta, good(5n)).value).toBe("5");
    expect(toSnapshot(meta, good(-(2n ** 63n))).value).toBe("-9223372036854775808");
    expect(JSON.parse(JSON.stringify(toSnapshot(meta, good(1.5))))).toMatchObject({ value: 1.5, units: "%", writable: true });
  });

  it("bus: delivers to subscribers by prefix, replays the latest, isolates a throwing subscriber", () => {
    const bus = new TagBus();
    const errors: string[] = [];
    bus.onListenerError = (_e, t) => errors.push(t);
    const meta = (name: string) => ({ name, driver: "opcua" as const, device: "d", writable: false });
    const got: string[] = [];
    bus.subscribe(() => {
      throw new Error("boom");
    });
    const off = bus.subscribe((t) => got.push(t.name), { prefix: "line1" });
    bus.publish(toSnapshot(meta("line1.a"), good(1)));
    bus.publish(toSnapshot(meta("line10.a"), good(1)));
    bus.publish(toSnapshot(meta("line2.a"), good(1)));
    off();
    bus.publish(toSnapshot(meta("line1.b"), good(1)));
    expect(got).toEqual(["line1.a"]);
    expect(errors).toEqual(["line1.a", "line10.a", "line2.a", "line1.b"]);
    const replay: string[] = [];
    bus.subscribe((t) => replay.push(t.name), { replay: true });
    expect(replay.sort()).toEqual(["line1.a", "line1.b", "line10.a", "line2.a"]);
  });
});
