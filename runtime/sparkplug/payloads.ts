// What the Sparkplug B edge node says and hears, as pure functions: topics,
// metrics from tag snapshots, the host's STATE, and NCMD/DCMD commands.
// Payloads are encoded by Eclipse Tahu's sparkplug-payload (protobuf,
// sparkplug_b.proto); nothing here touches a socket or a clock.
//
// Quality: a value that is not good is never sent as good. Every tag metric
// carries the property `Quality` (Int32, the Sparkplug codes: 192 good, 500
// stale — Tandem's `uncertain` — and 0 bad); a bad value is sent with
// is_null (no value) and an uncertain one with its last value; `Reason`
// (String) says why when the drivers know.
import sparkplug from "sparkplug-payload";
import type { UMetric, UPayload } from "sparkplug-payload/lib/sparkplugbpayload.js";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import type { Kind } from "./session.js";

const codec = sparkplug.get("spBv1.0")!;

export const NAMESPACE = "spBv1.0";
export const REBIRTH = "Node Control/Rebirth";
export const QUALITY_GOOD = 192;
export const QUALITY_STALE = 500;
export const QUALITY_BAD = 0;

/** the Sparkplug metric types a tag is sent as */
export type Datatype = "Int8" | "Int16" | "Int32" | "Int64" | "UInt8" | "UInt16" | "UInt32" | "UInt64" | "Float" | "Double" | "Boolean" | "String" | "DateTime";

/**
 * A tag's type as Tandem knows it — an OPC UA built-in type name, the
 * vocabulary runtime/opcua/mapping.ts gives Modbus types too (a scaled tag's
 * is Double) — → its Sparkplug type. Arrays and the rest travel as String (JSON).
 */
const FROM_UA: Record<string, Datatype> = {
  Boolean: "Boolean",
  SByte: "Int8",
  Byte: "UInt8",
  Int16: "Int16",
  UInt16: "UInt16",
  Int32: "Int32",
  UInt32: "UInt32",
  Int64: "Int64",
  UInt64: "UInt64",
  Float: "Float",
  Double: "Double",
  String: "String",
  DateTime: "DateTime",
};

/** the range of each integer type that a JS number carries (64-bit ones travel as decimal text: see fit) */
const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  Int8: [-128, 127],
  Int16: [-32768, 32767],
  Int32: [-2147483648, 2147483647],
  UInt8: [0, 255],
  UInt16: [0, 65535],
  UInt32: [0, 4294967295],
};
const INT64_RANGE: Partial<Record<Datatype, [bigint, bigint]>> = {
  Int64: [-(2n ** 63n), 2n ** 63n - 1n],
  UInt64: [0n, 2n ** 64n - 1n],
};

export function topicOf(group: string, kind: Kind | "NCMD" | "DCMD", edge: string, device?: string): string {
  return `${NAMESPACE}/${group}/${kind}/${edge}${device === undefined ? "" : `/${device}`}`;
}

export const stateTopic = (hostId: string): string => `${NAMESPACE}/STATE/${hostId}`;

/** an incoming topic: a command to this edge node (or one of its devices), or null */
export function commandOf(group: string, edge: string, topic: string): { kind: "NCMD" } | { kind: "DCMD"; device: string } | null {
  const p = topic.split("/");
  if (p[0] !== NAMESPACE || p[1] !== group || p[3] !== edge) return null;
  if (p[2] === "NCMD" && p.length === 4) return { kind: "NCMD" };
  if (p[2] === "DCMD" && p.length === 5 && p[4] !== "") return { kind: "DCMD", device: p[4] };
  return null;
}

/** a primary host's STATE (Sparkplug 3.0: JSON {online, timestamp}), or why it is not one */
export function parseHostState(payload: Buffer): { online: boolean; timestamp: number } | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString("utf8"));
  } catch {
    return { problem: "STATE is not JSON (Sparkplug 3.0: {\"online\": true|false, \"timestamp\": ms})" };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { problem: "STATE is not a JSON object" };
  const o = v as Record<string, unknown>;
  if (typeof o.online !== "boolean") return { problem: "STATE has no boolean 'online'" };
  if (typeof o.timestamp !== "number" || !Number.isSafeInteger(o.timestamp) || o.timestamp < 0) return { problem: "STATE has no 'timestamp' (ms since 1970)" };
  return { online: o.online, timestamp: o.timestamp };
}

