// The type cases the conformance suite reads and writes, with the raw form
// each value takes on the wire written out by hand (not by Tandem's codec).
import type { TypeCase } from "./conformance.js";

export interface ModbusCase extends TypeCase {
  /** where the value lives on the server, and its raw registers (coils: 0/1) once seeded */
  at: { table: "hr" | "co"; address: number; count: number };
  seed: number[];
}

/** Settings for the conformance suite's Modbus devices: reads outlast the suite's slow server (800 ms), writes fit a short lease. */
export const MODBUS_DEVICE = { timeoutMs: 2000, writeTimeoutMs: 200, retries: 0, reconnect: { initialMs: 50, maxMs: 200 } };

/** Every Modbus type from holding register `base` on (26 registers) and coil `base`. */
export function modbusCases(base: number): ModbusCase[] {
  const hr = (offset: number, count: number) => ({ table: "hr" as const, address: base + offset, count });
  return [
    { tag: { address: `hr:${base}`, type: "int16" }, at: hr(0, 1), seed: [0xfffe], read: -2, write: -12345, stored: [0xcfc7], junk: [1.5, 40000, -32769] },
    { tag: { address: `hr:${base + 1}`, type: "uint16" }, at: hr(1, 1), seed: [0xabcd], read: 43981, write: 65000, stored: [0xfde8], junk: [-1, 65536, 0.5] },
    { tag: { address: `hr:${base + 2}`, type: "int32" }, at: hr(2, 2), seed: [0xffff, 0xfffe], read: -2, write: 123456789, stored: [0x075b, 0xcd15], junk: [2147483648, 2.5] },
    { tag: { address: `hr:${base + 4}`, type: "uint32", byteOrder: "CDAB" }, at: hr(4, 2), seed: [0x5678, 0x1234], read: 0x12345678, write: 4000000000, stored: [0x2800, 0xee6b], junk: [-1, 4294967296] },
    // 0.1 is held as the nearest float32, which is what the write answers and a read shows
    { tag: { address: `hr:${base + 6}`, type: "float32" }, at: hr(6, 2), seed: [0x4049, 0x0fdb], read: 3.1415927410125732, write: 0.1, readBack: 0.10000000149011612, stored: [0x3dcc, 0xcccd], junk: [1e39, "1.5", "42.5", 1e-50] },
    { tag: { address: `hr:${base + 8}`, type: "float64" }, at: hr(8, 4), seed: [0x3ff8, 0, 0, 0], read: 1.5, write: -2.5, stored: [0xc004, 0, 0, 0], junk: ["NaN"] },
    {
      tag: { address: `hr:${base + 12}`, type: "int64" },
      at: hr(12, 4),
      seed: [0xffff, 0xffff, 0xffff, 0xffff],
      read: -1n,
      write: "-9007199254740993",
      readBack: -9007199254740993n,
      stored: [0xffdf, 0xffff, 0xffff, 0xffff],
      junk: [2 ** 60, "9223372036854775808", 0.5],
    },
    {
      tag: { address: `hr:${base + 16}`, type: "uint64" },
      at: hr(16, 4),
      seed: [0x8899, 0xaabb, 0xccdd, 0xeeff],
      read: 0x8899aabbccddeeffn,
      write: "18446744073709551615",
      readBack: 2n ** 64n - 1n,
      stored: [0xffff, 0xffff, 0xffff, 0xffff],
      junk: ["-1", -1],
    },
    { tag: { address: `hr:${base + 20}`, type: "string", length: 8 }, at: hr(20, 4), seed: [0x5441, 0x4e4b, 0, 0], read: "TANK", write: "BATCH-7", stored: [0x4241, 0x5443, 0x482d, 0x3700], junk: ["NINE-CHAR", "Ωmega"] },
    // bit 3 of a register whose bit 8 is set too: the write leaves bit 8 alone
    { tag: { address: `hr:${base + 24}.3` }, at: hr(24, 1), seed: [0x0108], read: true, write: false, stored: [0x0100] },
    {
      tag: { address: `hr:${base + 25}`, type: "int16", scaling: { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 } },
      at: hr(25, 1),
      seed: [13824],
      read: 50,
      // 33.3 → raw 9206.784 → 9207 → 33.30078125
      write: 33.3,
      readBack: 33.30078125,
      stored: [9207],
      junk: [200, true],
    },
    { tag: { address: `co:${base}` }, at: { table: "co", address: base, count: 1 }, seed: [1], read: true, write: false, stored: [0] },
  ];
}

/** Settings for the conformance suite's OPC UA devices. */
export const OPCUA_DEVICE = { requestTimeoutMs: 3000, writeTimeoutMs: 300, publishingIntervalMs: 50, reconnect: { initialMs: 100, maxMs: 300 } };
