import type { ModbusDataType } from "../../drivers/modbus-codec.js";

// Values that exercise sign, every byte and the edges of each type.
export const SAMPLES: Record<Exclude<ModbusDataType, "bit" | "string">, unknown[]> = {
  bool: [true, false],
  int16: [0, 1, -1, 32767, -32768, 0x1234],
  uint16: [0, 65535, 0xabcd],
  int32: [0, -1, 2147483647, -2147483648, 0x12345678],
  uint32: [0, 4294967295, 0x89abcdef],
  float32: [0, 1.5, -273.15, 3.4028234663852886e38, Number.POSITIVE_INFINITY],
  float64: [0, Math.PI, -1e300, Number.MIN_VALUE],
  int64: [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0x0102030405060708n],
  uint64: [0n, 2n ** 64n - 1n, 0x8899aabbccddeeffn],
  bcd16: [0, 1, 1234, 9999],
  bcd32: [0, 12345678, 99999999],
};

