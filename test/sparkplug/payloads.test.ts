// The edge node's payloads and what it hears (runtime/sparkplug/payloads.ts):
// what it encodes, decoded independently with protobufjs from the vendored
// sparkplug_b.proto; quality never sent as good when it is not; STATE and
// NCMD/DCMD parsing of hostile bytes (fast-check) never throws and never
// yields a write the rules do not allow; and mqtt.sparkplug's config errors.
import fc from "fast-check";
import sparkplug from "sparkplug-payload";
import { describe, expect, it } from "vitest";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import { mqttSection } from "../../runtime/mqtt/config-schema.js";
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
      ["Tandem/Epoch", 10, 3],
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

  it("types: numbers Double, booleans Boolean, the rest String; a value that no longer fits its birth type is a misfit", () => {
    expect(datatypeOf(1)).toBe("Double");
    expect(datatypeOf(true)).toBe("Boolean");
    expect(datatypeOf("x")).toBe("String");
    expect(datatypeOf([1, 2])).toBe("String");
    expect(datatypeOf(null, "bool")).toBe("Boolean");
    expect(datatypeOf(null, "float32[]")).toBe("String");
    expect(datatypeOf(null, "Boolean")).toBe("Boolean");
    expect(datatypeOf(null, undefined)).toBe("Double");
    expect(tagMetric(snap({ value: "text" }), "Double", false).misfit).toBe(true);
    expect(tagMetric(snap({ value: null, quality: "bad" }), "Double", false).misfit).toBe(false);
    expect(decodeIndependently(payload(1, 1, [tagMetric(snap({ value: [1, 2] }), "String", false).metric])).metrics[0].value).toBe("[1,2]");
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
