// A Modbus TCP client link with its own MBAP framing, for the poll path where
// modbus-serial's per-request overhead halves the request rate (see
// docs/drivers.md, benchmarks). Same contract as ModbusLink: our own
// timeouts, every pending request settles when the socket closes, exception
// responses become ModbusException. Several requests may be in flight; the
// transaction id pairs answers with requests.
import net from "node:net";
import { LinkClosed, LinkTimeout, ModbusException, openTcpSocket } from "./modbus-link.js";

interface Pending {
  fc: number;
  count: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  deadline: number;
  timeoutMs: number;
}

export class MbapLink {
  private closedReason: string | null = null;
  private readonly pending = new Map<number, Pending>();
  private tid = 0;
  private buf: Buffer = Buffer.alloc(0);
  // One sweeping timer per link instead of one timer per request: at tens of
  // thousands of requests a second the per-request timers cost more than the
  // framing. A request times out between timeoutMs and timeoutMs + sweep.
  private sweeper: NodeJS.Timeout | null = null;
  private sweepMs = 0;
  onClose: (why: string) => void = () => {};

  private constructor(
    private readonly socket: net.Socket,
    readonly label: string,
  ) {
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", (e) => this.closed(e.message));
    socket.on("close", () => this.closed("socket closed"));
  }

  static async connectTcp(host: string, port: number, timeoutMs: number): Promise<MbapLink> {
    return new MbapLink(await openTcpSocket(host, port, timeoutMs), `${host}:${port}`);
  }

  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  private closed(why: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = why;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const p of this.pending.values()) p.reject(new LinkClosed(why));
    this.pending.clear();
    this.onClose(why);
  }

  close(why = "closed by Tandem"): Promise<void> {
    this.socket.destroy();
    this.closed(why);
    return Promise.resolve();
  }

  /** Sends one PDU; resolves with the answer's decoded data. */
  private request<T>(unit: number, pdu: Buffer, count: number, timeoutMs: number): Promise<T> {
    if (this.closedReason !== null) return Promise.reject(new LinkClosed(this.closedReason));
    // 0 is skipped so that a zeroed frame never matches a request
    this.tid = this.tid >= 0xffff ? 1 : this.tid + 1;
    const tid = this.tid;
    const adu = Buffer.allocUnsafe(7 + pdu.length);
    adu.writeUInt16BE(tid, 0);
    adu.writeUInt16BE(0, 2);
    adu.writeUInt16BE(pdu.length + 1, 4);
    adu[6] = unit;
    pdu.copy(adu, 7);
    this.armSweeper(timeoutMs);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(tid, { fc: pdu[0]!, count, resolve: resolve as (v: unknown) => void, reject, deadline: performance.now() + timeoutMs, timeoutMs });
      this.socket.write(adu);
    });
  }

  private armSweeper(timeoutMs: number): void {
    const every = Math.max(5, Math.min(100, Math.floor(timeoutMs / 10)));
    if (this.sweeper && every >= this.sweepMs) return;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweepMs = every;
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const [tid, p] of this.pending) {
        if (p.deadline <= now) {
          this.pending.delete(tid);
          p.reject(new LinkTimeout(p.timeoutMs));
        }
      }
    }, every);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt16BE(4);
      if (len < 2 || len > 254) {
        // not Modbus TCP: the stream cannot be trusted any more
        this.socket.destroy();
        this.closed(`malformed MBAP header (length ${len})`);
        return;
      }
      if (this.buf.length < 6 + len) return;
      const frame = this.buf.subarray(0, 6 + len);
      this.buf = this.buf.subarray(6 + len);
      const p = this.pending.get(frame.readUInt16BE(0));
      if (!p) continue; // an answer that came after its timeout
      this.pending.delete(frame.readUInt16BE(0));
      const fc = frame[7]!;
      if (fc === (p.fc | 0x80)) {
        p.reject(new ModbusException(frame[8] ?? 0));
        continue;
      }
      if (fc !== p.fc) {
        p.reject(new Error(`answer with function ${fc} to a request with function ${p.fc}`));
        continue;
      }
      try {
        p.resolve(this.decode(fc, frame.subarray(8), p.count));
      } catch (e) {
        p.reject(e as Error);
      }
    }
  }

  private decode(fc: number, body: Buffer, count: number): unknown {
    if (fc === 3 || fc === 4) {
      const n = body[0]!;
      if (n !== count * 2 || body.length < 1 + n) throw new Error(`expected ${count} registers, got ${n} bytes`);
      const out = new Array<number>(count);
      for (let i = 0; i < count; i++) out[i] = body.readUInt16BE(1 + i * 2);
      return out;
    }
    if (fc === 1 || fc === 2) {
      const n = body[0]!;
      if (n !== Math.ceil(count / 8) || body.length < 1 + n) throw new Error(`expected ${count} bits, got ${n} bytes`);
      const out = new Array<boolean>(count);
      for (let i = 0; i < count; i++) out[i] = ((body[1 + (i >> 3)]! >> (i & 7)) & 1) === 1;
      return out;
    }
    return undefined; // writes echo their request
  }

  private static read(fc: number, address: number, count: number): Buffer {
    const pdu = Buffer.allocUnsafe(5);
    pdu[0] = fc;
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(count, 3);
    return pdu;
  }

  readRegisters(table: "holding" | "input", unit: number, address: number, count: number, timeoutMs: number): Promise<number[]> {
    return this.request(unit, MbapLink.read(table === "holding" ? 3 : 4, address, count), count, timeoutMs);
  }

  readBits(table: "coil" | "discrete", unit: number, address: number, count: number, timeoutMs: number): Promise<boolean[]> {
    return this.request(unit, MbapLink.read(table === "coil" ? 1 : 2, address, count), count, timeoutMs);
  }

  writeRegister(unit: number, address: number, value: number, timeoutMs: number): Promise<void> {
    const pdu = Buffer.allocUnsafe(5);
    pdu[0] = 6;
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(value & 0xffff, 3);
    return this.request(unit, pdu, 0, timeoutMs);
  }

  writeRegisters(unit: number, address: number, values: number[], timeoutMs: number): Promise<void> {
    const pdu = Buffer.allocUnsafe(6 + values.length * 2);
    pdu[0] = 16;
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(values.length, 3);
    pdu[5] = values.length * 2;
    values.forEach((v, i) => pdu.writeUInt16BE(v & 0xffff, 6 + i * 2));
    return this.request(unit, pdu, 0, timeoutMs);
  }

  writeCoil(unit: number, address: number, value: boolean, timeoutMs: number): Promise<void> {
    const pdu = Buffer.allocUnsafe(5);
    pdu[0] = 5;
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(value ? 0xff00 : 0x0000, 3);
    return this.request(unit, pdu, 0, timeoutMs);
  }

  writeCoils(unit: number, address: number, values: boolean[], timeoutMs: number): Promise<void> {
    const bytes = Math.ceil(values.length / 8);
    const pdu = Buffer.alloc(6 + bytes);
    pdu[0] = 15;
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(values.length, 3);
    pdu[5] = bytes;
    values.forEach((v, i) => {
      if (v) pdu[6 + (i >> 3)]! |= 1 << (i & 7);
    });
    return this.request(unit, pdu, 0, timeoutMs);
  }
}
