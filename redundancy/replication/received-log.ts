// The standby's received-rows log: the active's live rows are appended here
// and flushed to disk before the standby acknowledges them, then applied to
// its database without waiting for that database's own flush. PostgreSQL's
// walreceiver does the same: it writes and flushes the WAL it receives and
// answers, and the startup process replays it after. The acknowledgement
// then costs one append and one fdatasync on a file whose blocks already
// exist, not a whole database transaction.
//
// The log holds only what the database may not have on disk yet: each time
// the database is flushed, the entries it holds are dropped. Entries beyond
// it (rows logged and acknowledged while earlier ones were being applied)
// are kept: the header moves past the dropped ones, and when the kept ones
// fit in front of where they are, they are copied to the front under a new
// generation — each step flushed before the next, so a crash between any two
// leaves a header that names entries still on the disk. After a crash the
// node replays the log into the database before anything reads where the
// database ends (replayReceived, at start).
//
// File: a 32-byte header (magic, generation, offset of the first entry; 0
// means right after the header), then entries, each a 20-byte
// header (magic, generation, payload length, 8 bytes of the payload's
// SHA-256) and the payload (a `rows` message as JSON, as on the wire). The
// file is written full of zeros up to its capacity once, so that an append
// allocates nothing and its fdatasync writes only the entry. A reader stops
// at the first entry that is torn, of another generation, or not there.
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { encode, parse } from "./protocol.js";
import type { Logger } from "../../core/logger.js";
import type { Row, Storage } from "../storage.js";

/** rows as they were received: `after` is the seq the active assumed this node held */
export interface ReceivedEntry {
  epoch: number;
  after: number;
  rows: Row[];
}

export interface ReceivedLog {
  /** where, for logs */
  readonly where: string;
  /** bytes appended since the last reset */
  readonly size: number;
  /** appends one message's rows; on the disk when it returns if `sync` (else in the operating system) */
  append(e: ReceivedEntry): void;
  /** the entries of the current generation, in the order they were appended */
  entries(): ReceivedEntry[];
  /**
   * Forgets the entries whose rows the database holds on its disk: all of
   * them, or those ending at or below `heldUpTo` (the others are kept, in
   * their order).
   */
  reset(heldUpTo?: number): void;
  close(): void;
}

const FILE_MAGIC = Buffer.from("TNDRLOG1", "latin1");
const FILE_HEADER = 32;
const ENTRY_MAGIC = 0x52444e54; // "TNDR" little-endian
const ENTRY_HEADER = 20;
const ZEROS = Buffer.alloc(1 << 20);

/** the size written at creation; the log grows past it if it must (the follower flushes at receivedFlushBytes, half of it) */
export const RECEIVED_LOG_BYTES = 2 << 20;

function digest(buf: Buffer, start: number, end: number): Buffer {
  return createHash("sha256").update(buf.subarray(start, end)).digest().subarray(0, 8);
}

export class FileReceivedLog implements ReceivedLog {
  private fd: number;
  private gen = 0;
  /** where this generation's first entry is */
  private start = FILE_HEADER;
  /** where the next entry goes */
  private pos = FILE_HEADER;
  /** the entries from `start` as written: where, their bytes (header and payload), the last seq of their rows */
  private written: { at: number; last: number; buf: Buffer }[] = [];
  /** null, or why the file's blocks were not written in advance (a full disk) */
  preallocated: string | null = null;

  /** `sync`: each append waits for the disk (syncAck flushed); else for the operating system (written) */
  constructor(
    readonly where: string,
    private readonly sync: boolean,
    capacity = RECEIVED_LOG_BYTES,
  ) {
    mkdirSync(dirname(where), { recursive: true });
    this.fd = openSync(where, "a+");
    closeSync(this.fd);
    this.fd = openSync(where, "r+");
    const head = Buffer.alloc(FILE_HEADER);
    const n = readSync(this.fd, head, 0, FILE_HEADER, 0);
    if (n === FILE_HEADER && head.subarray(0, 8).equals(FILE_MAGIC)) {
      this.gen = head.readUInt32LE(8);
      this.start = this.pos = head.readUInt32LE(12) || FILE_HEADER;
    } else this.writeHeader(1, FILE_HEADER);
    // blocks that exist already: an append then changes no file size and no block map (a cheap fdatasync)
    const have = fstatSync(this.fd).size;
    try {
      for (let at = have; at < capacity; ) {
        const n = writeSync(this.fd, ZEROS, 0, Math.min(ZEROS.length, capacity - at), at);
        // a short write: the disk is full
        if (n <= 0 || (n < ZEROS.length && at + n < capacity)) throw new Error(`ENOSPC: ${capacity - at - n} bytes did not fit on the disk`);
        at += n;
      }
      if (have < capacity) fdatasyncSync(this.fd);
    } catch (err) {
      // a disk without room for it: the log grows as it is written instead (each append a little slower)
      ftruncateSync(this.fd, Math.max(have, FILE_HEADER));
      this.preallocated = `not written in advance: ${(err as Error).message}`;
    }
  }

  get size(): number {
    return this.pos - this.start;
  }

