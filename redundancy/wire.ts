// Authenticated envelopes for every peer and witness message (S4, S5).
//
//   bytes: "TDM1" | pairIdLength (1 byte) | pairId (utf8) | mac (32) | json (utf8)
//   mac  = HMAC-SHA256(key, "TDM1" | pairIdLength | pairId | json)
//
// The pair id travels in clear so a receiver serving many pairs (the witness)
// can pick the key; the MAC is checked before a single byte of JSON is parsed,
// so an unauthenticated sender never reaches the JSON parser. open() never
// throws: every way a buffer can be wrong maps to one RejectReason.
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

export const MAGIC = Buffer.from("TDM1", "latin1");
export const MAC_BYTES = 32;
export const DEFAULT_MAX_BYTES = 65536;
/** Longest id, channel or type, in UTF-16 code units (≤ 192 bytes of UTF-8). */
export const MAX_ID_LENGTH = 64;
/** Smallest JSON text that can be an envelope ("{}" is the floor); a frame with less after its MAC is refused as too-short. */
export const MIN_JSON_BYTES = 2;
const HEADER_FIXED = MAGIC.length + 1;

export interface Envelope<B = Record<string, unknown>> {
  v: 1;
  pair: string;
  /** sender node id; "witness" for the witness */
  from: string;
  /** sender incarnation: grows at each process start */
  inc: number;
  /** strictly increasing per sender per incarnation, from 1 */
  seq: number;
  /** sender wall clock, ms: informational only, never used for a decision */
  ts: number;
  /** the channel the message is meant for ("lan", "tcp", "witness"); the receiver checks it */
  ch: string;
  type: string;
  body: B;
}

export type RejectReason = "too-short" | "too-large" | "bad-magic" | "unknown-pair" | "bad-mac" | "bad-json" | "bad-shape" | "pair-mismatch";

export const REJECT_REASONS: readonly RejectReason[] = [
  "too-short",
  "too-large",
  "bad-magic",
  "unknown-pair",
  "bad-mac",
  "bad-json",
  "bad-shape",
  "pair-mismatch",
];

export type OpenResult = { ok: true; env: Envelope } | { ok: false; reason: RejectReason; detail: string };

const PAIR_KEY_INFO = Buffer.from("tandem pair key v1", "utf8");

/**
 * The 32-byte HMAC key of a pair, from the configured secret string.
 * HKDF-SHA256 with an empty salt (the secret is the only input that varies,
 * and every node and witness must derive the same key from it).
 */
export function keyFromSecret(secret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), PAIR_KEY_INFO, 32));
}

function isId(x: unknown): x is string {
  return typeof x === "string" && x.length >= 1 && x.length <= MAX_ID_LENGTH;
}

function isPositiveSafeInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 1;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

const ENVELOPE_KEYS = new Set(["v", "pair", "from", "inc", "seq", "ts", "ch", "type", "body"]);

/** Why a value is not an Envelope, or null when it is one. */
export function envelopeProblem(x: unknown): string | null {
  if (!isPlainObject(x)) return "not an object";
  for (const k of Object.keys(x)) if (!ENVELOPE_KEYS.has(k)) return `unknown field '${k.slice(0, 32)}'`;
  if (x.v !== 1) return "v must be 1";
  if (!isId(x.pair)) return `pair must be a string of 1–${MAX_ID_LENGTH} characters`;
  if (!isId(x.from)) return `from must be a string of 1–${MAX_ID_LENGTH} characters`;
  if (!isPositiveSafeInt(x.inc)) return "inc must be a positive safe integer";
  if (!isPositiveSafeInt(x.seq)) return "seq must be a positive safe integer";
  if (typeof x.ts !== "number" || !Number.isSafeInteger(x.ts) || x.ts < 0) return "ts must be a non-negative safe integer";
  if (!isId(x.ch)) return `ch must be a string of 1–${MAX_ID_LENGTH} characters`;
  if (!isId(x.type)) return `type must be a string of 1–${MAX_ID_LENGTH} characters`;
  if (!isPlainObject(x.body)) return "body must be a JSON object";
  return null;
}

function mac(key: Buffer, head: Buffer, json: Buffer): Buffer {
  return createHmac("sha256", key).update(head).update(json).digest();
}

