// The pure decisions of the node's OPC UA server (runtime/opcua/mapping.ts):
// quality → StatusCode, node state and level → ServiceLevel (a client that
// picks the highest lands on the active), tag types, values both ways, and a
// refused write's StatusCode. No node-opcua here: names are checked against
// the list below, taken from node-opcua's StatusCodes.
import { describe, expect, it } from "vitest";
import { NODE_STATES } from "../../core/types.js";
import { applicationUri, fromUaValue, statusOf, toUaValue, typeOfValue, uaRolesOf, uaServiceLevel, uaTypeOfSource, uaTypeOfTag, writeStatusOf } from "../../runtime/opcua/mapping.js";
import type { DeviceConfig, TagConfig } from "../../drivers/config-schema.js";

const KNOWN = new Set(["Good", "Uncertain", "Bad", "UncertainLastUsableValue", "UncertainSensorNotAccurate", "BadSensorFailure", "BadNodeIdUnknown", "BadOutOfRange", "BadUserAccessDenied"]);
const known = (n: string) => KNOWN.has(n);

describe("quality → StatusCode", () => {
  const cases: [string, Parameters<typeof statusOf>[0], string | undefined, string][] = [
    ["good", "good", undefined, "Good"],
    ["not read yet", "bad", "no_data", "BadWaitingForInitialData"],
    ["connection down", "bad", "comm_lost", "BadNoCommunication"],
    ["device silent", "bad", "timeout", "BadTimeout"],
    ["warm/cold standby: not read here", "bad", "not_reading", "BadOutOfService"],
    ["a tag that cannot be read as configured", "bad", "config: type mismatch", "BadConfigurationError"],
    ["a source's BadNodeIdUnknown is our config, not the client's request", "bad", "config: opcua:BadNodeIdUnknown", "BadConfigurationError"],
    ["a source's own bad code passes through", "bad", "opcua:BadSensorFailure", "BadSensorFailure"],
    ["an unknown source code falls back", "bad", "opcua:BadSomethingNew", "Bad"],
    ["modbus illegal address", "bad", "modbus_exception:2 illegal data address", "BadConfigurationError"],
    ["modbus device failure", "bad", "modbus_exception:4 server device failure", "BadDeviceFailure"],
    ["anything else bad", "bad", "whatever", "Bad"],
    ["scaled raw value out of range", "uncertain", "out_of_range", "UncertainEngineeringUnitsExceeded"],
    ["a source's uncertain code passes through", "uncertain", "opcua:UncertainLastUsableValue", "UncertainLastUsableValue"],
    ["a source's bad code never makes an uncertain value bad", "uncertain", "opcua:BadSensorFailure", "Uncertain"],
    ["other uncertain", "uncertain", undefined, "Uncertain"],
  ];
  for (const [what, q, reason, want] of cases) it(what, () => expect(statusOf(q, reason, known)).toBe(want));
});

describe("node state and level → ServiceLevel (Part 4 §6.6.2.4.2 subranges)", () => {
  it("the acting node is healthy (200–255), the standby degraded (2–199), starting and isolated no data (1), maintenance 0", () => {
    for (const l of [0, 2, 100, 195, 254, 255]) {
      expect(uaServiceLevel("active", l)).toBeGreaterThanOrEqual(200);
      expect(uaServiceLevel("active-held", l)).toBeGreaterThanOrEqual(200);
      expect(uaServiceLevel("standby", l)).toBeGreaterThanOrEqual(2);
      expect(uaServiceLevel("standby", l)).toBeLessThanOrEqual(199);
      expect(uaServiceLevel("starting", l)).toBe(1);
      expect(uaServiceLevel("isolated", l)).toBe(1);
      expect(uaServiceLevel("maintenance", l)).toBe(0);
    }
    expect(uaServiceLevel("active", 255)).toBe(255);
    expect(uaServiceLevel("standby", 255)).toBe(199);
  });

  it("a client picking the highest ServiceLevel lands on the active, whatever both nodes' levels", () => {
    for (let a = 0; a <= 255; a += 5) for (let b = 0; b <= 255; b += 5) expect(uaServiceLevel("active", a)).toBeGreaterThan(uaServiceLevel("standby", b));
    // and never on a node that does not drive the plant
    for (const s of NODE_STATES) if (s !== "active" && s !== "active-held") expect(uaServiceLevel(s, 255)).toBeLessThan(uaServiceLevel("active", 0));
  });

  it("keeps the order of levels within a range and stays a Byte", () => {
    expect(uaServiceLevel("standby", 200)).toBeGreaterThan(uaServiceLevel("standby", 100));
    expect(uaServiceLevel("active", 230)).toBeGreaterThan(uaServiceLevel("active", 170));
    expect(uaServiceLevel("active", 999)).toBe(255);
    expect(uaServiceLevel("standby", -5)).toBe(2);
    expect(uaServiceLevel("standby", Number.NaN)).toBe(2);
  });
});

