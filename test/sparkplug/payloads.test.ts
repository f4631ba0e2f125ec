// The edge node's payloads and what it hears (runtime/sparkplug/payloads.ts):
// what it encodes, decoded independently with protobufjs from the vendored
// sparkplug_b.proto; quality never sent as good when it is not; STATE and
// NCMD/DCMD parsing of hostile bytes (fast-check) never throws and never
// yields a write the rules do not allow; and mqtt.sparkplug's config errors.
import fc from "fast-check";
import sparkplug from "sparkplug-payload";
import { describe, expect, it } from "vitest";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import { driversSection } from "../../drivers/config-schema.js";
import { mqttSection } from "../../runtime/mqtt/config-schema.js";
import { sparkplugDevices } from "../../runtime/node-sparkplug.js";
import { commandOf, datatypeOf, nbirth, ndeath, parseCommand, parseHostState, payload, QUALITY_BAD, QUALITY_GOOD, QUALITY_STALE, REBIRTH, tagMetric } from "../../runtime/sparkplug/payloads.js";
import { decodeIndependently } from "./host.js";

const codec = sparkplug.get("spBv1.0")!;
const snap = (o: Partial<TagSnapshot>): TagSnapshot => ({ name: "line.level", driver: "modbus", value: 12.5, quality: "good", timestamp: "2026-12-01T10:00:00.000Z", receivedAt: "2026-12-01T10:00:00.010Z", writable: true, ...o });

