// The tag model every part of Tandem sees: a value with its quality, the
// source timestamp and the time Tandem received it. Pure: no clock, no I/O;
// callers pass the times in.

export type Quality = "good" | "uncertain" | "bad";
export type DriverKind = "modbus" | "opcua";

/** Why a value is not good. Free text is allowed after a known prefix (e.g. `modbus_exception:2 illegal data address`). */
export type QualityReason =
  | "comm_lost" // the connection to the device is down
  | "config" // the tag cannot be read as configured (type, address)
  | "out_of_range" // raw value outside the configured scaling range
  | "no_data" // not read yet since start or since the last reconnection
  | "not_reading" // the device is in warm/cold standby on this node
  | "timeout"
  | (string & {});

export interface TagSnapshot {
  name: string;
  driver: DriverKind;
  value: unknown;
  quality: Quality;
  reason?: string;
  /**
   * ISO source time of the value: OPC UA's SourceTimestamp; Modbus (which
   * has none) the response that first carried it. A steady value keeps it.
   */
  timestamp: string | null;
  /** ISO time Tandem received this value (its last change, or its last quality change) */
  receivedAt: string | null;
  /**
   * ISO time a read last confirmed this value and quality: every Modbus
   * response, every OPC UA publish response (data or keep-alive); a change
   * within the deadband confirms it too. Null before the first read.
   */
  confirmedAt?: string | null;
  /** ms from confirmedAt to the moment the snapshot was asked for (API only; null before the first read) */
  ageMs?: number | null;
  writable: boolean;
  units?: string;
  description?: string;
  /** engineering limits for writes, when configured */
  min?: number;
  max?: number;
  /** the device (config name) and the path (endpoint) the value came through */
  device?: string;
}

/** A value as drivers produce it, before it becomes a snapshot. Times in ms since the epoch. */
export interface TagSample {
  value: unknown;
  quality: Quality;
  reason?: string;
  sourceTime: number | null;
  receivedAt: number;
}

export interface Scaling {
  rawMin: number;
  rawMax: number;
  engMin: number;
  engMax: number;
  /** clamp engineering values to [engMin, engMax] (the quality still says out_of_range) */
  clamp?: boolean;
}

/** raw → engineering units; the flag says the raw value was outside [rawMin, rawMax]. */
export function scaleToEng(raw: number, s: Scaling): { value: number; outOfRange: boolean } {
  const lo = Math.min(s.rawMin, s.rawMax);
  const hi = Math.max(s.rawMin, s.rawMax);
  const outOfRange = !(raw >= lo && raw <= hi);
  let value = s.engMin + ((raw - s.rawMin) * (s.engMax - s.engMin)) / (s.rawMax - s.rawMin);
  if (s.clamp) value = Math.min(Math.max(value, Math.min(s.engMin, s.engMax)), Math.max(s.engMin, s.engMax));
  return { value, outOfRange };
}

/** engineering units → raw, for writes. The caller rounds for integer types. */
export function scaleToRaw(eng: number, s: Scaling): number {
  return s.rawMin + ((eng - s.engMin) * (s.rawMax - s.rawMin)) / (s.engMax - s.engMin);
}

/**
 * Applies scaling to a raw numeric sample. Non-numeric values pass unchanged.
 * A raw value outside the scaling range keeps its value but becomes
 * `uncertain` with reason `out_of_range` (as OPC UA's EURangeExceeded).
 */
export function applyScaling(sample: TagSample, s: Scaling | undefined): TagSample {
  if (!s || sample.quality === "bad") return sample;
  const raw = typeof sample.value === "bigint" ? Number(sample.value) : sample.value;
  if (typeof raw !== "number") return sample;
  const { value, outOfRange } = scaleToEng(raw, s);
  if (outOfRange) return { ...sample, value, quality: "uncertain", reason: "out_of_range" };
  return { ...sample, value };
}

/**
 * Whether an update is worth publishing: a change of quality or reason always
 * is; a numeric change only beyond the absolute deadband; anything else when
 * it differs.
 */
export function passesDeadband(prev: TagSample | undefined, next: TagSample, deadband: number): boolean {
  if (!prev) return true;
  if (prev.quality !== next.quality || prev.reason !== next.reason) return true;
  const a = prev.value;
  const b = next.value;
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) !== Number.isNaN(b)) return true;
    if (deadband > 0) return Math.abs(a - b) > deadband;
    return !Object.is(a, b);
  }
  if (typeof a === "bigint" && typeof b === "bigint") {
    if (deadband > 0) return Math.abs(Number(a - b)) > deadband;
    return a !== b;
  }
  return !sameValue(a, b);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return false;
}

/** A bad sample, e.g. for every tag of a device whose connection dropped. */
export function badSample(reason: QualityReason, receivedAt: number): TagSample {
  return { value: null, quality: "bad", reason, sourceTime: null, receivedAt };
}

/**
 * JSON-safe value. A 64-bit integer (bigint: Modbus int64/uint64, OPC UA
 * Int64/UInt64) is always a decimal string, whatever its size, so its form
 * never changes with its value and no digit is lost (docs/drivers.md, "Value rules").
 */
export function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return v;
}

export interface TagMeta {
  name: string;
  driver: DriverKind;
  device: string;
  writable: boolean;
  units?: string;
  description?: string;
  /** engineering limits for writes */
  min?: number;
  max?: number;
}

export function toSnapshot(meta: TagMeta, s: TagSample | undefined): TagSnapshot {
  const base = {
    name: meta.name,
    driver: meta.driver,
    writable: meta.writable,
    device: meta.device,
    ...(meta.units === undefined ? {} : { units: meta.units }),
    ...(meta.description === undefined ? {} : { description: meta.description }),
    ...(meta.min === undefined ? {} : { min: meta.min }),
    ...(meta.max === undefined ? {} : { max: meta.max }),
  };
  if (!s) return { ...base, value: null, quality: "bad", reason: "no_data", timestamp: null, receivedAt: null, confirmedAt: null };
  const receivedAt = new Date(s.receivedAt).toISOString();
  return {
    ...base,
    value: s.quality === "bad" ? null : jsonValue(s.value),
    quality: s.quality,
    ...(s.reason === undefined ? {} : { reason: s.reason }),
    timestamp: s.sourceTime === null ? null : new Date(s.sourceTime).toISOString(),
    receivedAt,
    confirmedAt: receivedAt,
  };
}

/** The snapshot as the API shows it at `now`: confirmed by the last read at confirmedAt (ms), and its age from then. */
export function withConfirmation(snap: TagSnapshot, confirmedAt: number | null, now: number): TagSnapshot {
  if (confirmedAt === null) return { ...snap, confirmedAt: null, ageMs: null };
  return { ...snap, confirmedAt: new Date(confirmedAt).toISOString(), ageMs: Math.max(0, now - confirmedAt) };
}