/**
 * The metric type a tag is born with: the type Tandem knows for it (`known`,
 * an OPC UA built-in type name; "array" for an array tag) when its value fits
 * that type, else from its value: numbers Double, booleans Boolean, the rest
 * String. A value that does not fit the known type (a source that changed)
 * falls back to the type of its kind, so the tag is not born again and
 * again.
 */
export function datatypeOf(value: unknown, known?: string): Datatype {
  if (known === "array") return "String";
  const typed = known === undefined ? undefined : FROM_UA[known];
  if (typed && (value === null || value === undefined || fit(value, typed) !== undefined)) return typed;
  if (typeof value === "number") return "Double";
  if (typeof value === "boolean") return "Boolean";
  if (value !== null && value !== undefined) return "String";
  return "Double";
}

type Wire = number | boolean | string;

/**
 * A value as a metric of `type`; undefined when it does not fit (the device
 * is born again with the type it has now). Integers must be whole and in
 * their type's range; 64-bit ones come as decimal text (tag-model.ts
 * jsonValue) and go out as such (protobufjs writes the 64-bit word, two's
 * complement for Int64, as Sparkplug has it); non-finite numbers, which the
 * tag model carries as text ("NaN", "Infinity"), go out as Float/Double;
 * a DateTime as ms since 1970.
 */
function fit(value: unknown, type: Datatype): Wire | undefined {
  switch (type) {
    case "Boolean":
      return typeof value === "boolean" ? value : undefined;
    case "Float":
    case "Double":
      if (typeof value === "number") return value;
      return typeof value === "string" && /^(-?Infinity|NaN)$/.test(value) ? Number(value) : undefined;
    case "Int64":
    case "UInt64": {
      if (typeof value !== "string" && !(typeof value === "number" && Number.isSafeInteger(value))) return undefined;
      if (typeof value === "string" && !/^-?\d{1,20}$/.test(value)) return undefined;
      const [lo, hi] = INT64_RANGE[type]!;
      const big = BigInt(value);
      return big >= lo && big <= hi ? big.toString() : undefined;
    }
    case "DateTime": {
      const t = typeof value === "string" ? Date.parse(value) : typeof value === "number" ? value : NaN;
      return Number.isSafeInteger(t) && t >= 0 ? t : undefined;
    }
    case "String":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return undefined;
      if (typeof value === "bigint") return value.toString();
      try {
        return JSON.stringify(value);
      } catch {
        return String(value);
      }
  }
  const [lo, hi] = INT_RANGE[type]!;
  return typeof value === "number" && Number.isInteger(value) && value >= lo && value <= hi ? value : undefined;
}

