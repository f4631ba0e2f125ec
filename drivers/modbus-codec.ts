// Modbus register codecs: every data type in the four byte/word orders that
// real PLCs use. Pure functions over arrays of 16-bit register values.
//
// Orders, named after the bytes of a 32-bit value A B C D (A most significant):
//   ABCD  big-endian bytes, big-endian words (the Modbus standard)
//   CDAB  word swapped (many PLCs, e.g. Schneider, Siemens defaults on some gateways)
//   BADC  byte swapped within each register
//   DCBA  fully little-endian
// For 64-bit values the same two operations apply: CDAB reverses the order of
// the four registers, BADC swaps the bytes inside each one, DCBA does both.
// For 16-bit values only the byte swap matters. Strings keep register order
// and take the byte swap (BADC/DCBA put the first character in the low byte).
// BCD (bcd16: 4 decimal digits in one register, bcd32: 8 digits in two) is
// the unsigned integer's bytes read as packed decimal nibbles, after the same
// byte/word reordering; a nibble above 9 is a decode error, never a guess.

export type ByteOrder = "ABCD" | "CDAB" | "BADC" | "DCBA";
export const BYTE_ORDERS: readonly ByteOrder[] = ["ABCD", "CDAB", "BADC", "DCBA"];

export type ModbusDataType = "bool" | "bit" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64" | "int64" | "uint64" | "bcd16" | "bcd32" | "string";
export const MODBUS_DATA_TYPES: readonly ModbusDataType[] = ["bool", "bit", "int16", "uint16", "int32", "uint32", "float32", "float64", "int64", "uint64", "bcd16", "bcd32", "string"];

/**
 * The data type names PLC programmers use (IEC 61131-3 and vendor manuals),
 * matched without regard to case. Names Tandem uses itself match any case too
 * (`Float32`, `UINT16`).
 */
export const TYPE_ALIASES: Readonly<Record<string, ModbusDataType>> = {
  BOOL: "bool",
  INT: "int16",
  UINT: "uint16",
  WORD: "uint16",
  DINT: "int32",
  UDINT: "uint32",
  DWORD: "uint32",
  LINT: "int64",
  ULINT: "uint64",
  LWORD: "uint64",
  REAL: "float32",
  FLOAT: "float32",
  LREAL: "float64",
  DOUBLE: "float64",
  STRING: "string",
  BCD: "bcd16",
};

/** A type name as written in a config or CSV → Tandem's name, or undefined. Array forms (`REAL[]`) keep their brackets. */
export function normaliseTypeName(text: string): string | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(\[\s*\])?\s*$/.exec(text);
  if (!m) return undefined;
  const word = m[1]!;
  const own = MODBUS_DATA_TYPES.find((t) => t === word.toLowerCase());
  const base = own ?? TYPE_ALIASES[word.toUpperCase()];
  return base === undefined ? undefined : `${base}${m[2] ? "[]" : ""}`;
}

/**
 * Byte orders by the names vendors and tools use, matched without regard to
 * case, spaces, '-' and '_'. The 32-bit value A B C D (A most significant).
 */
export const ORDER_ALIASES: Readonly<Record<string, ByteOrder>> = {
  "big endian": "ABCD",
  "no swap": "ABCD",
  "word swap": "CDAB",
  "word swapped": "CDAB",
  "swap words": "CDAB",
  "little endian word swap": "CDAB",
  "byte swap": "BADC",
  "byte swapped": "BADC",
  "swap bytes": "BADC",
  "big endian byte swap": "BADC",
  "little endian": "DCBA",
  "byte and word swap": "DCBA",
  "word and byte swap": "DCBA",
};

/** An order as written → ABCD/CDAB/BADC/DCBA, or undefined. */
export function normaliseOrderName(text: string): ByteOrder | undefined {
  const up = text.trim().toUpperCase();
  if ((BYTE_ORDERS as readonly string[]).includes(up)) return up as ByteOrder;
  return ORDER_ALIASES[text.trim().toLowerCase().replace(/[\s_-]+/g, " ")];
}

export interface CodecOptions {
  order: ByteOrder;
  /** bit index 0–15 for `bit` */
  bit?: number;
  /** string length in characters (bytes) */
  length?: number;
}

