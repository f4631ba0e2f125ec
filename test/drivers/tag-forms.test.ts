// The short forms of a tag list (issue 8) produce exactly the tags of the
// long form: blocks with `count`, the type names PLC programmers use, vendor
// byte-order names, Modicon addresses and a CSV tag file. BCD and array tags
// read and write right against pymodbus, a server Tandem did not write, with
// the registers seeded and checked on the server's side.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TandemError } from "../../core/errors.js";
import { driversSection, type ModbusDeviceConfig } from "../../drivers/config-schema.js";
import { parseModiconAddress } from "../../drivers/modbus-address.js";
import { CodecError, decodeRegisters, encodeRegisters, normaliseOrderName, normaliseTypeName } from "../../drivers/modbus-codec.js";
import { ModbusDriver, modbusTag } from "../../drivers/modbus-driver.js";
import type { TagSample } from "../../drivers/tag-model.js";
import { loadConfig } from "../../runtime/config/load.js";
import { log, openGate, startPymodbus, waitFor, type Pymodbus } from "./helpers.js";
import { minimalConfig } from "../helpers/min-config.js";

const head = minimalConfig();

const dir = mkdtempSync(join(tmpdir(), "tandem-tag-forms-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(name: string, yaml: string) {
  const file = join(dir, name);
  writeFileSync(file, head + yaml);
  return loadConfig(file, {}).drivers!;
}

describe("short forms = the long form", () => {
  it("blocks, PLC type names, vendor byte orders, Modicon addresses and a CSV file give the same tags", () => {
    writeFileSync(
      join(dir, "tags.csv"),
      [
        "name,address,type,order,scaling,units,description,writable",
        "line1.tank1.level,40001,REAL,word swap,,%,tank 1 level,",
        'line1.tank1.raw,30008,INT,,0..27648=0..100 clamp,%,"raw level, 0-27648",',
        "line1.pump.run,00004,BOOL,,,,,yes",
        "line1.batch.count,400011,UDINT,little-endian,,,,",
      ].join("\n"),
    );
    const short = load(
      "short.yaml",
      `drivers:
  devices: [{ name: plc1, driver: modbus, endpoints: ["127.0.0.1:502"], addressing: modicon, byteOrder: word swap }]
  tagFiles: [{ file: tags.csv, device: plc1 }]
  tags:
    - { name: "line1.valve{i}", device: plc1, address: "00017", count: 16, writable: true }
    - { name: "line1.temp{i}", device: plc1, address: 40101, type: REAL, count: 3, indexFrom: 1, byteOrder: byte swap }
    - { name: "line1.status.b{i}", device: plc1, address: "40021.14", count: 4 }
    - { name: line1.counts, device: plc1, address: 400201, type: "UDINT[]", length: 4 }
    - { name: line1.code, device: plc1, address: hr:300, type: BCD }
    - { name: line1.alarm, device: plc1, address: 10003 }
    - { name: "line1.word{i}", device: plc1, address: hr:400, type: DINT, count: 2, stride: 5 }
`,
    );
    const long = load(
      "long.yaml",
      `drivers:
  devices: [{ name: plc1, driver: modbus, endpoints: ["127.0.0.1:502"], byteOrder: CDAB }]
  tags:
${Array.from({ length: 16 }, (_, i) => `    - { name: line1.valve${i}, device: plc1, address: "co:${16 + i}", writable: true }`).join("\n")}
    - { name: line1.temp1, device: plc1, address: "hr:100", type: float32, byteOrder: BADC }
    - { name: line1.temp2, device: plc1, address: "hr:102", type: float32, byteOrder: BADC }
    - { name: line1.temp3, device: plc1, address: "hr:104", type: float32, byteOrder: BADC }
    - { name: line1.status.b0, device: plc1, address: "hr:20.14" }
    - { name: line1.status.b1, device: plc1, address: "hr:20.15" }
    - { name: line1.status.b2, device: plc1, address: "hr:21.0" }
    - { name: line1.status.b3, device: plc1, address: "hr:21.1" }
    - { name: line1.counts, device: plc1, address: "hr:200", type: "uint32[]", length: 4 }
    - { name: line1.code, device: plc1, address: "hr:300", type: bcd16 }
    - { name: line1.alarm, device: plc1, address: "di:2" }
    - { name: line1.word0, device: plc1, address: "hr:400", type: int32 }
    - { name: line1.word1, device: plc1, address: "hr:405", type: int32 }
    - { name: line1.tank1.level, device: plc1, address: "hr:0", type: float32, byteOrder: CDAB, units: "%", description: tank 1 level }
    - { name: line1.tank1.raw, device: plc1, address: "ir:7", type: int16, scaling: { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100, clamp: true }, units: "%", description: "raw level, 0-27648" }
    - { name: line1.pump.run, device: plc1, address: "co:3", type: bool, writable: true }
    - { name: line1.batch.count, device: plc1, address: "hr:10", type: uint32, byteOrder: DCBA }
`,
    );
    expect(short.tags).toEqual(long.tags);
    expect(short.tags).toHaveLength(32);
    const [ds, dl] = [short.devices[0] as ModbusDeviceConfig, long.devices[0] as ModbusDeviceConfig];
    expect({ ...ds, addressing: "zero-based" }).toEqual(dl);
    // and the driver sees the same tags
    expect(short.tags.map((t) => modbusTag(t, ds, 1000))).toEqual(long.tags.map((t) => modbusTag(t, dl, 1000)));
  });

  it("Modicon addresses: 5 and 6 digits, every table, bits; 1-based", () => {
    expect(parseModiconAddress(40001)).toEqual({ table: "holding", address: 0 });
    expect(parseModiconAddress("400001")).toEqual({ table: "holding", address: 0 });
    expect(parseModiconAddress(465536)).toEqual({ table: "holding", address: 65535 });
    expect(parseModiconAddress(30010)).toEqual({ table: "input", address: 9 });
    expect(parseModiconAddress("00001")).toEqual({ table: "coil", address: 0 });
    expect(parseModiconAddress(1)).toEqual({ table: "coil", address: 0 });
    expect(parseModiconAddress("010001")).toEqual({ table: "coil", address: 10000 });
    expect(parseModiconAddress(10001)).toEqual({ table: "discrete", address: 0 });
    expect(parseModiconAddress("40021.5")).toEqual({ table: "holding", address: 20, bit: 5 });
    expect(parseModiconAddress(40000)).toMatch(/1–9999/);
    expect(parseModiconAddress(20001)).toMatch(/first digit/);
    expect(parseModiconAddress("10001.3")).toMatch(/bit index only applies/);
  });

  it("a Modicon number on a zero-based device is refused with the way out", () => {
    const r = driversSection.safeParse({ devices: [{ name: "p", driver: "modbus", endpoints: ["127.0.0.1:502"] }], tags: [{ name: "a", device: "p", address: 40001 }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/set addressing: modicon on the device, or write it zero-based with its table \(40001 is hr:0\)/);
  });

  it("type and byte order names", () => {
    expect(["REAL", "lreal", "DINT", "UDINT", "INT", "UINT", "WORD", "DWORD", "BOOL", "Float32", "REAL[]"].map(normaliseTypeName)).toEqual([
      "float32", "float64", "int32", "uint32", "int16", "uint16", "uint16", "uint32", "bool", "float32", "float32[]",
    ]);
    expect(normaliseTypeName("REALL")).toBeUndefined();
    expect(["word swap", "Byte-Swap", "little_endian", "big-endian", "cdab"].map(normaliseOrderName)).toEqual(["CDAB", "BADC", "DCBA", "ABCD", "CDAB"]);
  });

  it("BCD: packed decimal digits in every order; a nibble above 9 is refused, never guessed", () => {
    expect(decodeRegisters("bcd16", [0x1234], { order: "ABCD" })).toBe(1234);
    expect(decodeRegisters("bcd16", [0x3412], { order: "BADC" })).toBe(1234);
    expect(decodeRegisters("bcd32", [0x1234, 0x5678], { order: "ABCD" })).toBe(12345678);
    expect(decodeRegisters("bcd32", [0x5678, 0x1234], { order: "CDAB" })).toBe(12345678);
    expect(encodeRegisters("bcd32", 12345678, { order: "CDAB" })).toEqual([0x5678, 0x1234]);
    expect(() => decodeRegisters("bcd16", [0x12a4], { order: "ABCD" })).toThrow(CodecError);
    expect(() => encodeRegisters("bcd16", 10000, { order: "ABCD" })).toThrow(/out of range for bcd16/);
  });
});

describe("BCD and arrays against pymodbus", () => {
  let py: Pymodbus;
  let driver: ModbusDriver | undefined;
  beforeAll(async () => {
    py = await startPymodbus();
  });
  afterAll(async () => {
    await driver?.stop();
    await py.stop();
  });

  it("reads values seeded on the server and writes registers the server holds", async () => {
    const cfg = driversSection.parse({
      devices: [{ name: "plc", driver: "modbus", endpoints: [`127.0.0.1:${py.port}`], timeoutMs: 2000, byteOrder: "word swap" }],
      tags: [
        { name: "b.code", device: "plc", address: "hr:10", type: "BCD", writable: true, scanMs: 50 },
        { name: "b.total", device: "plc", address: "hr:12", type: "bcd32", writable: true, scanMs: 50 },
        { name: "b.bad", device: "plc", address: "hr:14", type: "bcd16", scanMs: 50 },
        { name: "a.temps", device: "plc", address: "hr:20", type: "REAL[]", length: 3, writable: true, scanMs: 50 },
        { name: "a.words", device: "plc", address: "hr:30", type: "int16[]", length: 4, byteOrder: "big-endian", writable: true, scanMs: 50 },
        { name: "a.valves", device: "plc", address: "co:8", type: "bool[]", length: 5, writable: true, scanMs: 50 },
      ],
    });
    const dev = cfg.devices[0] as ModbusDeviceConfig;
    const samples = new Map<string, TagSample>();
    driver = new ModbusDriver({ device: dev, tags: cfg.tags.map((t) => modbusTag(t, dev, cfg.scanMs)), onSample: (n, s) => samples.set(n, s), log, gate: openGate });
    // seeded by the server's own means: BCD 1234, 12345678 (word swapped), a broken BCD, three floats word swapped, int16s, coils
    const f32 = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeFloatBE(v);
      return [b.readUInt16BE(2), b.readUInt16BE(0)];
    };
    await py.set("hr", 10, [0x1234]);
    await py.set("hr", 12, [0x5678, 0x1234]);
    await py.set("hr", 14, [0x00f1]);
    await py.set("hr", 20, [...f32(1.5), ...f32(-20.25), ...f32(100)]);
    await py.set("hr", 30, [1, 0xffff, 32767, 0x8000]);
    await py.set("co", 8, [1, 0, 1, 1, 0]);
    driver.setMode("read");
    const v = (n: string) => samples.get(n);
    await waitFor(() => ["b.code", "b.total", "a.temps", "a.words", "a.valves", "b.bad"].every((n) => v(n) !== undefined && v(n)!.reason !== "no_data"), "first values", 5000);
    expect(v("b.code")).toMatchObject({ quality: "good", value: 1234 });
    expect(v("b.total")).toMatchObject({ quality: "good", value: 12345678 });
    expect(v("b.bad")).toMatchObject({ quality: "bad", value: null, reason: expect.stringMatching(/^config: not BCD: 0x00f1/) });
    expect(v("a.temps")).toMatchObject({ quality: "good", value: [1.5, -20.25, 100] });
    expect(v("a.words")).toMatchObject({ quality: "good", value: [1, -1, 32767, -32768] });
    expect(v("a.valves")).toMatchObject({ quality: "good", value: [true, false, true, true, false] });

    await driver.write("b.code", 9876, "operator");
    await driver.write("b.total", 87654321, "operator");
    await driver.write("a.temps", [0.5, 2, -4], "operator");
    await driver.write("a.words", [-2, 3, -4, 5], "operator");
    await driver.write("a.valves", [false, true, false, false, true], "operator");
    expect(await py.get("hr", 10, 1)).toEqual([0x9876]);
    expect(await py.get("hr", 12, 2)).toEqual([0x4321, 0x8765]);
    expect(await py.get("hr", 20, 6)).toEqual([...f32(0.5), ...f32(2), ...f32(-4)]);
    expect(await py.get("hr", 30, 4)).toEqual([0xfffe, 3, 0xfffc, 5]);
    expect(await py.get("co", 8, 5)).toEqual([0, 1, 0, 0, 1]);
    await waitFor(() => JSON.stringify(v("a.temps")?.value) === "[0.5,2,-4]", "array read back");

    // junk never reaches the server: wrong length, an element of the wrong kind, a BCD out of range
    const before = await py.writes();
    const refused = async (tag: string, value: unknown, msg: RegExp) => {
      const e = await driver!.write(tag, value, "operator").then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(TandemError);
      expect((e as TandemError).code).toBe("TANDEM_ERR_TAG_VALUE");
      expect((e as TandemError).message).toMatch(msg);
    };
    await refused("a.temps", [1, 2], /a\.temps: float32\[\] needs a list of 3 elements, got the list \[1,2\] \(2 elements\)/);
    await refused("a.words", [1, "2", 3, 4], /a\.words\[1\]: int16 needs a JSON number, not text/);
    await refused("a.words", 5, /needs a list of 4 elements, got 5/);
    await refused("a.valves", [true, 1, false, false, true], /a\.valves\[1\]: bool needs true or false/);
    await refused("b.code", 10000, /out of range for bcd16/);
    expect(await py.writes()).toBe(before);
  });
});
