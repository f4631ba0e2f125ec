// The OPC UA driver (node-opcua client): one instance per device. A session
// with one subscription; tags become monitored items grouped by sampling
// interval, queue size and deadband. Status codes map to quality.
//
// Reconnection is ours, not node-opcua's: on a lost connection every tag
// turns bad at once, the client is dropped and a new connection, session and
// subscription are built on the next path (or, with non-transparent
// redundancy, on the server with the highest ServiceLevel), with every
// monitored item restored. That makes path failover and server failover the
// same code, and a new session never depends on the old server's memory.
// Size: over 500 lines until it is split (issue 6: one-way layers, smaller rooms).
import path from "node:path";
import {
  AttributeIds,
  BrowseDirection,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  MessageSecurityMode,
  NodeClass,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  UserTokenType,
  Variant,
  VariantArrayType,
  type ClientMonitoredItemBase,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type UserIdentityInfo,
} from "node-opcua";
import { COUNT_CHANNELS, countedFields } from "../core/diagnostics.js";
import type { Logger } from "../core/logger.js";
import { TandemError } from "../core/errors.js";
import type { OpcuaDeviceConfig, TagConfig } from "./config-schema.js";
import { realClock, Reconnect, type Clock, type DeviceDriver, type DeviceStatus, type DriverMode, type SampleSink } from "./driver-api.js";
import { applyScaling, badSample, scaleToRaw, type Scaling, type TagSample } from "./tag-model.js";

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

/** OPC UA status → quality; the reason names the status code. */
export function qualityOf(dv: DataValue, receivedAt: number): TagSample {
  const sc = dv.statusCode ?? StatusCodes.Good;
  const sourceTime = dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? null;
  if (sc.isGood()) return { value: variantValue(dv.value), quality: "good", sourceTime, receivedAt };
  if (!sc.isBad()) return { value: variantValue(dv.value), quality: "uncertain", reason: `opcua:${sc.name}`, sourceTime, receivedAt };
  const name = sc.name;
  const reason = /BadNodeIdUnknown|BadNodeIdInvalid|BadAttributeIdInvalid|BadFilterNotAllowed|BadNotReadable|BadUserAccessDenied/.test(name) ? `config: opcua:${name}` : `opcua:${name}`;
  return { value: null, quality: "bad", reason, sourceTime, receivedAt };
}

function variantValue(v: Variant | null | undefined): unknown {
  if (!v) return null;
  const x = v.value as unknown;
  if ((v.dataType === DataType.Int64 || v.dataType === DataType.UInt64) && Array.isArray(x) && x.length === 2) {
    const big = (BigInt(x[0] as number) << 32n) | BigInt((x[1] as number) >>> 0);
    return v.dataType === DataType.Int64 ? BigInt.asIntN(64, big) : big;
  }
  if (x instanceof Date) return x.toISOString();
  if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number>);
  return x;
}

