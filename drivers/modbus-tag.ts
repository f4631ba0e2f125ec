// A Modbus tag as the driver uses it, built once from the validated config.
import { parseModbusAddress, splitTagType, tagSize, type ModbusDeviceConfig, type TagConfig } from "./config-schema.js";
import type { ByteOrder, ModbusDataType } from "./modbus-codec.js";
import { isBitTable, type ModbusTable } from "./modbus-coalescer.js";
import type { Scaling } from "./tag-model.js";

export interface ModbusTag {
  name: string;
  unitId: number;
  table: ModbusTable;
  address: number;
  bit?: number;
  /** the type of the value, or of each element of an array */
  type: ModbusDataType;
  order: ByteOrder;
  /** string length in characters */
  length?: number;
  /** array tags: the number of elements (the value is a list) */
  array?: number;
  /** registers or bits the tag occupies */
  count: number;
  /** codec options, built once: decoding runs for every tag on every scan */
  codec?: { order: ByteOrder; bit?: number; length?: number };
  scanMs: number;
  writable: boolean;
  scaling?: Scaling;
}

/** Config tag → driver tag (the config was validated by driversSection). */
export function modbusTag(t: TagConfig, dev: ModbusDeviceConfig, defaultScanMs: number): ModbusTag {
  const a = parseModbusAddress(t.address ?? "");
  if (typeof a === "string") throw new Error(`tag ${t.name}: ${a}`);
  const { type, array } = splitTagType(t.type, a);
  const elements = array ? (t.length ?? 1) : undefined;
  return {
    name: t.name,
    unitId: t.unitId ?? dev.unitId,
    table: a.table,
    address: a.address,
    ...(a.bit === undefined ? {} : { bit: a.bit }),
    type,
    order: t.byteOrder ?? dev.byteOrder,
    ...(t.length === undefined || array ? {} : { length: t.length }),
    ...(elements === undefined ? {} : { array: elements }),
    count: tagSize(type, elements, isBitTable(a.table), t.length),
    scanMs: t.scanMs ?? dev.scanMs ?? defaultScanMs,
    writable: t.writable,
    ...(t.scaling ? { scaling: t.scaling } : {}),
  };
}
