// From an engineering value as it comes from the API (JSON) to the raw value
// a driver puts on the wire, and back to the value the PLC then holds: one
// rule for every driver (docs/drivers.md, "Value rules"). Pure. Whatever does
// not fit the tag's type and range is refused with TANDEM_ERR_TAG_VALUE
// naming the tag, the type and what was given, before anything is sent:
// nothing is guessed (no `Number(null)` = 0, no "42.5" read as a number).
import { TandemError } from "../core/errors.js";
import { jsonValue, scaleToEng, scaleToRaw, type Scaling } from "./tag-model.js";

export type ValueType = "bool" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64" | "float32" | "float64" | "string";

export interface ValueSpec {
  type: ValueType;
  scaling?: Scaling;
  /** strings: the longest accepted, in characters of one byte (Modbus registers hold Latin-1) */
  maxLength?: number;
  /** the type as the device names it, for messages (OPC UA: Int16, Double…); default `type` */
  typeName?: string;
}

export type RawValue = boolean | number | bigint | string;

const INT_RANGE: Record<string, [bigint, bigint]> = {
  int8: [-128n, 127n],
  uint8: [0n, 255n],
  int16: [-32768n, 32767n],
  uint16: [0n, 65535n],
  int32: [-2147483648n, 2147483647n],
  uint32: [0n, 4294967295n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const FLOAT32_MAX = 3.4028234663852886e38;
/** 64-bit integers as JSON text: an optional minus and at most 20 digits (the range is checked after) */
const DECIMAL_64 = /^-?\d{1,20}$/;

/** What was given, as a person would read it in an error message. */
export function describeGiven(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "bigint") return `${v}`;
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  const short = s.length > 60 ? `${s.slice(0, 57)}...` : s;
  if (typeof v === "string") return `the text ${short}`;
  if (Array.isArray(v)) return `the list ${short}`;
  if (v !== null && typeof v === "object") return `the object ${short}`;
  return short;
}

/**
 * The raw value for a write, or TANDEM_ERR_TAG_VALUE. Numbers must be finite
 * JSON numbers (not text), booleans true/false, strings text; 64-bit
 * integers also take a decimal string (the form they are read in), as JSON
 * numbers cannot carry them exactly past 2^53. Scaling maps the engineering
 * value to raw first; an integer type then takes the nearest whole raw value,
 * and without scaling a fraction is refused. The range of the type is checked
 * on the raw value; a float32 must stay finite and, when not 0, not become 0.
 */
export function toRaw(tag: string, spec: ValueSpec, value: unknown): RawValue {
  const { type, scaling } = spec;
  const refuse = (needs: string, extra = ""): never => {
    throw new TandemError("TANDEM_ERR_TAG_VALUE", [tag, `${spec.typeName ?? type} needs ${needs}, got ${describeGiven(value)}${extra}`]);
  };
  if (scaling && (type === "bool" || type === "string")) refuse("no scaling (scaling applies to numbers); remove it from the tag");
  if (type === "bool") {
    if (typeof value !== "boolean") refuse("true or false");
    return value as boolean;
  }
  if (type === "string") {
    if (typeof value !== "string") refuse("text");
    const text = value as string;
    if (spec.maxLength !== undefined) {
      if (/[^\x00-\xff]/.test(text)) refuse("Latin-1 characters (one byte each)");
      // a NUL ends the text in the registers: what was written would not read back
      if (text.includes("\0")) refuse("text without NUL characters (a NUL ends the text in the registers)");
      if (text.length > spec.maxLength) refuse(`at most ${spec.maxLength} characters`, ` (${text.length})`);
    }
    return text;
  }
  const range = INT_RANGE[type];
  if (range) return toInteger(type, range, value, scaling, refuse);
  // float32 / float64
  if (typeof value !== "number" || !Number.isFinite(value)) refuse(typeof value === "string" ? "a JSON number, not text" : "a number");
  const raw = scaling ? scaleToRaw(value as number, scaling) : (value as number);
  const scaled = scaling ? ` (${raw} after scaling)` : "";
  if (!Number.isFinite(raw)) refuse("a finite number", scaled);
  if (type === "float32") {
    // what the PLC will hold: the nearest float32 (3.4028235e38 still rounds to the largest)
    const f = Math.fround(raw);
    if (!Number.isFinite(f)) refuse(`a number within ±${FLOAT32_MAX}`, scaled);
    if (f === 0 && raw !== 0) refuse("a number it can hold (this one is too small: the PLC would get 0)", scaled);
  }
  return raw;
}

/**
 * The value the PLC holds after a write of `raw`, in engineering units and in
 * the JSON form reads take (drivers/tag-model.ts jsonValue): a float32 as
 * rounded to 32 bits, a scaled integer after rounding to a whole raw value
 * and scaling back (as a read would scale it), a 64-bit integer as a decimal
 * string. A write's answer carries this, so it equals the value read back.
 */
export function writtenValue(spec: ValueSpec, raw: RawValue): unknown {
  if (typeof raw === "boolean" || typeof raw === "string") return raw;
  const held = spec.type === "float32" && typeof raw === "number" ? Math.fround(raw) : raw;
  if (spec.scaling) return scaleToEng(Number(held), spec.scaling).value;
  return jsonValue(held);
}

function toInteger(type: ValueType, [lo, hi]: [bigint, bigint], value: unknown, scaling: Scaling | undefined, refuse: (needs: string, extra?: string) => never): number | bigint {
  const wide = type === "int64" || type === "uint64";
  const inRange = `a whole number from ${lo} to ${hi}`;
  let raw: bigint;
  let scaled = "";
  if (typeof value === "bigint") raw = value;
  else if (wide && typeof value === "string" && DECIMAL_64.test(value) && !scaling) raw = BigInt(value);
  else {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return refuse(typeof value === "string" ? `a JSON number, not text${wide && !scaling ? " (or a decimal string of digits)" : ""}` : inRange);
    }
    let n = value;
    if (scaling) {
      n = Math.round(scaleToRaw(value, scaling));
      scaled = ` (${n} after scaling)`;
      if (!Number.isFinite(n)) return refuse(inRange, scaled);
    } else if (!Number.isInteger(n)) return refuse(inRange);
    if (!Number.isSafeInteger(n)) return refuse(wide ? `${inRange}; past ±2^53 send it as a decimal string` : inRange, scaled);
    raw = BigInt(n);
  }
  if (raw < lo || raw > hi) return refuse(inRange, scaled);
  return wide ? raw : Number(raw);
}