const SECURITY_MODE = { None: MessageSecurityMode.None, Sign: MessageSecurityMode.Sign, SignAndEncrypt: MessageSecurityMode.SignAndEncrypt } as const;
const SECURITY_POLICY = {
  None: SecurityPolicy.None,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
  Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
} as const;

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
  log: Logger;
  /** where the client's certificate and trust lists live (data dir of the node) */
  pkiDir: string;
  /** a certificate manager shared by the node's OPC UA devices (then not disposed by this driver) */
  certificateManager?: OPCUACertificateManager;
  clock?: Clock;
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
  private readonly onPath: (p: string | null) => void;
  private readonly pki: OPCUACertificateManager;
  private readonly ownPki: boolean;
  private pkiReady: Promise<void> | null = null;

  private mode: DriverMode = "off";
  private stopped = false;
  private conn: Conn | null = null;
  private connecting: Promise<void> | null = null;
  private readonly reconnect: Reconnect;
  private pollTimer: unknown = null;
  private pathIndex = 0;
  private everConnected = false;
  private monitored: ClientMonitoredItemBase[] = [];
  private readonly dataTypes = new Map<string, DataType>();
  private readonly serviceLevels = new Map<string, number>();
  private stats = countedFields(COUNT_CHANNELS.driver, () => ({ device: this.device }), { requests: 0, errors: 0, reconnects: 0, notifications: 0 });
  private lastError: string | null = null;

  constructor(o: OpcuaDriverOptions) {
    this.cfg = o.device;
    this.device = o.device.name;
    this.clock = o.clock ?? realClock;
    this.log = o.log;
    this.onSample = o.onSample;
    this.onPath = o.onPath ?? (() => {});
    this.reconnect = new Reconnect(this.clock, o.device.reconnect, () => this.ensureConnected());
    for (const t of o.tags) this.tags.set(t.name, t);
    this.ownPki = !o.certificateManager;
    this.pki =
      o.certificateManager ??
      new OPCUACertificateManager({
        rootFolder: o.pkiDir,
        automaticallyAcceptUnknownCertificate: o.device.trustUnknownServerCertificate,
      });
  }

  counters(): Readonly<typeof this.stats> {
    return { ...this.stats };
  }

  setMode(mode: DriverMode): void {
    if (this.stopped || mode === this.mode) return;
    const was = this.mode;
    this.mode = mode;
    this.log.info({ device: this.device, from: was, to: mode }, "opcua device mode");
    if (mode === "off") {
      this.cancelTimers();
      void this.dropConn("standby cold");
      this.allBad("not_reading");
      return;
    }
    if (this.conn) {
      // connected already: switch reading on or off without a new session
      void this.setReading(this.conn, mode === "read");
    } else {
      this.allBad(mode === "connect" ? "not_reading" : this.everConnected ? "comm_lost" : "no_data");
      this.ensureConnected();
    }
  }

  status(): DeviceStatus {
    const p = this.conn?.endpoint ?? null;
    return {
      device: this.device,
      driver: "opcua",
      mode: this.mode,
      connected: this.conn !== null,
      path: p,
      endpoints: this.cfg.endpoints.map((e) => ({
        endpoint: e,
        connected: e === p,
        ...(this.serviceLevels.has(e) ? { serviceLevel: this.serviceLevels.get(e)! } : {}),
      })),
      connections: this.conn ? 1 : 0,
      requests: this.stats.requests,
      errors: this.stats.errors,
      reconnects: this.stats.reconnects,
      lastError: this.lastError,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.mode = "off";
    this.cancelTimers();
    await this.connecting?.catch(() => {});
    await this.dropConn("driver stopped");
    if (this.ownPki) await this.pki.dispose().catch(() => {});
  }

  private cancelTimers(): void {
    this.reconnect.cancel();
    if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  // ------------------------------------------------------------ connection

  private ensureConnected(): void {
    if (this.stopped || this.mode === "off" || this.conn || this.connecting || this.reconnect.pending) return;
    this.connecting = this.connectRound().finally(() => {
      this.connecting = null;
    });
  }

  private async order(): Promise<string[]> {
    const eps = this.cfg.endpoints;
    if (this.cfg.redundancy !== "non-transparent") return eps.map((_, k) => eps[(this.pathIndex + k) % eps.length]!);
    // Non-transparent redundancy: ask every server for its ServiceLevel, best first.
    const levels = await Promise.all(eps.map((e) => this.probeServiceLevel(e)));
    eps.forEach((e, i) => this.serviceLevels.set(e, levels[i]!));
    return eps
      .map((e, i) => ({ e, l: levels[i]!, i }))
      .filter((x) => x.l > 0)
      .sort((a, b) => b.l - a.l || a.i - b.i)
      .map((x) => x.e);
  }

  private async connectRound(): Promise<void> {
    this.pkiReady ??= this.pki.initialize();
    await this.pkiReady;
    let candidates: string[];
    try {
      candidates = await this.order();
    } catch (e) {
      candidates = [];
      this.lastError = (e as Error).message;
    }
    for (const endpoint of candidates) {
      if (this.stopped || this.mode === "off") return;
      try {
        const conn = await this.open(endpoint);
        if (this.stopped || (this.mode as DriverMode) === "off") {
          await this.closeConn(conn);
          return;
        }
        this.conn = conn;
        this.pathIndex = this.cfg.endpoints.indexOf(endpoint);
        if (this.everConnected) this.stats.reconnects++;
        this.everConnected = true;
        this.reconnect.reset();
        this.log.info({ device: this.device, endpoint }, "opcua connected");
        this.onPath(endpoint);
        conn.client.on("connection_lost", () => this.lost(conn, "connection lost"));
        conn.session.on("session_closed", () => this.lost(conn, "session closed"));
        conn.subscription.on("terminated", () => this.lost(conn, "subscription terminated"));
        if (this.mode === "read") await this.setReading(conn, true);
        else this.allBad("not_reading");
        if (this.cfg.redundancy === "non-transparent") this.schedulePoll();
        return;
      } catch (err) {
        this.lastError = `${endpoint}: ${(err as Error).message}`;
        this.log.warn({ device: this.device, endpoint, err: (err as Error).message }, "opcua connect failed");
      }
    }
    if (this.stopped) return;
    this.pathIndex = 0;
    this.reconnect.schedule();
  }

  private newClient(): OPCUAClient {
    const policy = this.cfg.securityPolicy ?? (this.cfg.securityMode === "None" ? "None" : "Basic256Sha256");
    return OPCUAClient.create({
      // one certificate per node: every device shares the application name it was issued for
      applicationName: "Tandem",
      endpointMustExist: false,
      securityMode: SECURITY_MODE[this.cfg.securityMode],
      securityPolicy: SECURITY_POLICY[policy],
      clientCertificateManager: this.pki,
      // one attempt: our own loop decides the next path and the backoff
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
      requestedSessionTimeout: 60_000,
      keepSessionAlive: true,
      keepAliveInterval: Math.max(1000, Math.min(5000, this.cfg.requestTimeoutMs)),
      transportTimeout: this.cfg.requestTimeoutMs,
      defaultTransactionTimeout: this.cfg.requestTimeoutMs,
    });
  }

  private identity(): UserIdentityInfo {
    if (this.cfg.username !== undefined) return { type: UserTokenType.UserName, userName: this.cfg.username, password: this.cfg.password ?? "" };
    return { type: UserTokenType.Anonymous };
  }

  private async open(endpoint: string): Promise<Conn> {
    const client = this.newClient();
    const timeout = <T>(p: Promise<T>, what: string): Promise<T> => {
      let t: unknown;
      return Promise.race([
        p,
        new Promise<T>((_, reject) => {
          t = this.clock.setTimeout(() => reject(new Error(`${what}: no answer within ${this.cfg.requestTimeoutMs} ms`)), this.cfg.requestTimeoutMs);
        }),
      ]).finally(() => this.clock.clearTimeout(t));
    };
    try {
      await timeout(client.connect(endpoint), "connect");
      const session = await timeout(client.createSession(this.identity()), "create session");
      const subscription = await timeout(
        session.createSubscription2({
          requestedPublishingInterval: this.cfg.publishingIntervalMs,
          requestedLifetimeCount: 60,
          requestedMaxKeepAliveCount: 10,
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 1,
        }),
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
        if (!t || this.mode !== "read") return;
        this.stats.notifications++;
        if (dv.value?.dataType !== undefined && dv.value.dataType !== DataType.Null) this.dataTypes.set(t.nodeId, dv.value.dataType);
        this.onSample(t.name, applyScaling(qualityOf(dv, this.clock.now()), t.scaling));
      });
      // An item the server refused (unknown node id, filter not allowed) is bad now, not silent.
      group.monitoredItems.forEach((m, i) => {
        const sc = m.statusCode;
        if (sc && sc.isBad()) this.onSample(tags[i]!.name, badSample(`config: opcua:${sc.name}`, this.clock.now()));
      });
      this.monitored.push(...group.monitoredItems);
    }
  }

  private lost(conn: Conn, why: string): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.monitored = [];
    this.lastError = `${conn.endpoint}: ${why}`;
    this.log.warn({ device: this.device, endpoint: conn.endpoint, why }, "opcua connection lost");
    this.onPath(null);
    this.allBad(this.mode === "read" ? "comm_lost" : "not_reading");
    void this.closeConn(conn);
    if (this.stopped || this.mode === "off") return;
    if (this.cfg.endpoints.length > 1) this.pathIndex = (this.pathIndex + 1) % this.cfg.endpoints.length;
    this.ensureConnected();
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

  private async dropConn(why: string): Promise<void> {
    const c = this.conn;
    this.conn = null;
    this.monitored = [];
    if (c) {
      this.log.info({ device: this.device, why }, "opcua disconnect");
      await this.closeConn(c);
      this.onPath(null);
    }
  }

  private allBad(reason: string): void {
    const now = this.clock.now();
    for (const t of this.tags.values()) this.onSample(t.name, badSample(reason, now));
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
        const session = await client.createSession(this.identity());
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
    if (this.pollTimer !== null || this.stopped) return;
    this.pollTimer = this.clock.setTimeout(async () => {
      this.pollTimer = null;
      const conn = this.conn;
      if (!conn || this.stopped || this.mode === "off") return;
      try {
        const levels = await Promise.all(this.cfg.endpoints.map((e) => this.probeServiceLevel(e)));
        this.cfg.endpoints.forEach((e, i) => this.serviceLevels.set(e, levels[i]!));
        const mine = this.serviceLevels.get(conn.endpoint) ?? 0;
        const best = Math.max(...levels);
        if (this.conn === conn && best > mine) {
          this.log.warn({ device: this.device, from: conn.endpoint, mine, best }, "opcua: a redundant server has a higher ServiceLevel; switching");
          this.lost(conn, `ServiceLevel ${mine} below ${best}`);
          return;
        }
      } catch (e) {
        this.lastError = (e as Error).message;
      }
      if (this.conn === conn) this.schedulePoll();
    }, this.cfg.serviceLevelPollMs);
  }

  // ------------------------------------------------------------ writes and browse

  async write(name: string, value: unknown): Promise<void> {
    const t = this.tags.get(name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    if (!t.writable) throw new TandemError("TANDEM_ERR_TAG_READ_ONLY", [name]);
    const conn = this.conn;
    if (!conn) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.device, this.lastError ?? "not connected"]);
    let raw = value;
    if (t.scaling) {
      const eng = typeof value === "number" ? value : Number(value);
      if (!Number.isFinite(eng)) throw new TandemError("TANDEM_ERR_TAG_VALUE", [name, `expected a number, got ${JSON.stringify(value)}`]);
      raw = scaleToRaw(eng, t.scaling);
    }
    let dataType = this.dataTypes.get(t.nodeId);
    try {
      if (dataType === undefined) {
        this.stats.requests++;
        dataType = await conn.session.getBuiltInDataType(t.nodeId as never);
        this.dataTypes.set(t.nodeId, dataType);
      }
      // Int64/UInt64 travel as [high, low] pairs: say it is a scalar, not an array
      const variant = new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: coerce(raw, dataType, name) });
      this.stats.requests++;
      const sc = await conn.session.write({ nodeId: t.nodeId, attributeId: AttributeIds.Value, value: { value: variant } });
      if (!sc.isGood()) throw new TandemError("TANDEM_ERR_TAG_WRITE", [name, `the server answered ${sc.name}`]);
    } catch (e) {
      this.stats.errors++;
      if (e instanceof TandemError) throw e;
      throw new TandemError("TANDEM_ERR_TAG_WRITE", [name, (e as Error).message]);
    }
  }

  async readWatchdogWord(where: string): Promise<number> {
    const conn = this.conn;
    if (!conn) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.device, this.lastError ?? "not connected"]);
    this.stats.requests++;
    const dv = await conn.session.read({ nodeId: where, attributeId: AttributeIds.Value });
    if (!dv.statusCode.isGood()) throw new Error(`${where}: ${dv.statusCode.name}`);
    return Number(dv.value.value);
  }

  async writeWatchdogWord(where: string, _words: 1 | 2, value: number): Promise<void> {
    const conn = this.conn;
    if (!conn) throw new TandemError("TANDEM_ERR_DEVICE_UNAVAILABLE", [this.device, this.lastError ?? "not connected"]);
    this.stats.requests++;
    const sc = await conn.session.write({ nodeId: where, attributeId: AttributeIds.Value, value: { value: new Variant({ dataType: DataType.UInt32, value }) } });
    if (!sc.isGood()) throw new Error(`${where}: ${sc.name}`);
  }
}