describe("tag types", () => {
  const modbus = { name: "plc", driver: "modbus" } as DeviceConfig;
  const ua = { name: "scada", driver: "opcua" } as DeviceConfig;
  const tag = (t: Partial<TagConfig>) => ({ name: "x", device: "plc", writable: false, deadband: 0, ...t }) as TagConfig;
  it("Modbus types map to OPC UA built-in types; a scaled tag carries engineering values (Double)", () => {
    expect(uaTypeOfTag(tag({ address: "hr:0", type: "float32" }), modbus)).toEqual({ type: "Float" });
    expect(uaTypeOfTag(tag({ address: "hr:8", type: "uint16" }), modbus)).toEqual({ type: "UInt16" });
    expect(uaTypeOfTag(tag({ address: "hr:8" }), modbus)).toEqual({ type: "UInt16" });
    expect(uaTypeOfTag(tag({ address: "co:0" }), modbus)).toEqual({ type: "Boolean" });
    expect(uaTypeOfTag(tag({ address: "hr:20.5" }), modbus)).toEqual({ type: "Boolean" });
    expect(uaTypeOfTag(tag({ address: "hr:4", type: "int64" }), modbus)).toEqual({ type: "Int64" });
    expect(uaTypeOfTag(tag({ address: "hr:4", type: "bcd16" }), modbus)).toEqual({ type: "UInt16" });
    expect(uaTypeOfTag(tag({ address: "hr:4", type: "string", length: 8 }), modbus)).toEqual({ type: "String" });
    expect(uaTypeOfTag(tag({ address: "hr:12", type: "int16", scaling: { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100, clamp: false } }), modbus)).toEqual({ type: "Double" });
    expect(uaTypeOfTag(tag({ address: "hr:30", type: "float32[]", length: 4 }), modbus)).toEqual({ type: "Float", arrayLength: 4 });
  });
  it("an OPC UA tag takes its source's type once known, else the type its value suggests", () => {
    expect(uaTypeOfTag(tag({ device: "scada", nodeId: "ns=1;s=A" }), ua)).toEqual({ type: null });
    expect(uaTypeOfSource("UInt16")).toBe("UInt16");
    expect(uaTypeOfSource("LocalizedText")).toBeNull();
    expect(uaTypeOfSource(undefined)).toBeNull();
    expect(typeOfValue(true)).toBe("Boolean");
    expect(typeOfValue(1.5)).toBe("Double");
    expect(typeOfValue("a")).toBe("String");
    expect(typeOfValue([null, 2])).toBe("Double");
    expect(typeOfValue(null)).toBeNull();
  });
});