const ms = (iso: string | null): number | undefined => {
  const t = iso === null ? NaN : Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

/**
 * A tag as a metric of the type it was born with. `misfit` when its value
 * does not fit that type any more (the caller sends a new DBIRTH).
 */
export function tagMetric(t: TagSnapshot, type: Datatype, birth: boolean): { metric: UMetric; misfit: boolean } {
  const quality = t.quality === "good" ? QUALITY_GOOD : t.quality === "uncertain" ? QUALITY_STALE : QUALITY_BAD;
  const v = t.quality === "bad" || t.value === null || t.value === undefined ? undefined : fit(t.value, type);
  const misfit = t.quality !== "bad" && t.value !== null && t.value !== undefined && v === undefined;
  const properties: UMetric["properties"] = { Quality: { type: "Int32", value: quality } };
  if (t.reason) properties.Reason = { type: "String", value: t.reason };
  if (birth && t.units) properties.engUnit = { type: "String", value: t.units };
  if (birth) properties.readOnly = { type: "Boolean", value: !t.writable };
  const timestamp = ms(t.timestamp) ?? ms(t.receivedAt);
  const metric: UMetric = { name: t.name, type, value: v === undefined ? null : v, properties, ...(timestamp !== undefined ? { timestamp } : {}) };
  return { metric, misfit };
}

export interface NodeFacts {
  activeNode: string;
  epoch: number;
  held: boolean;
}

/** the node's own metrics: which node of the pair is the edge node now, under which epoch, held or not */
export function nodeMetrics(f: NodeFacts, at: number): UMetric[] {
  return [
    { name: "Tandem/Active Node", type: "String", value: f.activeNode, timestamp: at },
    { name: "Tandem/Epoch", type: "UInt64", value: f.epoch, timestamp: at },
    { name: "Tandem/Held", type: "Boolean", value: f.held, timestamp: at },
  ];
}

export function nbirth(bdSeq: number, seq: number, at: number, facts: NodeFacts): Uint8Array {
  return codec.encodePayload({
    timestamp: at,
    seq,
    metrics: [{ name: "bdSeq", type: "UInt64", value: bdSeq, timestamp: at }, { name: REBIRTH, type: "Boolean", value: false, timestamp: at }, ...nodeMetrics(facts, at)],
  });
}

/** NDEATH: the bdSeq metric only, no seq (also the payload of the connection's will) */
export function ndeath(bdSeq: number, at: number): Uint8Array {
  return codec.encodePayload({ timestamp: at, metrics: [{ name: "bdSeq", type: "UInt64", value: bdSeq, timestamp: at }] });
}

export function payload(seq: number, at: number, metrics: UMetric[]): Uint8Array {
  return codec.encodePayload({ timestamp: at, seq, metrics });
}

/** what a command asks: a rebirth, tag writes, and what was refused with why */
export interface Command {
  rebirth: boolean;
  writes: { tag: string; value: number | boolean | string }[];
  refused: string[];
}

/**
 * A command metric's value as the node's tag write takes it. A 64-bit one
 * (a Long) by its metric type — sparkplug-payload hands an Int64 back
 * unsigned — as a number when a double holds it exactly, else as decimal
 * text (how the tag model carries 64-bit integers).
 */
const plain = (v: unknown, type: unknown): number | boolean | string | undefined => {
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  // a Long: two 32-bit words
  if (v !== null && typeof v === "object" && typeof (v as { high?: unknown }).high === "number" && typeof (v as { low?: unknown }).low === "number") {
    const { high, low } = v as { high: number; low: number };
    const bits = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
    const big = type === "Int64" ? BigInt.asIntN(64, bits) : bits;
    const n = Number(big);
    return Number.isSafeInteger(n) ? n : big.toString();
  }
  return undefined;
};

/**
 * An NCMD or DCMD payload, decoded: NCMD takes `Node Control/Rebirth` =
 * true only; DCMD takes writes to tags of that device by metric name.
 * Never throws: what cannot be decoded or is not allowed is refused.
 * `tagsOf(device)` names the device's tags (null: no such device).
 */
export function parseCommand(bytes: Uint8Array, cmd: { kind: "NCMD" } | { kind: "DCMD"; device: string }, tagsOf: (device: string) => ReadonlySet<string> | null): Command {
  const out: Command = { rebirth: false, writes: [], refused: [] };
  let p: UPayload;
  try {
    p = codec.decodePayload(bytes);
  } catch (err) {
    out.refused.push(`not a Sparkplug B payload (${(err as Error).message})`);
    return out;
  }
  const metrics = Array.isArray(p.metrics) ? p.metrics : [];
  if (metrics.length === 0) out.refused.push("no metrics");
  const tags = cmd.kind === "DCMD" ? tagsOf(cmd.device) : null;
  if (cmd.kind === "DCMD" && !tags) {
    out.refused.push(`no device '${cmd.device}' on this edge node`);
    return out;
  }
  for (const m of metrics.slice(0, 100)) {
    const name = typeof m.name === "string" ? m.name : "";
    const value = plain(m.value, m.type);
    if (cmd.kind === "NCMD") {
      if (name === REBIRTH && value === true) out.rebirth = true;
      else out.refused.push(`NCMD metric '${name.slice(0, 80)}': only ${REBIRTH} = true is taken`);
      continue;
    }
    if (!name || !tags!.has(name)) out.refused.push(`DCMD metric '${name.slice(0, 80)}': no such tag on device ${cmd.device}`);
    else if (value === undefined) out.refused.push(`DCMD metric '${name}': no value a tag can take`);
    else out.writes.push({ tag: name, value });
  }
  if (metrics.length > 100) out.refused.push(`${metrics.length - 100} metrics over the 100 a command may carry`);
  return out;
}
