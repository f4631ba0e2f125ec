// The Modbus driver: one instance per device, TCP or RTU, one or more paths
// (endpoints) with failover, coalesced scans per scan class, timeouts and
// retries, reconnection with backoff, exceptions mapped to the quality of the
// tags they cover, and typed writes.
// Size: over 500 lines until it is split (issue 6: one-way layers, smaller rooms).
import { COUNT_CHANNELS, countedFields } from "../core/diagnostics.js";
import type { Logger } from "../core/logger.js";
import { TandemError } from "../core/errors.js";
import { parseEndpoint, parseModbusAddress, resolveModbusType, type ModbusDeviceConfig, type TagConfig } from "./config-schema.js";
import { CodecError, decodeAt, decodeRegisters, encodeRegisters, registerCount, type ByteOrder, type ModbusDataType } from "./modbus-codec.js";
import { coalesce, isBitTable, split, type ModbusTable, type ReadRequest } from "./modbus-coalescer.js";
import { LinkClosed, LinkTimeout, ModbusException, ModbusLink, type Link } from "./modbus-link.js";
import { MbapLink } from "./modbus-tcp-link.js";
import { applyScaling, badSample, scaleToRaw, type Scaling, type TagSample } from "./tag-model.js";
import { realClock, Reconnect, type Clock, type DeviceDriver, type DeviceStatus, type DriverMode, type SampleSink } from "./driver-api.js";

export interface ModbusTag {
  name: string;
  unitId: number;
  table: ModbusTable;
  address: number;
  bit?: number;
  type: ModbusDataType;
  order: ByteOrder;
  length?: number;
  /** registers or bits the tag occupies */
  count: number;
  /** codec options, built once: decoding runs for every tag on every scan */
  codec?: { order: ByteOrder; bit?: number; length?: number };
  scanMs: number;
  writable: boolean;
  scaling?: Scaling;
}

/** Config tag → driver tag (the config was validated by driversSection). */
export function modbusTag(t: TagConfig, dev: ModbusDeviceConfig, defaultScanMs: number): ModbusTag {
  const a = parseModbusAddress(t.address ?? "");
  if (typeof a === "string") throw new Error(`tag ${t.name}: ${a}`);
  const type = resolveModbusType(t.type, a);
  return {
    name: t.name,
    unitId: t.unitId ?? dev.unitId,
    table: a.table,
    address: a.address,
    ...(a.bit === undefined ? {} : { bit: a.bit }),
    type,
    order: t.byteOrder ?? dev.byteOrder,
    ...(t.length === undefined ? {} : { length: t.length }),
    count: isBitTable(a.table) ? 1 : registerCount(type, t.length),
    scanMs: t.scanMs ?? dev.scanMs ?? defaultScanMs,
    writable: t.writable,
    ...(t.scaling ? { scaling: t.scaling } : {}),
  };
}

interface Path {
  label: string;
  open(timeoutMs: number): Promise<Link>;
}

interface ScanClass {
  scanMs: number;
  plan: ReadRequest<ModbusTag>[];
  timer: unknown;
  running: boolean;
  overruns: number;
}

export interface ModbusDriverOptions {
  device: ModbusDeviceConfig;
  tags: ModbusTag[];
  onSample: SampleSink;
  log: Logger;
  clock?: Clock;
  /** called when the path in use changes (null: none) */
  onPath?: (path: string | null) => void;
}

const INTEGER_TYPES = new Set<ModbusDataType>(["int16", "uint16", "int32", "uint32", "int64", "uint64"]);