/** A tag's engineering limits for writes (drivers.tags[].min / max). */
export interface WriteLimits {
  min?: number;
  max?: number;
}

/**
 * Checks a write against the tag's engineering limits, before any driver
 * converts it: a value the plant engineer ruled out never leaves the node,
 * whatever the PLC would accept (a percent valve that takes 65535). Numbers
 * must be finite whatever the limits; a 64-bit decimal string is compared
 * exactly. Other kinds of value are left to toRaw, which names the type.
 */
export function checkLimits(tag: string, limits: WriteLimits, value: unknown): void {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new TandemError("TANDEM_ERR_TAG_VALUE", [tag, `needs a finite number, got ${describeGiven(value)}`]);
  }
  if (limits.min === undefined && limits.max === undefined) return;
  const range = `${limits.min ?? "-∞"} to ${limits.max ?? "+∞"}`;
  const outside = (v: number | bigint): boolean => {
    if (typeof v === "bigint") {
      return (limits.min !== undefined && v < BigInt(Math.ceil(limits.min))) || (limits.max !== undefined && v > BigInt(Math.floor(limits.max)));
    }
    return (limits.min !== undefined && v < limits.min) || (limits.max !== undefined && v > limits.max);
  };
  let v: number | bigint | undefined;
  if (typeof value === "number" || typeof value === "bigint") v = value;
  else if (typeof value === "string" && DECIMAL_64.test(value)) v = BigInt(value);
  if (v !== undefined && outside(v)) {
    throw new TandemError("TANDEM_ERR_TAG_VALUE", [tag, `the tag's engineering limits are ${range} (min/max in its config), got ${describeGiven(value)}`]);
  }
}
