// The OPC UA driver (node-opcua client): one instance per device. A session
// with one subscription; tags become monitored items grouped by sampling
// interval, queue size and deadband. Status codes map to quality
// (opcua-values.ts).
//
// Reconnection is ours (drivers/path-supervisor.ts), not node-opcua's: on a
// lost connection every tag turns bad at once, the client is dropped and a
// new connection, session and subscription are built on the next path (or,
// with non-transparent redundancy, on the server with the highest
// ServiceLevel), with every monitored item restored. That makes path failover
// and server failover the same code, and a new session never depends on the
// old server's memory.
//
// A server that stops answering with its TCP connection open (a frozen
// process) is noticed by our own liveness check: the subscription asks for a
// keep-alive at least every max(publishingIntervalMs, 500 ms); when no publish
// response (data or keep-alive) has come for that period plus
// max(publishingIntervalMs, 1 s), every tag turns bad (`timeout`) at once and
// the connection is dropped. Every publish response also confirms the values
// the tags hold (confirmedAt): no change notification means no change.
import {
  AttributeIds,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  OPCUACertificateManager,
  TimestampsToReturn,
  Variant,
  type ClientMonitoredItemBase,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type OPCUAClient,
  type StatusCode,
} from "node-opcua";
import { COUNT_CHANNELS, countedFields } from "../core/diagnostics.js";
import type { Logger } from "../core/logger.js";
import { TandemError } from "../core/errors.js";
import { writeTimeoutOf, type OpcuaDeviceConfig, type TagConfig } from "./config-schema.js";
import { closedGate, realClock, type Clock, type DeviceDriver, type DeviceStatus, type DriverMode, type ConfirmSink, type SampleSink, type WriteGate, type WriteKind } from "./driver-api.js";
import { createClient, identity } from "./opcua-client.js";
import { qualityOf, toWrite } from "./opcua-values.js";
import { PathSupervisor } from "./path-supervisor.js";
import { applyScaling, badSample, type Scaling, type TagSample } from "./tag-model.js";
import { opcTcpHostPort, tcpProbe } from "./tcp-probe.js";

export { browseVariables, type BrowsedVariable } from "./opcua-browse.js";
export { qualityOf } from "./opcua-values.js";

export interface OpcuaTag {
  name: string;
  nodeId: string;
  samplingMs: number;
  queueSize: number;
  deadband: number;
  writable: boolean;
  scaling?: Scaling;
}

export function opcuaTag(t: TagConfig, dev: OpcuaDeviceConfig, defaultScanMs: number): OpcuaTag {
  return {
    name: t.name,
    nodeId: t.nodeId ?? "",
    samplingMs: t.scanMs ?? dev.scanMs ?? defaultScanMs,
    queueSize: t.queueSize ?? 1,
    deadband: t.deadband,
    writable: t.writable,
    ...(t.scaling ? { scaling: t.scaling } : {}),
  };
}

interface Conn {
  client: OPCUAClient;
  session: ClientSession;
  subscription: ClientSubscription;
  endpoint: string;
}

export interface OpcuaDriverOptions {
  device: OpcuaDeviceConfig;
  tags: OpcuaTag[];
  onSample: SampleSink;
  /** every publish response confirms the tags' last samples; without one, each is sent to onSample again */
  onConfirm?: ConfirmSink;
  log: Logger;
  /** where the client's certificate and trust lists live (data dir of the node) */
  pkiDir: string;
  /** a certificate manager shared by the node's OPC UA devices (then not disposed by this driver) */
  certificateManager?: OPCUACertificateManager;
  clock?: Clock;
  /** asked right before every write request leaves; without one, no write leaves */
  gate?: WriteGate;
  onPath?: (path: string | null) => void;
}

