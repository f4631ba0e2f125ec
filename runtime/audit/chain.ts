// The audit log's chain, as text: how a line is sealed and how a file is
// checked. No files here (the node, the CLI and the API feed it lines).
//
// Every line is one JSON object. `prev` is the sha256 of the previous line's
// exact text (GENESIS for the first), so a line changed, inserted or removed
// in the middle breaks the chain. Since the keyed chain (this version), each
// line also ends with `"mac"`: HMAC-SHA256 with the node's audit key over the
// line's text without the mac. Without the key nobody can write a line that
// verifies, so rewriting the whole file (every hash recomputed) is detected
// too. Lines written before a node was upgraded have no mac; they are
// checked by hash only, and only as a prefix: once the keyed chain began, a
// line without a mac is an error.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const GENESIS = "0".repeat(64);
const MAC_TAIL = /,"mac":"([0-9a-f]{64})"\}$/;

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function hmac(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text, "utf8").digest("hex");
}

/** The line for `body` (JSON.stringify of an entry without mac), with its mac appended. */
export function seal(body: string, key: Buffer): string {
  if (!body.endsWith("}")) throw new Error("audit: an entry must be a JSON object");
  return `${body.slice(0, -1)},"mac":"${hmac(key, body)}"}`;
}

/** The mac a line carries, and the text it was computed over; null for an unkeyed line. */
export function unseal(line: string): { body: string; mac: string } | null {
  const m = MAC_TAIL.exec(line);
  if (!m) return null;
  return { body: `${line.slice(0, m.index)}}`, mac: m[1]! };
}

export function macMatches(line: string, key: Buffer): boolean | null {
  const u = unseal(line);
  if (!u) return null;
  return timingSafeEqual(Buffer.from(hmac(key, u.body), "hex"), Buffer.from(u.mac, "hex"));
}

export interface ChainEntryShape {
  seq: number;
  prev: string;
}

export function parseLine<T extends ChainEntryShape>(line: string): T | null {
  try {
    const v = JSON.parse(line) as T;
    if (v && typeof v === "object" && Number.isInteger(v.seq) && typeof v.prev === "string") return v;
  } catch {
    /* torn or garbage */
  }
  return null;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** lines in the file (a torn last line counts) */
  lines: number;
  /** lines that parse as entries */
  entries: number;
  /** 1-based number of the first line that fails, and why */
  badLine?: number;
  reason?: string;
  /** 1-based number of the first keyed line (null: none yet) */
  keyedFrom: number | null;
  /** lines before the keyed chain: checked by hash only */
  unkeyedLines: number;
  /** in words, for people: what was checked */
  summary: string;
}

/**
 * Checks a file line by line (feed lines in order, then end()). Pure and
 * incremental, so the node can check a large file in slices without holding
 * up its event loop.
 */
export class ChainVerifier {
  private n = 0;
  private entries = 0;
  private prevHash = GENESIS;
  private prevSeq: number | null = null;
  private keyedFrom: number | null = null;
  private unkeyed = 0;
  private first: { line: number; reason: string } | undefined;

  constructor(private readonly key: Buffer) {}

  line(text: string): void {
    const n = ++this.n;
    const bad = (reason: string) => void (this.first ??= { line: n, reason });
    const e = parseLine(text);
    if (!e) {
      bad(text.length === 0 ? "empty line" : "not a complete JSON entry (torn by a crash, or edited)");
    } else {
      this.entries++;
      if (e.prev !== this.prevHash) bad("prev does not match the hash of the line before (a line was changed, inserted or removed)");
      else if (this.prevSeq !== null && e.seq !== this.prevSeq + 1) bad(`seq ${e.seq} does not follow ${this.prevSeq}`);
      const mac = macMatches(text, this.key);
      if (mac === null) {
        if (this.keyedFrom !== null) bad(`no mac, but the keyed chain began at line ${this.keyedFrom}: this line was written without the node's audit key`);
        else this.unkeyed++;
      } else {
        this.keyedFrom ??= n;
        if (!mac) bad("mac does not match: the line was changed, or written with another key than this node's audit key");
      }
      this.prevSeq = e.seq;
    }
    this.prevHash = sha256(text);
  }

  end(): AuditVerifyResult {
    const base = { lines: this.n, entries: this.entries, keyedFrom: this.keyedFrom, unkeyedLines: this.unkeyed };
    const legacy =
      this.unkeyed === 0
        ? ""
        : this.keyedFrom === null
          ? ` No line is keyed yet: all ${this.unkeyed} were checked by hash only (written before the keyed chain; a whole rewrite of them would not show).`
          : ` Lines 1–${this.keyedFrom - 1} were written before the keyed chain began (an upgraded node) and were checked by hash only; the keyed chain starts at line ${this.keyedFrom}.`;
    if (this.first) {
      return { ok: false, ...base, badLine: this.first.line, reason: this.first.reason, summary: `line ${this.first.line}: ${this.first.reason}.${legacy}` };
    }
    return { ok: true, ...base, summary: `ok: ${this.n} lines, every one chained${this.keyedFrom === null ? "" : " and carrying a valid mac"}.${legacy}` };
  }
}

/** Splits file text into lines; `torn` is true when the last line has no newline. */
export function splitLines(text: string): { lines: string[]; torn: boolean } {
  if (text.length === 0) return { lines: [], torn: false };
  const torn = !text.endsWith("\n");
  const lines = text.split("\n");
  if (!torn) lines.pop();
  return { lines, torn };
}
