// The one conversion from an engineering value (JSON, as the API receives
// it) to the raw value a driver sends (drivers/tag-value.ts), and its OPC UA
// form. Pure: what is refused here never reaches a PLC (the driver tests and
// the conformance suite show that against real servers).
import { DataType } from "node-opcua";
import { describe, expect, it } from "vitest";
import { toVariant, toWrite } from "../../drivers/opcua-values.js";
import { checkLimits, describeGiven, toRaw, writtenValue, type ValueSpec } from "../../drivers/tag-value.js";

const raw = (spec: ValueSpec, v: unknown) => toRaw("line1.x", spec, v);
const refused = (spec: ValueSpec, v: unknown) => {
  try {
    toRaw("line1.x", spec, v);
  } catch (e) {
    return e as { code: string; status: number; message: string };
  }
  throw new Error(`${describeGiven(v)} was accepted for ${spec.type}`);
};

describe("engineering value → raw value", () => {
  it("the values Number() would turn into 0 are refused for every numeric type, naming the tag, the type and what was given", () => {
    for (const type of ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"] as const) {
      for (const [junk, shown] of [
        [null, "got null"],
        ["", 'got the text ""'],
        [false, "got false"],
        [[], "got the list []"],
        [{}, "got the object {}"],
        [undefined, "got nothing"],
        [true, "got true"],
      ] as const) {
        const e = refused({ type }, junk);
        expect(e).toMatchObject({ code: "TANDEM_ERR_TAG_VALUE", status: 400 });
        expect(e.message).toBe(`tag line1.x: ${type} needs ${e.message.split(" needs ")[1]!.split(", got ")[0]}, ${shown}`);
        expect(e.message).toContain(`${type} needs`);
      }
    }
  });

  it("numbers come as JSON numbers, not text (64-bit integers also take a decimal string)", () => {
    expect(refused({ type: "int16" }, "12").message).toBe('tag line1.x: int16 needs a JSON number, not text, got the text "12"');
    expect(refused({ type: "float64" }, "1.5").message).toMatch(/float64 needs a JSON number, not text/);
    expect(raw({ type: "int64" }, "-9007199254740993")).toBe(-9007199254740993n);
    expect(raw({ type: "uint64" }, "18446744073709551615")).toBe(2n ** 64n - 1n);
    expect(refused({ type: "uint64" }, "18446744073709551616").message).toMatch(/uint64 needs a whole number from 0 to 18446744073709551615/);
    expect(refused({ type: "int64" }, "1.5").message).toMatch(/or a decimal string of digits/);
    expect(refused({ type: "int64" }, " 12").code).toBe("TANDEM_ERR_TAG_VALUE");
    // past 2^53 a JSON number has already lost digits: refused, with the way out
    expect(refused({ type: "int64" }, 2 ** 60).message).toMatch(/past ±2\^53 send it as a decimal string/);
    expect(raw({ type: "int64" }, -(2 ** 53 - 1))).toBe(-(2n ** 53n - 1n));
  });

  it("integer types: whole numbers within the type's range", () => {
    expect(raw({ type: "int16" }, -32768)).toBe(-32768);
    expect(raw({ type: "uint16" }, 65535)).toBe(65535);
    expect(raw({ type: "int8" }, -128)).toBe(-128);
    expect(raw({ type: "uint32" }, 4294967295)).toBe(4294967295);
    expect(refused({ type: "int16" }, 32768).message).toBe("tag line1.x: int16 needs a whole number from -32768 to 32767, got 32768");
    expect(refused({ type: "uint16" }, -1).message).toMatch(/from 0 to 65535, got -1/);
    expect(refused({ type: "uint8" }, 256).code).toBe("TANDEM_ERR_TAG_VALUE");
    expect(refused({ type: "int32" }, 1.5).message).toBe("tag line1.x: int32 needs a whole number from -2147483648 to 2147483647, got 1.5");
    expect(raw({ type: "int32" }, -0)).toBe(0);
  });

  it("scaling maps the engineering value first; an integer type takes the nearest raw value, whose range is checked", () => {
    const scaling = { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 };
    expect(raw({ type: "int16", scaling }, 50)).toBe(13824);
    expect(raw({ type: "int16", scaling }, 33.3)).toBe(Math.round(33.3 * 276.48));
    expect(refused({ type: "int16", scaling }, 200).message).toBe("tag line1.x: int16 needs a whole number from -32768 to 32767, got 200 (55296 after scaling)");
    expect(refused({ type: "int16", scaling }, null).code).toBe("TANDEM_ERR_TAG_VALUE");
    expect(raw({ type: "float32", scaling: { rawMin: 0, rawMax: 10, engMin: 0, engMax: 100 } }, 25)).toBe(2.5);
    // a decimal string is not an engineering value: scaled tags take numbers only
    expect(refused({ type: "int64", scaling }, "12").message).toMatch(/a JSON number, not text, got/);
    expect(refused({ type: "bool", scaling }, true).message).toMatch(/bool needs no scaling/);
  });

  it("floats: finite, and float32 within its range", () => {
    expect(raw({ type: "float32" }, 3.4028234663852886e38)).toBe(3.4028234663852886e38);
    expect(refused({ type: "float32" }, 1e39).message).toMatch(/float32 needs a number within ±3.4028234663852886e\+38, got 1e\+39/);
    expect(raw({ type: "float64" }, Number.MAX_VALUE)).toBe(Number.MAX_VALUE);
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) expect(refused({ type: "float64" }, v).code).toBe("TANDEM_ERR_TAG_VALUE");
  });

  it("float32: a value that would round to infinity or to 0 is refused; one that rounds to the largest float32 is not", () => {
    // 3.4028235e38 is how FLT_MAX is usually printed: it rounds to the largest float32
    expect(raw({ type: "float32" }, 3.4028235e38)).toBe(3.4028235e38);
    expect(refused({ type: "float32" }, 3.4028236e38).message).toMatch(/float32 needs a number within ±3.4028234663852886e\+38, got 3.4028236e\+38/);
    expect(refused({ type: "float32" }, 1e-50).message).toBe("tag line1.x: float32 needs a number it can hold (this one is too small: the PLC would get 0), got 1e-50");
    expect(refused({ type: "float32" }, -1e-46).code).toBe("TANDEM_ERR_TAG_VALUE");
    expect(raw({ type: "float32" }, 1e-45)).toBe(1e-45);
    expect(raw({ type: "float32" }, 0)).toBe(0);
    expect(raw({ type: "float64" }, 1e-300)).toBe(1e-300);
    const tiny = { rawMin: 0, rawMax: 1e-40, engMin: 0, engMax: 1 };
    expect(refused({ type: "float32", scaling: tiny }, 1e-10).message).toMatch(/the PLC would get 0\), got 1e-10 \(1e-50 after scaling\)/);
  });

  it("bool/bit take true or false only", () => {
    expect(raw({ type: "bool" }, true)).toBe(true);
    expect(raw({ type: "bool" }, false)).toBe(false);
    for (const v of [1, 0, "true", "false", null, [], "on"]) expect(refused({ type: "bool", typeName: "bit" }, v).message).toMatch(/^tag line1.x: bit needs true or false, got /);
  });

  it("strings take text; Modbus strings fit their length and one byte per character", () => {
    expect(raw({ type: "string" }, "Ωmega")).toBe("Ωmega");
    expect(raw({ type: "string", maxLength: 8 }, "BATCH-07")).toBe("BATCH-07");
    expect(refused({ type: "string", maxLength: 8 }, "BATCH-007").message).toBe('tag line1.x: string needs at most 8 characters, got the text "BATCH-007" (9)');
    expect(refused({ type: "string", maxLength: 8 }, "Ωmega").message).toMatch(/Latin-1 characters/);
    for (const v of [42, null, true, []]) expect(refused({ type: "string" }, v).message).toMatch(/string needs text/);
    // a NUL ends the text in the registers: "A\0B" would read back as "A"
    expect(refused({ type: "string", maxLength: 8 }, "A\0B").message).toMatch(/string needs text without NUL characters/);
  });

  it("describes what was given briefly", () => {
    expect(describeGiven("x".repeat(100))).toHaveLength(60 + "the text ".length);
    expect(describeGiven(12n)).toBe("12");
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(describeGiven(loop)).toBe("the object [object Object]");
  });
});

