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

export type Datatype = "Double" | "Boolean" | "String";

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

/** the metric type a tag is born with: from its value, else from what its config says */
export function datatypeOf(value: unknown, hint?: string): Datatype {
  if (typeof value === "number") return "Double";
  if (typeof value === "boolean") return "Boolean";
  if (value !== null && value !== undefined) return "String";
  const h = (hint ?? "").toLowerCase();
  if (h === "bool" || h === "bit" || h === "boolean") return "Boolean";
  if (h === "string" || h.endsWith("[]") || h === "localizedtext" || h === "bytestring") return "String";
  return "Double";
}

/** a value as a metric of `type`; undefined when it does not fit (the device is born again with the right type) */
function fit(value: unknown, type: Datatype): number | boolean | string | undefined {
  if (type === "Double") return typeof value === "number" ? value : undefined;
  if (type === "Boolean") return typeof value === "boolean" ? value : undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return undefined;
  if (typeof value === "bigint") return value.toString();
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
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
    { name: "Tandem/Epoch", type: "Double", value: f.epoch, timestamp: at },
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

const plain = (v: unknown): number | boolean | string | undefined => {
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  // a Long (Int64/UInt64 metrics): only what a double holds exactly
  if (v !== null && typeof v === "object" && typeof (v as { toNumber?: unknown }).toNumber === "function") {
    const n = (v as { toNumber(): number }).toNumber();
    return Number.isSafeInteger(n) ? n : undefined;
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
    const value = plain(m.value);
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
