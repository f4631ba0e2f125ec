// The simulator's Modbus TCP server (modbus-serial ServerTCP), unit id any.
// Register map (zero-based, ABCD):
//   hr:0  tank1.level float32 %      hr:2 tank2.level float32 %
//   hr:4  reactor.temp float32 °C    hr:6 reactor.setpoint float32 °C (writable)
//   hr:8  inlet valve uint16 % (w)   hr:9 batch step uint16 (w)
//   hr:10 batch count uint32         hr:12 tank1 level raw int16 (0–27648 = 0–100 %)
//   hr:13 status word: bit0 pump, bit1 heater, bit2 tank1 high, bit3 tank1 low
//   hr:20 batch name string (20 chars, 10 registers)
//   hr:100–1999 free memory (watchdog, benchmarks); anything above: exception 2
//   co:0 pump run (w)  co:1 heater enable (w)  co:2 batch start (w, reads 0)  co:3–1999 free
//   di:0 tank1 high  di:1 tank1 low  di:2 reactor at setpoint
//   ir:0 ambient temp int16 ×10      ir:1 reactor temp int16 ×10
import type net from "node:net";
import M from "modbus-serial";
import { decodeRegisters, encodeRegisters } from "../modbus-codec.js";
import { command, type PlantCommand, type PlantState } from "./plant.js";
import { parseModbusWrites, peerAddress, type WriteWitness } from "./write-log.js";

const SIZE = 2000;

export interface ModbusFaults {
  /** answer every request this much later */
  delayMs: number;
  /** addresses (holding registers) that answer with an exception code */
  exceptions: Map<number, number>;
  /** refuse new connections and drop existing ones while true */
  down: boolean;
}

export interface PlantAccess {
  get(): PlantState;
  apply(c: PlantCommand): string | null;
}

export class ModbusSim {
  readonly faults: ModbusFaults = { delayMs: 0, exceptions: new Map(), down: false };
  requests = 0;
  /** write requests received (registers and coils) */
  writes = 0;
  private server: InstanceType<typeof M.ServerTCP> | null = null;
  /** coils 3–1999: free memory */
  readonly coilMem = new Uint8Array(SIZE);
  /** accepted connections so far: the write log's `conn` */
  private accepted = 0;

  constructor(
    private readonly plant: PlantAccess,
    private readonly witness?: WriteWitness,
  ) {}

  /** The holding-register image of the plant, memory included. */
  private image(): Uint16Array {
    const s = this.plant.get();
    const img = new Uint16Array(SIZE);
    img.set(s.memory.subarray(100, SIZE), 100);
    const put = (addr: number, regs: number[]) => regs.forEach((r, i) => (img[addr + i] = r));
    put(0, encodeRegisters("float32", s.tank1Level, { order: "ABCD" }));
    put(2, encodeRegisters("float32", s.tank2Level, { order: "ABCD" }));
    put(4, encodeRegisters("float32", s.reactorTemp, { order: "ABCD" }));
    put(6, encodeRegisters("float32", s.reactorSetpoint, { order: "ABCD" }));
    img[8] = Math.round(s.inletValve);
    img[9] = s.batchStep;
    put(10, encodeRegisters("uint32", s.batchCount, { order: "ABCD" }));
    img[12] = Math.round((s.tank1Level / 100) * 27648);
    img[13] = (s.pumpRun ? 1 : 0) | (s.heaterEnable ? 2 : 0) | (s.tank1Level > 90 ? 4 : 0) | (s.tank1Level < 10 ? 8 : 0);
    put(20, encodeRegisters("string", s.batchName, { order: "ABCD", length: 20 }));
    return img;
  }

  private check(addr: number, n: number): void {
    if (addr + n > SIZE) throw Object.assign(new Error("illegal address"), { modbusErrorCode: 2 });
    for (let a = addr; a < addr + n; a++) {
      const code = this.faults.exceptions.get(a);
      if (code !== undefined) throw Object.assign(new Error(`exception ${code}`), { modbusErrorCode: code });
    }
  }

  /** with a write log that can no longer be written, no write may reach the plant unrecorded */
  private checkWitness(): void {
    if (this.witness?.file.failed) throw Object.assign(new Error("write log failed"), { modbusErrorCode: 4 });
  }

  private writeRegs(addr: number, values: number[]): void {
    this.checkWitness();
    this.check(addr, values.length);
    const img = this.image();
    values.forEach((v, i) => (img[addr + i] = v));
    const s = this.plant.get();
    for (let a = addr; a < addr + values.length; a++) if (a >= 100) s.memory[a] = img[a]!;
    const touches = (lo: number, hi: number) => addr <= hi && addr + values.length > lo;
    const fail = (r: string | null) => {
      if (r) throw Object.assign(new Error(r), { modbusErrorCode: 3 });
    };
    if (touches(6, 7)) fail(this.plant.apply({ kind: "reactorSetpoint", value: decodeRegisters("float32", [img[6]!, img[7]!], { order: "ABCD" }) as number }));
    if (touches(8, 8)) fail(this.plant.apply({ kind: "inletValve", value: img[8]! }));
    if (touches(9, 9)) fail(this.plant.apply({ kind: "batchStep", value: img[9]! }));
    if (touches(0, 5) || touches(10, 99)) throw Object.assign(new Error("read-only"), { modbusErrorCode: 2 });
  }

  private bit(addr: number, table: "coil" | "discrete"): boolean {
    if (addr >= SIZE) throw Object.assign(new Error("illegal address"), { modbusErrorCode: 2 });
    const s = this.plant.get();
    if (table === "discrete") return addr === 0 ? s.tank1Level > 90 : addr === 1 ? s.tank1Level < 10 : addr === 2 ? Math.abs(s.reactorTemp - s.reactorSetpoint) < 1 : false;
    if (addr === 0) return s.pumpRun;
    if (addr === 1) return s.heaterEnable;
    if (addr === 2) return false;
    return this.coilMem[addr] === 1;
  }

