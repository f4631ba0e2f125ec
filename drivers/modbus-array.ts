// Array tags and the value types of Modbus tags: a tag whose value is a list
// (`type: float32[]`, `length: 8`) is read in one request and decoded element
// by element with the tag's byte order; a write takes a JSON list of exactly
// `length` elements, each held to the same strict rule as a single value
// (drivers/tag-value.ts), and goes out as one request.
import { TandemError } from "../core/errors.js";
import { decodeAt, encodeRegisters, registerCount, type ModbusDataType } from "./modbus-codec.js";
import { isBitTable } from "./modbus-coalescer.js";
import type { ModbusTag } from "./modbus-tag.js";
import { describeGiven, toRaw, type ValueType } from "./tag-value.js";

/** The value rule a Modbus type follows: BCD takes the unsigned integers (the codec then checks the decimal digits). */
export function valueTypeOf(type: ModbusDataType): ValueType {
  if (type === "bit") return "bool";
  if (type === "bcd16") return "uint16";
  if (type === "bcd32") return "uint32";
  return type;
}

/** A tag's value from the registers (or bits) of a read, starting at `offset`. */
export function decodeTag(t: ModbusTag, data: readonly unknown[], offset: number): unknown {
  if (isBitTable(t.table)) {
    if (t.array === undefined) return Boolean(data[offset]);
    return Array.from({ length: t.array }, (_, i) => Boolean(data[offset + i]));
  }
  const regs = data as readonly number[];
  const codec = (t.codec ??= { order: t.order, bit: t.bit, length: t.length });
  if (t.array === undefined) return decodeAt(t.type, regs, offset, codec);
  const n = registerCount(t.type);
  return Array.from({ length: t.array }, (_, i) => decodeAt(t.type, regs, offset + i * n, codec));
}

/** An array write → the coils or registers to send; TANDEM_ERR_TAG_VALUE naming the element that does not fit. */
export function encodeArrayWrite(t: ModbusTag, value: unknown): { bits: boolean[] } | { regs: number[] } {
  const n = t.array ?? 0;
  if (!Array.isArray(value) || value.length !== n) {
    throw new TandemError("TANDEM_ERR_TAG_VALUE", [t.name, `${t.type}[] needs a list of ${n} elements, got ${describeGiven(value)}${Array.isArray(value) ? ` (${value.length} elements)` : ""}`]);
  }
  const type = valueTypeOf(t.type);
  const raw = value.map((v, i) => toRaw(`${t.name}[${i}]`, { type, typeName: t.type }, v));
  if (isBitTable(t.table)) return { bits: raw as boolean[] };
  const regs: number[] = [];
  raw.forEach((r, i) => {
    try {
      regs.push(...encodeRegisters(t.type, r, { order: t.order }));
    } catch (e) {
      throw new TandemError("TANDEM_ERR_TAG_VALUE", [`${t.name}[${i}]`, (e as Error).message]);
    }
  });
  return { regs };
}
