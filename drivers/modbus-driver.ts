// The Modbus driver: one instance per device, TCP or RTU, one or more paths
// (endpoints) with failover (drivers/path-supervisor.ts), coalesced scans per
// scan class, timeouts and retries, exceptions mapped to the quality of the
// tags they cover. Writes: drivers/modbus-write.ts.
import { COUNT_CHANNELS, countedFields } from "../core/diagnostics.js";
import type { Logger } from "../core/logger.js";
import { TandemError } from "../core/errors.js";
import { parseEndpoint, parseModbusAddress, type ModbusDeviceConfig } from "./config-schema.js";
import { decodeTag } from "./modbus-array.js";
import { coalesce, isBitTable, split, type ReadRequest } from "./modbus-coalescer.js";
import { LinkTimeout, ModbusException, ModbusLink, type Link } from "./modbus-link.js";
import { MbapLink } from "./modbus-tcp-link.js";
import type { ModbusTag } from "./modbus-tag.js";
import { ModbusWriter } from "./modbus-write.js";
import { PathSupervisor } from "./path-supervisor.js";
import { tcpProbe } from "./tcp-probe.js";
import { applyScaling, badSample, type TagSample } from "./tag-model.js";
import { closedGate, realClock, type Clock, type DeviceDriver, type DeviceStatus, type DriverMode, type SampleSink, type WriteGate, type WriteKind } from "./driver-api.js";

export { modbusTag, type ModbusTag } from "./modbus-tag.js";

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
  /** asked right before every write request leaves; without one, no write leaves */
  gate?: WriteGate;
  /** called when the path in use changes (null: none) */
  onPath?: (path: string | null) => void;
}

/** Request slots on one connection: at most `limit` requests in flight. */
class Slots {
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  /** null when a slot is free now (no await on the hot path), else a promise for the next free one */
  acquire(): Promise<void> | null {
    if (this.inFlight < this.limit) {
      this.inFlight++;
      return null;
    }
    // the slot passes straight from release() to the waiter: inFlight stays counted
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.inFlight--;
  }
}

/** A read request as the device sees it: unit, table, first address, count. */
function refusalKey(r: ReadRequest<ModbusTag>): string {
  return `${r.unitId}/${r.table}/${r.address}/${r.count}`;
}

