// The `drivers` and `watchdog` config sections (zod 4, strict: unknown keys
// are errors). runtime/config/schema.ts imports driversSection and
// watchdogSection; this file must not import it back (circular import), so it
// carries its own host:port parser.
//
// The drivers section is checked entry by entry (checkDriversSection): every
// device and tag is shape-checked on its own and the cross-checks run over
// all that passed, so one mistyped key never hides the other problems. Tag
// entries are first expanded (drivers/tag-expand.ts: blocks, type and order
// aliases, Modicon addresses) into the long form.
// Size: the section's schemas and every cross-check of devices and tags belong together; split, they would import each other
import { z } from "zod";
import { unknownKeyMessage } from "./did-you-mean.js";
import { ADDRESSINGS, parseModbusAddress, type Addressing, type ModbusAddress } from "./modbus-address.js";
import { BYTE_ORDERS, MODBUS_DATA_TYPES, ORDER_ALIASES, TYPE_ALIASES, registerCount, type ByteOrder, type ModbusDataType } from "./modbus-codec.js";
import { EXPANSION_KEYS, expandTagEntry } from "./tag-expand.js";

export { parseModbusAddress, type ModbusAddress } from "./modbus-address.js";

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

// ---------------------------------------------------------------- devices

/** A vendor's name for a byte order (word swap …) → ABCD/CDAB/BADC/DCBA; anything else is left for the enum to refuse. */
function orderAlias(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const up = v.trim().toUpperCase();
  if ((BYTE_ORDERS as readonly string[]).includes(up)) return up;
  return ORDER_ALIASES[v.trim().toLowerCase().replace(/[\s_-]+/g, " ")] ?? v;
}

const standby = z.enum(["hot", "warm", "cold"]);
const byteOrder = z.enum(BYTE_ORDERS as [ByteOrder, ...ByteOrder[]], {
  error: (i) => `expected ${BYTE_ORDERS.join(", ")} or a vendor's name for one (big-endian, word swap, byte swap, little-endian …), got ${JSON.stringify(i.input)}`,
});

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
  byteOrder: z.preprocess(orderAlias, byteOrder).default("ABCD"),
  /** zero-based: tags give hr:100 (the address on the wire); modicon: they may also give 1-based Modicon numbers (40101 = hr:100) */
  addressing: z.enum(ADDRESSINGS as [Addressing, ...Addressing[]]).default("zero-based"),
  /** a read's timeout; default the device's fastest scan within 500–1000 ms (1000 on RTU): see defaultModbusTimeout */
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

/** Element types of array tags (`type: int16[]` with `length` elements). */
export const ARRAY_ELEMENT_TYPES: readonly ModbusDataType[] = ["bool", "int16", "uint16", "int32", "uint32", "float32", "float64", "bcd16", "bcd32"];
export type TagTypeName = ModbusDataType | `${ModbusDataType}[]`;
const TAG_TYPES: readonly TagTypeName[] = [...MODBUS_DATA_TYPES, ...ARRAY_ELEMENT_TYPES.map((t) => `${t}[]` as const)];

/**
 * What tag history records of this tag, over the node's `history` section
 * (runtime/history/: the drivers only carry it). Each key left out takes the
 * section's.
 */
export const tagHistorySchema = z.strictObject({
  enabled: z.boolean().optional(),
  /** absolute, in engineering units (numeric tags): a change within it is not recorded; 0 records every change */
  deadband: z.number().min(0).optional(),
  /** at most one value change recorded per this many ms (the latest waits its turn; a quality change never does); 0 no limit */
  minIntervalMs: ms(0, 86_400_000).optional(),
  /** a steady value is recorded again after this many ms (a heartbeat sample); 0 never */
  maxIntervalMs: ms(0, 7 * 86_400_000).optional(),
});

