// The driver conformance suite for OPC UA against a server Tandem did not
// write: node-opcua's own server with one variable per built-in type,
// reached through a relay that can slow the path.
import { DataType, Variant, VariantArrayType } from "node-opcua";
import { driverConformance, type TypeCase } from "./conformance.js";
import { OPCUA_DEVICE } from "./conformance-cases.js";
import { DelayRelay, freePort } from "./helpers.js";
import { bareServer, type BareServer } from "./opcua-server.js";

interface UaCase extends TypeCase {
  dt: DataType;
  /** the Variant value the server is seeded with */
  seed: unknown;
}

const c = (dt: DataType, seed: unknown, read: unknown, write: unknown, junk: unknown[] = [], readBack?: unknown): UaCase => ({
  dt,
  seed,
  tag: { nodeId: `ns=1;s=T.${DataType[dt]}` },
  read,
  write,
  ...(readBack === undefined ? {} : { readBack }),
  stored: readBack ?? write,
  junk,
});

const CASES: UaCase[] = [
  c(DataType.Boolean, true, true, false),
  c(DataType.SByte, -5, -5, -100, [128, 1.5]),
  c(DataType.Byte, 7, 7, 200, [256, -1]),
  c(DataType.Int16, -2, -2, -30000, [32768]),
  c(DataType.UInt16, 0xabcd, 0xabcd, 65000, [-1, 65536]),
  c(DataType.Int32, -2, -2, -2_000_000_000, [2147483648]),
  c(DataType.UInt32, 0x12345678, 0x12345678, 4_000_000_000, [4294967296]),
  c(DataType.Int64, [0xffffffff, 0xffffffff], -1n, "-9007199254740993", [2 ** 60, "1.5"], -9007199254740993n),
  c(DataType.UInt64, [0x8899aabb, 0xccddeeff], 0x8899aabbccddeeffn, "18446744073709551615", ["-1"], 2n ** 64n - 1n),
  c(DataType.Float, 1.5, 1.5, 0.1, [1e39, "42.5", 1e-50], 0.10000000149011612),
  c(DataType.Double, Math.PI, Math.PI, Math.E),
  c(DataType.String, "TANK", "TANK", "batch-7"),
];

/** The server's own value, as the driver would show it (64-bit pairs as bigint). */
function plain(v: Variant | undefined): unknown {
  const x = v?.value as unknown;
  if ((v?.dataType === DataType.Int64 || v?.dataType === DataType.UInt64) && Array.isArray(x)) {
    const big = (BigInt(x[0] as number) << 32n) | BigInt((x[1] as number) >>> 0);
    return v.dataType === DataType.Int64 ? BigInt.asIntN(64, big) : big;
  }
  return x;
}

driverConformance({
  name: "OPC UA against node-opcua's own server",
  async start(dir) {
    const port = await freePort();
    let srv: BareServer = await bareServer(`${dir}/server`, port);
    const values = srv.values;
    const relay = new DelayRelay({ host: "127.0.0.1", port });
    await relay.start();
    const id = (tc: TypeCase) => `T.${DataType[(tc as UaCase).dt]}`;
    return {
      driver: "opcua",
      device: { ...OPCUA_DEVICE, endpoints: [`opc.tcp://127.0.0.1:${relay.port}`] },
      cases: CASES,
      async seed() {
        for (const k of CASES) values.set(id(k), new Variant({ dataType: k.dt, arrayType: VariantArrayType.Scalar, value: k.seed }));
      },
      peek: async (tc) => plain(values.get(id(tc))),
      goAway: () => srv.stop(),
      comeBack: async () => {
        srv = await bareServer(`${dir}/server`, port, values);
      },
      slow: async (ms) => void (relay.delayMs = ms),
      slowWhile: "lookup",
      writes: async () => srv.writes,
      connections: () => srv.sessions(),
      watchdogWord: "ns=1;s=T.UInt32",
      peekWord: async () => Number(plain(values.get("T.UInt32"))),
      async stop() {
        await relay.stop();
        await srv.stop();
      },
    };
  },
});
