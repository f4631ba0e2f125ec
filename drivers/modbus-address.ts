// Modbus addresses as a config names them. Tandem's own form is zero-based
// with the table named (`hr:100`, `co:3`, `hr:20.5`): the address on the
// wire. Devices with `addressing: modicon` also take the 1-based Modicon
// numbers PLC documentation prints, the table in the leading digit:
//   5 digits  00001–09999 coils, 10001–19999 discrete inputs,
//             30001–39999 input registers, 40001–49999 holding registers
//   6 digits  000001–065536, 100001–165536, 300001–365536, 400001–465536
// 40001 is hr:0 and 400101 is hr:100. A bit of a register is `40021.5`.
// A 6-digit coil address (0xxxxx) must be quoted in YAML: as a number its
// leading zero is lost and 010001 would read as the discrete input 10001.
import type { ModbusTable } from "./modbus-coalescer.js";

export interface ModbusAddress {
  table: ModbusTable;
  address: number;
  bit?: number;
}

export type Addressing = "zero-based" | "modicon";
export const ADDRESSINGS: readonly Addressing[] = ["zero-based", "modicon"];

const TABLES: Record<string, ModbusTable> = { hr: "holding", ir: "input", co: "coil", di: "discrete" };
const PREFIX: Record<ModbusTable, string> = { holding: "hr", input: "ir", coil: "co", discrete: "di" };

/** `hr:100`, `ir:5`, `co:3`, `di:7`, `hr:100.3` (bit 3 of holding register 100); zero-based protocol addresses. */
export function parseModbusAddress(text: string): ModbusAddress | string {
  const m = /^(hr|ir|co|di):(\d{1,5})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return `expected <table>:<address>[.bit] with table hr|ir|co|di and a zero-based address (e.g. hr:100, co:3, hr:20.5), got '${text}'`;
  const table = TABLES[m[1]!]!;
  const address = Number(m[2]);
  if (address > 65535) return `address must be 0–65535, got ${address}`;
  if (m[3] !== undefined) {
    const bit = Number(m[3]);
    if (table === "coil" || table === "discrete") return `a bit index only applies to registers (hr/ir), not to ${m[1]}`;
    if (bit > 15) return `bit index must be 0–15, got ${bit}`;
    return { table, address, bit };
  }
  return { table, address };
}

/** Tandem's own form of an address: hr:100, hr:20.5. */
export function formatModbusAddress(a: ModbusAddress): string {
  return `${PREFIX[a.table]}:${a.address}${a.bit === undefined ? "" : `.${a.bit}`}`;
}

const MODICON_TABLE: Record<string, ModbusTable> = { "0": "coil", "1": "discrete", "3": "input", "4": "holding" };

/** A Modicon address (text or a YAML number): 40001 → hr:0, 400001 → hr:0, 1 → co:0, 40021.5 → hr:20.5. */
export function parseModiconAddress(given: string | number): ModbusAddress | string {
  const text = String(given).trim();
  const m = /^(\d{1,6})(?:\.(\d{1,2}))?$/.exec(text);
  const expected = `expected a Modicon address (40001 holding, 30001 input register, 00001 coil, 10001 discrete input; 6 digits as 400001; a bit as 40021.5), got '${text}'`;
  if (!m) return expected;
  let digits = m[1]!;
  // a YAML number loses its leading zeros: 1–9999 can only be a coil
  if (digits.length < 5) digits = digits.padStart(5, "0");
  const table = MODICON_TABLE[digits[0]!];
  if (!table) return `${expected}: the first digit names the table (0, 1, 3 or 4)`;
  const n = Number(digits.slice(1));
  const max = digits.length === 6 ? 65536 : 9999;
  if (n < 1 || n > max) return `${text}: the number after the table digit must be 1–${max} (Modicon addresses are 1-based)`;
  const address = n - 1;
  if (m[2] === undefined) return { table, address };
  const bit = Number(m[2]);
  if (table === "coil" || table === "discrete") return `a bit index only applies to registers (3xxxx/4xxxx), not to '${text}'`;
  if (bit > 15) return `bit index must be 0–15, got ${bit}`;
  return { table, address, bit };
}

/**
 * An address as a tag gives it → Tandem's form. With `modicon` a plain
 * number is Modicon; the `hr:` form is always zero-based, whatever the
 * device's addressing, since it names the table itself.
 */
export function normaliseAddress(given: unknown, addressing: Addressing): ModbusAddress | string {
  if (typeof given === "string" && /^\s*[a-z]{2}:/.test(given)) return parseModbusAddress(given);
  if (typeof given === "number" || (typeof given === "string" && /^\s*\d/.test(given))) {
    if (addressing === "modicon") return parseModiconAddress(given);
    return `'${given}' looks like a Modicon address; set addressing: modicon on the device, or write it zero-based with its table (40001 is hr:0)`;
  }
  if (typeof given !== "string") return `expected an address like hr:100${addressing === "modicon" ? " or 40101" : ""}, got ${JSON.stringify(given)}`;
  return parseModbusAddress(given);
}
