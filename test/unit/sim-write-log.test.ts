// The simulator's write log, its pure parts: the Modbus frame parser (split,
// merged, truncated and hostile bytes) and the epoch attribution; and the
// file's reader and writer on torn lines.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { EpochAttribution, parseModbusWrites, peerAddress, readWriteLog, WriteLogFile, type ModbusWrite } from "../../drivers/simulator/write-log.js";

/** an MBAP frame: transaction id, protocol 0, length, then unit id and PDU */
function frame(tid: number, pdu: number[], unit = 1): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(pdu.length + 1, 4);
  b[6] = unit;
  Buffer.from(pdu).copy(b, 7);
  return b;
}
const hi = (n: number) => (n >> 8) & 0xff;
const lo = (n: number) => n & 0xff;
const fc16 = (addr: number, regs: number[]) => [16, hi(addr), lo(addr), hi(regs.length), lo(regs.length), regs.length * 2, ...regs.flatMap((r) => [hi(r), lo(r)])];
const fc6 = (addr: number, v: number) => [6, hi(addr), lo(addr), hi(v), lo(v)];
const fc5 = (addr: number, on: boolean) => [5, hi(addr), lo(addr), on ? 0xff : 0, 0];
const fc3 = (addr: number, n: number) => [3, hi(addr), lo(addr), hi(n), lo(n)];

/** feeds the chunks one after the other, as a socket's data events would */
function feed(chunks: Uint8Array[]): { writes: ModbusWrite[]; rest: Uint8Array } {
  const writes: ModbusWrite[] = [];
  let rest: Uint8Array = new Uint8Array(0);
  for (const c of chunks) {
    const r = parseModbusWrites(Buffer.concat([rest, c]));
    writes.push(...r.writes);
    rest = r.rest;
  }
  return { writes, rest };
}

