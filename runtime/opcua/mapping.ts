// What the node's OPC UA server says, decided without node-opcua: the
// status code of a tag's quality, the ServiceLevel of a node state, a tag's
// OPC UA data type, values both ways, and the status code of a refused write.
// Pure (names, not node-opcua objects): unit-tested without loading the
// library; runtime/opcua/tag-space.ts turns the names into StatusCodes and
// DataTypes.
import type { NodeState, Role } from "../../core/types.js";
import { parseModbusAddress, splitTagType, type DeviceConfig, type TagConfig } from "../../drivers/config-schema.js";
import type { Quality } from "../../drivers/tag-model.js";

export const UA_TYPES = ["Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double", "String", "DateTime"] as const;
export type UaTypeName = (typeof UA_TYPES)[number];

/** A node's OPC UA application URI: its certificate carries it, and the ServerUriArray of both nodes names it. */
export function applicationUri(pairId: string, nodeId: string): string {
  return `urn:tandem:${pairId}:${nodeId}`;
}

/**
 * The node's state and service level (0–255) → Server.ServiceLevel, in the
 * subranges of OPC UA Part 4 §6.6.2.4.2: 200–255 "healthy" for the acting
 * node (active or active-held), 2–199 "degraded" for the standby, 1 "no
 * data" for a node that is starting or isolated (neither drives the plant
 * nor may be followed), 0 "maintenance". Within its range the level keeps its
 * order, so a client that picks the highest ServiceLevel lands on the active
 * whatever the levels, and among standbys on the healthier one.
 */
export function uaServiceLevel(state: NodeState, level: number): number {
  if (state === "maintenance") return 0;
  const l = Math.max(0, Math.min(255, Math.round(Number.isFinite(level) ? level : 0)));
  if (state === "active" || state === "active-held") return 200 + Math.floor((l * 55) / 255);
  if (state === "standby") return 2 + Math.floor((l * 197) / 255);
  return 1;
}

/**
 * A tag's quality and reason (drivers/tag-model.ts) → the name of the
 * StatusCode its value carries. An OPC UA source's own code passes through
 * when `known` knows it and its severity matches; a config problem is never
 * passed on as the source's code (a client would read BadNodeIdUnknown as
 * its own request's fault).
 */
export function statusOf(quality: Quality, reason: string | undefined, known: (name: string) => boolean): string {
  if (quality === "good") return "Good";
  const r = reason ?? "";
  const config = r.startsWith("config");
  const source = config ? undefined : /^opcua:((?:Bad|Uncertain)[A-Za-z0-9]+)$/.exec(r)?.[1];
  if (quality === "uncertain") {
    if (r === "out_of_range") return "UncertainEngineeringUnitsExceeded";
    if (source?.startsWith("Uncertain") && known(source)) return source;
    return "Uncertain";
  }
  if (config) return "BadConfigurationError";
  if (source?.startsWith("Bad") && known(source)) return source;
  switch (r) {
    case "no_data":
      return "BadWaitingForInitialData";
    case "comm_lost":
      // Part 8: communication configured but not established, no last value kept (Tandem keeps none)
      return "BadNoCommunication";
    case "timeout":
      return "BadTimeout";
    case "not_reading":
      // this node does not read the device (warm or cold standby): the source is off-scan here
      return "BadOutOfService";
  }
  const ex = /^modbus_exception:(\d+)/.exec(r);
  // 1–3: illegal function, address or value: the request does not fit the device (a config matter)
  if (ex) return ["1", "2", "3"].includes(ex[1]!) ? "BadConfigurationError" : "BadDeviceFailure";
  return "Bad";
}

const MODBUS_UA: Record<string, UaTypeName> = {
  bool: "Boolean",
  bit: "Boolean",
  int16: "Int16",
  uint16: "UInt16",
  int32: "Int32",
  uint32: "UInt32",
  float32: "Float",
  float64: "Double",
  int64: "Int64",
  uint64: "UInt64",
  bcd16: "UInt16",
  bcd32: "UInt32",
  string: "String",
};

/**
 * A tag's OPC UA data type from the tag model: a Modbus tag's type (a scaled
 * one carries engineering values: Double), an array's length. An OPC UA
 * tag's type is the source server's, known only once it answered: null here
 * (see typeOfValue).
 */
export function uaTypeOfTag(tag: TagConfig, device: DeviceConfig): { type: UaTypeName | null; arrayLength?: number } {
  if (device.driver === "opcua") return { type: tag.scaling ? "Double" : null };
  const a = parseModbusAddress(tag.address ?? "");
  if (typeof a === "string") return { type: null };
  const { type, array } = splitTagType(tag.type, a);
  if (array) return { type: MODBUS_UA[type] ?? "Double", arrayLength: tag.length ?? 1 };
  return { type: tag.scaling ? "Double" : (MODBUS_UA[type] ?? "Double") };
}

/** An OPC UA source's built-in type name as the driver learned it → the type served, or null when Tandem cannot carry it as such. */
export function uaTypeOfSource(name: string | undefined): UaTypeName | null {
  return name !== undefined && (UA_TYPES as readonly string[]).includes(name) ? (name as UaTypeName) : null;
}

