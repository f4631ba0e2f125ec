// Merges the reads of one scan class into the fewest Modbus requests the
// protocol allows. Pure: items in, requests out.
//
// Items are grouped by unit id and table, sorted by address, and merged while
// the request stays within the size limit (125 registers / 2000 bits by the
// protocol, lower when a device says so) and the hole between two items is no
// larger than the configured gap (bridging a gap reads registers nobody asked
// for, which a device may refuse with "illegal data address": the driver then
// splits that request, see modbus-driver.ts).

export type ModbusTable = "coil" | "discrete" | "holding" | "input";

export const isBitTable = (t: ModbusTable) => t === "coil" || t === "discrete";

/** Protocol limits per request (Modbus Application Protocol v1.1b3, 6.1–6.4). */
export const MAX_REGISTERS = 125;
export const MAX_BITS = 2000;

export interface ReadItem<K = string> {
  key: K;
  unitId: number;
  table: ModbusTable;
  address: number;
  count: number;
}

export interface CoalesceLimits {
  maxRegisters: number;
  maxBits: number;
  /** largest hole (registers) bridged between two items of one request */
  maxGapRegisters: number;
  /** largest hole (bits) bridged between two items of one request */
  maxGapBits: number;
}

export const DEFAULT_LIMITS: CoalesceLimits = { maxRegisters: MAX_REGISTERS, maxBits: MAX_BITS, maxGapRegisters: 16, maxGapBits: 256 };

export interface ReadRequest<K = string> {
  unitId: number;
  table: ModbusTable;
  address: number;
  count: number;
  /** each item with its offset from `address` */
  items: { key: K; offset: number; count: number }[];
}

const TABLE_ORDER: Record<ModbusTable, number> = { coil: 0, discrete: 1, holding: 2, input: 3 };

export function coalesce<K>(items: readonly ReadItem<K>[], limits: CoalesceLimits = DEFAULT_LIMITS): ReadRequest<K>[] {
  const sorted = [...items].sort(
    (a, b) => a.unitId - b.unitId || TABLE_ORDER[a.table] - TABLE_ORDER[b.table] || a.address - b.address || b.count - a.count,
  );
  const out: ReadRequest<K>[] = [];
  let cur: ReadRequest<K> | undefined;
  for (const it of sorted) {
    const bits = isBitTable(it.table);
    const max = bits ? Math.min(limits.maxBits, MAX_BITS) : Math.min(limits.maxRegisters, MAX_REGISTERS);
    const gap = bits ? limits.maxGapBits : limits.maxGapRegisters;
    if (it.count < 1 || it.count > max) throw new RangeError(`item ${String(it.key)} needs ${it.count} ${bits ? "bits" : "registers"}; one request carries 1–${max}`);
    if (it.address < 0 || it.address + it.count > 65536) throw new RangeError(`item ${String(it.key)} at ${it.address} (+${it.count}) is outside 0–65535`);
    if (cur && cur.unitId === it.unitId && cur.table === it.table) {
      const end = cur.address + cur.count;
      const newEnd = Math.max(end, it.address + it.count);
      if (it.address - end <= gap && newEnd - cur.address <= max) {
        cur.count = newEnd - cur.address;
        cur.items.push({ key: it.key, offset: it.address - cur.address, count: it.count });
        continue;
      }
    }
    cur = { unitId: it.unitId, table: it.table, address: it.address, count: it.count, items: [{ key: it.key, offset: 0, count: it.count }] };
    out.push(cur);
  }
  return out;
}

/** One request per item: what the driver falls back to when a merged request is refused. */
export function split<K>(req: ReadRequest<K>): ReadRequest<K>[] {
  return req.items.map((i) => ({ unitId: req.unitId, table: req.table, address: req.address + i.offset, count: i.count, items: [{ key: i.key, offset: 0, count: i.count }] }));
}