/** Registers a type occupies. */
export function registerCount(type: ModbusDataType, length = 0): number {
  switch (type) {
    case "bool":
    case "bit":
    case "int16":
    case "uint16":
    case "bcd16":
      return 1;
    case "int32":
    case "uint32":
    case "float32":
    case "bcd32":
      return 2;
    case "float64":
    case "int64":
    case "uint64":
      return 4;
    case "string":
      return Math.max(1, Math.ceil(length / 2));
  }
}

const swapsWords = (o: ByteOrder) => o === "CDAB" || o === "DCBA";
const swapsBytes = (o: ByteOrder) => o === "BADC" || o === "DCBA";

/** Canonical big-endian bytes → registers in the given order. */
export function bytesToRegisters(bytes: Uint8Array, order: ByteOrder, reorderWords = true): number[] {
  const regs: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) regs.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  if (reorderWords && swapsWords(order)) regs.reverse();
  return swapsBytes(order) ? regs.map(swap16) : regs;
}

/** Registers in the given order → canonical big-endian bytes. */
export function registersToBytes(regs: readonly number[], order: ByteOrder, reorderWords = true): Buffer {
  let r = regs.map((x) => x & 0xffff);
  if (swapsBytes(order)) r = r.map(swap16);
  if (reorderWords && swapsWords(order)) r.reverse();
  const buf = Buffer.alloc(r.length * 2);
  r.forEach((x, i) => buf.writeUInt16BE(x, i * 2));
  return buf;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >> 8) & 0xff);
}

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CodecError";
  }
}

// Scratch space for the numeric types (at most 4 registers): decoding runs
// once per tag per scan, so it allocates nothing.
const scratch = Buffer.alloc(8);

/** Decodes a value from exactly registerCount(type) registers. */
export function decodeRegisters(type: ModbusDataType, regs: readonly number[], opts: CodecOptions): number | bigint | boolean | string {
  return decodeAt(type, regs, 0, opts);
}

/** Decodes a value from the registers starting at `offset` (no copy of the array). */
export function decodeAt(type: ModbusDataType, regs: readonly number[], offset: number, opts: CodecOptions): number | bigint | boolean | string {
  const n = registerCount(type, opts.length);
  if (regs.length - offset < n) throw new CodecError(`${type} needs ${n} registers, got ${Math.max(0, regs.length - offset)}`);
  let b: Buffer;
  if (type === "string") b = registersToBytes(regs.slice(offset, offset + n), opts.order, false);
  else {
    const ws = swapsWords(opts.order);
    const bs = swapsBytes(opts.order);
    for (let i = 0; i < n; i++) {
      let w = regs[offset + (ws ? n - 1 - i : i)]! & 0xffff;
      if (bs) w = ((w & 0xff) << 8) | (w >> 8);
      scratch.writeUInt16BE(w, i * 2);
    }
    b = scratch;
  }
  switch (type) {
    case "bool":
      return b.readUInt16BE(0) !== 0;
    case "bit": {
      const bit = opts.bit ?? 0;
      return ((b.readUInt16BE(0) >> bit) & 1) === 1;
    }
    case "int16":
      return b.readInt16BE(0);
    case "uint16":
      return b.readUInt16BE(0);
    case "int32":
      return b.readInt32BE(0);
    case "uint32":
      return b.readUInt32BE(0);
    case "float32":
      return b.readFloatBE(0);
    case "float64":
      return b.readDoubleBE(0);
    case "int64":
      return b.readBigInt64BE(0);
    case "uint64":
      return b.readBigUInt64BE(0);
    case "bcd16":
      return fromBcd(b.readUInt16BE(0), 4);
    case "bcd32":
      return fromBcd(b.readUInt32BE(0), 8);
    case "string": {
      const len = opts.length ?? b.length;
      const s = b.subarray(0, len);
      const end = s.indexOf(0);
      return s.subarray(0, end < 0 ? s.length : end).toString("latin1");
    }
  }
}

function fromBcd(raw: number, digits: number): number {
  let out = 0;
  for (let i = digits - 1; i >= 0; i--) {
    const d = Math.floor(raw / 16 ** i) % 16;
    if (d > 9) throw new CodecError(`not BCD: 0x${raw.toString(16).padStart(digits, "0")} has the digit 0x${d.toString(16)}`);
    out = out * 10 + d;
  }
  return out;
}

