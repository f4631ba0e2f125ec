// The `drivers` and `watchdog` config sections (zod 4, strict: unknown keys
// are errors). runtime/config/schema.ts imports driversSection and
// watchdogSection; this file must not import it back (circular import), so it
// carries its own host:port parser.
import { z } from "zod";
import { BYTE_ORDERS, MODBUS_DATA_TYPES, registerCount, type ByteOrder, type ModbusDataType } from "./modbus-codec.js";
import type { ModbusTable } from "./modbus-coalescer.js";

// ---------------------------------------------------------------- helpers

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "expected 1–64 letters, digits, '_', '.', '-' starting with a letter or digit");

/** Dotted tag names: `line1.tank.level`. */
const tagName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/, "expected a dotted name like line1.tank.level (letters, digits, '_', '-', dots between parts)")
  .max(200);

const ms = (min: number, max: number) => z.number().int("expected whole milliseconds").min(min).max(max);

export function parseEndpoint(text: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return `expected host:port (e.g. 192.168.0.10:502), got '${text}'`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port must be 1–65535, got ${port} in '${text}'`;
  return { host: m[1] ?? m[2]!, port };
}

const hostPortText = z.string().superRefine((t, ctx) => {
  const r = parseEndpoint(t);
  if (typeof r === "string") ctx.addIssue({ code: "custom", message: r });
});

export interface ModbusAddress {
  table: ModbusTable;
  address: number;
  bit?: number;
}

const TABLES: Record<string, ModbusTable> = { hr: "holding", ir: "input", co: "coil", di: "discrete" };

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

// ---------------------------------------------------------------- devices

const standby = z.enum(["hot", "warm", "cold"]);
const byteOrder = z.enum(BYTE_ORDERS as [ByteOrder, ...ByteOrder[]]);

const reconnect = z
  .strictObject({
    /** first wait after a failed connection attempt on every path */
    initialMs: ms(10, 60_000).default(500),
    /** the wait doubles up to this; a TCP probe every initialMs ends it early when the device accepts connections again */
    maxMs: ms(10, 600_000).default(5_000),
  })
  .prefault({});

const serialPort = z.strictObject({
  path: z.string().min(1),
  baudRate: z.number().int().min(300).max(921_600).default(19_200),
  parity: z.enum(["none", "even", "odd"]).default("even"),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
});

const common = {
  name: id,
  /** this node's connection when it is standby: hot = connected and reading, warm = connected, cold = not connected */
  standby: standby.default("hot"),
  /** connections the device accepts from this pair; checked against the standby mode */
  maxConnections: z.number().int().min(1).max(64).optional(),
  /** default scan (Modbus) or sampling (OPC UA) interval of this device's tags */
  scanMs: ms(10, 3_600_000).optional(),
  reconnect,
};

export const modbusDeviceSchema = z.strictObject({
  ...common,
  driver: z.literal("modbus"),
  transport: z.enum(["tcp", "rtu"]).default("tcp"),
  /** tcp: one host:port per path (two network cards, two CPUs); the first is preferred */
  endpoints: z.array(hostPortText).min(1).optional(),
  /** rtu: one serial port per path */
  serial: z.array(serialPort).min(1).optional(),
  unitId: z.number().int().min(0).max(255).default(1),
  byteOrder: byteOrder.default("ABCD"),
  timeoutMs: ms(10, 60_000).default(1000),
  /**
   * a write's timeout; default the smaller of timeoutMs and 500. A write leaves
   * only while the node's lease covers this much more time, so it must stay
   * well inside takeover.leaseMs.
   */
  writeTimeoutMs: ms(10, 60_000).optional(),
  /** a request that timed out is sent again this many times before the path counts as lost */
  retries: z.number().int().min(0).max(10).default(1),
  maxRegistersPerRequest: z.number().int().min(1).max(125).default(125),
  maxBitsPerRequest: z.number().int().min(1).max(2000).default(2000),
  /** largest hole bridged when merging reads (registers / bits); 0 merges only adjacent items */
  maxGapRegisters: z.number().int().min(0).max(124).default(16),
  maxGapBits: z.number().int().min(0).max(1999).default(256),
  /** requests in flight on one connection (TCP only; RTU is always 1) */
  maxInFlight: z.number().int().min(1).max(16).default(1),
  /** TCP client: modbus-serial, or Tandem's own MBAP framing (about twice the request rate; see docs/drivers.md) */
  // Tandem's own MBAP framing by default: modbus-serial's TCP transport reaches
  // about 0.4 of a libmodbus client's request rate, below DESIGN.md's 2/3
  // (docs/drivers.md, Benchmarks); RTU always uses modbus-serial
  tcpClient: z.enum(["modbus-serial", "tandem"]).default("tandem"),
  /** auto: FC5/FC6 for one coil/register, FC15/FC16 for more; single/multiple force one kind where the device supports only that */
  writeFunction: z.enum(["auto", "single", "multiple"]).default("auto"),
});

export const opcuaDeviceSchema = z.strictObject({
  ...common,
  driver: z.literal("opcua"),
  /** opc.tcp:// URLs: paths to one server, or (redundancy: non-transparent) the servers of a redundant set */
  endpoints: z.array(z.string().regex(/^opc\.tcp:\/\/[^\s/]+(:\d{1,5})?(\/\S*)?$/, "expected an opc.tcp://host:port[/path] URL")).min(1),
  /** paths: fail over in order; non-transparent: read ServiceLevel on every endpoint and use the highest */
  redundancy: z.enum(["paths", "non-transparent"]).default("paths"),
  securityMode: z.enum(["None", "Sign", "SignAndEncrypt"]).default("None"),
  securityPolicy: z.enum(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]).optional(),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  /** accept a server certificate not yet in the trusted folder (first connection on a site; off in production) */
  trustUnknownServerCertificate: z.boolean().default(false),
  publishingIntervalMs: ms(10, 600_000).default(1000),
  requestTimeoutMs: ms(100, 600_000).default(5000),
  /** a write's timeout (our own, the connection is dropped when it passes); default the smaller of requestTimeoutMs and 500; see the Modbus one */
  writeTimeoutMs: ms(10, 60_000).optional(),
  /** non-transparent redundancy: how often ServiceLevel is read on every endpoint */
  serviceLevelPollMs: ms(100, 600_000).default(2000),
});

export const deviceSchema = z.discriminatedUnion("driver", [modbusDeviceSchema, opcuaDeviceSchema]);

// ---------------------------------------------------------------- tags

const scaling = z
  .strictObject({
    rawMin: z.number(),
    rawMax: z.number(),
    engMin: z.number(),
    engMax: z.number(),
    clamp: z.boolean().default(false),
  })
  .refine((s) => s.rawMin !== s.rawMax, { message: "rawMin and rawMax must differ" })
  .refine((s) => s.engMin !== s.engMax, { message: "engMin and engMax must differ" });

export const tagSchema = z.strictObject({
  name: tagName,
  /** the device (drivers.devices[].name) the tag is read from; its driver decides the fields below */
  device: id,
  /** Modbus: hr:100, ir:5, co:3, di:7, hr:20.5 */
  address: z.string().optional(),
  /** Modbus data type; default bool on coils/discrete inputs, bit with an address .n, uint16 otherwise */
  type: z.enum(MODBUS_DATA_TYPES as [ModbusDataType, ...ModbusDataType[]]).optional(),
  /** Modbus byte/word order; default the device's */
  byteOrder: byteOrder.optional(),
  /** Modbus unit id; default the device's */
  unitId: z.number().int().min(0).max(255).optional(),
  /** Modbus string length in characters */
  length: z.number().int().min(1).max(250).optional(),
  /** OPC UA node id, e.g. ns=1;s=Tank1.Level */
  nodeId: z.string().min(1).optional(),
  /** OPC UA monitored-item queue size */
  queueSize: z.number().int().min(1).max(1000).optional(),
  /** scan (Modbus) or sampling (OPC UA) interval; default the device's, then drivers.scanMs */
  scanMs: ms(10, 3_600_000).optional(),
  /** absolute deadband in engineering units; 0 publishes every change */
  deadband: z.number().min(0).default(0),
  scaling: scaling.optional(),
  writable: z.boolean().default(false),
  /** engineering limits: a write below min or above max is refused by Tandem before it reaches the PLC */
  min: z.number().finite().optional(),
  max: z.number().finite().optional(),
  description: z.string().max(500).optional(),
  units: z.string().max(32).optional(),
});

// ---------------------------------------------------------------- section

export const driversSection = z
  .strictObject({
    /** default scan/sampling interval */
    scanMs: ms(10, 3_600_000).default(1000),
    devices: z.array(deviceSchema).default([]),
    tags: z.array(tagSchema).default([]),
  })
  .superRefine((d, ctx) => {
    const devices = new Map<string, DeviceConfig>();
    d.devices.forEach((dev, i) => {
      const at = (...p: (string | number)[]) => ["devices", i, ...p];
      if (devices.has(dev.name)) ctx.addIssue({ code: "custom", path: at("name"), message: `duplicate device name '${dev.name}'` });
      devices.set(dev.name, dev);
      if (dev.maxConnections !== undefined && dev.standby !== "cold" && dev.maxConnections < 2)
        ctx.addIssue({
          code: "custom",
          path: at("maxConnections"),
          message: `with standby '${dev.standby}' both nodes hold a connection (2) but the device allows ${dev.maxConnections}; set standby: cold or raise maxConnections`,
        });
      if (dev.reconnect.maxMs < dev.reconnect.initialMs) ctx.addIssue({ code: "custom", path: at("reconnect", "maxMs"), message: `must be at least reconnect.initialMs (${dev.reconnect.initialMs})` });
      if (dev.driver === "modbus") {
        if (dev.transport === "tcp") {
          if (!dev.endpoints) ctx.addIssue({ code: "custom", path: at("endpoints"), message: "a Modbus TCP device needs endpoints: [host:port, …]" });
          if (dev.serial) ctx.addIssue({ code: "custom", path: at("serial"), message: "serial ports are for transport: rtu" });
        } else {
          if (!dev.serial) ctx.addIssue({ code: "custom", path: at("serial"), message: "a Modbus RTU device needs serial: [{ path: /dev/ttyUSB0, … }]" });
          if (dev.endpoints) ctx.addIssue({ code: "custom", path: at("endpoints"), message: "endpoints are for transport: tcp; RTU uses serial" });
          if (dev.maxInFlight > 1) ctx.addIssue({ code: "custom", path: at("maxInFlight"), message: "a serial line carries one request at a time; use 1" });
        }
      } else {
        const mode = dev.securityMode;
        const policy = dev.securityPolicy ?? (mode === "None" ? "None" : "Basic256Sha256");
        if (mode === "None" && policy !== "None") ctx.addIssue({ code: "custom", path: at("securityPolicy"), message: `securityMode None needs securityPolicy None, got ${policy}` });
        if (mode !== "None" && policy === "None") ctx.addIssue({ code: "custom", path: at("securityPolicy"), message: `securityMode ${mode} needs a securityPolicy other than None` });
        if ((dev.username === undefined) !== (dev.password === undefined))
          ctx.addIssue({ code: "custom", path: at(dev.username === undefined ? "username" : "password"), message: "username and password go together" });
        if (dev.redundancy === "non-transparent" && dev.endpoints.length < 2)
          ctx.addIssue({ code: "custom", path: at("endpoints"), message: "non-transparent redundancy needs the endpoints of at least two servers" });
      }
    });
    const names = new Set<string>();
    d.tags.forEach((t, i) => {
      const at = (...p: (string | number)[]) => ["tags", i, ...p];
      const issue = (p: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path: p, message });
      if (names.has(t.name)) issue(at("name"), `duplicate tag name '${t.name}'`);
      names.add(t.name);
      const dev = devices.get(t.device);
      if (!dev) return issue(at("device"), `no device named '${t.device}' in drivers.devices (have: ${[...devices.keys()].join(", ") || "none"})`);
      if (t.min !== undefined && t.max !== undefined && t.min > t.max) issue(at("max"), `must be at least min (${t.min})`);
      if ((t.min !== undefined || t.max !== undefined) && !t.writable) issue(at(t.min !== undefined ? "min" : "max"), "min and max limit writes; the tag is not writable (writable: true)");
      if (dev.driver === "opcua") {
        if (!t.nodeId) issue(at("nodeId"), "an OPC UA tag needs nodeId (e.g. ns=1;s=Tank1.Level)");
        for (const k of ["address", "type", "byteOrder", "unitId", "length"] as const)
          if (t[k] !== undefined) issue(at(k), `'${k}' is for Modbus tags; device '${dev.name}' is OPC UA`);
        return;
      }
      for (const k of ["nodeId", "queueSize"] as const) if (t[k] !== undefined) issue(at(k), `'${k}' is for OPC UA tags; device '${dev.name}' is Modbus`);
      if (!t.address) return issue(at("address"), "a Modbus tag needs address (e.g. hr:100)");
      const a = parseModbusAddress(t.address);
      if (typeof a === "string") return issue(at("address"), a);
      const type = resolveModbusType(t.type, a);
      const bitTable = a.table === "coil" || a.table === "discrete";
      if (bitTable && type !== "bool") issue(at("type"), `coils and discrete inputs hold bool, not ${type}`);
      if (type === "bit" && a.bit === undefined) issue(at("address"), "type bit needs a bit index in the address (e.g. hr:20.5)");
      if (a.bit !== undefined && type !== "bit") issue(at("type"), `an address with a bit index reads type bit, not ${type}`);
      if (type === "string" && t.length === undefined) issue(at("length"), "type string needs length (characters)");
      if (type !== "string" && t.length !== undefined) issue(at("length"), "length applies to type string only");
      if (t.writable && (a.table === "input" || a.table === "discrete")) issue(at("writable"), "input registers and discrete inputs are read-only in Modbus");
      if (t.scaling && (type === "bool" || type === "bit" || type === "string")) issue(at("scaling"), `scaling applies to numbers, not ${type}`);
      if ((t.min !== undefined || t.max !== undefined) && (type === "bool" || type === "bit" || type === "string"))
        issue(at(t.min !== undefined ? "min" : "max"), `min and max apply to numbers, not ${type}`);
      const n = bitTable ? 1 : registerCount(type, t.length);
      if (a.address + n > 65536) issue(at("address"), `${type} at ${a.address} runs past register 65535`);
    });
  });

export function resolveModbusType(type: ModbusDataType | undefined, a: ModbusAddress): ModbusDataType {
  if (type) return type;
  if (a.table === "coil" || a.table === "discrete") return "bool";
  return a.bit !== undefined ? "bit" : "uint16";
}

export const watchdogSection = z
  .strictObject({
    /** the device (drivers.devices[].name) holding the watchdog */
    device: id,
    /** where the active writes its cycle counter: a Modbus holding register (hr:900, uint16) or an OPC UA node id (UInt16/UInt32) */
    counter: z.string().min(1),
    /** where the active writes its epoch, which is also the fence: Modbus hr:901 (uint32, 2 registers, device byte order) or an OPC UA node id (UInt32) */
    epoch: z.string().min(1),
    /** how often the active writes and both nodes read */
    intervalMs: ms(50, 60_000).default(500),
    /** a counter that has not moved for this long means the active no longer drives the plant */
    staleAfterMs: ms(100, 600_000).default(3000),
    /** refuse writes from this node when the PLC holds a higher epoch */
    fence: z.boolean().default(true),
  })
  .superRefine((w, ctx) => {
    if (w.staleAfterMs < w.intervalMs * 2) ctx.addIssue({ code: "custom", path: ["staleAfterMs"], message: `must be at least two intervals (${w.intervalMs * 2})` });
  });

export type DriversConfig = z.output<typeof driversSection>;
export type WatchdogConfig = z.output<typeof watchdogSection>;
export type DeviceConfig = z.output<typeof deviceSchema>;
export type ModbusDeviceConfig = z.output<typeof modbusDeviceSchema>;
export type OpcuaDeviceConfig = z.output<typeof opcuaDeviceSchema>;
export type TagConfig = z.output<typeof tagSchema>;

/** A device's write timeout: writeTimeoutMs, or the smaller of its request timeout and 500 ms. */
export function writeTimeoutOf(dev: DeviceConfig): number {
  return dev.writeTimeoutMs ?? Math.min(dev.driver === "modbus" ? dev.timeoutMs : dev.requestTimeoutMs, 500);
}

/**
 * Write timeouts that a freshly renewed lease cannot cover (budgetMs: the
 * lease less its safety margin and one renewal interval): every write to
 * such a device would be refused. For the node's config superRefine.
 */
export function checkWriteTimeouts(drivers: DriversConfig | undefined, budgetMs: number, budgetText = `${budgetMs} ms`): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  drivers?.devices.forEach((dev, i) => {
    const ms = writeTimeoutOf(dev);
    if (ms >= budgetMs) {
      const what = dev.writeTimeoutMs === undefined ? `the default write timeout (${ms} ms)` : `${ms} ms`;
      out.push({
        path: ["drivers", "devices", i, "writeTimeoutMs"],
        message: `${what} does not fit in the lease (${budgetText}): every write to device '${dev.name}' would be refused; set writeTimeoutMs below ${budgetMs}`,
      });
    }
  });
  return out;
}

/** Cross-section checks (the watchdog names a device of the drivers section); for the node's config superRefine. */
export function checkWatchdog(drivers: DriversConfig | undefined, w: WatchdogConfig | undefined): { path: (string | number)[]; message: string }[] {
  if (!w) return [];
  const dev = drivers?.devices.find((d) => d.name === w.device);
  if (!dev) return [{ path: ["watchdog", "device"], message: `no device named '${w.device}' in drivers.devices` }];
  if (dev.driver === "modbus") {
    const out: { path: (string | number)[]; message: string }[] = [];
    for (const k of ["counter", "epoch"] as const) {
      const a = parseModbusAddress(w[k]);
      if (typeof a === "string") out.push({ path: ["watchdog", k], message: a });
      else if (a.table !== "holding" || a.bit !== undefined) out.push({ path: ["watchdog", k], message: `must be a holding register (hr:N), got '${w[k]}'` });
    }
    return out;
  }
  return [];
}