describe("parseModbusWrites", () => {
  it("reads the four write requests and skips everything else", () => {
    const bytes = Buffer.concat([
      frame(1, fc16(901, [0, 5])),
      frame(2, fc3(0, 10)),
      frame(3, fc6(9, 3)),
      frame(4, fc5(0, true)),
      frame(5, [15, 0, 3, 0, 10, 2, 0b10000101, 0b10]), // ten coils from co:3
      frame(6, fc16(100, [])), // a count of zero: the library answers exception 2, a refused write
    ]);
    const { writes, rest } = parseModbusWrites(bytes);
    expect(rest.length).toBe(0);
    expect(writes).toEqual([
      { unit: 1, fc: 16, table: "hr", addr: 901, values: [0, 5] },
      { unit: 1, fc: 6, table: "hr", addr: 9, values: [3] },
      { unit: 1, fc: 5, table: "co", addr: 0, values: [true] },
      { unit: 1, fc: 15, table: "co", addr: 3, values: [true, false, true, false, false, false, false, true, false, true] },
      { unit: 1, fc: 16, table: "hr", addr: 100, values: [] },
    ]);
  });

  it("a frame arriving byte by byte is read once, when its last byte is in", () => {
    const bytes = Buffer.concat([frame(1, fc16(6, [0x4248, 0])), frame(2, fc6(8, 40))]);
    const first = frame(1, fc16(6, [0x4248, 0])).length;
    const writes: ModbusWrite[] = [];
    let rest: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < bytes.length; i++) {
      const r = parseModbusWrites(Buffer.concat([rest, bytes.subarray(i, i + 1)]));
      if (i < first - 1) expect(r.writes).toEqual([]);
      if (i === first - 1) expect(r.writes).toEqual([{ unit: 1, fc: 16, table: "hr", addr: 6, values: [0x4248, 0] }]);
      writes.push(...r.writes);
      rest = r.rest;
    }
    expect(writes.map((w) => w.addr)).toEqual([6, 8]);
    expect(rest.length).toBe(0);
  });

  it("two frames in one chunk and a third cut in half", () => {
    const third = frame(3, fc6(9, 1));
    const { writes, rest } = feed([Buffer.concat([frame(1, fc6(8, 1)), frame(2, fc6(8, 2)), third.subarray(0, 5)])]);
    expect(writes.map((w) => w.values)).toEqual([[1], [2]]);
    expect(Buffer.from(rest)).toEqual(third.subarray(0, 5));
    expect(feed([rest, third.subarray(5)]).writes.map((w) => w.values)).toEqual([[1]]);
  });

  it("frames the library ignores are skipped and the next frame is still read", () => {
    const badCount = frame(1, [16, 0, 9, 0, 2, 4, 0, 1]); // says 2 registers, carries 1: the library answers nothing
    const tooShort = frame(2, [6, 0]); // length 3
    const longSingle = frame(3, [...fc6(9, 1), 0]); // fc 6 with a byte too many
    const unknownFc = frame(4, [99, 1, 2, 3, 4]);
    const { writes, rest } = parseModbusWrites(Buffer.concat([badCount, tooShort, longSingle, unknownFc, frame(5, fc6(150, 7))]));
    expect(writes).toEqual([{ unit: 1, fc: 6, table: "hr", addr: 150, values: [7] }]);
    expect(rest.length).toBe(0);
  });

  it("a huge length waits for its bytes, as the library does; the leftover never exceeds one frame", () => {
    const header = Buffer.from([0, 1, 0, 0, 0xff, 0xff, 1, 16]);
    const r = parseModbusWrites(Buffer.concat([header, Buffer.alloc(60_000)]));
    expect(r.writes).toEqual([]);
    expect(r.rest.length).toBe(60_008);
    // the rest of that frame arrives, then a real write: the frame is consumed whole, garbage, and the write is read
    const more = parseModbusWrites(Buffer.concat([r.rest, Buffer.alloc(65_535 - 60_002), frame(9, fc6(8, 5))]));
    expect(more.writes).toEqual([{ unit: 1, fc: 6, table: "hr", addr: 8, values: [5] }]);
    expect(more.rest.length).toBe(0);
  });

  it("never throws on any bytes; the leftover is a tail of the input no longer than one frame", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const { writes, rest } = parseModbusWrites(bytes);
        expect(rest.length).toBeLessThanOrEqual(Math.min(bytes.length, 6 + 65_535));
        expect(Buffer.from(bytes.subarray(bytes.length - rest.length))).toEqual(Buffer.from(rest));
        for (const w of writes) expect([5, 6, 15, 16]).toContain(w.fc);
      }),
      { numRuns: 2000 },
    );
  });

  it("cutting the same bytes into any chunks gives the same writes (valid frames mixed with garbage)", () => {
    const valid = fc.oneof(
      fc.tuple(fc.nat(0xffff), fc.array(fc.nat(0xffff), { maxLength: 5 })).map(([a, regs]) => frame(1, fc16(a, regs))),
      fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([a, v]) => frame(2, fc6(a, v))),
      fc.tuple(fc.nat(0xffff), fc.boolean()).map(([a, v]) => frame(3, fc5(a, v))),
      fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(fc.array(valid, { maxLength: 8 }), fc.array(fc.nat(200), { maxLength: 6 }), (parts, cuts) => {
        const bytes = Buffer.concat(parts);
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, i) => bytes.subarray(from, [...at, bytes.length][i]));
        const whole = parseModbusWrites(bytes);
        const pieces = feed(chunks);
        expect(pieces.writes).toEqual(whole.writes);
        expect(Buffer.from(pieces.rest)).toEqual(Buffer.from(whole.rest));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("EpochAttribution", () => {
  it("a write carries its connection's epoch, else its address's, else null", () => {
    const e = new EpochAttribution();
    expect(e.onWrite(1, "10.0.0.1", "hr", 9, [3])).toBeNull();
    expect(e.onWrite(1, "10.0.0.1", "hr", 901, [0, 5])).toBe(5); // the epoch write itself carries the new epoch
    expect(e.onWrite(1, "10.0.0.1", "hr", 9, [3])).toBe(5);
    expect(e.onWrite(2, "10.0.0.1", "co", 0, [true])).toBe(5); // another connection from the same address
    expect(e.onWrite(3, "10.0.0.2", "hr", 8, [40])).toBeNull(); // another address, no epoch yet
    expect(e.onWrite(2, "10.0.0.1", "hr", 901, [0, 6])).toBe(6);
    expect(e.onWrite(1, "10.0.0.1", "hr", 9, [4])).toBe(5); // its own connection's epoch comes first
    expect(e.onWrite(4, "10.0.0.1", "hr", 9, [4])).toBe(6); // a new connection: the address's last epoch
  });

  it("reads the uint32 high word first, from any write covering both registers", () => {
    const e = new EpochAttribution();
    expect(e.onWrite(1, "a", "hr", 900, [17, 0x0001, 0x0002])).toBe(0x10002); // counter and epoch in one write
    expect(e.onWrite(2, "b", "hr", 901, [0xffff, 0xffff])).toBe(0xffffffff);
    expect(e.onWrite(3, "c", "co", 901, [true, true])).toBeNull(); // coils are not the epoch register
  });

  it("a single-register write keeps its half; the epoch moves once the connection wrote both", () => {
    const e = new EpochAttribution();
    expect(e.onWrite(1, "a", "hr", 902, [7])).toBeNull();
    expect(e.onWrite(2, "a", "hr", 901, [0])).toBeNull(); // the other half, but on another connection
    expect(e.onWrite(1, "a", "hr", 901, [0])).toBe(7);
    expect(e.onWrite(2, "a", "hr", 9, [1])).toBe(7); // by address
    expect(e.onWrite(1, "a", "hr", 902, [8])).toBe(8); // the high half is still known on connection 1
    expect(e.onWrite(3, "a", "hr", 900, [1, 0])).toBe(8); // hr:900–901: only the high half, on a fresh connection
    expect(e.onWrite(3, "a", "hr", 902, [9, 99])).toBe(9); // hr:902–903: the low half completes it
  });

  it("another epoch register, and a closed connection's halves forgotten while its address keeps the epoch", () => {
    const e = new EpochAttribution(950);
    expect(e.onWrite(1, "a", "hr", 901, [0, 5])).toBeNull();
    expect(e.onWrite(1, "a", "hr", 951, [3])).toBeNull();
    e.onClose(1);
    expect(e.onWrite(1, "a", "hr", 950, [0])).toBeNull(); // the low half went with the connection
    expect(e.onWrite(2, "b", "hr", 950, [0, 4])).toBe(4);
    e.onClose(2);
    expect(e.onWrite(5, "b", "hr", 9, [1])).toBe(4);
    expect(e.forAddress("b")).toBe(4);
    e.setForAddress("b", 10);
    expect(e.onWrite(6, "b", "hr", 9, [1])).toBe(10);
  });
});

describe("the log file", () => {
  const dir = mkdtempSync(join(tmpdir(), "tandem-wlog-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const line = (at: number, epoch: number | null) => ({ at, from: "1.2.3.4", port: 1, conn: 1, fc: 6, table: "hr" as const, addr: 9, values: [1], epoch });

  it("peer addresses: IPv4-mapped IPv6 as IPv4", () => {
    expect(peerAddress("::ffff:198.51.100.1")).toBe("198.51.100.1");
    expect(peerAddress("::1")).toBe("::1");
    expect(peerAddress("fe80::ffff:1")).toBe("fe80::ffff:1");
    expect(peerAddress(undefined)).toBe("unknown");
  });

  it("reads whole lines, skips a torn last line, refuses a damaged one in the middle", () => {
    const f = join(dir, "read.jsonl");
    writeFileSync(f, `${JSON.stringify(line(1, 5))}\n${JSON.stringify(line(2, null))}\n{"at":3,"fro`);
    expect(readWriteLog(f).map((l) => [l.at, l.epoch])).toEqual([
      [1, 5],
      [2, null],
    ]);
    writeFileSync(f, `${JSON.stringify(line(1, 5))}\n{"at":3,"fro\n${JSON.stringify(line(2, null))}\n`);
    expect(() => readWriteLog(f)).toThrow(/read\.jsonl:2: not a plant write line/);
    writeFileSync(f, "");
    expect(readWriteLog(f)).toEqual([]);
  });

  it("appends whole lines; a torn tail left by an earlier run is cut off before the first new line", () => {
    const f = join(dir, "write.jsonl");
    writeFileSync(f, `${JSON.stringify(line(1, 5))}\n{"at":2,"from":"1.2`);
    const w = new WriteLogFile(f);
    w.append(line(3, 6));
    w.close();
    w.append(line(4, 6)); // after close: ignored, not thrown
    expect(readFileSync(f, "utf8")).toBe(`${JSON.stringify(line(1, 5))}\n${JSON.stringify(line(3, 6))}\n`);
    writeFileSync(f, `{"at":2,"from":"1.2`); // nothing whole at all
    new WriteLogFile(f).close();
    expect(readFileSync(f, "utf8")).toBe("");
  });

  it("a failed write (a full disk: /dev/full) is kept and reported once, never thrown", () => {
    const seen: Error[] = [];
    const w = new WriteLogFile("/dev/full", (e) => seen.push(e));
    w.append(line(1, 1));
    w.append(line(2, 1));
    w.close();
    expect((w.failed as NodeJS.ErrnoException | null)?.code).toBe("ENOSPC");
    expect(seen).toHaveLength(1);
  });
});
