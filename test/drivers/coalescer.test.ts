import { describe, expect, it } from "vitest";
import { coalesce, split, type ReadItem } from "../../drivers/modbus-coalescer.js";

const hr = (key: string, address: number, count = 1, unitId = 1): ReadItem => ({ key, unitId, table: "holding", address, count });
const limits = { maxRegisters: 125, maxBits: 2000, maxGapRegisters: 4, maxGapBits: 16 };

describe("modbus coalescer", () => {
  it("merges adjacent and nearby items, bridging gaps up to the limit", () => {
    const reqs = coalesce([hr("a", 0), hr("b", 1, 2), hr("c", 7), hr("d", 13)], limits);
    expect(reqs.map((r) => [r.address, r.count])).toEqual([
      [0, 8],
      [13, 1],
    ]);
    expect(reqs[0]!.items).toEqual([
      { key: "a", offset: 0, count: 1 },
      { key: "b", offset: 1, count: 2 },
      { key: "c", offset: 7, count: 1 },
    ]);
  });

  it("never exceeds 125 registers or 2000 bits per request", () => {
    const items = Array.from({ length: 1000 }, (_, i) => hr(`r${i}`, i));
    const reqs = coalesce(items, limits);
    expect(reqs).toHaveLength(8); // ceil(1000/125)
    expect(Math.max(...reqs.map((r) => r.count))).toBe(125);
    const coils = Array.from({ length: 4500 }, (_, i): ReadItem => ({ key: `c${i}`, unitId: 1, table: "coil", address: i, count: 1 }));
    const creqs = coalesce(coils, limits);
    expect(creqs.map((r) => r.count)).toEqual([2000, 2000, 500]);
  });

  it("a 4-register value is not split across requests", () => {
    const items = [hr("a", 0, 123), hr("b", 123, 4)];
    expect(coalesce(items, limits).map((r) => [r.address, r.count])).toEqual([
      [0, 123],
      [123, 4],
    ]);
  });

  it("keeps unit ids and tables apart, and honours a device's lower limit", () => {
    const items: ReadItem[] = [hr("a", 0), hr("b", 1, 1, 2), { key: "c", unitId: 1, table: "input", address: 1, count: 1 }, hr("d", 1)];
    expect(coalesce(items, limits)).toHaveLength(3);
    expect(coalesce([hr("a", 0), hr("b", 10)], { ...limits, maxRegisters: 8, maxGapRegisters: 100 })).toHaveLength(2);
  });

  it("merges overlapping items (the same register read as two tags)", () => {
    const reqs = coalesce([hr("u32", 10, 2), hr("hi", 10), hr("lo", 11)], { ...limits, maxGapRegisters: 0 });
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.count).toBe(2);
  });

  it("gap 0 merges only contiguous items; split gives one request per item", () => {
    const reqs = coalesce([hr("a", 0), hr("b", 2)], { ...limits, maxGapRegisters: 0 });
    expect(reqs).toHaveLength(2);
    const merged = coalesce([hr("a", 0), hr("b", 2, 2)], limits);
    expect(split(merged[0]!).map((r) => [r.address, r.count])).toEqual([
      [0, 1],
      [2, 2],
    ]);
  });

  it("refuses items no request can carry", () => {
    expect(() => coalesce([hr("big", 0, 126)], limits)).toThrow(/1–125/);
    expect(() => coalesce([hr("end", 65535, 2)], limits)).toThrow(/outside/);
  });
});
