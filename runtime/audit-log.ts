// The audit log: who did what, from where and when, one JSON object per line,
// appended and fsync'd before the action runs (see TandemNode.audited). The
// chain (runtime/audit/chain.ts): each line carries `prev`, the sha256 of the
// previous line's exact text, and `mac`, an HMAC with the node's audit key, so
// editing, inserting or deleting lines, or rewriting the whole file without
// the key, is found by verify(), which names the first bad line.
//
// What the chain cannot show: lines cut off the end of the file. The syslog
// copy (audit.syslog) keeps every line off the host. A torn last line (the
// host lost power mid-write) is kept as it is: verify() reports it, and new
// entries continue on the next line, chained to the torn text.
//
// Values are stored in a bounded, well-formed form (runtime/audit/normalise.ts)
// so every JSON reader can read every line.
import { closeSync, existsSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { TandemError } from "../core/errors.js";
import { GENESIS, parseLine, seal, sha256, splitLines, type AuditVerifyResult } from "./audit/chain.js";
import { normalise, wellFormed } from "./audit/normalise.js";
import { verifyAuditFile } from "./audit/verify-file.js";
import type { AuditEntry } from "./node-api.js";

export { GENESIS, sha256, type AuditVerifyResult };
/** entries kept in memory for list(); older ones are read from the file */
const CACHE = 2000;
const MAX_LIST = 1000;

/** What a caller records: who (user, role, from), what (action, result, details), on which node and epoch. */
export type AuditInput = Omit<AuditEntry, "seq" | "prev" | "ts" | "mac"> & { ts?: string };

export interface AuditLogOptions {
  /** the node's audit key (runtime/audit/secret.ts) */
  key: Buffer;
  /** each line once it is on disk (the syslog copy) */
  onLine?: (line: string, entry: AuditEntry) => void;
}

export class AuditLog {
  readonly file: string;
  private fd: number | null = null;
  private lastSeq = 0;
  private lastHash = GENESIS;
  private cache: AuditEntry[] = [];
  /** entries in the file; the cache holds the newest CACHE of them */
  private total = 0;
  /** bytes in the file that belong to whole lines: a failed write is cut back to here */
  private size = 0;
  private verifying: Promise<AuditVerifyResult> | null = null;
  failures = 0;

  constructor(
    file: string,
    private readonly opts: AuditLogOptions,
  ) {
    this.file = file;
  }

  open(): void {
    if (this.fd !== null) return;
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const text = existsSync(this.file) ? readFileSync(this.file, "utf8") : "";
    const { lines, torn } = splitLines(text);
    this.cache = [];
    this.lastSeq = 0;
    this.lastHash = GENESIS;
    this.total = 0;
    for (const line of lines) {
      const e = parseLine<AuditEntry>(line);
      if (e) {
        this.total++;
        this.lastSeq = Math.max(this.lastSeq, e.seq);
        this.cache.push(e);
        if (this.cache.length > CACHE) this.cache.shift();
      }
    }
    if (lines.length) this.lastHash = sha256(lines[lines.length - 1]!);
    this.fd = openSync(this.file, "a", 0o600);
    // whatever the umask, or the mode an older version left
    fchmodSync(this.fd, 0o600);
    this.size = fstatSync(this.fd).size;
    if (torn) {
      // End the torn line so the next entry starts on its own line.
      this.write("\n");
    }
  }

  /**
   * Appends one entry and returns it once it is on disk. Throws
   * TANDEM_ERR_AUDIT_UNAVAILABLE (503) when it cannot be written: the caller
   * must then not do what it was about to record.
   */
  append(input: AuditInput): AuditEntry {
    if (this.fd === null) throw new TandemError("TANDEM_ERR_AUDIT_UNAVAILABLE", [`the audit log ${this.file} is not open`]);
    const entry: AuditEntry = {
      seq: this.lastSeq + 1,
      ts: input.ts ?? new Date().toISOString(),
      user: wellFormed(String(input.user), 128),
      role: wellFormed(String(input.role), 32) as AuditEntry["role"],
      from: wellFormed(String(input.from), 128),
      action: wellFormed(String(input.action), 64),
      result: input.result,
      nodeId: input.nodeId,
      epoch: input.epoch,
      ...(input.details === undefined ? {} : { details: normalise(input.details) as Record<string, unknown> }),
      prev: this.lastHash,
    };
    const line = seal(JSON.stringify(entry), this.opts.key);
    this.write(line + "\n");
    this.lastSeq = entry.seq;
    this.lastHash = sha256(line);
    this.total++;
    const stored = JSON.parse(line) as AuditEntry;
    this.cache.push(stored);
    if (this.cache.length > CACHE) this.cache.shift();
    this.opts.onLine?.(line, stored);
    return stored;
  }

  /** One write of the whole text, then fsync; on any failure the file is cut back to its last whole line. */
  private write(text: string): void {
    const fd = this.fd!;
    const bytes = Buffer.from(text, "utf8");
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
      this.size += bytes.length;
    } catch (err) {
      this.failures++;
      try {
        // a full disk can take part of a line: take it back, or the next line would be glued to it
        ftruncateSync(fd, this.size);
      } catch {
        /* the next write fails the same way; verify() shows a torn line if it stayed */
      }
      const e = err as NodeJS.ErrnoException;
      throw new TandemError("TANDEM_ERR_AUDIT_UNAVAILABLE", [`${this.file}: ${e.code ?? e.message}`]);
    }
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
      complete || (since === undefined ? this.cache.length >= limit : this.cache.length > 0 && this.cache[0]!.seq <= since + 1);
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

  /** Walks the whole file (a slice at a time); callers at the same time share one walk. */
  verify(): Promise<AuditVerifyResult> {
    this.verifying ??= verifyAuditFile(this.file, this.opts.key).finally(() => (this.verifying = null));
    return this.verifying;
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
      const e = parseLine<AuditEntry>(line);
      if (e) out.push(e);
    }
    return out;
  }
}
