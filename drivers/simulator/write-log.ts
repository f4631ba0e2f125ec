// The simulator's write log: every write request that reached the plant, one
// JSON line each, written when its bytes arrive and before it is applied.
// It is the plant's own witness for the independent checker
// (test/checker/checker.ts): the nodes' logs are not trusted, this file is.
//
// The pure parts (the Modbus frame parser, the epoch attribution) import no
// socket or clock, so they are tested on bytes alone (test/unit); the file
// writer and reader are the thin I/O around them.
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from "node:fs";

/** One line of the write log. */
export interface PlantWriteLine {
  /** ms since the epoch, the simulator's clock when the request's bytes arrived */
  at: number;
  /** the peer's address ("::ffff:1.2.3.4" written as "1.2.3.4") and port */
  from: string;
  port: number;
  /** Modbus: the accepted connection's number (from 1); OPC UA: the secure channel's id */
  conn: number;
  /** Modbus function code: 5, 6, 15 or 16 (absent for OPC UA) */
  fc?: number;
  table?: "hr" | "co";
  addr?: number;
  /** uint16 register values (fc 6, 16), booleans (fc 5, 15), the written value (OPC UA) */
  values: unknown[];
  /** the writer's epoch as the simulator attributes it; null when none is known */
  epoch: number | null;
  proto?: "modbus" | "opcua";
  /** OPC UA: the node id written */
  node?: string;
}

export const DEFAULT_EPOCH_REGISTER = 901;

/** A Modbus write request as read off the wire. */
export interface ModbusWrite {
  unit: number;
  fc: 5 | 6 | 15 | 16;
  table: "hr" | "co";
  addr: number;
  values: number[] | boolean[];
}

const MBAP = 6; // transaction id, protocol id, length; the unit id counts in the length

/**
 * Cuts the write requests out of a socket's bytes. The framing is exactly
 * modbus-serial's ServerTCP (servers/servertcp.js): it takes `length` bytes
 * after the 6-byte header, whatever the protocol id, and looks at a buffer
 * only once it holds more than 6 bytes. Framing the same way keeps the log in
 * step with the frames the library applies, garbage included. The write
 * checks are the library's too (servertcp_handler.js): a frame of the wrong
 * size is dropped there without an answer, so it is left out here; a count
 * of zero is answered with an exception, so it is logged (a refused write).
 *
 * The bytes left over never hold a whole frame, so they are at most
 * 6 + 65535 bytes: the framing itself caps the buffer. Dropping it earlier
 * would put this parser out of step with the library for the rest of the
 * connection. Never throws.
 */
export function parseModbusWrites(bytes: Uint8Array): { writes: ModbusWrite[]; rest: Uint8Array } {
  const writes: ModbusWrite[] = [];
  let rest = bytes;
  while (rest.length > MBAP) {
    const len = (rest[4]! << 8) | rest[5]!;
    if (rest.length - MBAP < len) break;
    const w = parseWritePdu(rest.subarray(MBAP, MBAP + len));
    if (w) writes.push(w);
    rest = rest.subarray(MBAP + len);
  }
  return { writes, rest };
}

/** unit id + PDU → a write request, or null (not a write, or a frame the library ignores) */
function parseWritePdu(f: Uint8Array): ModbusWrite | null {
  if (f.length < 6) return null;
  const u16 = (at: number) => (f[at]! << 8) | f[at + 1]!;
  const unit = f[0]!;
  const fc = f[1]!;
  const addr = u16(2);
  if (fc === 5 || fc === 6) {
    if (f.length !== 6) return null;
    return fc === 5 ? { unit, fc, table: "co", addr, values: [u16(4) === 0xff00] } : { unit, fc, table: "hr", addr, values: [u16(4)] };
  }
  if (fc !== 15 && fc !== 16) return null;
  const n = u16(4);
  if (fc === 16) {
    if (f.length !== 7 + n * 2) return null;
    return { unit, fc, table: "hr", addr, values: Array.from({ length: n }, (_, i) => u16(7 + i * 2)) };
  }
  if (f.length !== 7 + Math.ceil(n / 8)) return null;
  return { unit, fc, table: "co", addr, values: Array.from({ length: n }, (_, i) => ((f[7 + (i >> 3)]! >> (i & 7)) & 1) === 1) };
}

/**
 * Whose epoch a write carries. Modbus cannot carry an epoch in a process
 * write, but the active writes its epoch to the epoch register (a uint32 in
 * two holding registers, high word first) every watchdog cycle. So a write is
 * attributed the last epoch written on its own connection, else the last one
 * written from its address on any connection (a node that reconnects, or
 * writes over a second connection), else null. Pure: no socket, no clock.
 */