describe("Sparkplug payloads, decoded with protobufjs and the published schema", () => {
  it("NBIRTH: seq, bdSeq (UInt64), Node Control/Rebirth and the pair's own metrics; NDEATH: bdSeq only and no seq", () => {
    const b = decodeIndependently(nbirth(7, 0, 1_700_000_000_000, { activeNode: "b", epoch: 3, held: true }));
    expect(b.seq).toBe(0);
    expect(b.timestamp).toBe(1_700_000_000_000);
    expect(b.metrics.map((m) => [m.name, m.datatype, m.value])).toEqual([
      ["bdSeq", 8, 7],
      [REBIRTH, 11, false],
      ["Tandem/Active Node", 12, "b"],
      ["Tandem/Epoch", 8, 3],
      ["Tandem/Held", 11, true],
    ]);
    const d = decodeIndependently(ndeath(7, 1));
    expect(d.seq).toBeUndefined();
    expect(d.metrics.map((m) => [m.name, m.value])).toEqual([["bdSeq", 7]]);
  });

  it("a good value is Quality 192 with its value and source time; uncertain is 500 (stale) with its value; bad is 0 with is_null and no value", () => {
    const enc = (t: TagSnapshot, birth = false) => decodeIndependently(payload(4, 1, [tagMetric(t, "Double", birth).metric])).metrics[0];
    const good = enc(snap({}), true);
    expect(good).toMatchObject({ name: "line.level", datatype: 10, isNull: false, value: 12.5, timestamp: Date.parse("2026-12-01T10:00:00.000Z") });
    expect(good.properties).toMatchObject({ Quality: QUALITY_GOOD, readOnly: false });
    const unc = enc(snap({ quality: "uncertain", reason: "out_of_range" }));
    expect(unc).toMatchObject({ isNull: false, value: 12.5 });
    expect(unc.properties).toEqual({ Quality: QUALITY_STALE, Reason: "out_of_range" });
    const bad = enc(snap({ quality: "bad", reason: "comm_lost", value: 12.5 }));
    expect(bad).toMatchObject({ isNull: true, value: undefined });
    expect(bad.properties).toEqual({ Quality: QUALITY_BAD, Reason: "comm_lost" });
  });

  it("types: the tag's known type when its value fits it, else from the value (numbers Double, booleans Boolean, the rest String); a value that no longer fits its birth type is a misfit", () => {
    expect(datatypeOf(1)).toBe("Double");
    expect(datatypeOf(true)).toBe("Boolean");
    expect(datatypeOf("x")).toBe("String");
    expect(datatypeOf([1, 2])).toBe("String");
    expect(datatypeOf(null, undefined)).toBe("Double");
    expect(datatypeOf(null, "Boolean")).toBe("Boolean");
    expect(datatypeOf(null, "array")).toBe("String");
    expect(datatypeOf([1, 2], "Int16")).toBe("String");
    for (const [ua, sp, v] of [["SByte", "Int8", -128], ["Byte", "UInt8", 255], ["Int16", "Int16", -32768], ["UInt16", "UInt16", 65535], ["Int32", "Int32", -5], ["UInt32", "UInt32", 4294967295], ["Int64", "Int64", "-9223372036854775808"], ["UInt64", "UInt64", "18446744073709551615"], ["Float", "Float", 1.5], ["Double", "Double", 0.1], ["DateTime", "DateTime", "2026-12-01T10:00:00.000Z"], ["String", "String", "x"]] as const) {
      expect(datatypeOf(v, ua), ua).toBe(sp);
      expect(datatypeOf(null, ua), ua).toBe(sp);
    }
    // a value the known type cannot hold: the type of its kind, so the tag is not born again and again
    expect(datatypeOf(70000, "UInt16")).toBe("Double");
    expect(datatypeOf(1.5, "Int32")).toBe("Double");
    expect(datatypeOf("1e3", "Int64")).toBe("String");
    expect(datatypeOf(true, "Double")).toBe("Boolean");
    expect(datatypeOf("LocalizedText?", "LocalizedText")).toBe("String");
    expect(tagMetric(snap({ value: "text" }), "Double", false).misfit).toBe(true);
    expect(tagMetric(snap({ value: 65536 }), "UInt16", false).misfit).toBe(true);
    expect(tagMetric(snap({ value: -1 }), "UInt32", false).misfit).toBe(true);
    expect(tagMetric(snap({ value: 2.5 }), "Int16", false).misfit).toBe(true);
    expect(tagMetric(snap({ value: "18446744073709551616" }), "UInt64", false).misfit).toBe(true);
    expect(tagMetric(snap({ value: 7 }), "Double", false).misfit).toBe(false);
    expect(tagMetric(snap({ value: null, quality: "bad" }), "Double", false).misfit).toBe(false);
    expect(tagMetric(snap({ value: 99999, quality: "bad" }), "Int8", false).misfit).toBe(false);
    expect(decodeIndependently(payload(1, 1, [tagMetric(snap({ value: [1, 2] }), "String", false).metric])).metrics[0].value).toBe("[1,2]");
  });

  it("each tag's known type comes from config as the OPC UA server serves it: Modbus types, Double when scaled, arrays, an OPC UA tag's left to its source", () => {
    const drivers = driversSection.parse({
      devices: [
        { name: "plc", driver: "modbus", transport: "tcp", endpoints: ["127.0.0.1:502"] },
        { name: "ua", driver: "opcua", endpoints: ["opc.tcp://127.0.0.1:4840"] },
      ],
      tags: [
        { device: "plc", name: "valve", address: "hr:8", type: "uint16" },
        { device: "plc", name: "count", address: "hr:10", type: "int64" },
        { device: "plc", name: "temp", address: "hr:12", type: "int16", scaling: { rawMin: 0, rawMax: 1000, engMin: 0, engMax: 100 } },
        { device: "plc", name: "run", address: "co:1" },
        { device: "plc", name: "curve", address: "hr:20", type: "float32[]", length: 4 },
        { device: "plc", name: "code", address: "hr:40", type: "bcd16" },
        { device: "ua", name: "speed", nodeId: "ns=1;s=Speed" },
      ],
    });
    expect(sparkplugDevices({ drivers })).toEqual([
      { name: "plc", tags: ["valve", "count", "temp", "run", "curve", "code"], types: { valve: "UInt16", count: "Int64", temp: "Double", run: "Boolean", curve: "array", code: "UInt16" } },
      { name: "ua", tags: ["speed"], types: { speed: undefined } },
    ]);
    expect(["valve", "count", "temp", "run", "curve", "code"].map((t) => datatypeOf(null, sparkplugDevices({ drivers })[0]!.types[t]))).toEqual(["UInt16", "Int64", "Double", "Boolean", "String", "UInt16"]);
  });

  it("each type on the wire as Sparkplug 3.0 has it, read back by protobufjs: signed integers in two's complement, 64-bit ones exact, non-finite floats, DateTime in ms", () => {
    const wire = (value: unknown, type: Parameters<typeof tagMetric>[1]) => decodeIndependently(payload(1, 1, [tagMetric(snap({ value }), type, false).metric])).metrics[0]!;
    const cases: [unknown, Parameters<typeof tagMetric>[1], number, unknown][] = [
      [-128, "Int8", 1, -128],
      [127, "Int8", 1, 127],
      [-32768, "Int16", 2, -32768],
      [-2147483648, "Int32", 3, -2147483648],
      ["-9223372036854775808", "Int64", 4, "-9223372036854775808"],
      ["-5", "Int64", 4, -5],
      [255, "UInt8", 5, 255],
      [65535, "UInt16", 6, 65535],
      [4294967295, "UInt32", 7, 4294967295],
      ["18446744073709551615", "UInt64", 8, "18446744073709551615"],
      ["9007199254740993", "UInt64", 8, "9007199254740993"],
      [1.5, "Float", 9, 1.5],
      ["-Infinity", "Float", 9, -Infinity],
      [0.1, "Double", 10, 0.1],
      ["NaN", "Double", 10, NaN],
      ["2026-12-01T10:00:00.000Z", "DateTime", 13, Date.parse("2026-12-01T10:00:00.000Z")],
    ];
    for (const [value, type, datatype, back] of cases) {
      const m = wire(value, type);
      expect([m.datatype, m.value, m.isNull], `${String(value)} as ${type}`).toEqual([datatype, back, false]);
    }
  });

  it("property: a whole number in a type's range goes out as that type and reads back the same; one out of range is a misfit, never a wrapped value", () => {
    const ranges = { Int8: [-128, 127], Int16: [-32768, 32767], Int32: [-2147483648, 2147483647], UInt8: [0, 255], UInt16: [0, 65535], UInt32: [0, 4294967295] } as const;
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(ranges) as (keyof typeof ranges)[])), fc.integer({ min: -5e9, max: 5e9 }), (type, value) => {
        const [lo, hi] = ranges[type];
        const m = tagMetric(snap({ value }), type, false);
        expect(m.misfit).toBe(value < lo || value > hi);
        if (!m.misfit) expect(decodeIndependently(payload(1, 1, [m.metric])).metrics[0]!.value).toBe(value);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 65n }), fc.constantFrom("Int64" as const, "UInt64" as const), (big, type) => {
        const m = tagMetric(snap({ value: big.toString() }), type, false);
        const fits = type === "Int64" ? big >= -(2n ** 63n) && big < 2n ** 63n : big >= 0n && big < 2n ** 64n;
        expect(m.misfit).toBe(!fits);
        if (fits) expect(String(decodeIndependently(payload(1, 1, [m.metric])).metrics[0]!.value)).toBe(big.toString());
      }),
      { numRuns: 2000 },
    );
  });

  it("command topics: NCMD of this edge node, DCMD of one of its devices; nothing else", () => {
    expect(commandOf("g", "e", "spBv1.0/g/NCMD/e")).toEqual({ kind: "NCMD" });
    expect(commandOf("g", "e", "spBv1.0/g/DCMD/e/plc")).toEqual({ kind: "DCMD", device: "plc" });
    for (const t of ["spBv1.0/g/NCMD/other", "spBv1.0/h/NCMD/e", "spBv1.0/g/DCMD/e", "spBv1.0/g/DCMD/e/", "spBv1.0/g/NDATA/e", "spBv1.0/g/NCMD/e/x"]) expect(commandOf("g", "e", t)).toBeNull();
  });
});