const INT_RANGES: Partial<Record<DataType, [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32768, 32767],
  [DataType.UInt16]: [0, 65535],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt32]: [0, 4294967295],
};

/** JSON value → what node-opcua's Variant expects for the node's built-in type. */
export function coerce(v: unknown, dt: DataType, tag: string): unknown {
  const bad = (why: string) => new TandemError("TANDEM_ERR_TAG_VALUE", [tag, why]);
  switch (dt) {
    case DataType.Boolean:
      if (typeof v === "boolean") return v;
      if (v === 0 || v === 1) return v === 1;
      throw bad(`expected true/false, got ${JSON.stringify(v)}`);
    case DataType.Float:
    case DataType.Double: {
      const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
      if (typeof n !== "number" || Number.isNaN(n)) throw bad(`expected a number, got ${JSON.stringify(v)}`);
      return n;
    }
    case DataType.String:
      if (typeof v !== "string") throw bad(`expected text, got ${JSON.stringify(v)}`);
      return v;
    case DataType.Int64:
    case DataType.UInt64: {
      let b: bigint;
      try {
        b = BigInt(v as string | number);
      } catch {
        throw bad(`expected a whole number, got ${JSON.stringify(v)}`);
      }
      if (dt === DataType.UInt64 && b < 0n) throw bad(`${b} is out of range for UInt64`);
      const u = BigInt.asUintN(64, b);
      return [Number(u >> 32n), Number(u & 0xffffffffn)];
    }
    default: {
      const range = INT_RANGES[dt];
      if (!range) throw bad(`writing ${DataType[dt]} values is not supported`);
      const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
      if (typeof n !== "number" || !Number.isInteger(n)) throw bad(`expected a whole number, got ${JSON.stringify(v)}`);
      if (n < range[0] || n > range[1]) throw bad(`${n} is out of range for ${DataType[dt]} (${range[0]}…${range[1]})`);
      return n;
    }
  }
}

