import { describe, expect, it } from "vitest";
import { BYTE_ORDERS, decodeRegisters, encodeRegisters, registerCount, type ModbusDataType } from "../../drivers/modbus-codec.js";
import { SAMPLES } from "./samples.js";

const f32 = (v: unknown) => (typeof v === "number" ? Math.fround(v) : v);

describe("modbus codec", () => {
  for (const order of BYTE_ORDERS) {
    for (const [type, values] of Object.entries(SAMPLES) as [ModbusDataType, unknown[]][]) {
      it(`${type} round-trips in ${order}`, () => {
        for (const v of values) {
          const regs = encodeRegisters(type, v, { order });
          expect(regs).toHaveLength(registerCount(type));
          for (const r of regs) expect(r >= 0 && r <= 0xffff).toBe(true);
          expect(decodeRegisters(type, regs, { order })).toEqual(type === "float32" ? f32(v) : v);
        }
      });
    }
    it(`string and bit round-trip in ${order}`, () => {
      const regs = encodeRegisters("string", "BATCH-42", { order, length: 10 });
      expect(regs).toHaveLength(5);
      expect(decodeRegisters("string", regs, { order, length: 10 })).toBe("BATCH-42");
      expect(decodeRegisters("string", encodeRegisters("string", "ODD", { order, length: 3 }), { order, length: 3 })).toBe("ODD");
      for (let bit = 0; bit < 16; bit++) {
        const on = encodeRegisters("bit", true, { order, bit, current: 0 });
        expect(decodeRegisters("bit", on, { order, bit })).toBe(true);
        expect(decodeRegisters("bit", on, { order, bit: (bit + 1) % 16 })).toBe(false);
        const off = encodeRegisters("bit", false, { order, bit, current: 0xffff });
        expect(decodeRegisters("bit", off, { order, bit })).toBe(false);
        expect(decodeRegisters("bit", off, { order, bit: (bit + 1) % 16 })).toBe(true);
      }
    });
  }

  it("lays out 0x11223344 as the PLC vendors document", () => {
    expect(encodeRegisters("uint32", 0x11223344, { order: "ABCD" })).toEqual([0x1122, 0x3344]);
    expect(encodeRegisters("uint32", 0x11223344, { order: "CDAB" })).toEqual([0x3344, 0x1122]);
    expect(encodeRegisters("uint32", 0x11223344, { order: "BADC" })).toEqual([0x2211, 0x4433]);
    expect(encodeRegisters("uint32", 0x11223344, { order: "DCBA" })).toEqual([0x4433, 0x2211]);
    expect(encodeRegisters("uint64", 0x1122334455667788n, { order: "CDAB" })).toEqual([0x7788, 0x5566, 0x3344, 0x1122]);
    expect(encodeRegisters("uint64", 0x1122334455667788n, { order: "DCBA" })).toEqual([0x8877, 0x6655, 0x4433, 0x2211]);
    expect(encodeRegisters("int16", 0x1234, { order: "BADC" })).toEqual([0x3412]);
    expect(encodeRegisters("float32", 1, { order: "ABCD" })).toEqual([0x3f80, 0x0000]);
    expect(encodeRegisters("string", "AB", { order: "ABCD", length: 2 })).toEqual([0x4142]);
    expect(encodeRegisters("string", "AB", { order: "DCBA", length: 2 })).toEqual([0x4241]);
    // bit in register keeps the other bits
    expect(encodeRegisters("bit", true, { order: "ABCD", bit: 4, current: 0x0101 })).toEqual([0x0111]);
  });

  it("refuses values a type cannot hold, with the reason", () => {
    expect(() => encodeRegisters("int16", 40000, { order: "ABCD" })).toThrow(/out of range for int16/);
    expect(() => encodeRegisters("uint16", -1, { order: "ABCD" })).toThrow(/out of range/);
    expect(() => encodeRegisters("int32", 1.5, { order: "ABCD" })).toThrow(/whole number/);
    expect(() => encodeRegisters("uint32", "x", { order: "ABCD" })).toThrow(/needs a number/);
    expect(() => encodeRegisters("float32", 1e39, { order: "ABCD" })).toThrow(/out of range for float32/);
    expect(() => encodeRegisters("bool", "yes", { order: "ABCD" })).toThrow(/true\/false/);
    expect(() => encodeRegisters("string", "too long", { order: "ABCD", length: 4 })).toThrow(/longer than 4/);
    expect(() => decodeRegisters("int32", [1], { order: "ABCD" })).toThrow(/needs 2 registers/);
  });

  it("accepts integers given as decimal strings (int64 over JSON)", () => {
    const regs = encodeRegisters("int64", "-9223372036854775808", { order: "ABCD" });
    expect(decodeRegisters("int64", regs, { order: "ABCD" })).toBe(-(2n ** 63n));
  });
});