function toBcd(v: number, digits: number): number {
  let out = 0;
  for (let i = 0; i < digits; i++) {
    out += (Math.floor(v / 10 ** i) % 10) * 16 ** i;
  }
  return out;
}

function asInteger(value: unknown, type: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "boolean") return value ? 1n : 0n;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return BigInt(value.trim());
  if (typeof value === "number" && Number.isFinite(value)) {
    if (!Number.isInteger(value)) throw new CodecError(`${type} needs a whole number, got ${value}`);
    return BigInt(value);
  }
  throw new CodecError(`${type} needs a number, got ${JSON.stringify(value)}`);
}

function inRange(v: bigint, lo: bigint, hi: bigint, type: string): void {
  if (v < lo || v > hi) throw new CodecError(`${v} is out of range for ${type} (${lo}…${hi})`);
}

function asFloat(value: unknown, type: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  throw new CodecError(`${type} needs a number, got ${JSON.stringify(value)}`);
}

function asBool(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  if (value === "true" || value === "false") return value === "true";
  throw new CodecError(`bool needs true/false (or 1/0), got ${JSON.stringify(value)}`);
}

/**
 * Encodes a value into registers. `bit` returns the single register with only
 * that bit changed from `current` (the caller reads the register first).
 */
export function encodeRegisters(type: ModbusDataType, value: unknown, opts: CodecOptions & { current?: number }): number[] {
  const n = registerCount(type, opts.length);
  const b = Buffer.alloc(n * 2);
  switch (type) {
    case "bool":
      b.writeUInt16BE(asBool(value) ? 1 : 0, 0);
      break;
    case "bit": {
      const bit = opts.bit ?? 0;
      const cur = swapsBytes(opts.order) ? swap16(opts.current ?? 0) : (opts.current ?? 0);
      const next = asBool(value) ? cur | (1 << bit) : cur & ~(1 << bit);
      b.writeUInt16BE(next & 0xffff, 0);
      break;
    }
    case "int16": {
      const v = asInteger(value, type);
      inRange(v, -32768n, 32767n, type);
      b.writeInt16BE(Number(v), 0);
      break;
    }
    case "uint16": {
      const v = asInteger(value, type);
      inRange(v, 0n, 65535n, type);
      b.writeUInt16BE(Number(v), 0);
      break;
    }
    case "int32": {
      const v = asInteger(value, type);
      inRange(v, -2147483648n, 2147483647n, type);
      b.writeInt32BE(Number(v), 0);
      break;
    }
    case "uint32": {
      const v = asInteger(value, type);
      inRange(v, 0n, 4294967295n, type);
      b.writeUInt32BE(Number(v), 0);
      break;
    }
    case "int64": {
      const v = asInteger(value, type);
      inRange(v, -(2n ** 63n), 2n ** 63n - 1n, type);
      b.writeBigInt64BE(v, 0);
      break;
    }
    case "uint64": {
      const v = asInteger(value, type);
      inRange(v, 0n, 2n ** 64n - 1n, type);
      b.writeBigUInt64BE(v, 0);
      break;
    }
    case "bcd16":
    case "bcd32": {
      const digits = type === "bcd16" ? 4 : 8;
      const v = asInteger(value, type);
      inRange(v, 0n, 10n ** BigInt(digits) - 1n, type);
      if (digits === 4) b.writeUInt16BE(toBcd(Number(v), 4), 0);
      else b.writeUInt32BE(toBcd(Number(v), 8), 0);
      break;
    }
    case "float32": {
      const v = asFloat(value, type);
      if (Number.isFinite(v) && Math.abs(v) > 3.4028234663852886e38) throw new CodecError(`${v} is out of range for float32`);
      b.writeFloatBE(v, 0);
      break;
    }
    case "float64":
      b.writeDoubleBE(asFloat(value, type), 0);
      break;
    case "string": {
      if (typeof value !== "string") throw new CodecError(`string needs text, got ${JSON.stringify(value)}`);
      const bytes = Buffer.from(value, "latin1");
      if (bytes.length > n * 2) throw new CodecError(`'${value}' is longer than ${opts.length ?? n * 2} characters`);
      bytes.copy(b, 0);
      break;
    }
  }
  return bytesToRegisters(b, opts.order, type !== "string");
}
