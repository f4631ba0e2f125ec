// Modbus writes: the engineering value becomes raw (drivers/tag-value.ts),
// then registers or coils (modbus-codec.ts), then requests that leave only
// once the node's write gate says so — asked after the request slot is ours
// (scan reads may hold it for seconds) and right before the bytes are sent,
// with the write's timeout as the time the lease must still cover. Writes
// are never retried: a timed-out write may have been applied.
import { TandemError } from "../core/errors.js";
import { writeTimeoutOf, type ModbusDeviceConfig } from "./config-schema.js";
import type { WriteGate, WriteKind } from "./driver-api.js";
import { CodecError, decodeRegisters, encodeRegisters } from "./modbus-codec.js";
import { isBitTable } from "./modbus-coalescer.js";
import { LinkClosed, LinkTimeout, ModbusException, type Link } from "./modbus-link.js";
import { toRaw, writtenValue, type ValueSpec, type ValueType } from "./tag-value.js";
import { encodeArrayWrite, valueTypeOf } from "./modbus-array.js";
import type { ModbusTag } from "./modbus-tag.js";

/** What the writer needs of its driver. */
export interface WritePort {
  readonly cfg: ModbusDeviceConfig;
  readonly gate: WriteGate;
  /** the connection in use, or TANDEM_ERR_DEVICE_UNAVAILABLE */
  link(): Link;
  current(): Link | null;
  /** waits for a request slot; resolves with its release */
  slot(): Promise<() => void>;
  counted(ok: boolean): void;
  /** the connection failed under a request: close it, tags bad, next path */
  failLink(link: Link, err: Error): void;
}

/** A write request waiting to be sent: one Modbus function call with its timeout. */
type Send = (link: Link, timeoutMs: number) => Promise<unknown>;

export class ModbusWriter {
  readonly timeoutMs: number;

  constructor(private readonly port: WritePort) {
    this.timeoutMs = writeTimeoutOf(port.cfg);
  }

  /** Resolves with the value the PLC now holds, as JSON in engineering units (tag-value.ts writtenValue). */
  async write(t: ModbusTag, value: unknown, kind: WriteKind): Promise<unknown> {
    const type: ValueType = valueTypeOf(t.type);
    const spec: ValueSpec = { type, ...(t.scaling ? { scaling: t.scaling } : {}), ...(t.type === "string" ? { maxLength: t.length ?? t.count * 2 } : {}), typeName: t.type };
    // junk never waits for a slot: refused before anything else
    const list = t.array === undefined ? null : encodeArrayWrite(t, value);
    const raw = list ? null : toRaw(t.name, spec, value);
    const link = this.port.link();
    const cfg = this.port.cfg;
    try {
      if (list) {
        await this.send(link, kind, "bits" in list ? [(l, ms) => l.writeCoils(t.unitId, t.address, list.bits, ms)] : this.registerWrites(t.unitId, t.address, list.regs));
        // an array has no scaling: each element as written (encodeArrayWrite checked them all)
        const element: ValueSpec = { type, typeName: t.type };
        return (value as unknown[]).map((v, i) => writtenValue(element, toRaw(`${t.name}[${i}]`, element, v)));
      }
      if (isBitTable(t.table)) {
        const b = raw as boolean;
        await this.send(link, kind, [(l, ms) => (cfg.writeFunction === "multiple" ? l.writeCoils(t.unitId, t.address, [b], ms) : l.writeCoil(t.unitId, t.address, b, ms))]);
      } else if (t.type === "bit") {
        // Read-modify-write in one slot: not atomic against other masters writing the same register.
        await this.send(link, kind, [], async (l) => {
          const [current] = await l.readRegisters("holding", t.unitId, t.address, 1, cfg.timeoutMs);
          return [(l2, ms) => l2.writeRegister(t.unitId, t.address, encodeRegisters("bit", raw, { order: t.order, bit: t.bit, current })[0]!, ms)];
        });
      } else {
        const regs = encodeRegisters(t.type, raw, { order: t.order, length: t.length });
        await this.send(link, kind, this.registerWrites(t.unitId, t.address, regs));
      }
      return writtenValue(spec, raw!);
    } catch (err) {
      if (err instanceof TandemError) throw err;
      if (err instanceof CodecError) throw new TandemError("TANDEM_ERR_TAG_VALUE", [t.name, err.message]);
      if (err instanceof ModbusException) throw new TandemError("TANDEM_ERR_TAG_WRITE", [t.name, err.message]);
      if (err instanceof LinkTimeout || err instanceof LinkClosed) {
        this.port.failLink(link, err);
        throw new TandemError("TANDEM_ERR_TAG_WRITE", [t.name, `${cfg.name}: ${err.message}`]);
      }
      throw new TandemError("TANDEM_ERR_TAG_WRITE", [t.name, (err as Error).message]);
    }
  }