export class EpochAttribution {
  /** per connection: the halves of the epoch register it wrote, and its epoch once both were known */
  private readonly conns = new Map<number, { hi: number | null; lo: number | null; epoch: number | null }>();
  private readonly byAddress = new Map<string, number>();

  constructor(readonly register = DEFAULT_EPOCH_REGISTER) {}

  /** A write request arrived: updates the attribution first (a write to the epoch register carries its new epoch), then answers the write's epoch. */
  onWrite(conn: number, from: string, table: "hr" | "co", addr: number, values: readonly unknown[]): number | null {
    const hi = this.register - addr;
    const lo = hi + 1;
    const touches = (i: number) => table === "hr" && i >= 0 && i < values.length;
    if (touches(hi) || touches(lo)) {
      let c = this.conns.get(conn);
      if (!c) this.conns.set(conn, (c = { hi: null, lo: null, epoch: null }));
      // a single-register write sets one half; the epoch moves only once this connection wrote both
      if (touches(hi)) c.hi = Number(values[hi]) & 0xffff;
      if (touches(lo)) c.lo = Number(values[lo]) & 0xffff;
      if (c.hi !== null && c.lo !== null) {
        c.epoch = c.hi * 0x10000 + c.lo;
        this.byAddress.set(from, c.epoch);
      }
    }
    return this.conns.get(conn)?.epoch ?? this.byAddress.get(from) ?? null;
  }

  /** OPC UA: an epoch written from an address (no per-connection state there) */
  setForAddress(from: string, epoch: number): void {
    this.byAddress.set(from, epoch);
  }

  forAddress(from: string): number | null {
    return this.byAddress.get(from) ?? null;
  }

  /** the connection closed: its halves go (its address keeps the epoch) */
  onClose(conn: number): void {
    this.conns.delete(conn);
  }
}

/** A socket's remote address as the log writes it: IPv4-mapped IPv6 as plain IPv4. */
export function peerAddress(remote: string | undefined): string {
  if (!remote) return "unknown";
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  return m ? m[1]! : remote;
}

/**
 * The log file, opened once for appending. Each line is one synchronous
 * write, made before the request is applied: the line is in the file before
 * the write it records can change the plant, and a reader reading meanwhile
 * sees at most a torn last line. When the file cannot be written, `failed`
 * says why and the servers refuse every later write (a write applied without
 * its line would make the witness lie by omission).
 */
export class WriteLogFile {
  private fd: number | null;
  failed: Error | null = null;

  constructor(
    readonly file: string,
    private readonly onFail: (e: Error) => void = () => {},
  ) {
    this.fd = openSync(file, "a+"); // read too: the torn-tail check below
    // A line cut short when an earlier run died mid-write records a write
    // that was never applied (lines go first): cut it off, so it cannot run
    // into this run's first line and the reader can stay strict.
    const keep = completeLength(this.fd);
    if (keep < fstatSync(this.fd).size) ftruncateSync(this.fd, keep);
  }

  /** Never throws: a failure is kept in `failed` and reported once. */
  append(line: PlantWriteLine): void {
    if (this.fd === null || this.failed) return;
    try {
      const buf = Buffer.from(`${JSON.stringify(line)}\n`);
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
    } catch (e) {
      this.failed = e as Error;
      this.onFail(this.failed);
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** What a server needs to log its writes: the file and the epochs seen so far (shared by both servers). */
export interface WriteWitness {
  file: WriteLogFile;
  epochs: EpochAttribution;
}

/** the length of the file's whole lines: up to and including its last newline */
function completeLength(fd: number): number {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = fstatSync(fd).size; end > 0; end -= chunk.length) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
  }
  return 0;
}

/**
 * Reads a write log. A last line without its newline was cut short by a
 * crash (the write it records was never applied: lines are written first)
 * and is skipped; any other line that is not a write line is an error naming
 * it, as a witness that reads past damage would prove nothing.
 */
export function readWriteLog(file: string): PlantWriteLine[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const last = lines.length - 1; // "" when the file ends with a newline, else a torn line
  const out: PlantWriteLine[] = [];
  for (let i = 0; i < last; i++) {
    if (lines[i] === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(lines[i]!);
    } catch {
      v = null;
    }
    const w = v as PlantWriteLine | null;
    if (!w || typeof w !== "object" || typeof w.at !== "number" || !Array.isArray(w.values) || !(w.epoch === null || typeof w.epoch === "number"))
      throw new Error(`${file}:${i + 1}: not a plant write line: ${lines[i]!.slice(0, 120)}`);
    out.push(w);
  }
  return out;
}