describe("values both ways", () => {
  it("the tag model's JSON values become Variant values of the tag's type", () => {
    expect(toUaValue("Float", 1.5)).toBe(1.5);
    expect(toUaValue("Double", "NaN")).toBeNaN();
    expect(toUaValue("Double", "-Infinity")).toBe(-Infinity);
    expect(toUaValue("UInt16", 7)).toBe(7);
    expect(toUaValue("UInt16", 7.5)).toBeUndefined();
    expect(toUaValue("Boolean", true)).toBe(true);
    expect(toUaValue("Boolean", 1)).toBeUndefined();
    expect(toUaValue("String", "abc")).toBe("abc");
    expect(toUaValue("Int64", "-2")).toEqual([0xffffffff, 0xfffffffe]);
    expect(toUaValue("UInt64", "4294967297")).toEqual([1, 1]);
    expect(toUaValue("Int64", "x")).toBeUndefined();
    expect(toUaValue("Int16", [1, 2, 3])).toEqual([1, 2, 3]);
    expect(toUaValue("Int16", [1, "a"])).toBeUndefined();
    expect((toUaValue("DateTime", "2026-11-30T18:00:00.000Z") as Date).toISOString()).toBe("2026-11-30T18:00:00.000Z");
    expect(toUaValue("Double", null)).toBeUndefined();
  });
  it("a written Variant's value becomes what the node's tag write takes", () => {
    expect(fromUaValue("Int64", [0xffffffff, 0xfffffffe])).toBe("-2");
    expect(fromUaValue("UInt64", [1, 1])).toBe("4294967297");
    expect(fromUaValue("Float", new Float32Array([1, 2]))).toEqual([1, 2]);
    expect(fromUaValue("Double", 42)).toBe(42);
    expect(fromUaValue(null, true)).toBe(true);
    expect(fromUaValue("DateTime", new Date("2026-11-30T18:00:00Z"))).toBe("2026-11-30T18:00:00.000Z");
  });
});

describe("a refused write → StatusCode", () => {
  it("names why, as a SCADA client can act on it", () => {
    expect(writeStatusOf("TANDEM_ERR_NOT_ACTIVE", "tag write refused: node b is standby", known)).toBe("BadInvalidState");
    expect(writeStatusOf("TANDEM_ERR_LEASE", "", known)).toBe("BadInvalidState");
    expect(writeStatusOf("TANDEM_ERR_FENCED", "", known)).toBe("BadInvalidState");
    expect(writeStatusOf("TANDEM_ERR_FORBIDDEN", "", known)).toBe("BadUserAccessDenied");
    expect(writeStatusOf("TANDEM_ERR_TAG_READ_ONLY", "", known)).toBe("BadNotWritable");
    expect(writeStatusOf("TANDEM_ERR_TAG_VALUE", "tag x: the tag's engineering limits are 0 to 100 (min/max in its config), got 200", known)).toBe("BadOutOfRange");
    expect(writeStatusOf("TANDEM_ERR_TAG_VALUE", "tag x: uint16 needs a whole number from 0 to 65535, got 1.5", known)).toBe("BadTypeMismatch");
    expect(writeStatusOf("TANDEM_ERR_TAG_VALUE", "tag x: uint16 needs a whole number from 0 to 65535, got 70000", known)).toBe("BadOutOfRange");
    expect(writeStatusOf("TANDEM_ERR_TAG_VALUE", "tag x: bool needs true or false, got 1", known)).toBe("BadTypeMismatch");
    expect(writeStatusOf("TANDEM_ERR_DEVICE_UNAVAILABLE", "", known)).toBe("BadNoCommunication");
    expect(writeStatusOf("TANDEM_ERR_TAG_WRITE", "write to tag x failed: the server answered BadOutOfRange", known)).toBe("BadOutOfRange");
    expect(writeStatusOf("TANDEM_ERR_TAG_WRITE", "write to tag x failed: no answer within 500 ms", known)).toBe("BadCommunicationError");
    expect(writeStatusOf("TANDEM_ERR_AUDIT_UNAVAILABLE", "", known)).toBe("BadResourceUnavailable");
    expect(writeStatusOf(undefined, "boom", known)).toBe("BadInternalError");
  });
});

describe("names and roles", () => {
  it("each node's application URI comes from the pair and node ids", () => {
    expect(applicationUri("line1", "a")).toBe("urn:tandem:line1:a");
    expect(applicationUri("line1", "b")).not.toBe(applicationUri("line1", "a"));
  });
  it("viewers observe; operators and admins also operate", () => {
    expect(uaRolesOf("viewer")).toEqual(["Observer"]);
    expect(uaRolesOf("operator")).toContain("Operator");
    expect(uaRolesOf("admin")).toContain("Operator");
    expect(uaRolesOf("viewer")).not.toContain("Operator");
  });
});