export class ModbusDriver implements DeviceDriver {
  readonly kind = "modbus" as const;
  readonly device: string;
  private readonly cfg: ModbusDeviceConfig;
  private readonly tags = new Map<string, ModbusTag>();
  private readonly classes: ScanClass[] = [];
  private readonly paths: Path[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onSample: SampleSink;
  private readonly onPath: (p: string | null) => void;

  private mode: DriverMode = "off";
  private stopped = false;
  private link: Link | null = null;
  private pathIndex = 0;
  private connecting: Promise<void> | null = null;
  private readonly reconnect: Reconnect;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private stats = countedFields(COUNT_CHANNELS.driver, () => ({ device: this.device }), { requests: 0, errors: 0, reconnects: 0, exceptions: 0, timeouts: 0, splits: 0 });
  private lastError: string | null = null;
  private everConnected = false;
  /**
   * The device answered since this connection opened. A gateway (or a relay)
   * can accept TCP while the PLC behind it is gone: such a path is not
   * "connected" for health, the service level or the API.
   */
  private answered = false;

  constructor(o: ModbusDriverOptions) {
    this.cfg = o.device;
    this.device = o.device.name;
    this.clock = o.clock ?? realClock;
    this.log = o.log;
    this.onSample = o.onSample;
    this.onPath = o.onPath ?? (() => {});
    this.reconnect = new Reconnect(this.clock, o.device.reconnect, () => this.ensureConnected());
    for (const t of o.tags) this.tags.set(t.name, t);
    const byScan = new Map<number, ModbusTag[]>();
    for (const t of o.tags) byScan.set(t.scanMs, [...(byScan.get(t.scanMs) ?? []), t]);
    const limits = {
      maxRegisters: o.device.maxRegistersPerRequest,
      maxBits: o.device.maxBitsPerRequest,
      maxGapRegisters: o.device.maxGapRegisters,
      maxGapBits: o.device.maxGapBits,
    };
    for (const [scanMs, tags] of [...byScan].sort((a, b) => a[0] - b[0])) {
      const plan = coalesce(
        tags.map((t) => ({ key: t, unitId: t.unitId, table: t.table, address: t.address, count: t.count })),
        limits,
      );
      this.classes.push({ scanMs, plan, timer: null, running: false, overruns: 0 });
    }
    if (o.device.transport === "rtu") {
      this.paths = (o.device.serial ?? []).map((s) => ({ label: s.path, open: (ms: number) => ModbusLink.connectRtu(s, ms) }));
    } else {
      this.paths = (o.device.endpoints ?? []).map((e) => {
        const hp = parseEndpoint(e);
        if (typeof hp === "string") throw new Error(hp);
        const connect = o.device.tcpClient === "tandem" ? MbapLink.connectTcp : ModbusLink.connectTcp;
        return { label: e, open: (ms: number) => connect(hp.host, hp.port, ms) };
      });
    }
  }

  /** The read plan: requests per scan class (for tests and the bench). */
  plan(): { scanMs: number; requests: number; registers: number }[] {
    return this.classes.map((c) => ({ scanMs: c.scanMs, requests: c.plan.length, registers: c.plan.reduce((n, r) => n + r.count, 0) }));
  }

  counters(): Readonly<typeof this.stats> & { overruns: number } {
    return { ...this.stats, overruns: this.classes.reduce((n, c) => n + c.overruns, 0) };
  }

  setMode(mode: DriverMode): void {
    if (this.stopped || mode === this.mode) return;
    const was = this.mode;
    this.mode = mode;
    this.log.info({ device: this.device, from: was, to: mode }, "modbus device mode");
    if (mode === "off") {
      this.stopScans();
      this.reconnect.cancel();
      void this.dropLink("standby cold: not connected");
      this.allBad("not_reading");
      return;
    }
    if (mode === "connect") {
      this.stopScans();
      this.allBad("not_reading");
    } else {
      if (!this.link) this.allBad(this.everConnected ? "comm_lost" : "no_data");
      this.startScans();
    }
    this.ensureConnected();
  }

  status(): DeviceStatus {
    const path = this.link ? this.link.label : null;
    // a reading device must have answered; a warm one (connected, not reading) has only its connection to show
    const up = this.link !== null && (this.answered || this.mode !== "read");
    return {
      device: this.device,
      driver: "modbus",
      mode: this.mode,
      connected: up,
      path,
      endpoints: this.paths.map((p) => ({ endpoint: p.label, connected: up && p.label === path })),
      connections: this.link ? 1 : 0,
      requests: this.stats.requests,
      errors: this.stats.errors,
      reconnects: this.stats.reconnects,
      lastError: this.lastError,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.mode = "off";
    this.stopScans();
    this.reconnect.cancel();
    await this.connecting?.catch(() => {});
    await this.dropLink("driver stopped");
  }

  // ------------------------------------------------------------ connection

  private ensureConnected(): void {
    if (this.stopped || this.mode === "off" || this.link || this.connecting || this.reconnect.pending) return;
    this.connecting = this.connectRound().finally(() => {
      this.connecting = null;
    });
  }

  /** Tries every path once, starting with the current one; backs off when all fail. */
  private async connectRound(): Promise<void> {
    const n = this.paths.length;
    for (let k = 0; k < n; k++) {
      const idx = (this.pathIndex + k) % n;
      const path = this.paths[idx]!;
      try {
        const link = await path.open(this.cfg.timeoutMs);
        if (this.stopped || this.mode === "off") {
          await link.close("not needed any more");
          return;
        }
        this.pathIndex = idx;
        this.link = link;
        this.answered = false;
        if (this.everConnected) this.stats.reconnects++;
        this.everConnected = true;
        this.reconnect.reset();
        link.onClose = (why) => this.lost(link, why);
        this.log.info({ device: this.device, path: path.label }, "modbus connected");
        this.onPath(path.label);
        if (this.mode === "read") for (const c of this.classes) this.scheduleScan(c, 0);
        return;
      } catch (err) {
        this.lastError = `${path.label}: ${(err as Error).message}`;
        this.log.warn({ device: this.device, path: path.label, err: (err as Error).message }, "modbus connect failed");
        if (this.stopped) return;
      }
    }
    // Every path failed: wait, then start again with the preferred one.
    this.pathIndex = 0;
    this.reconnect.schedule();
  }

  /** The connection in use is gone: every tag turns bad now, then the next path is tried. */
  private lost(link: Link, why: string): void {
    if (this.link !== link) return;
    this.link = null;
    this.answered = false;
    this.lastError = `${link.label}: ${why}`;
    this.log.warn({ device: this.device, path: link.label, why }, "modbus connection lost");
    this.onPath(null);
    if (this.mode === "read") this.allBad("comm_lost");
    if (this.stopped || this.mode === "off") return;
    // Fail over: the next path first, the one that failed last.
    if (this.paths.length > 1) this.pathIndex = (this.pathIndex + 1) % this.paths.length;
    this.ensureConnected();
  }

  private async dropLink(why: string): Promise<void> {
    const link = this.link;
    this.link = null;
    if (link) {
      link.onClose = () => {};
      await link.close(why);
      this.onPath(null);
    }
  }

  // ------------------------------------------------------------ scanning

  private startScans(): void {
    if (this.link) for (const c of this.classes) this.scheduleScan(c, 0);
  }

  private stopScans(): void {
    for (const c of this.classes) {
      if (c.timer !== null) this.clock.clearTimeout(c.timer);
      c.timer = null;
    }
  }

  private scheduleScan(c: ScanClass, delay: number): void {
    if (c.timer !== null) this.clock.clearTimeout(c.timer);
    c.timer = this.clock.setTimeout(() => {
      c.timer = null;
      void this.scan(c);
    }, delay);
  }

  private async scan(c: ScanClass): Promise<void> {
    if (this.mode !== "read" || this.stopped) return;
    const link = this.link;
    if (!link) return; // reconnection restarts the scans
    if (c.running) {
      c.overruns++;
      return;
    }
    const started = this.clock.now();
    c.running = true;
    try {
      // Each worker sends its next request before decoding the answer to
      // the previous one, so decoding overlaps the round trip even with one
      // request in flight.
      let next = 0;
      const take = () => (next < c.plan.length ? c.plan[next++] : undefined);
      const workers = Array.from({ length: Math.min(this.cfg.maxInFlight, c.plan.length) }, async () => {
        let r = take();
        let pending = r ? this.fetch(link, r) : null;
        while (r && pending) {
          const result = await pending;
          if (this.link !== link) return;
          const following = take();
          pending = following ? this.fetch(link, following) : null;
          await this.settle(link, r, result);
          r = following;
        }
        // a request sent before the link failed: let it settle quietly
        await pending;
      });
      await Promise.all(workers);
    } finally {
      c.running = false;
    }
    if (this.mode === "read" && !this.stopped && this.link === link) {
      const elapsed = this.clock.now() - started;
      if (elapsed > c.scanMs) c.overruns++;
      this.scheduleScan(c, Math.max(0, c.scanMs - elapsed));
    }
  }

  /** Sends one read (with retries); never rejects: the outcome is a value. */
  private fetch(link: Link, r: ReadRequest<ModbusTag>): Promise<{ ok: true; data: number[] | boolean[] } | { ok: false; err: Error }> {
    return this.withRetries<number[] | boolean[]>(
      link,
      () =>
        isBitTable(r.table)
          ? link.readBits(r.table as "coil" | "discrete", r.unitId, r.address, r.count, this.cfg.timeoutMs)
          : link.readRegisters(r.table as "holding" | "input", r.unitId, r.address, r.count, this.cfg.timeoutMs),
      // A timeout turns the request's tags bad before the retry: with
      // timeoutMs <= scanMs a silent network cut shows within one scan.
      () => {
        const now = this.clock.now();
        if (this.mode === "read") for (const it of r.items) this.onSample(it.key.name, badSample("timeout", now));
      },
    ).then(
      (data) => ({ ok: true as const, data }),
      (err: Error) => ({ ok: false as const, err }),
    );
  }

  private async readRequest(link: Link, r: ReadRequest<ModbusTag>): Promise<void> {
    await this.settle(link, r, await this.fetch(link, r));
  }

  /** Turns the outcome of a read into samples (or splits, or fails the link). */
  private async settle(link: Link, r: ReadRequest<ModbusTag>, result: { ok: true; data: number[] | boolean[] } | { ok: false; err: Error }): Promise<void> {
    if (!result.ok) {
      const err = result.err;
      if (err instanceof ModbusException) {
        this.stats.exceptions++;
        if (r.items.length > 1 && err.code !== 5 && err.code !== 6) {
          // A bridged gap or one bad tag made the device refuse the whole
          // request: read the items one by one so only the bad ones turn bad.
          // (Not for "busy"/"acknowledge": those are the device's state, and
          // splitting would multiply the load on a device that is already busy.)
          // The merged request is tried again next scan, so a fault that
          // clears costs nothing; one that stays costs one request a scan.
          this.stats.splits++;
          for (const one of split(r)) {
            if (this.link !== link) return;
            await this.readRequest(link, one);
          }
          return;
        }
        const now = this.clock.now();
        for (const it of r.items) this.onSample(it.key.name, badSample(err.reason, now));
        return;
      }
      this.failLink(link, err);
      return;
    }
    // reading was switched off (warm standby) while this answer was on its way
    if (this.mode !== "read") return;
    const data = result.data;
    const now = this.clock.now();
    for (const it of r.items) {
      const t = it.key;
      try {
        let value: unknown;
        if (isBitTable(t.table)) value = Boolean((data as unknown[])[it.offset]);
        else value = decodeAt(t.type, data as number[], it.offset, (t.codec ??= { order: t.order, bit: t.bit, length: t.length }));
        const sample: TagSample = { value, quality: "good", sourceTime: now, receivedAt: now };
        this.onSample(t.name, t.scaling ? applyScaling(sample, t.scaling) : sample);
      } catch (e) {
        this.onSample(t.name, badSample(`config: ${(e as Error).message}`, now));
      }
    }
  }

  /** Retries a request that timed out; anything else fails at once. */
  private async withRetries<T>(link: Link, fn: () => Promise<T>, onTimeout?: () => void): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const wait = this.acquire();
      if (wait) await wait;
      this.stats.requests++;
      try {
        const result = await fn();
        if (this.link === link) this.answered = true;
        return result;
      } catch (err) {
        this.stats.errors++;
        if (err instanceof LinkTimeout) this.stats.timeouts++;
        if (!(err instanceof LinkTimeout) || attempt >= this.cfg.retries || this.link !== link) throw err;
        onTimeout?.();
      } finally {
        this.release();
      }
    }
  }