/** Serialises and authenticates an envelope. Throws TypeError on an invalid envelope (a programming error). */
export function encode(key: Buffer, env: Envelope): Buffer {
  const problem = envelopeProblem(env);
  if (problem) throw new TypeError(`wire: cannot encode envelope: ${problem}`);
  const { v, pair, from, inc, seq, ts, ch, type, body } = env;
  const text = JSON.stringify({ v, pair, from, inc, seq, ts, ch, type, body });
  const pairBytes = Buffer.from(pair, "utf8");
  // one buffer, the JSON written into its place: Buffer.from() of a large string and a concat
  // cost several times the MAC on a replication batch
  const jsonAt = HEADER_FIXED + pairBytes.length + MAC_BYTES;
  const out = Buffer.allocUnsafe(jsonAt + Buffer.byteLength(text, "utf8"));
  MAGIC.copy(out, 0);
  out[MAGIC.length] = pairBytes.length;
  pairBytes.copy(out, HEADER_FIXED);
  out.write(text, jsonAt, "utf8");
  const head = out.subarray(0, HEADER_FIXED + pairBytes.length);
  mac(key, head, out.subarray(jsonAt)).copy(out, head.length);
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(b: Uint8Array): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

function show(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** The pair id of a well-framed buffer, without authenticating it; null if the header is malformed. */
export function peekPair(buf: Buffer): string | null {
  if (!Buffer.isBuffer(buf) || buf.length < HEADER_FIXED) return null;
  if (buf.compare(MAGIC, 0, MAGIC.length, 0, MAGIC.length) !== 0) return null;
  const n = buf[MAGIC.length]!;
  if (n === 0 || buf.length < HEADER_FIXED + n + MAC_BYTES + MIN_JSON_BYTES) return null;
  return decodeUtf8(buf.subarray(HEADER_FIXED, HEADER_FIXED + n));
}

function reject(reason: RejectReason, detail: string): OpenResult {
  return { ok: false, reason, detail };
}

/**
 * Authenticates and parses one envelope. Never throws.
 * The caller still checks `ch` against the link the bytes arrived on, `type`,
 * the body, and the replay guard.
 */
export function open(buf: Buffer, keyFor: (pairId: string) => Buffer | undefined, opts?: { maxBytes?: number }): OpenResult {
  try {
    if (!Buffer.isBuffer(buf)) return reject("too-short", "not a buffer");
    const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_BYTES;
    if (buf.length > maxBytes) return reject("too-large", `${buf.length} bytes, limit ${maxBytes}`);
    if (buf.length < HEADER_FIXED) return reject("too-short", `${buf.length} bytes, header needs ${HEADER_FIXED}`);
    if (buf.compare(MAGIC, 0, MAGIC.length, 0, MAGIC.length) !== 0) return reject("bad-magic", "does not start with TDM1");
    const n = buf[MAGIC.length]!;
    if (n === 0) return reject("unknown-pair", "empty pair id");
    const jsonAt = HEADER_FIXED + n + MAC_BYTES;
    if (buf.length < jsonAt + MIN_JSON_BYTES) return reject("too-short", `${buf.length} bytes, needs at least ${jsonAt + MIN_JSON_BYTES}`);
    const pairId = decodeUtf8(buf.subarray(HEADER_FIXED, HEADER_FIXED + n));
    if (pairId === null) return reject("unknown-pair", "pair id is not valid UTF-8");
    let key: Buffer | undefined;
    try {
      key = keyFor(pairId);
    } catch {
      key = undefined;
    }
    if (!key) return reject("unknown-pair", `no key for pair ${show(pairId)}`);
    const head = buf.subarray(0, HEADER_FIXED + n);
    const json = buf.subarray(jsonAt);
    const expected = mac(key, head, json);
    if (!timingSafeEqual(expected, buf.subarray(HEADER_FIXED + n, jsonAt))) return reject("bad-mac", `pair ${show(pairId)}: MAC does not match`);
    // Authenticated from here on: the sender holds the pair's key.
    const text = decodeUtf8(json);
    if (text === null) return reject("bad-json", "body is not valid UTF-8");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return reject("bad-json", (e as Error).message.slice(0, 120));
    }
    const problem = envelopeProblem(value);
    if (problem) return reject("bad-shape", problem);
    const env = value as Envelope;
    if (env.pair !== pairId) return reject("pair-mismatch", `header pair ${show(pairId)}, envelope pair ${show(env.pair)}`);
    return { ok: true, env };
  } catch (e) {
    // Defensive: nothing above should throw, but a datagram must never crash the node.
    return reject("bad-shape", `unexpected: ${String((e as Error)?.message ?? e).slice(0, 120)}`);
  }
}

export interface SenderOptions {
  pair: string;
  from: string;
  inc: number;
  key: Buffer;
  /** wall clock for the informational `ts`; Date.now by default */
  wallClock?: () => number;
}

/** Seals envelopes for one sender incarnation; seq starts at 1 and never repeats. */
export class Sender {
  readonly pair: string;
  readonly from: string;
  readonly inc: number;
  private readonly key: Buffer;
  private readonly wallClock: () => number;
  private seq = 0;

  constructor(opts: SenderOptions) {
    if (!isId(opts.pair) || !isId(opts.from)) throw new TypeError(`wire: pair and from must be 1–${MAX_ID_LENGTH} characters`);
    if (!isPositiveSafeInt(opts.inc)) throw new TypeError(`wire: inc must be a positive safe integer, got ${opts.inc}`);
    this.pair = opts.pair;
    this.from = opts.from;
    this.inc = opts.inc;
    this.key = opts.key;
    this.wallClock = opts.wallClock ?? Date.now;
  }

  /** The last seq sealed (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  seal(ch: string, type: string, body: object): { bytes: Buffer; seq: number } {
    const seq = this.seq + 1;
    const bytes = encode(this.key, {
      v: 1,
      pair: this.pair,
      from: this.from,
      inc: this.inc,
      seq,
      ts: Math.max(0, Math.floor(this.wallClock())),
      ch,
      type,
      body: body as Record<string, unknown>,
    });
    this.seq = seq; // only once encoding succeeded, so a refused envelope leaves no gap
    return { bytes, seq };
  }
}