describe("what the edge node hears, hostile or not (S5)", () => {
  const tags = new Set(["line.level", "line.valve"]);
  const tagsOf = (d: string) => (d === "plc" ? tags : null);

  it("STATE: Sparkplug 3.0 JSON only", () => {
    expect(parseHostState(Buffer.from('{"online":true,"timestamp":5}'))).toEqual({ online: true, timestamp: 5 });
    for (const bad of ["ONLINE", "", "{}", '{"online":"yes","timestamp":1}', '{"online":true}', '{"online":true,"timestamp":-1}', "[1]", "null"]) expect(parseHostState(Buffer.from(bad))).toHaveProperty("problem");
  });

  it("NCMD takes only Rebirth = true; DCMD only this device's tags with plain values", () => {
    const enc = (metrics: object[]) => codec.encodePayload({ timestamp: 1, metrics: metrics as never });
    expect(parseCommand(enc([{ name: REBIRTH, type: "Boolean", value: true }]), { kind: "NCMD" }, tagsOf)).toEqual({ rebirth: true, writes: [], refused: [] });
    expect(parseCommand(enc([{ name: REBIRTH, type: "Boolean", value: false }]), { kind: "NCMD" }, tagsOf).rebirth).toBe(false);
    expect(parseCommand(enc([{ name: "line.level", type: "Double", value: 3 }]), { kind: "NCMD" }, tagsOf).writes).toEqual([]);
    const d = parseCommand(enc([{ name: "line.level", type: "Double", value: 3 }, { name: "nope", type: "Double", value: 1 }, { name: "line.valve", type: "Int64", value: 9 }]), { kind: "DCMD", device: "plc" }, tagsOf);
    expect(d.writes).toEqual([{ tag: "line.level", value: 3 }, { tag: "line.valve", value: 9 }]);
    expect(d.refused).toHaveLength(1);
    // integers by their metric type: signed, unsigned, and 64-bit ones past 2^53 as decimal text
    const ints = parseCommand(
      enc([
        { name: "line.valve", type: "Int16", value: -7 },
        { name: "line.valve", type: "Int64", value: "-9223372036854775807" },
        { name: "line.valve", type: "Int64", value: -3 },
        { name: "line.valve", type: "UInt64", value: "18446744073709551615" },
        { name: "line.valve", type: "UInt32", value: 4294967295 },
      ]),
      { kind: "DCMD", device: "plc" },
      tagsOf,
    );
    expect(ints.writes.map((w) => w.value)).toEqual([-7, "-9223372036854775807", -3, "18446744073709551615", 4294967295]);
    expect(parseCommand(enc([{ name: "line.level", type: "Double", value: 3 }]), { kind: "DCMD", device: "other" }, tagsOf).writes).toEqual([]);
  });

  it("any bytes as STATE, NCMD or DCMD (fast-check): no throw; a write only to a tag of the device; a rebirth only from NCMD", () => {
    const metric = fc.record({
      name: fc.oneof(fc.constantFrom(REBIRTH, "line.level", "line.valve", "", "__proto__", "constructor"), fc.string({ maxLength: 20 })),
      type: fc.constantFrom("Int8", "Int32", "Int64", "UInt64", "Double", "Float", "Boolean", "String", "Bytes", "DateTime"),
      value: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 10 }), fc.constant(null)),
    });
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(metric, { maxLength: 5 }).map((metrics) => {
        try {
          return codec.encodePayload({ timestamp: 1, metrics: metrics as never });
        } catch {
          return new Uint8Array([0x12, 0x02, 0x0a, 0x00]);
        }
      }),
      fc.tuple(fc.array(metric, { minLength: 1, maxLength: 3 }), fc.nat(40), fc.uint8Array({ maxLength: 8 })).map(([metrics, cut, junk]) => {
        let b: Uint8Array;
        try {
          b = codec.encodePayload({ timestamp: 1, metrics: metrics as never });
        } catch {
          b = new Uint8Array();
        }
        return new Uint8Array([...b.slice(0, cut), ...junk]);
      }),
    );
    fc.assert(
      fc.property(bytes, fc.constantFrom("NCMD", "DCMD", "DCMD-other"), (b, k) => {
        const st = parseHostState(Buffer.from(b));
        expect("problem" in st || (typeof st.online === "boolean" && Number.isSafeInteger(st.timestamp))).toBe(true);
        const cmd = k === "NCMD" ? ({ kind: "NCMD" } as const) : ({ kind: "DCMD", device: k === "DCMD" ? "plc" : "other" } as const);
        const c = parseCommand(b, cmd, tagsOf);
        if (k !== "NCMD") expect(c.rebirth).toBe(false);
        if (k !== "DCMD") expect(c.writes).toEqual([]);
        for (const w of c.writes) {
          expect(tags.has(w.tag)).toBe(true);
          expect(["number", "boolean", "string"]).toContain(typeof w.value);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("mqtt.sparkplug config", () => {
  const parse = (m: unknown) => mqttSection.safeParse(m);
  const issues = (m: unknown) => {
    const r = parse(m);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("with a site broker the edge node uses mqtt.url; with the embedded broker it needs its own url", () => {
    expect(parse({ broker: "external", url: "mqtt://broker:1883", sparkplug: { groupId: "plant", edgeNodeId: "line1" } }).success).toBe(true);
    expect(issues({ listen: "127.0.0.1:1883", sparkplug: { groupId: "plant", edgeNodeId: "line1" } })).toEqual([expect.stringMatching(/^sparkplug\.url: required with broker: embedded/)]);
    expect(parse({ listen: "127.0.0.1:1883", sparkplug: { groupId: "plant", edgeNodeId: "line1", url: "mqtt://site:1883", primaryHostId: "scada" } }).success).toBe(true);
  });

  it("ids without '/', '+' or '#'; unknown keys refused", () => {
    const base = { broker: "external", url: "mqtt://broker:1883" };
    expect(issues({ ...base, sparkplug: { groupId: "a/b", edgeNodeId: "e" } })).toEqual([expect.stringMatching(/^sparkplug\.groupId: expected a Sparkplug group id/)]);
    expect(issues({ ...base, sparkplug: { groupId: "g", edgeNodeId: "e#" } })[0]).toMatch(/^sparkplug\.edgeNodeId/);
    expect(issues({ ...base, sparkplug: { groupId: "g", edgeNodeId: "e", primaryHostId: "+" } })[0]).toMatch(/^sparkplug\.primaryHostId/);
    expect(issues({ ...base, sparkplug: { groupId: "g", edgeNodeId: "e", group: "x" } })[0]).toMatch(/^sparkplug: Unrecognized key/);
    expect(issues({ ...base, sparkplug: { edgeNodeId: "e" } })[0]).toMatch(/^sparkplug\.groupId/);
  });
});