export const tagSchema = z.strictObject({
  name: tagName,
  /** the device (drivers.devices[].name) the tag is read from; its driver decides the fields below */
  device: id,
  /** Modbus: hr:100, ir:5, co:3, di:7, hr:20.5 */
  address: z.string().optional(),
  /** Modbus data type, or an array of one (`float32[]`, with length); default bool on coils/discrete inputs, bit with an address .n, uint16 otherwise */
  type: z
    .enum(TAG_TYPES as [TagTypeName, ...TagTypeName[]], {
      error: (i) => `expected a type (${MODBUS_DATA_TYPES.join(" ")}, an array such as float32[], or a PLC name: ${Object.keys(TYPE_ALIASES).join(" ")}), got ${JSON.stringify(i.input)}`,
    })
    .optional(),
  /** Modbus byte/word order; default the device's */
  byteOrder: byteOrder.optional(),
  /** Modbus unit id; default the device's */
  unitId: z.number().int().min(0).max(255).optional(),
  /** Modbus string length in characters; array length in elements */
  length: z.number().int().min(1).max(2000).optional(),
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
  history: tagHistorySchema.optional(),
});

// ---------------------------------------------------------------- section

const driversShape = z.strictObject({
  /** default scan/sampling interval */
  scanMs: ms(10, 3_600_000).default(1000),
  devices: z.array(deviceSchema),
  tags: z.array(tagSchema),
});

/** The keys a drivers section takes (tagFiles is read by the config loader). */
export const DRIVERS_KEYS = ["scanMs", "devices", "tags", "tagFiles"] as const;
const TAG_KEYS = [...Object.keys(tagSchema.shape), ...EXPANSION_KEYS];

/** A problem in the drivers section: its key path inside the section; `tag` names the tag when the entry stands for several. */
export interface DriversIssue {
  path: (string | number)[];
  message: string;
  tag?: string;
}