describe("the value as written: what the PLC holds after the write, as a read shows it", () => {
  const written = (spec: ValueSpec, v: unknown) => writtenValue(spec, toRaw("t", spec, v));
  it("float32 as rounded to 32 bits; float64 as sent", () => {
    expect(written({ type: "float32" }, 0.1)).toBe(0.10000000149011612);
    expect(written({ type: "float32" }, -12.25)).toBe(-12.25);
    expect(written({ type: "float32" }, 3.4028235e38)).toBe(3.4028234663852886e38);
    expect(written({ type: "float64" }, 0.1)).toBe(0.1);
  });
  it("scaled integers after rounding to a whole raw value and scaling back; scaled floats after float32 rounding", () => {
    const scaling = { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 };
    expect(toRaw("t", { type: "int16", scaling }, 33.3)).toBe(9207);
    expect(written({ type: "int16", scaling }, 33.3)).toBe(33.30078125);
    expect(written({ type: "int16", scaling }, 50)).toBe(50);
    expect(written({ type: "float32", scaling: { rawMin: 0, rawMax: 10, engMin: 0, engMax: 100 } }, 1)).toBe(Math.fround(0.1) * 10);
    // a reversed, clamped scaling reads as it writes
    const reversed = { rawMin: 1000, rawMax: 0, engMin: 0, engMax: 10, clamp: true };
    expect(written({ type: "uint16", scaling: reversed }, 2.346)).toBe(2.35);
    expect(written({ type: "int64", scaling }, 33.3)).toBe(33.30078125);
  });
  it("64-bit integers as decimal strings whatever their size; other integers, bools and strings as they are", () => {
    expect(written({ type: "int64" }, 5)).toBe("5");
    expect(written({ type: "int64" }, "-9007199254740993")).toBe("-9007199254740993");
    expect(written({ type: "uint64" }, "18446744073709551615")).toBe("18446744073709551615");
    expect(written({ type: "int32" }, -0)).toBe(0);
    expect(written({ type: "uint16" }, 65535)).toBe(65535);
    expect(written({ type: "bool" }, false)).toBe(false);
    expect(written({ type: "string", maxLength: 8 }, "BATCH-7")).toBe("BATCH-7");
  });
  it("OPC UA: the Variant and the value as written, from the node's built-in type", () => {
    expect(toWrite("t", DataType.Float, 0.1).written).toBe(0.10000000149011612);
    expect(toWrite("t", DataType.Double, 0.1).written).toBe(0.1);
    expect(toWrite("t", DataType.Int64, 7)).toMatchObject({ written: "7", variant: { value: [0, 7] } });
    expect(toWrite("t", DataType.Int16, 50, { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 })).toMatchObject({ written: 50, variant: { value: 13824 } });
    expect(() => toWrite("t", DataType.Float, 1e-50)).toThrow(/tag t: Float needs a number it can hold/);
  });
});