  /** the header, on the disk when it returns (one sector: written whole or not at all) */
  private writeHeader(gen: number, start: number): void {
    const head = Buffer.alloc(FILE_HEADER);
    FILE_MAGIC.copy(head, 0);
    head.writeUInt32LE(gen >>> 0, 8);
    head.writeUInt32LE(start, 12);
    writeSync(this.fd, head, 0, FILE_HEADER, 0);
    fdatasyncSync(this.fd);
    this.gen = gen >>> 0;
    this.start = start;
  }

  private writeAt(buf: Buffer, at: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = writeSync(this.fd, buf, done, buf.length - done, at + done);
      if (n <= 0) throw new Error("ENOSPC: the received-rows log could not be written");
      done += n;
    }
  }

  append(e: ReceivedEntry): void {
    const json = JSON.stringify(encode({ t: "rows", epoch: e.epoch, after: e.after, rows: e.rows }));
    const len = Buffer.byteLength(json);
    const buf = Buffer.allocUnsafe(ENTRY_HEADER + len);
    buf.write(json, ENTRY_HEADER, "utf8");
    buf.writeUInt32LE(ENTRY_MAGIC, 0);
    buf.writeUInt32LE(this.gen, 4);
    buf.writeUInt32LE(len, 8);
    digest(buf, ENTRY_HEADER, ENTRY_HEADER + len).copy(buf, 12);
    this.writeAt(buf, this.pos);
    if (this.sync) fdatasyncSync(this.fd);
    this.written.push({ at: this.pos, last: lastOf(e), buf });
    this.pos += buf.length;
  }

  entries(): ReceivedEntry[] {
    const out: ReceivedEntry[] = [];
    const size = fstatSync(this.fd).size;
    const head = Buffer.alloc(ENTRY_HEADER);
    this.written = [];
    let at = this.start;
    while (at + ENTRY_HEADER <= size) {
      if (readSync(this.fd, head, 0, ENTRY_HEADER, at) < ENTRY_HEADER) break;
      if (head.readUInt32LE(0) !== ENTRY_MAGIC || head.readUInt32LE(4) !== this.gen) break;
      const len = head.readUInt32LE(8);
      if (at + ENTRY_HEADER + len > size) break;
      const body = Buffer.alloc(len);
      if (readSync(this.fd, body, 0, len, at + ENTRY_HEADER) < len) break;
      if (!digest(body, 0, len).equals(head.subarray(12, 20))) break;
      let m: ReturnType<typeof parse>;
      try {
        m = parse(JSON.parse(body.toString("utf8")) as Record<string, unknown>, Infinity);
      } catch {
        break;
      }
      if (typeof m === "string" || m.t !== "rows") break;
      const e = { epoch: m.epoch, after: m.after, rows: m.rows };
      out.push(e);
      this.written.push({ at, last: lastOf(e), buf: Buffer.concat([head, body]) });
      at += ENTRY_HEADER + len;
    }
    this.pos = at;
    return out;
  }

  reset(heldUpTo = Infinity): void {
    const first = this.written.findIndex((w) => w.last > heldUpTo);
    if (first < 0) {
      this.writeHeader(this.gen + 1, FILE_HEADER);
      this.written = [];
      this.pos = FILE_HEADER;
      return;
    }
    const keep = this.written.slice(first);
    const from = keep[0].at;
    if (from === this.start) return;
    // the entries the database holds are dropped: the header now names the first kept one
    this.writeHeader(this.gen, from);
    this.written = keep;
    const bytes = this.pos - from;
    if (FILE_HEADER + bytes > from) return; // they do not fit in front of themselves: they stay where they are until a later reset
    // copied to the front under the next generation (not yet named by the header), flushed, then named
    let at = FILE_HEADER;
    for (const w of keep) {
      w.buf.writeUInt32LE((this.gen + 1) >>> 0, 4);
      this.writeAt(w.buf, at);
      w.at = at;
      at += w.buf.length;
    }
    fdatasyncSync(this.fd);
    this.writeHeader(this.gen + 1, FILE_HEADER);
    this.pos = at;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function lastOf(e: ReceivedEntry): number {
  return e.rows.length ? e.rows[e.rows.length - 1].seq : e.after;
}

/**
 * At start, before anything reads where the database ends: applies what the
 * log holds beyond it (rows acknowledged to the active that a crash left
 * unapplied or unflushed), flushes, and empties the log. Returns the rows
 * applied. An entry that does not follow what the database holds ends the
 * replay (the active sends the rest again when it resumes).
 */
export async function replayReceived(storage: Storage, received: ReceivedLog, log: Logger): Promise<number> {
  const entries = received.entries();
  let last = (await storage.state()).lastSeq;
  let applied = 0;
  for (const e of entries) {
    const rows = e.rows.filter((r) => r.seq > last);
    if (!rows.length) continue;
    if (e.after > last) {
      log.warn(`replication: the received-rows log (${received.where}) holds rows after ${e.after}, but this database ends at ${last}: the rest is left to the active's resume`);
      break;
    }
    await storage.apply(last, rows);
    last = rows[rows.length - 1].seq;
    applied += rows.length;
  }
  if (applied) log.info(`replication: ${applied} rows acknowledged to the active before this node stopped were applied from the received-rows log (up to ${last})`);
  await storage.flush();
  received.reset();
  return applied;
}