/** A zod issue → our message: unknown keys say which known key was meant. */
function issueMessage(i: z.core.$ZodIssue, known: readonly string[]): string {
  if (i.code === "unrecognized_keys") return unknownKeyMessage(i.keys, known);
  if (i.code === "invalid_union" && i.path.length === 0) return "expected driver: modbus or opcua";
  return i.message;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Checks a raw drivers section entry by entry and returns every problem at
 * once: a shape error in one device or tag never hides a cross-check on
 * another. The value is there when there is no problem.
 */
export function checkDriversSection(raw: unknown): { value?: DriversConfig; issues: DriversIssue[] } {
  const issues: DriversIssue[] = [];
  const add = (path: (string | number)[], message: string, tag?: string) => issues.push(tag === undefined ? { path, message } : { path, message, tag });
  if (raw === undefined || raw === null) raw = {};
  if (!isObject(raw)) return { issues: [{ path: [], message: "expected a mapping with scanMs, devices, tags" }] };
  const extra = Object.keys(raw).filter((k) => !(DRIVERS_KEYS as readonly string[]).includes(k));
  if (extra.length) add([], unknownKeyMessage(extra, DRIVERS_KEYS));
  if (raw.tagFiles !== undefined) add(["tagFiles"], "tag files are read by the config loader (tandem check-config, tandem start); this check was given the section alone");
  const scan = driversShape.shape.scanMs.safeParse(raw.scanMs);
  if (!scan.success) for (const i of scan.error.issues) add(["scanMs"], i.message);
  const scanMs = scan.success ? scan.data : 1000;

  // devices: the names are known even where the rest is wrong, so tags naming them are checked
  const rawDevices = raw.devices ?? [];
  if (!Array.isArray(rawDevices)) add(["devices"], "expected a list of devices");
  const devices: DeviceConfig[] = [];
  /** Modbus devices without a timeoutMs of their own: it follows their fastest scan (below) */
  const timeoutFromScan = new Set<ModbusDeviceConfig>();
  const byName = new Map<string, { cfg?: DeviceConfig; driver?: "modbus" | "opcua"; addressing: Addressing }>();
  (Array.isArray(rawDevices) ? rawDevices : []).forEach((rd: unknown, i) => {
    const r = deviceSchema.safeParse(rd);
    const o = isObject(rd) ? rd : {};
    const drv = o.driver === "modbus" || o.driver === "opcua" ? o.driver : undefined;
    const known = drv === "opcua" ? Object.keys(opcuaDeviceSchema.shape) : drv === "modbus" ? Object.keys(modbusDeviceSchema.shape) : [...Object.keys(modbusDeviceSchema.shape), ...Object.keys(opcuaDeviceSchema.shape)];
    if (typeof o.name === "string") {
      if (byName.has(o.name)) add(["devices", i, "name"], `duplicate device name '${o.name}'`);
      byName.set(o.name, { cfg: r.success ? r.data : undefined, driver: drv, addressing: o.addressing === "modicon" ? "modicon" : "zero-based" });
    }
    if (!r.success) {
      for (const is of r.error.issues) add(["devices", i, ...(is.path as (string | number)[])], issueMessage(is, known));
      return;
    }
    devices.push(r.data);
    if (r.data.driver === "modbus" && o.timeoutMs === undefined) timeoutFromScan.add(r.data);
    checkDevice(r.data, (p, m) => add(["devices", i, ...p], m));
  });

  // tags: expanded first (blocks, aliases, Modicon), then shape, then cross-checks
  const rawTags = raw.tags ?? [];
  if (!Array.isArray(rawTags)) add(["tags"], "expected a list of tags");
  const tags: TagConfig[] = [];
  const names = new Set<string>();
  (Array.isArray(rawTags) ? rawTags : []).forEach((rt: unknown, i) => {
    if (!isObject(rt)) return add(["tags", i], `expected a tag (a mapping with name, device …), got ${JSON.stringify(rt)}`);
    const dev = typeof rt.device === "string" ? byName.get(rt.device) : undefined;
    const ex = expandTagEntry(rt, { driver: dev?.driver, addressing: dev?.addressing ?? "zero-based", deviceKnown: dev !== undefined });
    for (const is of ex.issues) add(["tags", i, ...is.path], is.message, is.tag);
    const several = ex.entries.length > 1;
    for (const e of ex.entries) {
      const tagName = several && typeof e.name === "string" ? e.name : undefined;
      const r = tagSchema.safeParse(e);
      if (!r.success) {
        for (const is of r.error.issues) add(["tags", i, ...(is.path as (string | number)[])], issueMessage(is, TAG_KEYS), tagName);
        if (typeof e.name === "string") names.add(e.name);
        continue;
      }
      const t = r.data;
      const at = (p: (string | number)[], m: string) => add(["tags", i, ...p], m, several ? t.name : undefined);
      if (names.has(t.name)) at(["name"], `duplicate tag name '${t.name}'`);
      names.add(t.name);
      tags.push(t);
      if (!byName.has(t.device)) {
        at(["device"], `no device named '${t.device}' in drivers.devices (have: ${[...byName.keys()].join(", ") || "none"})`);
        continue;
      }
      const cfg = byName.get(t.device)!.cfg;
      if (cfg) checkTag(t, cfg, at);
    }
  });
  if (issues.length) return { issues };
  for (const dev of timeoutFromScan) dev.timeoutMs = defaultModbusTimeout(dev, fastestScanOf(dev, tags, scanMs));
  return { value: { scanMs, devices, tags }, issues };
}

/** The shortest scan among a device's tags (tag, then device, then drivers.scanMs); the device's own scan when it has none. */
export function fastestScanOf(dev: DeviceConfig, tags: readonly TagConfig[], scanMs: number): number {
  const own = dev.scanMs ?? scanMs;
  return tags.reduce((min, t) => (t.device === dev.name ? Math.min(min, t.scanMs ?? own) : min), tags.some((t) => t.device === dev.name) ? Infinity : own);
}

/**
 * A Modbus device's read timeout when the config gives none: its fastest scan,
 * so that a PLC that stops answering on an open connection shows bad within
 * one scan (docs/drivers.md, "A device that stops answering"), but never
 * under 500 ms (a PLC that answers at the end of its own cycle, a gateway to
 * a serial line: the first timeout turns every tag of the device bad, so a
 * timeout that is too short raises false alarms) nor over 1000 ms. A
 * serial (RTU) line keeps 1000 ms: its answer time is the baud rate's, not
 * the scan's.
 */
export function defaultModbusTimeout(dev: ModbusDeviceConfig, fastestScanMs: number): number {
  if (dev.transport === "rtu") return MODBUS_TIMEOUT_MAX_MS;
  return Math.min(MODBUS_TIMEOUT_MAX_MS, Math.max(MODBUS_TIMEOUT_MIN_MS, fastestScanMs));
}
const MODBUS_TIMEOUT_MIN_MS = 500;
const MODBUS_TIMEOUT_MAX_MS = 1000;

/** Cross-checks of one device that parsed. */
function checkDevice(dev: DeviceConfig, issue: (p: (string | number)[], m: string) => void): void {
  if (dev.maxConnections !== undefined && dev.standby !== "cold" && dev.maxConnections < 2)
    issue(["maxConnections"], `with standby '${dev.standby}' both nodes hold a connection (2) but the device allows ${dev.maxConnections}; set standby: cold or raise maxConnections`);
  if (dev.reconnect.maxMs < dev.reconnect.initialMs) issue(["reconnect", "maxMs"], `must be at least reconnect.initialMs (${dev.reconnect.initialMs})`);
  if (dev.driver === "modbus") {
    if (dev.transport === "tcp") {
      if (!dev.endpoints) issue(["endpoints"], "a Modbus TCP device needs endpoints: [host:port, …]");
      if (dev.serial) issue(["serial"], "serial ports are for transport: rtu");
    } else {
      if (!dev.serial) issue(["serial"], "a Modbus RTU device needs serial: [{ path: /dev/ttyUSB0, … }]");
      if (dev.endpoints) issue(["endpoints"], "endpoints are for transport: tcp; RTU uses serial");
      if (dev.maxInFlight > 1) issue(["maxInFlight"], "a serial line carries one request at a time; use 1");
    }
    return;
  }
  const mode = dev.securityMode;
  const policy = dev.securityPolicy ?? (mode === "None" ? "None" : "Basic256Sha256");
  if (mode === "None" && policy !== "None") issue(["securityPolicy"], `securityMode None needs securityPolicy None, got ${policy}`);
  if (mode !== "None" && policy === "None") issue(["securityPolicy"], `securityMode ${mode} needs a securityPolicy other than None`);
  if ((dev.username === undefined) !== (dev.password === undefined)) issue([dev.username === undefined ? "username" : "password"], "username and password go together");
  if (dev.redundancy === "non-transparent" && dev.endpoints.length < 2) issue(["endpoints"], "non-transparent redundancy needs the endpoints of at least two servers");
}

/** Cross-checks of one tag against its device. */
function checkTag(t: TagConfig, dev: DeviceConfig, issue: (p: (string | number)[], m: string) => void): void {
  if (t.min !== undefined && t.max !== undefined && t.min > t.max) issue(["max"], `must be at least min (${t.min})`);
  if ((t.min !== undefined || t.max !== undefined) && !t.writable) issue([t.min !== undefined ? "min" : "max"], "min and max limit writes; the tag is not writable (writable: true)");
  if (dev.driver === "opcua") {
    if (!t.nodeId) issue(["nodeId"], "an OPC UA tag needs nodeId (e.g. ns=1;s=Tank1.Level)");
    for (const k of ["address", "type", "byteOrder", "unitId", "length"] as const) if (t[k] !== undefined) issue([k], `'${k}' is for Modbus tags; device '${dev.name}' is OPC UA`);
    return;
  }
  for (const k of ["nodeId", "queueSize"] as const) if (t[k] !== undefined) issue([k], `'${k}' is for OPC UA tags; device '${dev.name}' is Modbus`);
  if (!t.address) return issue(["address"], `a Modbus tag needs address (e.g. hr:100${dev.addressing === "modicon" ? " or 40101" : ""})`);
  const a = parseModbusAddress(t.address);
  if (typeof a === "string") return issue(["address"], a);
  const { type, array } = splitTagType(t.type, a);
  const bitTable = a.table === "coil" || a.table === "discrete";
  const plain = type === "bool" || type === "bit" || type === "string";
  if (array) {
    if (t.length === undefined) issue(["length"], `an array (${t.type}) needs length: the number of elements`);
    if (bitTable && type !== "bool") issue(["type"], `coils and discrete inputs hold bool, so an array of them is bool[], not ${t.type}`);
    if (!bitTable && type === "bool") issue(["type"], "bool[] is for coils and discrete inputs; for the bits of registers use type bit with count, or uint16[]");
    if (a.bit !== undefined) issue(["address"], "an array starts at a whole register, not at a bit");
    if (t.scaling) issue(["scaling"], "scaling applies to single values, not to arrays");
    if (t.min !== undefined || t.max !== undefined) issue([t.min !== undefined ? "min" : "max"], "min and max apply to single values, not to arrays");
    if (t.deadband > 0) issue(["deadband"], "a deadband applies to single values; an array is published whenever an element changes");
  } else {
    if (bitTable && type !== "bool") issue(["type"], `coils and discrete inputs hold bool, not ${type}`);
    if (type === "bit" && a.bit === undefined) issue(["address"], "type bit needs a bit index in the address (e.g. hr:20.5)");
    if (a.bit !== undefined && type !== "bit") issue(["type"], `an address with a bit index reads type bit, not ${type}`);
    if (type === "string" && t.length === undefined) issue(["length"], "type string needs length (characters)");
    if (type === "string" && t.length !== undefined && t.length > 250) issue(["length"], `a string holds at most 250 characters (125 registers), got ${t.length}`);
    if (type !== "string" && t.length !== undefined) issue(["length"], "length applies to type string (characters) and arrays (elements) only");
    if (t.scaling && plain) issue(["scaling"], `scaling applies to numbers, not ${type}`);
    if ((t.min !== undefined || t.max !== undefined) && plain) issue([t.min !== undefined ? "min" : "max"], `min and max apply to numbers, not ${type}`);
  }
  if (t.writable && (a.table === "input" || a.table === "discrete")) issue(["writable"], "input registers and discrete inputs are read-only in Modbus");
  const n = tagSize(type, array ? (t.length ?? 1) : undefined, bitTable, t.length);
  if (a.address + n > 65536) issue(["address"], `${t.type ?? type} at ${a.address} runs past ${bitTable ? "bit" : "register"} 65535`);
  const most = bitTable ? dev.maxBitsPerRequest : dev.maxRegistersPerRequest;
  if (array && n > most) issue(["length"], `the array takes ${n} ${bitTable ? "bits" : "registers"}, more than one request carries on this device (${bitTable ? "maxBitsPerRequest" : "maxRegistersPerRequest"} ${most})`);
}

/** Registers (or bits) a tag occupies. */
export function tagSize(type: ModbusDataType, arrayLength: number | undefined, bitTable: boolean, length?: number): number {
  if (bitTable) return arrayLength ?? 1;
  return arrayLength === undefined ? registerCount(type, length) : registerCount(type) * arrayLength;
}

/** A tag's type as configured → its element type and whether it is an array; the default from the address when absent. */
export function splitTagType(type: TagTypeName | undefined, a: ModbusAddress): { type: ModbusDataType; array: boolean } {
  if (type?.endsWith("[]")) return { type: type.slice(0, -2) as ModbusDataType, array: true };
  return { type: resolveModbusType(type as ModbusDataType | undefined, a), array: false };
}

export const driversSection = z.unknown().transform((raw, ctx): DriversConfig => {
  const r = checkDriversSection(raw);
  for (const i of r.issues) ctx.addIssue({ code: "custom", path: i.path, message: i.message, ...(i.tag === undefined ? {} : { params: { tag: i.tag } }) });
  return r.value ?? (z.NEVER as never);
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

export type DriversConfig = z.output<typeof driversShape>;
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
