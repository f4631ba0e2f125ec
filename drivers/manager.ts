// The driver manager: builds one driver per device from the config, sets
// each device's connection mode from the node's state (active: read; standby:
// the device's hot/warm/cold), publishes tag values on the tag bus with
// deadband, gates every write (the node's WriteGate, then the PLC fence) and
// reports driver health as a service-level penalty.
import path from "node:path";
// node-opcua is loaded only when an OPC UA device is configured (start()):
// it is a large import, and on Node 20 it prints a warning about RSA PKCS#1
// v1.5 at load time that says nothing to a site without OPC UA.
import type { OPCUACertificateManager } from "node-opcua";
import type { Logger } from "../core/logger.js";
import { ConfigError, TandemError } from "../core/errors.js";
import type { LogSource } from "../core/logger.js";
import { checkWatchdog, checkWriteTimeouts, type DeviceConfig, type DriversConfig, type ModbusDeviceConfig, type OpcuaDeviceConfig, type WatchdogConfig } from "./config-schema.js";
import { realClock, type Clock, type DeviceDriver, type DeviceStatus, type DriverMode, type WriteGate, type WriteKind } from "./driver-api.js";
import { ModbusDriver, modbusTag } from "./modbus-driver.js";
import { TagBus } from "./tag-bus.js";
import { checkLimits } from "./tag-value.js";
import { passesDeadband, toSnapshot, withConfirmation, type TagMeta, type TagSample, type TagSnapshot } from "./tag-model.js";
import { WatchdogLoop, type WatchdogView } from "./watchdog.js";

export type { TagSnapshot } from "./tag-model.js";
export type { WriteGate, WriteKind } from "./driver-api.js";

export interface DriverManagerOptions {
  drivers: DriversConfig;
  watchdog?: WatchdogConfig;
  dataDir: string;
  logs: LogSource;
  gate: WriteGate;
  clock?: Clock;
}

/** Penalties subtracted from the node's service level (0–255). */
export const PENALTY = {
  /** a device this node should be reading is unreachable: bigger than the default takeover margin (50) */
  deviceLost: 60,
  /** connected through an alternate path */
  alternatePath: 5,
  /** this node's epoch is below the PLC fence */
  fenced: 200,
  max: 250,
} as const;

interface Entry {
  meta: TagMeta;
  deadband: number;
  published?: TagSample;
  /** when a read last confirmed the published value (every sample, changed or not), ms since the epoch */
  confirmedAt?: number;
}

export class DriverManager {
  readonly bus = new TagBus();
  private readonly cfg: DriversConfig;
  private readonly log: Logger;
  private readonly gate: WriteGate;
  private readonly clock: Clock;
  private readonly dataDir: string;
  private readonly devices = new Map<string, { cfg: DeviceConfig; driver: DeviceDriver }>();
  private readonly entries = new Map<string, Entry>();
  private readonly tagDevice = new Map<string, string>();
  private readonly watchdogCfg?: WatchdogConfig;
  private watchdog: WatchdogLoop | null = null;
  private pki: OPCUACertificateManager | null = null;
  /** does this node drive the plant (active or active-held)? */
  private isActing = false;
  private epoch = 0;
  private started = false;