  private setBit(addr: number, v: boolean): void {
    this.checkWitness();
    if (addr >= SIZE) throw Object.assign(new Error("illegal address"), { modbusErrorCode: 2 });
    if (addr === 0) this.plant.apply({ kind: "pumpRun", value: v });
    else if (addr === 1) this.plant.apply({ kind: "heaterEnable", value: v });
    else if (addr === 2) {
      if (v) this.plant.apply({ kind: "batchStart" });
    } else this.coilMem[addr] = v ? 1 : 0;
  }

  /** Runs fn after the configured delay, answering through the node-style callback; counts a request. */
  private answer<T>(cb: (err: Error | null, v?: T) => void, fn: () => T): void {
    this.requests++;
    this.later(cb, fn);
  }

  private later<T>(cb: (err: Error | null, v?: T) => void, fn: () => T): void {
    const run = () => {
      let v: T;
      try {
        v = fn();
      } catch (e) {
        cb(e as Error);
        return;
      }
      cb(null, v);
    };
    if (this.faults.delayMs > 0) setTimeout(run, this.faults.delayMs);
    else run();
  }

  async start(host: string, port: number): Promise<void> {
    type Cb<T> = (err: Error | null, v?: T) => void;
    const vector = {
      getMultipleHoldingRegisters: (addr: number, n: number, _u: number, cb: Cb<number[]>) =>
        this.answer(cb, () => (this.check(addr, n), Array.from(this.image().subarray(addr, addr + n)))),
      getHoldingRegister: (addr: number, _u: number, cb: Cb<number>) => this.answer(cb, () => (this.check(addr, 1), this.image()[addr]!)),
      getMultipleInputRegisters: (addr: number, n: number, _u: number, cb: Cb<number[]>) =>
        this.answer(cb, () => {
          if (addr + n > 2) throw Object.assign(new Error("illegal address"), { modbusErrorCode: 2 });
          const s = this.plant.get();
          const ir = [Math.round(s.ambientTemp * 10) & 0xffff, Math.round(s.reactorTemp * 10) & 0xffff];
          return ir.slice(addr, addr + n);
        }),
      getInputRegister: (addr: number, _u: number, cb: Cb<number>) =>
        this.answer(cb, () => {
          if (addr >= 2) throw Object.assign(new Error("illegal address"), { modbusErrorCode: 2 });
          const s = this.plant.get();
          return Math.round((addr === 0 ? s.ambientTemp : s.reactorTemp) * 10) & 0xffff;
        }),
      // bit reads are answered one bit at a time by the library (all at once: the delay counts once)
      getCoil: (addr: number, _u: number, cb: Cb<boolean>) => this.later(cb, () => this.bit(addr, "coil")),
      getDiscreteInput: (addr: number, _u: number, cb: Cb<boolean>) => this.later(cb, () => this.bit(addr, "discrete")),
      setRegister: (addr: number, v: number, _u: number, cb: Cb<void>) => (this.writes++, this.answer(cb, () => this.writeRegs(addr, [v]))),
      setRegisterArray: (addr: number, v: number[], _u: number, cb: Cb<void>) => (this.writes++, this.answer(cb, () => this.writeRegs(addr, v))),
      setCoil: (addr: number, v: boolean, _u: number, cb: Cb<void>) => (this.writes++, this.answer(cb, () => this.setBit(addr, v))),
    };
    const server = new M.ServerTCP(vector as never, { host, port, unitID: 255 });
    const tcp = (server as unknown as { _server: net.Server })._server;
    if (this.witness) this.logWrites(tcp, this.witness);
    await new Promise<void>((resolve, reject) => {
      server.once("initialized", () => resolve());
      server.once("serverError", (e: Error) => reject(e));
    });
    server.on("socketError", () => {});
    server.on("error", () => {});
    // "down" refuses service: new sockets are destroyed as they arrive.
    tcp.prependListener("connection", (sock: net.Socket) => {
      if (this.faults.down) sock.destroy();
    });
    this.server = server;
  }

  /**
   * The write log: each socket's bytes are framed by our own parser (the
   * library keeps its frames to itself) in a listener that runs before the
   * library's. The library applies a frame one turn of the loop after its
   * bytes arrive, so every line is written before its write is applied,
   * refused writes included.
   */
  private logWrites(tcp: net.Server, w: WriteWitness): void {
    tcp.prependListener("connection", (sock: net.Socket) => {
      if (sock.destroyed) return; // refused while "down": never served
      const conn = ++this.accepted;
      const from = peerAddress(sock.remoteAddress);
      const port = sock.remotePort ?? 0;
      let pending: Uint8Array = new Uint8Array(0);
      sock.prependListener("data", (data: Buffer) => {
        const at = Date.now();
        const { writes, rest } = parseModbusWrites(pending.length ? Buffer.concat([pending, data]) : data);
        pending = rest.length ? Uint8Array.from(rest) : new Uint8Array(0); // a copy: do not keep the whole chunk alive
        for (const q of writes) {
          const epoch = w.epochs.onWrite(conn, from, q.table, q.addr, q.values);
          w.file.append({ at, from, port, conn, fc: q.fc, table: q.table, addr: q.addr, values: q.values, epoch, proto: "modbus" });
        }
      });
      sock.once("close", () => w.epochs.onClose(conn));
    });
  }

  connections(): number {
    return this.server ? this.server.socks.size : 0;
  }

  dropConnections(): void {
    if (this.server) for (const s of this.server.socks.keys()) s.destroy();
  }

  stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}