/** The type a value's JSON form suggests (an OPC UA tag whose source type is not known): numbers are Double. */
export function typeOfValue(value: unknown): UaTypeName | null {
  const v = Array.isArray(value) ? value.find((x) => x !== null && x !== undefined) : value;
  if (typeof v === "boolean") return "Boolean";
  if (typeof v === "number") return "Double";
  if (typeof v === "string") return "String";
  return null;
}

const INTEGER = new Set<UaTypeName>(["SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32"]);

/**
 * A tag's value (its JSON form: tag-model.ts jsonValue) → the value of a
 * Variant of `type`; undefined when it does not fit. 64-bit integers become
 * node-opcua's [high, low] pair of 32-bit words.
 */
export function toUaValue(type: UaTypeName, value: unknown): unknown {
  if (Array.isArray(value)) {
    const out = value.map((x) => toUaValue(type, x));
    return out.some((x) => x === undefined) ? undefined : out;
  }
  if (value === null || value === undefined) return undefined;
  switch (type) {
    case "Boolean":
      return typeof value === "boolean" ? value : undefined;
    case "String":
      return typeof value === "string" ? value : String(value);
    case "DateTime": {
      const d = typeof value === "string" || typeof value === "number" ? new Date(value) : null;
      return d && Number.isFinite(d.getTime()) ? d : undefined;
    }
    case "Int64":
    case "UInt64": {
      try {
        const big = BigInt(typeof value === "number" ? Math.trunc(value) : (value as string | bigint));
        const u = BigInt.asUintN(64, big);
        return [Number(u >> 32n), Number(u & 0xffffffffn)];
      } catch {
        return undefined;
      }
    }
  }
  // numbers; non-finite ones travel as text in the tag model ("NaN", "Infinity")
  let n: number;
  if (typeof value === "number") n = value;
  else if (typeof value === "boolean") n = Number(value);
  else if (typeof value === "string" && /^(-?Infinity|NaN)$/.test(value)) n = Number(value);
  else return undefined;
  if (INTEGER.has(type) && !Number.isInteger(n)) return undefined;
  return n;
}

/** A written Variant's value → the JSON form the node's tag write takes (64-bit integers as decimal text). */
export function fromUaValue(type: UaTypeName | null, value: unknown): unknown {
  if ((type === "Int64" || type === "UInt64") && Array.isArray(value) && value.length === 2 && value.every((x) => typeof x === "number")) {
    const big = (BigInt(value[0] as number) << 32n) | BigInt((value[1] as number) >>> 0);
    return (type === "Int64" ? BigInt.asIntN(64, big) : big).toString();
  }
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map((x) => fromUaValue(type, x));
  return value;
}

/**
 * A refused tag write (the node's TandemError code and message) → the
 * StatusCode name the client gets (docs/opcua-server.md, "Writes").
 */
export function writeStatusOf(code: string | undefined, message: string, known: (name: string) => boolean): string {
  switch (code) {
    case "TANDEM_ERR_NOT_ACTIVE":
    case "TANDEM_ERR_LEASE":
    case "TANDEM_ERR_STALE_EPOCH":
    case "TANDEM_ERR_FENCED":
      // the server is in a state (not the acting node, or no longer) in which it writes nothing; the node stays writable
      return "BadInvalidState";
    case "TANDEM_ERR_FORBIDDEN":
      return "BadUserAccessDenied";
    case "TANDEM_ERR_TAG_READ_ONLY":
      return "BadNotWritable";
    case "TANDEM_ERR_TAG_UNKNOWN":
      return "BadNodeIdUnknown";
    case "TANDEM_ERR_TAG_VALUE":
      // a number past the tag's limits or its type's range is out of range; a value of another kind, or a fraction for an integer, is of the wrong type
      return /engineering limits/.test(message) || /a whole number from \S+ to \S+, got "?-?\d+"?( |$)/.test(message) ? "BadOutOfRange" : "BadTypeMismatch";
    case "TANDEM_ERR_DEVICE_UNAVAILABLE":
      return "BadNoCommunication";
    case "TANDEM_ERR_AUDIT_UNAVAILABLE":
      // not done because it could not be recorded
      return "BadResourceUnavailable";
    case "TANDEM_ERR_TAG_WRITE": {
      const answered = /answered (Bad[A-Za-z0-9]+)/.exec(message)?.[1];
      return answered && known(answered) ? answered : "BadCommunicationError";
    }
  }
  return "BadInternalError";
}

/** A Tandem role → the OPC UA well-known roles its sessions get (Part 18): viewers observe, operators also operate. */
export function uaRolesOf(role: Role): ("Observer" | "Operator" | "Engineer" | "Supervisor")[] {
  if (role === "admin") return ["Observer", "Operator", "Engineer", "Supervisor"];
  if (role === "operator") return ["Observer", "Operator"];
  return ["Observer"];
}

/**
 * The node ids, the same on both nodes (Part 4 asks the servers of a
 * redundant set for the same address space): a tag's is its name, which
 * clients already know from the API and MQTT; the folders' start with '/',
 * which no tag or device name may hold, so neither can clash with a tag.
 */
export const nodeIdOf = {
  root: () => "/Tandem",
  device: (device: string) => `/Tandem/${device}`,
  tag: (tag: string) => tag,
};