export class OpcuaDriver implements DeviceDriver {
  readonly kind = "opcua" as const;
  readonly device: string;
  private readonly cfg: OpcuaDeviceConfig;
  private readonly tags = new Map<string, OpcuaTag>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onSample: SampleSink;
  private readonly onConfirm: ConfirmSink;
  private readonly gate: WriteGate;
  private readonly writeTimeoutMs: number;
  private readonly pki: OPCUACertificateManager;
  private readonly ownPki: boolean;
  private pkiReady: Promise<void> | null = null;
  private readonly paths: PathSupervisor<Conn>;
  private pollTimer: unknown = null;
  private monitored: ClientMonitoredItemBase[] = [];
  private readonly dataTypes = new Map<string, DataType>();
  private readonly serviceLevels = new Map<string, number>();
  private stats = countedFields(COUNT_CHANNELS.driver, () => ({ device: this.device }), { requests: 0, errors: 0, notifications: 0 });
  /** each tag's last sample from the server on the connection in use, confirmed again by every publish response */
  private readonly fromServer = new Map<string, TagSample>();
  /** the liveness check of the connection in use */
  private liveness: unknown = null;
  private lastHeard = 0;

  constructor(o: OpcuaDriverOptions) {
    this.cfg = o.device;
    this.device = o.device.name;
    this.clock = o.clock ?? realClock;
    // the one place the device's name joins its log lines
    this.log = o.log.child({ device: this.device });
    this.onSample = o.onSample;
    this.onConfirm = o.onConfirm ?? ((samples, at) => samples.forEach((s, name) => this.onSample(name, { ...s, receivedAt: at })));
    this.gate = o.gate ?? closedGate;
    this.writeTimeoutMs = writeTimeoutOf(o.device);
    for (const t of o.tags) this.tags.set(t.name, t);
    this.ownPki = !o.certificateManager;
    this.pki =
      o.certificateManager ??
      new OPCUACertificateManager({
        rootFolder: o.pkiDir,
        automaticallyAcceptUnknownCertificate: o.device.trustUnknownServerCertificate,
      });
    const eps = o.device.endpoints;
    this.paths = new PathSupervisor<Conn>(
      { kind: "opcua", device: this.device, paths: eps, clock: this.clock, log: this.log, reconnect: o.device.reconnect, onPath: o.onPath ?? (() => {}) },
      {
        open: (i) => this.open(eps[i]!),
        close: (c) => this.closeConn(c),
        watch: (c, lost) => {
          c.client.on("connection_lost", () => lost("connection lost"));
          c.session.on("session_closed", () => lost("session closed"));
          c.subscription.on("terminated", () => lost("subscription terminated"));
          c.subscription.on("raw_notification", () => this.heard(c));
          this.watchLiveness(c);
        },
        adopted: async (c) => {
          if (this.paths.mode === "read") await this.setReading(c, true);
          else this.allBad("not_reading");
          if (this.cfg.redundancy === "non-transparent") this.schedulePoll();
        },
        setReading: (c, on) => this.setReading(c, on),
        released: () => {
          this.monitored = [];
          this.fromServer.clear();
          this.stopLiveness();
        },
        halt: () => {
          if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer);
          this.pollTimer = null;
        },
        allBad: (reason) => this.allBad(reason),
        order: (from) => this.order(from),
        probe: (i, signal) => {
          const hp = opcTcpHostPort(eps[i]!);
          return hp ? tcpProbe(hp.host, hp.port, Math.min(this.cfg.requestTimeoutMs, 2000), signal) : Promise.resolve(false);
        },
      },
    );
  }

  private get conn(): Conn | null {
    return this.paths.conn;
  }

  counters(): Readonly<typeof this.stats> & { reconnects: number } {
    return { ...this.stats, reconnects: this.paths.reconnects };
  }

  setMode(mode: DriverMode): void {
    this.paths.setMode(mode);
  }

  sourceType(name: string): string | undefined {
    const t = this.tags.get(name);
    const dt = t && this.dataTypes.get(t.nodeId);
    return dt === undefined ? undefined : DataType[dt];
  }

  status(): DeviceStatus {
    return this.paths.status(this.stats, (e) => (this.serviceLevels.has(e) ? { serviceLevel: this.serviceLevels.get(e)! } : {}));
  }

  async stop(): Promise<void> {
    await this.paths.stop();
    if (this.ownPki) await this.pki.dispose().catch(() => {});
  }

  // ------------------------------------------------------------ connection

  /** Paths: from the one last used. Non-transparent redundancy: every server's ServiceLevel, best first. */
  private async order(from: number): Promise<number[]> {
    this.pkiReady ??= this.pki.initialize();
    await this.pkiReady;
    const eps = this.cfg.endpoints;
    if (this.cfg.redundancy !== "non-transparent") return eps.map((_, k) => (from + k) % eps.length);
    const levels = await Promise.all(eps.map((e) => this.probeServiceLevel(e)));
    eps.forEach((e, i) => this.serviceLevels.set(e, levels[i]!));
    return levels
      .map((l, i) => ({ l, i }))
      .filter((x) => x.l > 0)
      .sort((a, b) => b.l - a.l || a.i - b.i)
      .map((x) => x.i);
  }

  private newClient(): OPCUAClient {
    return createClient({ securityMode: this.cfg.securityMode, ...(this.cfg.securityPolicy ? { securityPolicy: this.cfg.securityPolicy } : {}), pki: this.pki, requestTimeoutMs: this.cfg.requestTimeoutMs });
  }

  /** Our own deadline on a node-opcua call (its transaction timeout is never below 5 s). */
  private within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let t: unknown;
    return Promise.race([
      p,
      new Promise<T>((_, reject) => {
        t = this.clock.setTimeout(() => reject(new Deadline(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]).finally(() => this.clock.clearTimeout(t));
  }

  private async open(endpoint: string): Promise<Conn> {
    const client = this.newClient();
    const ms = this.cfg.requestTimeoutMs;
    try {
      await this.within(client.connect(endpoint), ms, "connect");
      const session = await this.within(client.createSession(identity(this.cfg.username, this.cfg.password)), ms, "create session");
      const subscription = await this.within(
        session.createSubscription2({
          requestedPublishingInterval: this.cfg.publishingIntervalMs,
          requestedLifetimeCount: 60,
          // a publish response at least every max(publishing interval, 500 ms), data or keep-alive: the liveness check's heartbeat
          requestedMaxKeepAliveCount: Math.max(1, Math.ceil(500 / this.cfg.publishingIntervalMs)),
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 1,
        }),
        ms,
        "create subscription",
      );
      return { client, session, subscription, endpoint };
    } catch (e) {
      await client.disconnect().catch(() => {});
      throw e;
    }
  }

  /** Creates (or deletes) the monitored items of every tag on the connection. */
  private async setReading(conn: Conn, on: boolean): Promise<void> {
    if (!on) {
      const items = this.monitored;
      this.monitored = [];
      this.allBad("not_reading");
      await Promise.all(items.map((m) => m.terminate().catch(() => {})));
      return;
    }
    if (this.monitored.length > 0) return;
    const groups = new Map<string, OpcuaTag[]>();
    for (const t of this.tags.values()) {
      const k = `${t.samplingMs}/${t.queueSize}/${t.deadband}`;
      groups.set(k, [...(groups.get(k) ?? []), t]);
    }
    for (const tags of groups.values()) {
      const { samplingMs, queueSize, deadband } = tags[0]!;
      const filter = deadband > 0 ? new DataChangeFilter({ trigger: DataChangeTrigger.StatusValue, deadbandType: DeadbandType.Absolute, deadbandValue: deadband }) : null;
      this.stats.requests++;
      const group = await conn.subscription.monitorItems(
        tags.map((t) => ({ nodeId: t.nodeId, attributeId: AttributeIds.Value })),
        { samplingInterval: samplingMs, queueSize, discardOldest: true, ...(filter ? { filter } : {}) },
        TimestampsToReturn.Both,
      );
      if (this.conn !== conn) return;
      group.on("changed", (_item: ClientMonitoredItemBase, dv: DataValue, index: number) => {
        const t = tags[index];
        if (!t || this.paths.mode !== "read") return;
        this.stats.notifications++;
        if (dv.value?.dataType !== undefined && dv.value.dataType !== DataType.Null) this.dataTypes.set(t.nodeId, dv.value.dataType);
        const sample = applyScaling(qualityOf(dv, this.clock.now()), t.scaling);
        this.fromServer.set(t.name, sample);
        this.onSample(t.name, sample);
      });
      // An item the server refused (unknown node id, filter not allowed) is bad now, not silent.
      group.monitoredItems.forEach((m, i) => {
        const sc = m.statusCode;
        if (sc && sc.isBad()) this.onSample(tags[i]!.name, badSample(`config: opcua:${sc.name}`, this.clock.now()));
      });
      this.monitored.push(...group.monitoredItems);
    }
  }

  private async closeConn(c: Conn): Promise<void> {
    c.client.removeAllListeners("connection_lost");
    c.session.removeAllListeners("session_closed");
    c.subscription.removeAllListeners("terminated");
    // A dead connection cannot close its session politely: do not wait for it.
    await Promise.race([
      c.session.close(true).catch(() => {}),
      new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        t.unref();
      }),
    ]);
    await c.client.disconnect().catch(() => {});
  }

  private allBad(reason: string): void {
    this.fromServer.clear();
    const now = this.clock.now();
    for (const t of this.tags.values()) this.onSample(t.name, badSample(reason, now));
  }

  // ------------------------------------------------------------ liveness

  /** How long the subscription may stay silent: its keep-alive period (as the server revised it) plus max(publishing interval, 1 s). */
  private overdueMs(c: Conn): number {
    const publishing = c.subscription.publishingInterval || this.cfg.publishingIntervalMs;
    const keepAlive = publishing * Math.max(1, c.subscription.maxKeepAliveCount || 1);
    return keepAlive + Math.max(publishing, 1000);
  }

  /** A publish response (data or keep-alive): the server is alive, and every value it sent still holds. */
  private heard(c: Conn): void {
    if (this.conn !== c) return;
    const now = this.clock.now();
    this.lastHeard = now;
    if (this.paths.mode !== "read") return;
    this.onConfirm(this.fromServer, now);
  }

  private watchLiveness(c: Conn): void {
    this.stopLiveness();
    this.lastHeard = this.clock.now();
    const limit = this.overdueMs(c);
    const check = () => {
      this.liveness = null;
      if (this.conn !== c) return;
      const quiet = this.clock.now() - this.lastHeard;
      if (quiet < limit) {
        this.liveness = this.clock.setTimeout(check, limit - quiet);
        return;
      }
      // Let what already arrived be read first: a busy event loop is not a silent server.
      setImmediate(() => {
        if (this.conn !== c) return;
        const silent = this.clock.now() - this.lastHeard;
        if (silent < limit) return check();
        this.log.warn({ path: c.endpoint, silentMs: silent, limitMs: limit }, "opcua server sends no publish responses (data or keep-alive): every tag bad (timeout)");
        this.paths.lost(c, `no publish response for ${silent} ms (limit ${limit} ms)`, "timeout");
      });
    };
    this.liveness = this.clock.setTimeout(check, limit);
  }

  private stopLiveness(): void {
    if (this.liveness !== null) this.clock.clearTimeout(this.liveness);
    this.liveness = null;
  }

  // ------------------------------------------------------------ redundancy

  /** ServiceLevel (i=2267) of one server through a short anonymous session; 0 when unreachable. */
  private async probeServiceLevel(endpoint: string): Promise<number> {
    if (this.conn?.endpoint === endpoint) return this.readServiceLevel(this.conn.session);
    const client = this.newClient();
    try {
      const t = setTimeout(() => void client.disconnect().catch(() => {}), this.cfg.requestTimeoutMs);
      try {
        await client.connect(endpoint);
        const session = await client.createSession(identity(this.cfg.username, this.cfg.password));
        const level = await this.readServiceLevel(session);
        await session.close().catch(() => {});
        return level;
      } finally {
        clearTimeout(t);
      }
    } catch {
      return 0;
    } finally {
      await client.disconnect().catch(() => {});
    }
  }

  private async readServiceLevel(session: ClientSession): Promise<number> {
    const dv = await session.read({ nodeId: "i=2267", attributeId: AttributeIds.Value });
    return dv.statusCode.isGood() ? Number(dv.value.value) : 0;
  }

  /** Non-transparent redundancy: move to a better server when the current one's ServiceLevel drops below another's. */
  private schedulePoll(): void {
    if (this.pollTimer !== null || this.paths.stopped) return;
    this.pollTimer = this.clock.setTimeout(async () => {
      this.pollTimer = null;
      const conn = this.conn;
      if (!conn || this.paths.stopped || this.paths.mode === "off") return;
      try {
        const levels = await Promise.all(this.cfg.endpoints.map((e) => this.probeServiceLevel(e)));
        this.cfg.endpoints.forEach((e, i) => this.serviceLevels.set(e, levels[i]!));
        const mine = this.serviceLevels.get(conn.endpoint) ?? 0;
        const best = Math.max(...levels);
        if (this.conn === conn && best > mine) {
          this.log.warn({ from: conn.endpoint, mine, best }, "opcua: a redundant server has a higher ServiceLevel; switching");
          this.paths.lost(conn, `ServiceLevel ${mine} below ${best}`);
          return;
        }
      } catch (e) {
        this.paths.lastError = (e as Error).message;
      }
      if (this.conn === conn) this.schedulePoll();
    }, this.cfg.serviceLevelPollMs);
  }

  // ------------------------------------------------------------ writes and the watchdog

  async write(name: string, value: unknown, kind: WriteKind): Promise<unknown> {
    const t = this.tags.get(name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    if (!t.writable) throw new TandemError("TANDEM_ERR_TAG_READ_ONLY", [name]);
    const conn = this.requireConn();
    try {
      let dataType = this.dataTypes.get(t.nodeId);
      if (dataType === undefined) {
        this.stats.requests++;
        dataType = await this.within(conn.session.getBuiltInDataType(t.nodeId as never), this.cfg.requestTimeoutMs, "read the data type");
        this.dataTypes.set(t.nodeId, dataType);
      }
      const { variant, written } = toWrite(name, dataType, value, t.scaling);
      const sc = await this.send(conn, kind, t.nodeId, variant);
      if (!sc.isGood()) {
        this.stats.errors++;
        throw new TandemError("TANDEM_ERR_TAG_WRITE", [name, `the server answered ${sc.name}`]);
      }
      return written;
    } catch (e) {
      if (e instanceof TandemError) throw e;
      this.stats.errors++;
      throw new TandemError("TANDEM_ERR_TAG_WRITE", [name, (e as Error).message]);
    }
  }

  async readWatchdogWord(where: string): Promise<number> {
    const conn = this.requireConn();
    this.stats.requests++;
    const dv = await conn.session.read({ nodeId: where, attributeId: AttributeIds.Value });
    if (!dv.statusCode.isGood()) throw new Error(`${where}: ${dv.statusCode.name}`);
    return Number(dv.value.value);
  }

  async writeWatchdogWord(where: string, _words: 1 | 2, value: number): Promise<void> {
    const sc = await this.send(this.requireConn(), "operator", where, new Variant({ dataType: DataType.UInt32, value }));
    if (!sc.isGood()) throw new Error(`${where}: ${sc.name}`);
  }

  private requireConn(): Conn {
    if (!this.conn) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.device, this.paths.lastError ?? "not connected"]);
    return this.conn;
  }

  /**
   * One write request. The gate is asked here, after the data-type lookup and
   * right before the request leaves, for the write's timeout; a write with no
   * answer by then drops the connection, so it cannot land later unseen.
   */
  private async send(conn: Conn, kind: WriteKind, nodeId: string, value: Variant): Promise<StatusCode> {
    if (this.conn !== conn) throw new Error("the connection changed while the write waited");
    this.gate.check(kind, this.writeTimeoutMs);
    this.stats.requests++;
    try {
      return await this.within(conn.session.write({ nodeId, attributeId: AttributeIds.Value, value: { value } }), this.writeTimeoutMs, "write");
    } catch (e) {
      if (e instanceof Deadline) this.paths.lost(conn, e.message);
      throw e;
    }
  }
}

class Deadline extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Deadline";
  }
}