describe("OPC UA: engineering value → Variant of the node's built-in type", () => {
  it("uses the node's type name in refusals and carries 64-bit integers as [high, low]", () => {
    expect(toVariant("t", DataType.Int64, "-1").value).toEqual([0xffffffff, 0xffffffff]);
    expect(toVariant("t", DataType.UInt64, "18446744073709551615").value).toEqual([0xffffffff, 0xffffffff]);
    expect(toVariant("t", DataType.Double, 1.5).value).toBe(1.5);
    expect(() => toVariant("t", DataType.Byte, 256)).toThrow(/tag t: Byte needs a whole number from 0 to 255, got 256/);
    expect(() => toVariant("t", DataType.Boolean, 1)).toThrow(/tag t: Boolean needs true or false, got 1/);
    expect(() => toVariant("t", DataType.Double, null)).toThrow(/Double needs a number, got null/);
    expect(() => toVariant("t", DataType.DateTime, "2024-01-01")).toThrow(/writing DateTime values is not supported/);
  });
});

describe("engineering limits (min/max), checked before any conversion", () => {
  const limitRefusal = (limits: { min?: number; max?: number }, v: unknown) => {
    try {
      checkLimits("line1.valve", limits, v);
    } catch (e) {
      return (e as { message: string }).message;
    }
    return null;
  };
  it("refuses values outside min/max, to the edge, and names the limits and the value", () => {
    expect(limitRefusal({ min: 0, max: 100 }, 65535)).toBe("tag line1.valve: the tag's engineering limits are 0 to 100 (min/max in its config), got 65535");
    expect(limitRefusal({ min: 0, max: 100 }, -0.01)).toMatch(/0 to 100.*got -0.01/);
    expect(limitRefusal({ min: 0, max: 100 }, 0)).toBeNull();
    expect(limitRefusal({ min: 0, max: 100 }, 100)).toBeNull();
    expect(limitRefusal({ max: 10 }, -1e9)).toBeNull();
    expect(limitRefusal({ max: 10 }, 11)).toMatch(/-∞ to 10/);
    expect(limitRefusal({ min: 5 }, 4)).toMatch(/5 to \+∞/);
  });
  it("compares 64-bit decimal strings exactly", () => {
    expect(limitRefusal({ min: 0, max: 1000 }, "1001")).toMatch(/got the text "1001"/);
    expect(limitRefusal({ min: 0, max: 1000 }, "-9223372036854775808")).toMatch(/0 to 1000/);
    expect(limitRefusal({ min: 0, max: 1000 }, "1000")).toBeNull();
  });
  it("refuses non-finite numbers whatever the limits, naming them (not 'null')", () => {
    expect(limitRefusal({}, Infinity)).toBe("tag line1.valve: needs a finite number, got Infinity");
    expect(limitRefusal({ min: 0 }, -Infinity)).toMatch(/got -Infinity/);
    expect(limitRefusal({}, NaN)).toMatch(/got NaN/);
  });
  it("leaves other kinds of value to the type rule", () => {
    expect(limitRefusal({ min: 0, max: 1 }, true)).toBeNull();
    expect(limitRefusal({ min: 0, max: 1 }, "0x20")).toBeNull();
    expect(refused({ type: "int16" }, "0x20").message).toMatch(/not text/);
  });
});
