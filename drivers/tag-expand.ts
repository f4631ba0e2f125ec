// One config entry → the tags it stands for, in Tandem's long form. An entry
// may use the names PLC programmers use for types (REAL, DINT …) and vendors
// use for byte orders ("word swap" …), a Modicon address on a device with
// `addressing: modicon`, and `count` for a block: coils 0–15 or a run of
// registers as one entry, named by a pattern (`line1.valve{i}`). What comes
// out is exactly what the long form would have said, so every later check and
// the driver see one form only. Pure: raw objects in, raw objects out.
import { normaliseAddress, formatModbusAddress, type Addressing, type ModbusAddress } from "./modbus-address.js";
import { normaliseOrderName, normaliseTypeName, registerCount, type ModbusDataType } from "./modbus-codec.js";

/** Keys of an entry that expansion consumes (they never reach the tag). */
export const EXPANSION_KEYS = ["count", "indexFrom", "stride"] as const;

/** The most tags one entry may stand for. */
export const MAX_COUNT = 10_000;

export interface ExpandContext {
  /** the driver of the device the entry names, when known */
  driver?: "modbus" | "opcua";
  addressing: Addressing;
  /** false when the entry names no known device: its address cannot be judged (the device is the problem to report) */
  deviceKnown?: boolean;
}

export interface ExpandIssue {
  /** key path inside the entry */
  path: (string | number)[];
  message: string;
  /** the generated tag the problem is about, for entries with count */
  tag?: string;
}

export interface Expanded {
  entries: Record<string, unknown>[];
  issues: ExpandIssue[];
}

const INDEX = /\{i\}/g;

/** Registers (or bits) one tag of this type takes, for the default stride. */
function stepOf(type: unknown, length: unknown, a: ModbusAddress): number {
  if (a.table === "coil" || a.table === "discrete" || a.bit !== undefined) return typeof length === "number" && typeof type === "string" && type.endsWith("[]") ? length : 1;
  if (typeof type !== "string") return 1;
  const arr = type.endsWith("[]");
  const base = (arr ? type.slice(0, -2) : type) as ModbusDataType;
  const len = typeof length === "number" && length > 0 ? length : 1;
  try {
    return arr ? registerCount(base) * len : registerCount(base, len);
  } catch {
    return 1;
  }
}

function wholeNumber(v: unknown, min: number, max: number): number | string {
  if (typeof v !== "number" || !Number.isInteger(v)) return `expected a whole number, got ${JSON.stringify(v)}`;
  if (v < min || v > max) return `must be ${min}–${max}, got ${v}`;
  return v;
}

/** Expands and normalises one entry of drivers.tags. */
export function expandTagEntry(raw: Record<string, unknown>, ctx: ExpandContext): Expanded {
  const issues: ExpandIssue[] = [];
  const base: Record<string, unknown> = { ...raw };
  for (const k of EXPANSION_KEYS) delete base[k];
  if (typeof base.type === "string") base.type = normaliseTypeName(base.type) ?? base.type;
  if (typeof base.byteOrder === "string") base.byteOrder = normaliseOrderName(base.byteOrder) ?? base.byteOrder;

  let addr: ModbusAddress | undefined;
  if (ctx.driver !== "opcua" && base.address !== undefined) {
    const a = normaliseAddress(base.address, ctx.addressing);
    if (typeof a === "string") {
      if (ctx.deviceKnown !== false) issues.push({ path: ["address"], message: a });
      delete base.address;
    } else {
      addr = a;
      base.address = formatModbusAddress(a);
    }
  }

  const name = typeof raw.name === "string" ? raw.name : undefined;
  if (raw.count === undefined) {
    if (raw.indexFrom !== undefined || raw.stride !== undefined) issues.push({ path: [raw.indexFrom !== undefined ? "indexFrom" : "stride"], message: "indexFrom and stride go with count (a block of tags)" });
    if (name?.includes("{i}")) issues.push({ path: ["name"], message: "'{i}' in a name stands for the index of a block: add count (e.g. count: 16)" });
    return { entries: [base], issues };
  }

  const count = wholeNumber(raw.count, 1, MAX_COUNT);
  if (typeof count === "string") issues.push({ path: ["count"], message: count });
  const from = raw.indexFrom === undefined ? 0 : wholeNumber(raw.indexFrom, 0, 1_000_000);
  if (typeof from === "string") issues.push({ path: ["indexFrom"], message: from });
  if (name !== undefined && !name.includes("{i}")) issues.push({ path: ["name"], message: `a block (count) generates its names from a pattern with {i}, e.g. '${name}{i}' or '${name}.item{i}'` });
  if (ctx.driver === "opcua" && typeof base.nodeId === "string" && !base.nodeId.includes("{i}"))
    issues.push({ path: ["nodeId"], message: "a block of OPC UA tags needs {i} in its nodeId too (e.g. ns=1;s=Valve{i}.Open)" });
  const defaultStep = addr ? stepOf(base.type, base.length, addr) : 1;
  const stride = raw.stride === undefined ? defaultStep : wholeNumber(raw.stride, 1, 65536);
  if (typeof stride === "string") issues.push({ path: ["stride"], message: stride });
  if (issues.length || typeof count !== "number" || typeof from !== "number" || typeof stride !== "number") return { entries: [], issues };

  const entries: Record<string, unknown>[] = [];
  for (let k = 0; k < count; k++) {
    const index = String(from + k);
    const e: Record<string, unknown> = { ...base };
    if (name !== undefined) e.name = name.replace(INDEX, index);
    if (typeof base.nodeId === "string") e.nodeId = base.nodeId.replace(INDEX, index);
    if (typeof base.description === "string") e.description = base.description.replace(INDEX, index);
    if (addr) {
      let a: ModbusAddress;
      if (addr.bit !== undefined) {
        const bits = addr.bit + k * stride;
        a = { table: addr.table, address: addr.address + Math.floor(bits / 16), bit: bits % 16 };
      } else a = { table: addr.table, address: addr.address + k * stride };
      if (a.address > 65535) {
        issues.push({ path: ["count"], message: `the block runs past address 65535 at its tag ${k} (${e.name as string}): ${count} tags from ${formatModbusAddress(addr)} with stride ${stride}` });
        return { entries: [], issues };
      }
      e.address = formatModbusAddress(a);
    }
    entries.push(e);
  }
  return { entries, issues };
}
