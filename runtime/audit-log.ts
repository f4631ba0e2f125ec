// The audit log: who did what and when, one JSON object per line, appended and
// fsync'd before the action is reported done. Each line carries `prev`, the
// sha256 of the previous line's exact text, so editing, inserting or deleting a
// line in the middle breaks the chain and verify() names the line.
//
// What the chain cannot show: lines cut off the end of the file (keep copies
// off the host, e.g. through backups, if that matters). A torn last line (the
// host lost power mid-write) is kept as it is: verify() reports it, and new
// entries continue on the next line, chained to the torn text.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { createHash } from "node:crypto";
import type { AuditEntry } from "./node-api.js";

export const GENESIS = "0".repeat(64);
/** entries kept in memory for list(); older ones are read from the file */
const CACHE = 2000;
const MAX_LIST = 1000;

export type AuditInput = Omit<AuditEntry, "seq" | "prev" | "ts"> & { ts?: string };

export interface AuditVerifyResult {
  ok: boolean;
  /** 1-based line number of the first line that fails */
  badLine?: number;
  reason?: string;
  entries: number;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function parseEntry(line: string): AuditEntry | null {
  try {
    const v = JSON.parse(line) as AuditEntry;
    if (v && typeof v === "object" && Number.isInteger(v.seq) && typeof v.prev === "string") return v;
  } catch {
    /* torn or garbage */
  }
  return null;
}

/** Splits file text into lines; `torn` is true when the last line has no newline. */
function splitLines(text: string): { lines: string[]; torn: boolean } {
  if (text.length === 0) return { lines: [], torn: false };
  const torn = !text.endsWith("\n");
  const lines = text.split("\n");
  if (!torn) lines.pop();
  return { lines, torn };
}

export class AuditLog {
  readonly file: string;
  private fd: number | null = null;
  private lastSeq = 0;
  private lastHash = GENESIS;
  private cache: AuditEntry[] = [];
  /** entries in the file; the cache holds the newest CACHE of them */
  private total = 0;

  constructor(file: string) {
    this.file = file;
  }

  open(): void {
    if (this.fd !== null) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const text = existsSync(this.file) ? readFileSync(this.file, "utf8") : "";
    const { lines, torn } = splitLines(text);
    this.cache = [];
    this.lastSeq = 0;
    this.lastHash = GENESIS;
    this.total = 0;
    for (const line of lines) {
      const e = parseEntry(line);
      if (e) {
        this.total++;
        this.lastSeq = Math.max(this.lastSeq, e.seq);
        this.cache.push(e);
        if (this.cache.length > CACHE) this.cache.shift();
      }
    }
    if (lines.length) this.lastHash = sha256(lines[lines.length - 1]);
    this.fd = openSync(this.file, "a", 0o640);
    if (torn) {
      // End the torn line so the next entry starts on its own line.
      writeSync(this.fd, "\n");
      fsyncSync(this.fd);
    }
  }

  append(input: AuditInput): AuditEntry {
    if (this.fd === null) throw new Error(`audit log ${this.file} is not open`);
    const entry: AuditEntry = {
      seq: this.lastSeq + 1,
      ts: input.ts ?? new Date().toISOString(),
      user: input.user,
      role: input.role,
      action: input.action,
      result: input.result,
      nodeId: input.nodeId,
      epoch: input.epoch,
      ...(input.details === undefined ? {} : { details: input.details }),
      prev: this.lastHash,
    };
    const line = JSON.stringify(entry);
    // One write of the whole line, then fsync: the action is reported done only
    // once its record is on disk.
    writeSync(this.fd, line + "\n");
    fsyncSync(this.fd);
    this.lastSeq = entry.seq;
    this.lastHash = sha256(line);
    this.total++;
    this.cache.push(entry);
    if (this.cache.length > CACHE) this.cache.shift();
    return entry;
  }

  /**
   * Entries in seq order. With `since`: the first `limit` entries after seq
   * `since` (paging forward). Without: the newest `limit` entries.
   */
  list(opts: { limit?: number; since?: number } = {}): AuditEntry[] {
    const limit = Math.max(1, Math.min(MAX_LIST, Math.floor(opts.limit ?? 100)));
    const since = opts.since;
    const complete = this.total <= this.cache.length;
    const covers =
      complete || (since === undefined ? this.cache.length >= limit : this.cache.length > 0 && this.cache[0].seq <= since + 1);
    const source = covers ? this.cache : this.readAll();
    if (since === undefined) return source.slice(-limit);
    const out: AuditEntry[] = [];
    for (const e of source) {
      if (e.seq > since) {
        out.push(e);
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  /** Walks the whole file: every line must parse and chain to the line before it. */
  verify(): AuditVerifyResult {
    const text = existsSync(this.file) ? readFileSync(this.file, "utf8") : "";
    const { lines } = splitLines(text);
    let prevHash = GENESIS;
    let prevSeq: number | null = null;
    let first: { line: number; reason: string } | undefined;
    let entries = 0;
    lines.forEach((line, i) => {
      const n = i + 1;
      const e = parseEntry(line);
      if (!e) {
        first ??= { line: n, reason: line.length === 0 ? "empty line" : "not a complete JSON entry (torn or edited)" };
      } else {
        entries++;
        if (e.prev !== prevHash) first ??= { line: n, reason: "prev does not match the hash of the line before (a line was changed, inserted or removed)" };
        else if (prevSeq !== null && e.seq !== prevSeq + 1) first ??= { line: n, reason: `seq ${e.seq} does not follow ${prevSeq}` };
        prevSeq = e.seq;
      }
      prevHash = sha256(line);
    });
    return first ? { ok: false, badLine: first.line, reason: first.reason, entries } : { ok: true, entries };
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  get seq(): number {
    return this.lastSeq;
  }

  private readAll(): AuditEntry[] {
    const text = existsSync(this.file) ? readFileSync(this.file, "utf8") : "";
    const out: AuditEntry[] = [];
    for (const line of splitLines(text).lines) {
      const e = parseEntry(line);
      if (e) out.push(e);
    }
    return out;
  }
}