  constructor(opts: DriverManagerOptions) {
    this.cfg = opts.drivers;
    this.log = opts.logs.get("drivers");
    this.gate = opts.gate;
    this.clock = opts.clock ?? realClock;
    this.dataDir = opts.dataDir;
    this.watchdogCfg = opts.watchdog;
    const issues = [
      ...checkWatchdog(opts.drivers, opts.watchdog),
      ...(opts.gate.leaseBudgetMs === undefined ? [] : checkWriteTimeouts(opts.drivers, opts.gate.leaseBudgetMs)),
    ];
    if (issues.length) throw new ConfigError(issues.map((i) => ({ path: i.path.join("."), message: i.message })));
    this.bus.onListenerError = (err, tag) => this.log.error({ err, tag }, "tag bus subscriber failed");
    for (const t of this.cfg.tags) {
      const dev = this.cfg.devices.find((d) => d.name === t.device)!;
      this.entries.set(t.name, {
        meta: {
          name: t.name,
          driver: dev.driver,
          device: dev.name,
          writable: t.writable,
          ...(t.units === undefined ? {} : { units: t.units }),
          ...(t.description === undefined ? {} : { description: t.description }),
          ...(t.min === undefined ? {} : { min: t.min }),
          ...(t.max === undefined ? {} : { max: t.max }),
        },
        deadband: t.deadband,
      });
      this.tagDevice.set(t.name, dev.name);
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // One client certificate for the node, shared by every OPC UA device. A
    // device that trusts unknown server certificates makes the shared store do so.
    const ua = this.cfg.devices.filter((d): d is OpcuaDeviceConfig => d.driver === "opcua");
    const opcua = ua.length ? await import("./opcua-driver.js") : null;
    if (opcua) {
      const { OPCUACertificateManager } = await import("node-opcua");
      this.pki = new OPCUACertificateManager({
        rootFolder: path.join(this.dataDir, "pki", "opcua-client"),
        automaticallyAcceptUnknownCertificate: ua.some((d) => d.trustUnknownServerCertificate),
      });
      await this.pki.initialize();
    }
    for (const dev of this.cfg.devices) {
      const tags = this.cfg.tags.filter((t) => t.device === dev.name);
      const onSample = (name: string, s: TagSample) => this.onSample(name, s);
      // the drivers bind the device's name to their own lines (once: a key given twice is written twice)
      const log = this.log;
      const devLog = this.log.child({ device: dev.name });
      const onPath = (p: string | null) => devLog.info({ path: p }, p ? "device path in use" : "device has no path");
      const driver: DeviceDriver =
        dev.driver === "modbus"
          ? new ModbusDriver({ device: dev as ModbusDeviceConfig, tags: tags.map((t) => modbusTag(t, dev as ModbusDeviceConfig, this.cfg.scanMs)), onSample, log, clock: this.clock, gate: this.gate, onPath })
          : new opcua!.OpcuaDriver({
              device: dev as OpcuaDeviceConfig,
              tags: tags.map((t) => opcua!.opcuaTag(t, dev as OpcuaDeviceConfig, this.cfg.scanMs)),
              onSample,
              onConfirm: (samples, at) => this.onConfirm(samples, at),
              log,
              clock: this.clock,
              gate: this.gate,
              onPath,
              pkiDir: path.join(this.dataDir, "pki", "opcua-client"),
              ...(this.pki ? { certificateManager: this.pki } : {}),
            });
      this.devices.set(dev.name, { cfg: dev, driver });
    }
    // every tag is visible (bad, no_data) from the start
    for (const e of this.entries.values()) this.bus.publish(toSnapshot(e.meta, undefined));
    if (this.watchdogCfg) {
      const d = this.devices.get(this.watchdogCfg.device)!;
      const mayWrite = () => {
        try {
          // the pair's gate (active, lease valid); the held state does not stop the
          // watchdog: the fence must carry the new epoch from the first cycle
          this.gate.check("operator");
          return true;
        } catch {
          return false;
        }
      };
      this.watchdog = new WatchdogLoop(this.watchdogCfg, d.driver, this.clock, this.log.child({ sub: "watchdog" }), mayWrite);
      this.watchdog.setRole(this.acting(), this.epoch);
      this.watchdog.start();
    }
    this.applyModes();
  }

  async stop(): Promise<void> {
    await this.watchdog?.stop();
    this.watchdog = null;
    await Promise.all([...this.devices.values()].map((d) => d.driver.stop()));
    this.devices.clear();
    await this.pki?.dispose().catch(() => {});
    this.pki = null;
    this.started = false;
  }

  /** The node's role as the drivers need it: acting (active or active-held) and the epoch. */
  setRole(acting: boolean, epoch: number): void {
    const changed = acting !== this.isActing || epoch !== this.epoch;
    this.isActing = acting;
    this.epoch = epoch;
    if (!changed) return;
    this.watchdog?.setRole(this.acting(), epoch);
    if (this.started) this.applyModes();
  }

  private acting(): boolean {
    return this.isActing;
  }

  /** active/active-held read every device; any other state follows the device's standby mode. */
  modeFor(dev: DeviceConfig): DriverMode {
    if (this.acting()) return "read";
    return dev.standby === "hot" ? "read" : dev.standby === "warm" ? "connect" : "off";
  }

  private applyModes(): void {
    for (const { cfg, driver } of this.devices.values()) driver.setMode(this.modeFor(cfg));
  }

  /**
   * Every sample confirms the tag (confirmedAt); only one that passes the
   * deadband or changes quality/reason is published on the bus, so
   * subscribers see changes while the API sees how fresh the value is.
   */
  private onSample(name: string, s: TagSample): void {
    const e = this.entries.get(name);
    if (!e) return;
    e.confirmedAt = s.receivedAt;
    if (!passesDeadband(e.published, s, e.deadband)) return;
    e.published = s;
    this.bus.publish(toSnapshot(e.meta, s));
  }

  /**
   * The device says these samples still hold at `at`: a tag that shows that
   * very value and quality is confirmed (nothing published: nothing changed);
   * one that shows something else (it was marked bad meanwhile) takes the
   * sample as a new one.
   */
  private onConfirm(samples: ReadonlyMap<string, TagSample>, at: number): void {
    for (const [name, s] of samples) {
      const e = this.entries.get(name);
      if (!e) continue;
      const p = e.published;
      if (p && p.quality === s.quality && p.reason === s.reason && p.value === s.value) e.confirmedAt = at;
      else this.onSample(name, { ...s, receivedAt: at });
    }
  }

  /** The built-in type the device gave a tag's value (OPC UA devices, once a value came), for the node's OPC UA server */
  sourceType(name: string): string | undefined {
    const dev = this.devices.get(this.tagDevice.get(name) ?? "");
    return dev?.driver.sourceType?.(name);
  }

  /** Every tag as the API shows it: the latest snapshot, when a read last confirmed it, and its age from then. */
  tags(): TagSnapshot[] {
    const now = this.clock.now();
    return [...this.entries.values()].map((e) => this.view(e, now));
  }

  tag(name: string): TagSnapshot | undefined {
    const e = this.entries.get(name);
    return e && this.view(e, this.clock.now());
  }

  private view(e: Entry, now: number): TagSnapshot {
    const snap = this.bus.get(e.meta.name) ?? toSnapshot(e.meta, e.published);
    return withConfirmation(snap, e.confirmedAt ?? null, now);
  }

  /**
   * Writes a tag on the PLC. Order: the tag exists and is writable, the
   * value is finite and within the tag's engineering limits, the node's gate allows it (active; process writes not while held), the PLC
   * fence (read fresh) does not hold a higher epoch (a lower one: this epoch's
   * first write raises it first), the gate again, then the
   * driver, which converts the value and asks the gate once more at the
   * moment the request leaves, for the request's timeout (the request may
   * wait for a slot behind scan reads, or for a data-type lookup). Resolves
   * with the value the PLC now holds (JSON, engineering units).
   */
  async write(name: string, value: unknown, kind: WriteKind): Promise<unknown> {
    const e = this.entries.get(name);
    if (!e) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    if (!e.meta.writable) throw new TandemError("TANDEM_ERR_TAG_READ_ONLY", [name]);
    checkLimits(name, e.meta, value);
    this.gate.check(kind);
    if (this.watchdog && this.watchdogCfg?.fence) {
      let fence: number;
      try {
        fence = await this.watchdog.readFence();
      } catch (err) {
        throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.watchdogCfg.device, `cannot read the PLC fence, so no write leaves this node (${(err as Error).message})`]);
      }
      if (fence > this.epoch) throw new TandemError("TANDEM_ERR_FENCED", [fence, this.epoch]);
      // the gate again: the state may have changed while the fence was read
      this.gate.check(kind);
      if (fence < this.epoch) {
        // this epoch's first write: the fence holds it before the write leaves (an older active reading it then stops)
        try {
          await this.watchdog.raiseFence();
        } catch (err) {
          throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.watchdogCfg.device, `cannot raise the PLC fence to epoch ${this.epoch}, so no write leaves this node (${(err as Error).message})`]);
        }
        this.gate.check(kind);
      }
    }
    const dev = this.devices.get(e.meta.device);
    if (!dev) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [e.meta.device, "drivers not started"]);
    this.log.info({ tag: name, kind, epoch: this.epoch }, "tag write");
    return dev.driver.write(name, value, kind);
  }

  /**
   * Has every device this node should reach had its first connect attempt
   * (connected, or failed with a reason)? Until then its health says little.
   */
  firstAttemptsDone(): boolean {
    for (const { cfg, driver } of this.devices.values()) {
      if (this.modeFor(cfg) === "off") continue;
      if (!driver.status().attempted) return false;
    }
    return this.started;
  }

  /** Driver health as a penalty on the node's service level (0 = all good). */
  health(): { penalty: number; reasons: string[] } {
    let penalty = 0;
    const reasons: string[] = [];
    for (const { cfg, driver } of this.devices.values()) {
      const mode = this.modeFor(cfg);
      if (mode === "off") continue; // cold standby: nothing known, nothing held against the node
      const st = driver.status();
      if (!st.connected) {
        penalty += PENALTY.deviceLost;
        reasons.push(`device ${cfg.name} unreachable${st.lastError ? ` (${st.lastError})` : ""}`);
      } else if (st.path !== null && st.endpoints.length > 1 && st.path !== st.endpoints[0]!.endpoint) {
        penalty += PENALTY.alternatePath;
        reasons.push(`device ${cfg.name} on alternate path ${st.path}`);
      }
    }
    const w = this.watchdog?.view();
    if (w?.fenced) {
      penalty += PENALTY.fenced;
      reasons.push(`PLC fence holds epoch ${w.plcEpoch}, this node has ${this.epoch}`);
    }
    return { penalty: Math.min(PENALTY.max, penalty), reasons };
  }

  /** One row per device endpoint: whether this node holds a connection there, and which path is in use. */
  connections(): { device: string; endpoint: string; connected: boolean; path?: string }[] {
    const out: { device: string; endpoint: string; connected: boolean; path?: string }[] = [];
    for (const { driver } of this.devices.values()) {
      const st = driver.status();
      st.endpoints.forEach((ep, i) => {
        out.push({ device: st.device, endpoint: ep.endpoint, connected: ep.connected, ...(ep.connected ? { path: i === 0 ? "preferred" : `alternate ${i}` } : {}) });
      });
    }
    return out;
  }

  /**
   * For each device this node reads now (mode "read"): when a read last
   * confirmed a good value of any of its tags (ms since the epoch), or null
   * when none yet. Cheap enough to ask every second (no snapshots made).
   */
  lastGoodByDevice(): Map<string, number | null> {
    const out = new Map<string, number | null>();
    for (const [name, d] of this.devices) if (d.driver.status().mode === "read") out.set(name, null);
    for (const e of this.entries.values()) {
      if (!out.has(e.meta.device) || e.published?.quality !== "good" || e.confirmedAt === undefined) continue;
      const had = out.get(e.meta.device) ?? null;
      if (had === null || e.confirmedAt > had) out.set(e.meta.device, e.confirmedAt);
    }
    return out;
  }

  /** Full status of every device (mode, path, counters), for the API and metrics. */
  deviceStatus(): DeviceStatus[] {
    return [...this.devices.values()].map((d) => d.driver.status());
  }

  /** The PLC watchdog as this node sees it (usable as the witness vote); configured: false without one. */
  watchdogView(): WatchdogView {
    return this.watchdog?.view() ?? { configured: false, counter: null, plcEpoch: null, msSinceChange: null, counterStale: false, fenced: false, error: null };
  }
}