  async readWord(address: number, words: 1 | 2): Promise<number> {
    const link = this.port.link();
    const cfg = this.port.cfg;
    const release = await this.port.slot();
    try {
      if (this.port.current() !== link) throw new LinkClosed("connection changed");
      const regs = await link.readRegisters("holding", cfg.unitId, address, words, cfg.timeoutMs);
      this.port.counted(true);
      return Number(decodeRegisters(words === 1 ? "uint16" : "uint32", regs, { order: cfg.byteOrder }));
    } catch (e) {
      this.port.counted(false);
      throw e;
    } finally {
      release();
    }
  }

  /** The watchdog's counter and epoch: operator writes (the held state does not stop the watchdog). */
  async writeWord(address: number, words: 1 | 2, value: number): Promise<void> {
    const link = this.port.link();
    const cfg = this.port.cfg;
    const regs = encodeRegisters(words === 1 ? "uint16" : "uint32", value, { order: cfg.byteOrder });
    await this.send(link, "operator", [(l, ms) => l.writeRegisters(cfg.unitId, address, regs, ms)]);
  }

  /** FC16 for several registers, FC6 for one; `single` sends them one FC6 at a time (devices without FC16). */
  private registerWrites(unit: number, address: number, regs: number[]): Send[] {
    const wf = this.port.cfg.writeFunction;
    if (wf === "multiple" || (wf === "auto" && regs.length > 1)) return [(l, ms) => l.writeRegisters(unit, address, regs, ms)];
    return regs.map((v, i): Send => (l, ms) => l.writeRegister(unit, address + i, v, ms));
  }

  /**
   * Sends the requests one after another in one request slot. Right before
   * each leaves, the link must still be the one in use and the gate must
   * allow a request of this write's timeout — for all the requests still to
   * go, so a write that cannot finish under the lease does not start.
   * `prepare` runs first in the slot (the read of a read-modify-write).
   */
  private async send(link: Link, kind: WriteKind, sends: Send[], prepare?: (link: Link) => Promise<Send[]>): Promise<void> {
    const release = await this.port.slot();
    let inFlight = false;
    const request = async <T>(p: () => Promise<T>): Promise<T> => {
      inFlight = true;
      const out = await p();
      inFlight = false;
      this.port.counted(true);
      return out;
    };
    try {
      if (this.port.current() !== link) throw new LinkClosed("connection changed");
      if (prepare) {
        this.port.gate.check(kind, this.timeoutMs);
        sends = await request(() => prepare(link));
      }
      for (let i = 0; i < sends.length; i++) {
        if (this.port.current() !== link) throw new LinkClosed("connection changed");
        this.port.gate.check(kind, (sends.length - i) * this.timeoutMs);
        await request(() => sends[i]!(link, this.timeoutMs));
      }
    } catch (e) {
      if (inFlight) this.port.counted(false);
      throw e;
    } finally {
      release();
    }
  }
}