export interface BrowsedVariable {
  nodeId: string;
  path: string;
  dataType: string;
  writable: boolean;
}

/**
 * Lists a server's variables under Objects (for `tandem` to offer tags).
 * Stops after maxNodes; skips the standard Server object.
 */
export async function browseVariables(opts: {
  endpoint: string;
  pkiDir: string;
  securityMode?: keyof typeof SECURITY_MODE;
  securityPolicy?: keyof typeof SECURITY_POLICY;
  username?: string;
  password?: string;
  maxNodes?: number;
  trustUnknownServerCertificate?: boolean;
}): Promise<BrowsedVariable[]> {
  const pki = new OPCUACertificateManager({ rootFolder: path.resolve(opts.pkiDir), automaticallyAcceptUnknownCertificate: opts.trustUnknownServerCertificate ?? false });
  await pki.initialize();
  const mode = opts.securityMode ?? "None";
  const client = OPCUAClient.create({
    applicationName: "Tandem",
    endpointMustExist: false,
    securityMode: SECURITY_MODE[mode],
    securityPolicy: SECURITY_POLICY[opts.securityPolicy ?? (mode === "None" ? "None" : "Basic256Sha256")],
    clientCertificateManager: pki,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  });
  const max = opts.maxNodes ?? 10_000;
  const out: BrowsedVariable[] = [];
  try {
    await client.connect(opts.endpoint);
    const session = await client.createSession(
      opts.username !== undefined ? { type: UserTokenType.UserName, userName: opts.username, password: opts.password ?? "" } : { type: UserTokenType.Anonymous },
    );
    try {
      const seen = new Set<string>();
      const queue: { nodeId: string; path: string }[] = [{ nodeId: "i=85", path: "" }];
      while (queue.length && out.length < max) {
        const cur = queue.shift()!;
        const r = await session.browse({ nodeId: cur.nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: "HierarchicalReferences", includeSubtypes: true, resultMask: 63 });
        for (const ref of r.references ?? []) {
          const id = ref.nodeId.toString();
          if (seen.has(id) || id === "i=2253") continue; // the Server object is not plant data
          seen.add(id);
          const p = cur.path ? `${cur.path}.${ref.browseName.name}` : String(ref.browseName.name);
          if (ref.nodeClass === NodeClass.Variable) {
            const [dt, al] = await session.read([
              { nodeId: id, attributeId: AttributeIds.DataType },
              { nodeId: id, attributeId: AttributeIds.UserAccessLevel },
            ]);
            const dtId = dt?.value?.value as { value?: number } | undefined;
            out.push({ nodeId: id, path: p, dataType: DataType[Number(dtId?.value ?? 0)] ?? String(dtId), writable: (Number(al?.value?.value ?? 0) & 2) !== 0 });
            if (out.length >= max) break;
          }
          if (ref.nodeClass === NodeClass.Object || ref.nodeClass === NodeClass.Variable) queue.push({ nodeId: id, path: p });
        }
      }
    } finally {
      await session.close().catch(() => {});
    }
  } finally {
    await client.disconnect().catch(() => {});
    await pki.dispose().catch(() => {});
  }
  return out;
}