  private failLink(link: Link, err: Error): void {
    if (this.link !== link) return;
    const why = err instanceof LinkTimeout ? `${err.message} after ${this.cfg.retries + 1} attempts` : err.message;
    // Closing fires lost() through onClose: tags turn bad, next path is tried.
    void link.close(why);
    this.lost(link, why);
  }

  /** Takes a request slot: null when one is free now (no await on the hot path), else a promise for the next free one. */
  private acquire(): Promise<void> | null {
    const limit = this.cfg.transport === "rtu" ? 1 : this.cfg.maxInFlight;
    if (this.inFlight < limit) {
      this.inFlight++;
      return null;
    }
    // the slot passes straight from release() to the waiter: inFlight stays counted
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.inFlight--;
  }

  private allBad(reason: string): void {
    const now = this.clock.now();
    for (const t of this.tags.values()) this.onSample(t.name, badSample(reason, now));
  }

  // ------------------------------------------------------------ writes

  async write(name: string, value: unknown): Promise<void> {
    const t = this.tags.get(name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    if (!t.writable) throw new TandemError("TANDEM_ERR_TAG_READ_ONLY", [name]);
    const link = this.link;
    if (!link) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.device, this.lastError ?? "not connected"]);
    let raw = value;
    if (t.scaling) {
      const eng = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
      if (!Number.isFinite(eng)) throw new TandemError("TANDEM_ERR_TAG_VALUE", [name, `expected a number, got ${JSON.stringify(value)}`]);
      raw = scaleToRaw(eng, t.scaling);
      if (INTEGER_TYPES.has(t.type)) raw = Math.round(raw as number);
    }
    try {
      if (isBitTable(t.table)) {
        const b = encodeRegisters("bool", raw, { order: "ABCD" })[0] === 1;
        await this.writeOp(link, () =>
          this.cfg.writeFunction === "multiple" ? link.writeCoils(t.unitId, t.address, [b], this.cfg.timeoutMs) : link.writeCoil(t.unitId, t.address, b, this.cfg.timeoutMs),
        );
        return;
      }
      let current: number | undefined;
      if (t.type === "bit") {
        // Read-modify-write: not atomic against other masters writing the same register.
        const regs = await this.writeOp(link, () => link.readRegisters("holding", t.unitId, t.address, 1, this.cfg.timeoutMs));
        current = regs[0];
      }
      const regs = encodeRegisters(t.type, raw, { order: t.order, bit: t.bit, length: t.length, current });
      await this.writeOp(link, () => this.writeRegs(link, t.unitId, t.address, regs));
    } catch (err) {
      if (err instanceof TandemError) throw err;
      if (err instanceof CodecError) throw new TandemError("TANDEM_ERR_TAG_VALUE", [name, err.message]);
      if (err instanceof ModbusException) throw new TandemError("TANDEM_ERR_TAG_WRITE", [name, err.message]);
      if (err instanceof LinkTimeout || err instanceof LinkClosed) {
        this.failLink(link, err);
        throw new TandemError("TANDEM_ERR_TAG_WRITE", [name, `${this.device}: ${err.message}`]);
      }
      throw new TandemError("TANDEM_ERR_TAG_WRITE", [name, (err as Error).message]);
    }
  }

  private writeRegs(link: Link, unit: number, address: number, regs: number[]): Promise<void> {
    const single = this.cfg.writeFunction === "single" || (this.cfg.writeFunction === "auto" && regs.length === 1);
    if (!single) return link.writeRegisters(unit, address, regs, this.cfg.timeoutMs);
    // Devices that only know FC6 get one register at a time.
    return regs.reduce<Promise<void>>((p, v, i) => p.then(() => link.writeRegister(unit, address + i, v, this.cfg.timeoutMs)), Promise.resolve());
  }

  /** Writes are not retried: a timed-out write may have been applied. */
  private async writeOp<T>(link: Link, fn: () => Promise<T>): Promise<T> {
    if (this.link !== link) throw new LinkClosed("connection changed");
    const wait = this.acquire();
    if (wait) await wait;
    this.stats.requests++;
    try {
      return await fn();
    } catch (e) {
      this.stats.errors++;
      throw e;
    } finally {
      this.release();
    }
  }

  // ------------------------------------------------------------ watchdog

  async readWatchdogWord(where: string, words: 1 | 2): Promise<number> {
    const link = this.requireLink();
    const a = this.holding(where);
    const regs = await this.writeOp(link, () => link.readRegisters("holding", this.cfg.unitId, a, words, this.cfg.timeoutMs));
    return Number(decodeRegisters(words === 1 ? "uint16" : "uint32", regs, { order: this.cfg.byteOrder }));
  }

  async writeWatchdogWord(where: string, words: 1 | 2, value: number): Promise<void> {
    const link = this.requireLink();
    const a = this.holding(where);
    const regs = encodeRegisters(words === 1 ? "uint16" : "uint32", value, { order: this.cfg.byteOrder });
    await this.writeOp(link, () => link.writeRegisters(this.cfg.unitId, a, regs, this.cfg.timeoutMs));
  }

  private requireLink(): Link {
    if (!this.link) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.device, this.lastError ?? "not connected"]);
    return this.link;
  }

  private holding(where: string): number {
    const a = parseModbusAddress(where);
    if (typeof a === "string" || a.table !== "holding") throw new Error(`watchdog address must be hr:N, got '${where}'`);
    return a.address;
  }
}