export class ModbusDriver implements DeviceDriver {
  readonly kind = "modbus" as const;
  readonly device: string;
  private readonly cfg: ModbusDeviceConfig;
  private readonly tags = new Map<string, ModbusTag>();
  private readonly classes: ScanClass[] = [];
  private readonly clock: Clock;
  private readonly onSample: SampleSink;
  private readonly paths: PathSupervisor<Link>;
  private readonly slots: Slots;
  private readonly writer: ModbusWriter;
  private readonly log: Logger;
  /**
   * A request went overdue on the connection in use and every tag was turned
   * bad (`timeout`): the next answer rescans every scan class at once.
   */
  private overdue = false;
  /** requests refused with an exception (by refusalKey, with the code), logged once until they are answered again */
  private readonly refusals = new Map<string, { r: ReadRequest<ModbusTag>; code: number }>();
  private stats = countedFields(COUNT_CHANNELS.driver, () => ({ device: this.device }), { requests: 0, errors: 0, exceptions: 0, timeouts: 0, splits: 0 });
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
    this.onSample = o.onSample;
    // the one place the device's name joins its log lines
    this.log = o.log.child({ device: this.device });
    this.slots = new Slots(o.device.transport === "rtu" ? 1 : o.device.maxInFlight);
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
    let labels: string[];
    let open: (i: number) => Promise<Link>;
    let probe: ((i: number, signal: AbortSignal) => Promise<boolean>) | undefined;
    if (o.device.transport === "rtu") {
      const ports = o.device.serial ?? [];
      labels = ports.map((s) => s.path);
      open = (i) => ModbusLink.connectRtu(ports[i]!, this.cfg.timeoutMs);
    } else {
      labels = o.device.endpoints ?? [];
      const hosts = labels.map((e) => {
        const hp = parseEndpoint(e);
        if (typeof hp === "string") throw new Error(hp);
        return hp;
      });
      const connect = o.device.tcpClient === "tandem" ? MbapLink.connectTcp : ModbusLink.connectTcp;
      open = (i) => connect(hosts[i]!.host, hosts[i]!.port, this.cfg.timeoutMs);
      probe = (i, signal) => tcpProbe(hosts[i]!.host, hosts[i]!.port, this.cfg.timeoutMs, signal);
    }
    this.paths = new PathSupervisor<Link>(
      { kind: "modbus", device: this.device, paths: labels, clock: this.clock, log: this.log, reconnect: o.device.reconnect, onPath: o.onPath ?? (() => {}) },
      {
        open,
        close: (link, why) => (link.isClosed ? Promise.resolve() : link.close(why)),
        watch: (link, lost) => (link.onClose = lost),
        adopted: () => {
          this.answered = false;
          this.overdue = false;
          if (this.mode === "read") this.startScans();
        },
        setReading: (_link, on) => {
          if (on) return this.startScans();
          this.stopScans();
          this.allBad("not_reading");
        },
        halt: () => this.stopScans(),
        allBad: (reason) => this.allBad(reason),
        up: () => this.answered || this.mode !== "read",
        ...(probe ? { probe } : {}),
      },
    );
    const gate = o.gate ?? closedGate;
    this.writer = new ModbusWriter({
      cfg: this.cfg,
      gate,
      link: () => this.requireLink(),
      current: () => this.link,
      slot: async () => {
        const wait = this.slots.acquire();
        if (wait) await wait;
        return () => this.slots.release();
      },
      counted: (ok) => {
        this.stats.requests++;
        if (!ok) this.stats.errors++;
      },
      failLink: (link, err) => this.failLink(link, err),
    });
  }

  private get link(): Link | null {
    return this.paths.conn;
  }

  private get mode(): DriverMode {
    return this.paths.mode;
  }

  /** The read plan: requests per scan class (for tests and the bench). */
  plan(): { scanMs: number; requests: number; registers: number }[] {
    return this.classes.map((c) => ({ scanMs: c.scanMs, requests: c.plan.length, registers: c.plan.reduce((n, r) => n + r.count, 0) }));
  }

  counters(): Readonly<typeof this.stats> & { reconnects: number; overruns: number } {
    return { ...this.stats, reconnects: this.paths.reconnects, overruns: this.classes.reduce((n, c) => n + c.overruns, 0) };
  }

  setMode(mode: DriverMode): void {
    this.paths.setMode(mode);
  }

  status(): DeviceStatus {
    return this.paths.status(this.stats);
  }

  async stop(): Promise<void> {
    await this.paths.stop();
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
    if (this.mode !== "read" || this.paths.stopped) return;
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
    if (this.mode === "read" && !this.paths.stopped && this.link === link) {
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
      // A request overdue turns every tag of the device bad before the retry,
      // not only the ones it carries: the others wait on the same connection
      // (behind it, or in the next scan), so none of them is current either.
      // With timeoutMs <= scanMs a silent cut or a frozen PLC shows within one scan.
      () => this.wentOverdue(link),
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
        this.logRefusal(r, err);
        return;
      }
      this.failLink(link, err);
      return;
    }
    if (this.refusals.size > 0) this.forgetRefusals(r);
    // reading was switched off (warm standby) while this answer was on its way
    if (this.mode !== "read") return;
    const data = result.data;
    const now = this.clock.now();
    for (const it of r.items) {
      const t = it.key;
      try {
        let value: unknown;
        value = decodeTag(t, data as unknown[], it.offset);
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
      const wait = this.slots.acquire();
      if (wait) await wait;
      this.stats.requests++;
      try {
        const result = await fn();
        if (this.link === link && (!this.answered || this.overdue)) this.answering();
        return result;
      } catch (err) {
        this.stats.errors++;
        if (err instanceof LinkTimeout) this.stats.timeouts++;
        if (!(err instanceof LinkTimeout) || attempt >= this.cfg.retries || this.link !== link) throw err;
        onTimeout?.();
      } finally {
        this.slots.release();
      }
    }
  }

  private failLink(link: Link, err: Error): void {
    if (this.link !== link) return;
    const timedOut = err instanceof LinkTimeout;
    const why = timedOut ? `${err.message} after ${this.cfg.retries + 1} attempts` : err.message;
    // lost() closes the link; a device that stopped answering keeps the reason its tags already show
    this.paths.lost(link, why, timedOut ? "timeout" : "comm_lost");
  }

  /** A request on the connection in use got no answer in time: every tag is bad now, with one reason. */
  private wentOverdue(link: Link): void {
    if (this.link !== link || this.mode !== "read") return;
    if (!this.overdue) this.log.warn({ path: link.label, timeoutMs: this.cfg.timeoutMs }, "modbus device does not answer: every tag bad (timeout) until it does");
    this.overdue = true;
    this.allBad("timeout");
  }

  /** The device answered: the first answer on a connection proves it; an answer after an overdue request rescans everything now. */
  private answering(): void {
    if (!this.answered) {
      this.answered = true;
      this.paths.confirmed();
    }
    if (!this.overdue) return;
    this.overdue = false;
    this.log.info("modbus device answers again: rescanning every tag");
    for (const c of this.classes) if (!c.running) this.scheduleScan(c, 0);
  }

  /** A read answered: the refusals it covers (itself, or the one-tag requests it was split into) are over. */
  private forgetRefusals(r: ReadRequest<ModbusTag>): void {
    for (const [key, x] of this.refusals)
      if (x.r.unitId === r.unitId && x.r.table === r.table && x.r.address >= r.address && x.r.address + x.r.count <= r.address + r.count) this.refusals.delete(key);
  }

  /** An exception answer reaches the log once per request (and code), with the tags it covers, until the request is answered again. */
  private logRefusal(r: ReadRequest<ModbusTag>, err: ModbusException): void {
    const key = refusalKey(r);
    if (this.refusals.get(key)?.code === err.code) return;
    this.refusals.set(key, { r, code: err.code });
    const table = { holding: "hr", input: "ir", coil: "co", discrete: "di" }[r.table] ?? r.table;
    const where = `${table}:${r.address}${r.count > 1 ? `..${r.address + r.count - 1}` : ""}`;
    this.log.warn(
      { unitId: r.unitId, address: where, tags: r.items.map((it) => it.key.name), exception: err.reason },
      `modbus device refuses ${where} (${err.reason}): ${r.items.length === 1 ? "tag" : "tags"} ${r.items.map((it) => it.key.name).join(", ")} bad until it answers`,
    );
  }

  private allBad(reason: string): void {
    const now = this.clock.now();
    for (const t of this.tags.values()) this.onSample(t.name, badSample(reason, now));
  }

  // ------------------------------------------------------------ writes and the watchdog

  async write(name: string, value: unknown, kind: WriteKind): Promise<unknown> {
    const t = this.tags.get(name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    if (!t.writable) throw new TandemError("TANDEM_ERR_TAG_READ_ONLY", [name]);
    return this.writer.write(t, value, kind);
  }

  readWatchdogWord(where: string, words: 1 | 2): Promise<number> {
    return this.writer.readWord(this.holding(where), words);
  }

  writeWatchdogWord(where: string, words: 1 | 2, value: number): Promise<void> {
    return this.writer.writeWord(this.holding(where), words, value);
  }

  private requireLink(): Link {
    if (!this.link) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.device, this.paths.lastError ?? "not connected"]);
    return this.link;
  }

  private holding(where: string): number {
    const a = parseModbusAddress(where);
    if (typeof a === "string" || a.table !== "holding") throw new Error(`watchdog address must be hr:N, got '${where}'`);
    return a.address;
  }
}
