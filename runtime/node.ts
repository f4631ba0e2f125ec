// The composition root of one node. It starts storage (epoch store, audit
// log, the database with replication and the process modules: node-data.ts),
// the drivers (loaded before the node joins the pair: node-opcua's start-up
// work must not stall heartbeats once this node may be active), the peer
// link and role machine, the services, then the HTTP API; it stops the
// process modules and services (which must be gone before a handover), hands
// over, and stops the rest in reverse. stop() releases every timer, socket,
// child and file handle.
//
// Size: it is also the NodeController the API calls, one short method per
// operation (auditing, then handing over to the part that does it); the
// parts themselves live in their own files.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { DriverManager } from "../drivers/manager.js";
import { EpochStore } from "../redundancy/epoch-store.js";
import { linkStatus, peerVisible } from "../redundancy/failure-detector.js";
import { PairRuntime } from "../redundancy/pair-runtime.js";
import { AuditLog } from "./audit-log.js";
import type { AuditVerifyResult } from "./audit/chain.js";
import { loadAuditKey } from "./audit/secret.js";
import { SyslogSender } from "./audit/syslog.js";
import { makePrivateDir } from "./private-files.js";
import type { LogLevel, TandemConfig } from "./config/schema.js";
import { TandemError } from "../core/errors.js";
import { isActiveState } from "../core/types.js";
import { createHttpServer, type HttpServer } from "./http/server.js";
import { loadTlsMaterial } from "./http/tls.js";
import { LogManager } from "./logging.js";
import { NodeMetrics } from "./metrics.js";
import { pairRuntimeOptions } from "./pair-options.js";
import { describeState } from "./node-message.js";
import { apiBaseOf, notActiveError } from "./active-hint.js";
import { NodeData } from "./node-data.js";
import { NodeHistory } from "./node-history.js";
import { NodeMqtt } from "./node-mqtt.js";
import { mqttMetrics } from "./mqtt/metrics.js";
import type { VerifyResult } from "../redundancy/replication/verify.js";
import { pairView } from "./services/pair-view.js";
import { Supervisor } from "./services/supervisor.js";
import type { EventsView, HistoryQuery, TagHistoryView } from "./node-api.js";
import type { Actor, AuditEntry, ContextView, DivergenceView, NodeController, RecordAnswer, RecordView, NodeState, NodeStatus, RefusalRecord, ServicesView, StreamEvent, SwitchoverResult, TagView } from "./node-api.js";
import type { EventRow } from "./events/recorder.js";

/** Something whose health lowers the service level (drivers, database …). */
export interface HealthSource {
  name: string;
  health(): { penalty: number; reasons: string[] };
}

const LEVEL_EVERY_MS = 100;

/** who an audit entry names: an operator, or a refused request whose login was never checked (role "none") */
type AuditActor = { user: string; role: AuditEntry["role"]; from?: string };

export class TandemNode implements NodeController {
  readonly logs: LogManager;
  readonly runtime: PairRuntime;
  private readonly store: EpochStore;
  private readonly auditLog: AuditLog;
  private readonly syslog: SyslogSender | null;
  private http: HttpServer | null = null;
  /** the embedded MQTT broker and what the active publishes on it (mqtt section) */
  mqtt: NodeMqtt | null = null;
  readonly supervisor: Supervisor;
  /** the PLC drivers, when the config has a drivers section (loaded on start: node-opcua is heavy) */
  drivers: DriverManager | null = null;
  /** the node's database, its replication and the process modules (opened first on start) */
  readonly data: NodeData;
  /** tag history and events, written into the database while active */
  readonly history: NodeHistory;
  /** what keeps a handover waiting: services placed active, running process modules */
  private readonly upParts = { services: false, processes: false };
  private levelTimer: NodeJS.Timeout | null = null;
  private readonly metricsOut: NodeMetrics;
  private readonly healthSources: HealthSource[] = [];
  private stateSinceWall = new Date().toISOString();
  private readonly log;
  private stopping: Promise<void> | null = null;
  httpAddress: { host: string; port: number } | null = null;
  /** follow()'s listeners of audit entries */
  private readonly auditFollowers = new Set<(e: AuditEntry) => void>();

  constructor(
    readonly config: TandemConfig,
    opts: { logs?: LogManager; configDir?: string } = {},
  ) {
    const c = config;
    this.logs =
      opts.logs ??
      new LogManager({
        level: c.log.level,
        components: c.log.components,
        base: { pair: c.pair.id, node: c.node.id },
        mixin: () => ({ epoch: this.store?.epoch }),
        destination: c.log.file,
        bufferBytes: c.log.bufferBytes,
      });
    this.log = this.logs.get("node");
    // the data dir is the node's alone: 0700, its files 0600 (runtime/private-files.ts)
    makePrivateDir(c.node.dataDir);
    this.store = EpochStore.open(c.node.dataDir, c.pair.id, c.node.id);
    const sl = c.audit.syslog;
    this.syslog = sl ? new SyslogSender({ host: sl.address.host, port: sl.address.port, facility: sl.facility, appName: sl.appName, log: this.logs.get("audit") }) : null;
    this.auditLog = new AuditLog(join(c.node.dataDir, "audit.log"), {
      key: loadAuditKey(c.node.dataDir, c.audit.key, { create: true }),
      onLine: (line, entry) => {
        this.syslog?.send(line, entry);
        for (const fn of this.auditFollowers) fn(entry);
        // the pair's copy, when this node is active (runtime/audit/replicated-audit.ts)
        this.data.audit?.line(line);
      },
    });
    this.runtime = new PairRuntime(pairRuntimeOptions(c, this.store, this.logs.get("pair")));
    this.history = new NodeHistory({ config: c, runtime: this.runtime, records: () => this.data.records, drivers: () => this.drivers, log: this.logs.get("history") });
    this.data = new NodeData({ config: c, runtime: this.runtime, log: (name) => this.logs.get(name), drivers: () => this.drivers, setProcessesUp: (up) => this.reportUp("processes", up), notActive: (what) => this.notActive(what), alarm: (type, text) => this.history.alarm(type, text) });
    this.supervisor = new Supervisor({
      services: c.services,
      pairId: c.pair.id,
      nodeId: c.node.id,
      capacity: c.node.capacity,
      dataDir: c.node.dataDir,
      defaultCwd: opts.configDir ?? process.cwd(),
      log: this.logs.get("services"),
      alarm: (text) => this.history.alarm("service-failed", text),
      // the role machine waits for services placed active and process modules alike
      pair: { ...pairView(this.runtime, c.heartbeat.timeoutMs), setServicesUp: (up) => this.reportUp("services", up) },
      apiUrl: () => {
        const a = this.httpAddress ?? c.http.listen;
        return a.port ? `${c.http.tls.enabled ? "https" : "http"}://${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}/api/v1` : undefined;
      },
    });
    this.runtime.on("state", (_from, to, epoch) => {
      this.stateSinceWall = new Date().toISOString();
      this.drivers?.setRole(isActiveState(to), epoch);
      // synchronous: a lost right to act kills services placed `active` before any message says so
      this.supervisor.onPairChange();
      this.data.onPairChange();
    });
    this.runtime.on("context-reset", () => this.data.onContextReset());
    this.runtime.on("lease", () => this.supervisor.feedDeadlines());
    this.runtime.on("stop-services", () => {
      this.runtime.setDrained(this.data.drained());
      this.supervisor.reconcile();
      this.data.onPairChange();
    });
    this.runtime.on("peer-app", (topic, data) => {
      if (topic === "services") this.supervisor.onPeerReport(data);
    });
    this.runtime.on("epoch", (epoch) => this.drivers?.setRole(isActiveState(this.runtime.state.state), epoch));
    this.runtime.on("audit", (action, actor, result, details) => this.writeAudit(action, actor, result, details));
    this.runtime.on("event", (kind, message, details) => {
      if (kind === "takeover" || kind === "isolated" || kind === "awaiting-operator") this.log.warn({ event: kind, ...(details ?? {}) }, message);
    });
    this.runtime.on("fatal", (err) => {
      this.log.fatal({ err }, `fatal: ${err.message}; stopping this node`);
      process.exitCode = 1;
      void this.stop();
    });
    this.metricsOut = new NodeMetrics({ pair: c.pair.id, node: c.node.id, runtime: this.runtime, logs: this.logs, heartbeatTimeoutMs: c.heartbeat.timeoutMs, services: () => this.supervisor.views(), replication: () => this.replicationStatus(), tags: () => this.drivers?.tags() ?? [] });
    this.history.addMetrics(this.metricsOut.registry);
    if (c.mqtt) mqttMetrics(this.metricsOut.registry, () => this.mqtt?.status() ?? null);
  }

  addHealthSource(src: HealthSource): void {
    this.healthSources.push(src);
  }

  async start(): Promise<void> {
    const c = this.config;
    const graceUntil = performance.now() + c.takeover.levelGraceMs;
    this.syslog?.start();
    this.auditLog.open();
    // storage first: the node serves nothing it could not write down
    await this.data.open();
    this.addHealthSource({ name: "replication", health: () => this.data.health() });
    // The drivers load and start before the node joins the pair: their start-up
    // work (node-opcua alone is a large import) must not stall heartbeats and
    // lease renewals once this node may be active.
    if (c.drivers) {
      const { DriverManager } = await import("../drivers/manager.js");
      const drivers = new DriverManager({
        drivers: c.drivers,
        watchdog: c.watchdog,
        dataDir: c.node.dataDir,
        logs: this.logs,
        // every write asks the pair whether this node may write, right before it leaves
        gate: { check: (kind, needMs) => this.runtime.assertCanWrite(kind, needMs), leaseBudgetMs: c.takeover.leaseMs - c.takeover.leaseSafetyMs - c.heartbeat.intervalMs },
      });
      this.drivers = drivers;
      this.addHealthSource({ name: "drivers", health: () => drivers.health() });
      drivers.setRole(isActiveState(this.runtime.state.state), this.runtime.state.epoch);
      await drivers.start();
    }
    this.history.start();
    // the start-up grace: a level counts in an election once the drivers had
    // their first try at every device (a cold start of both nodes must not
    // hand the role to whichever node's PLC answered first)
    const settled = () => (this.drivers?.firstAttemptsDone() ?? true) || performance.now() >= graceUntil;
    // The API is built and made ready (its certificate, fastify's routes and
    // schemas: hundreds of ms on a busy machine) before the node joins the
    // pair, for the drivers' reason above; it listens last.
    const tls = await loadTlsMaterial({ tls: c.http.tls, dataDir: c.node.dataDir, listenHost: c.http.listen.host, nodeId: c.node.id, pairId: c.pair.id, log: this.logs.get("http") });
    const sessions = this.data.sessions;
    this.http = createHttpServer({ controller: this, http: c.http, tls, logs: this.logs, pairId: c.pair.id, nodeId: c.node.id, peerId: c.peer.id, sessions: sessions ? { store: sessions.store, hooks: sessions } : undefined });
    await this.http.prepare();
    // listening before the node joins the pair: a takeover finds it ready (it refuses clients until then)
    if (c.mqtt) {
      this.mqtt = new NodeMqtt({ config: c, runtime: this.runtime, drivers: () => this.drivers, events: this.history.events, httpTls: tls, writeTag: (actor, name, value) => this.writeTag(actor, name, value), log: this.logs.get("mqtt") });
      await this.mqtt.start();
    }
    this.runtime.setLevel(this.computeLevel().level, settled());
    await this.runtime.start();
    this.levelTimer = setInterval(() => {
      this.runtime.setLevel(this.computeLevel().level, settled());
      this.runtime.setDrained(this.data.drained());
      const w = this.drivers?.watchdogView();
      // a counter is evidence only while this node reads the PLC without errors
      if (w?.configured) this.runtime.setPlc(w.plcEpoch, w.counterStale && w.error === null);
    }, LEVEL_EVERY_MS);
    this.log.info("starting: services");
    this.supervisor.start();
    this.addHealthSource({ name: "services", health: () => this.supervisor.health() });
    this.httpAddress = await this.http.start();
    // logged as the start-up listening window begins (tests measure the window from this line)
    if (!this.store.cleanOwner) this.log.info("this node does not own a clean process context (it crashed, or last mirrored the peer): should it become active without a handover, it holds the process for an operator");
    this.log.info(
      { http: `${this.httpAddress.host}:${this.httpAddress.port}`, role: c.node.role, epoch: this.store.epoch, witness: !!c.witness },
      `node ${c.node.id} of pair ${c.pair.id} started (preferred ${c.node.role}, epoch ${this.store.epoch})`,
    );
    this.writeAudit("node-start", "system", "ok", { pid: process.pid, incarnation: this.store.incarnation, cleanOwner: this.store.cleanOwner });
  }

  /** Clean stop: hand over if active, then stop everything in reverse order. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // the last lines of a node say how it stopped: none of them is dropped
    this.logs.keepFinalLines();
    const limit = this.config.node.stopTimeoutMs;
    const until = performance.now() + limit;
    const stepOf = async (what: string, run: () => Promise<unknown>): Promise<void> => {
      this.log.info(`stopping: ${what}`);
      const left = until - performance.now();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), Math.max(0, left))));
      try {
        const r = await Promise.race([run().then(() => "done" as const), late]);
        if (r === "late") this.log.error(`stopping: ${what} did not finish within node.stopTimeoutMs (${limit} ms); going on without it`);
      } catch (err) {
        this.log.error({ err }, `stopping: ${what} failed: ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    };
    // process modules and services first: they must be gone before the role moves
    await stepOf("process modules", () => this.data.stopProcesses());
    await stepOf("services", () => this.supervisor.stop());
    this.supervisor.killAll();
    // while still active: what is buffered is written before the role moves
    await stepOf("history and events", () => this.history.stop());
    const system: Actor = { user: "system", role: "admin", from: "SIGTERM" };
    await stepOf("handing over the role", async () => {
      try {
        const r = await this.runtime.op("shutdown", system);
        if (r.to) this.log.info(`handed over to ${String(r.to)} before stopping`);
      } catch (err) {
        this.log.warn(`stopping without a handover: ${(err as Error).message}`);
      }
    });
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.levelTimer = null;
    await stepOf("HTTP API", async () => this.http?.stop());
    this.http = null;
    await stepOf("MQTT broker", async () => this.mqtt?.stop());
    this.mqtt = null;
    await stepOf("drivers", async () => this.drivers?.stop());
    await stepOf("peer link", () => this.runtime.stop());
    await stepOf("database", () => this.data.close());
    this.log.info("stopping: stores");
    this.store.markCleanStop(this.runtime.state.context.ownerIsMeClean);
    this.writeAudit("node-stop", "system", "ok", { state: this.runtime.state.state });
    this.auditLog.close();
    await this.syslog?.stop();
    this.metricsOut.close();
    this.log.info("node stopped");
    await this.logs.flush();
  }

  // ----------------------------------------------------------- health

  computeLevel(): { level: number; reasons: string[] } {
    const s = this.runtime.state;
    if (s.state === "maintenance") return { level: 0, reasons: ["maintenance"] };
    const now = this.runtime.now();
    const reasons: string[] = [];
    let level = 255;
    if (s.peer.heardAt !== null) {
      for (const l of linkStatus(s.peer, now, this.config.heartbeat.timeoutMs)) {
        if (!l.up) {
          level -= 10;
          reasons.push(`link ${l.name} down`);
        }
      }
      if (!s.peer.tcpUp) {
        level -= 10;
        reasons.push("peer connection down");
      }
    }
    if (this.config.witness && !s.witness.reachable) {
      level -= 25;
      reasons.push("witness unreachable");
    }
    for (const src of this.healthSources) {
      const h = src.health();
      level -= h.penalty;
      reasons.push(...h.reasons.map((r) => `${src.name}: ${r}`));
    }
    return { level: Math.max(2, Math.min(255, level)), reasons };
  }

  // ------------------------------------------------------- controller

  health(): { state: NodeState; serviceLevel: number; epoch: number; nodeId: string } {
    this.runtime.refresh();
    const s = this.runtime.state;
    return { state: s.state, serviceLevel: s.level, epoch: s.epoch, nodeId: this.config.node.id };
  }

  status(): NodeStatus {
    this.runtime.refresh();
    const c = this.config;
    const s = this.runtime.state;
    const now = this.runtime.now();
    const wall = Date.now();
    const iso = (mono: number | null) => (mono === null ? null : new Date(wall - (now - mono)).toISOString());
    const visible = peerVisible(s.peer, now, c.heartbeat.timeoutMs);
    return {
      pairId: c.pair.id,
      nodeId: c.node.id,
      pid: process.pid,
      role: c.node.role,
      state: s.state,
      epoch: s.epoch,
      serviceLevel: s.level,
      serviceLevelReasons: [
        ...this.computeLevel().reasons,
        ...(s.levelSettled ? [] : ["start-up grace: the drivers' first connect attempts are not done, so this level does not count in an election yet"]),
      ],
      leaseRemainingMs: this.runtime.leaseRemainingMs(),
      message: describeState(this.runtime.state, this.config.peer.id, visible),
      since: this.stateSinceWall,
      peer: {
        nodeId: c.peer.id,
        // a peer not heard on any link is not "active", whatever it said last
        state: visible ? s.peer.state : "unknown",
        epoch: s.peer.heardAt === null ? null : s.peer.epoch,
        serviceLevel: s.peer.heardAt === null ? null : s.peer.level,
        lastSeenMs: s.peer.heardAt === null ? null : Math.round(now - s.peer.heardAt),
        connected: s.peer.tcpUp,
        links: linkStatus(s.peer, now, c.heartbeat.timeoutMs),
        api: apiBaseOf(c.peer.api),
      },
      witness: c.witness
        ? { configured: true, reachable: s.witness.reachable, address: `${c.witness.address.host}:${c.witness.address.port}`, holder: s.witness.holder, holderEpoch: s.witness.holderEpoch }
        : { configured: false, reachable: false },
      context: { held: s.state === "active-held", seq: s.context.seq, heldSince: iso(s.heldSince), autoConfirmAt: iso(s.autoConfirmAt) },
      replication: this.replicationStatus(),
      ...(this.drivers ? { devices: this.drivers.connections() } : {}),
      ...(this.mqtt ? { mqtt: (({ broker, listen, serving, clients }) => ({ broker, listen, serving, clients }))(this.mqtt.status()) } : {}),
      awaitingOperator: s.awaitingOperator,
      counters: this.runtime.counters(),
    };
  }

  async confirm(actor: Actor): Promise<{ state: NodeState; epoch: number }> {
    const r = await this.audited(actor, "confirm", undefined, async () => {
      // a standby awaiting an operator is promoted by a confirm; otherwise only the active has a takeover to confirm
      const s = this.runtime.state;
      if (!(s.awaitingOperator && (s.state === "standby" || s.state === "starting"))) this.requireActive("confirm");
      return this.runtime.op("confirm", actor);
    });
    return { state: r.state as NodeState, epoch: r.epoch as number };
  }

  async reject(actor: Actor): Promise<{ state: NodeState; epoch: number }> {
    const r = await this.audited(actor, "reject", undefined, async () => {
      this.requireActive("reject");
      return this.runtime.op("reject", actor);
    });
    return { state: r.state as NodeState, epoch: r.epoch as number };
  }

  async promote(actor: Actor): Promise<{ state: NodeState; epoch: number }> {
    const r = await this.audited(actor, "promote", undefined, () => this.runtime.op("promote", actor));
    return { state: r.state as NodeState, epoch: r.epoch as number };
  }

  async switchover(actor: Actor, to?: string): Promise<SwitchoverResult> {
    const t0 = performance.now();
    const r = await this.audited(actor, "switchover", to === undefined ? undefined : { to }, async () => {
      // a standby connected to the active it hears asks it to hand over (the role machine, which checks the same);
      // one that cannot ask points to the active, or says none is known
      this.runtime.refresh();
      const s = this.runtime.state;
      const canAsk = s.state === "standby" && s.peer.tcpUp && isActiveState(s.peer.state) && peerVisible(s.peer, this.runtime.now(), this.config.heartbeat.timeoutMs);
      if (!canAsk) this.requireActive("switchover");
      return this.runtime.op("switchover", actor, { to });
    });
    return {
      from: String(r.from ?? this.config.node.id),
      to: String(r.to ?? this.config.peer.id),
      epoch: Number(r.epoch ?? this.runtime.state.epoch),
      durationMs: typeof r.durationMs === "number" ? r.durationMs : Math.round(performance.now() - t0),
    };
  }

  async maintenance(actor: Actor, enter: boolean, force?: boolean): Promise<{ state: NodeState }> {
    const action = enter ? "maintenance-enter" : "maintenance-leave";
    const r = await this.audited(actor, action, force === undefined ? undefined : { force }, () => this.runtime.op(action, actor, { force }));
    return { state: (r.state as NodeState) ?? this.runtime.state.state };
  }

  audit(opts: { limit?: number; since?: number }): AuditEntry[] {
    return this.auditLog.list(opts);
  }

  async pairAudit(opts: { limit?: number; since?: number }): Promise<{ entries: AuditEntry[]; next: number | null }> {
    const a = this.data.audit;
    if (!a) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["replication.mode is none: the pair's audit is not kept; this node's own is (source=node)"]);
    return a.list(opts.since ?? 0, Math.max(1, Math.min(1000, opts.limit ?? 100)));
  }

  verifyAudit(): Promise<AuditVerifyResult> {
    return this.auditLog.verify();
  }

  setLogLevel(actor: Actor, level: LogLevel, component?: string): { default: LogLevel; components: Record<string, LogLevel> } {
    const details = { level, component: component ?? "(all)" };
    this.recordIntent(actor, "log-level", details);
    try {
      this.logs.setLevel(level, component);
    } catch (err) {
      this.writeAudit("log-level", actor, "refused", { ...details, reason: (err as Error).message });
      throw new TandemError("TANDEM_ERR_BAD_REQUEST", [(err as Error).message]);
    }
    this.writeAudit("log-level", actor, "ok", details);
    return this.logs.levels();
  }

  logLevels(): { default: LogLevel; components: Record<string, LogLevel> } {
    return this.logs.levels();
  }

  async metrics(): Promise<string> {
    return this.metricsOut.text();
  }

  tags(): TagView[] {
    return this.drivers?.tags() ?? [];
  }

  follow(fn: (e: StreamEvent) => void): () => void {
    // a follower's fault (a closed stream) is its own: the node goes on
    const call = (e: StreamEvent) => {
      try {
        fn(e);
      } catch (err) {
        this.log.debug({ err }, `an event stream follower failed: ${(err as Error).message}`);
      }
    };
    const onState = (from: NodeState, to: NodeState, epoch: number, reason: string) => call({ type: "state", data: { from, to, epoch, reason } });
    const onEvent = (data: EventRow) => call({ type: "event", data });
    const onAudit = (data: AuditEntry) => call({ type: "audit", data });
    this.runtime.on("state", onState);
    this.history.events.listeners.add(onEvent);
    this.auditFollowers.add(onAudit);
    const untag = this.drivers?.bus.subscribe((data) => call({ type: "tag", data })) ?? (() => undefined);
    return () => {
      this.runtime.off("state", onState);
      this.history.events.listeners.delete(onEvent);
      this.auditFollowers.delete(onAudit);
      untag();
    };
  }

  tag(name: string): TagView {
    const t = this.drivers?.tag(name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    return t;
  }

  services(): ServicesView {
    const s = this.runtime.state;
    const f = this.supervisor.balancer.figures();
    return { nodeId: this.config.node.id, state: s.state, epoch: s.epoch, services: this.supervisor.views(), figures: { own: { ...f.own }, peer: f.peer ? { ...f.peer } : null } };
  }

  async serviceAction(actor: Actor, name: string, action: "start" | "stop" | "restart"): Promise<{ name: string; action: string; instances: string[] }> {
    if (!this.supervisor.has(name)) throw new TandemError("TANDEM_ERR_SERVICE_UNKNOWN", [name, this.supervisor.names().join(", ") || "none"]);
    return this.audited(actor, `service-${action}`, { service: name }, async () => {
      // a service placed active runs on the active only: acting on it elsewhere would not reach it
      if (this.supervisor.views().every((v) => v.name !== name || v.placement === "active")) this.requireActive(`${action} of service ${name}`);
      return this.supervisor.act(name, action, actor.user);
    });
  }

  serviceEvents(name: string, count: number): { name: string; accepted: boolean } {
    if (!this.supervisor.has(name)) throw new TandemError("TANDEM_ERR_SERVICE_UNKNOWN", [name, this.supervisor.names().join(", ") || "none"]);
    return { name, accepted: this.supervisor.addEvents(name, count) };
  }

  recordRefusal(r: RefusalRecord): void {
    this.writeAudit(r.action, { user: r.user || "(none)", role: r.role ?? "none", from: r.from }, "refused", r.details);
  }

  async writeTag(actor: Actor, name: string, value: unknown): Promise<{ name: string; value: unknown }> {
    const drivers = this.drivers;
    // an operator's manual write: allowed on the active, also while held (S3 holds process writes only)
    // the answer carries the value as written (float32-rounded, scaled, converted), which a read then shows
    const written = await this.audited(actor, "write-tag", { tag: name, value }, async () => {
      // the active judges the write (its tags, its value); the standby points there
      this.requireActive("tag write");
      if (!drivers) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
      return drivers.write(name, value, "operator");
    });
    return { name, value: written };
  }

  // ------------------------------------------------ records and context

  private reportUp(part: "services" | "processes", up: boolean): void {
    this.upParts[part] = up;
    this.runtime.setServicesUp(this.upParts.services || this.upParts.processes);
  }

  context(): Promise<ContextView> {
    return this.data.context();
  }

  replicationStatus(): NodeStatus["replication"] {
    return this.data.replicationStatus();
  }

  writeRecord(table: string, data: unknown, idempotencyKey?: string): Promise<RecordAnswer> {
    return this.data.writeRecord(table, data, idempotencyKey);
  }

  readRecords(table: string, afterSeq: number, limit: number): Promise<{ table: string; records: RecordView[]; next: number | null }> {
    return this.data.readRecords(table, afterSeq, limit);
  }

  divergence(afterId: number, limit: number): Promise<DivergenceView> {
    return this.data.divergence(afterId, limit);
  }

  tagHistory(name: string, q: HistoryQuery): Promise<TagHistoryView> {
    return this.history.tagHistory(name, q);
  }

  eventHistory(afterSeq: number, limit: number): Promise<EventsView> {
    return this.history.eventHistory(afterSeq, limit);
  }

  async verifyReplication(actor: Actor): Promise<VerifyResult> {
    this.data.onActive("verify");
    return this.audited(actor, "replication-verify", undefined, () => this.data.verify(actor.user));
  }

  async resyncReplication(actor: Actor): Promise<{ started: boolean }> {
    this.data.onActive("resync");
    return this.audited(actor, "replication-resync", undefined, async () => this.data.resync());
  }

  async discardDivergent(actor: Actor, id: number): Promise<{ id: number; discarded: boolean }> {
    return this.audited(actor, "discard-divergent", { id }, async () => ({ id, discarded: await this.data.discardDivergent(id) }));
  }

  // ---------------------------------------------------------- internals

  /**
   * Throws TANDEM_ERR_NOT_ACTIVE naming the active (and its address, from
   * peer.api), or saying that none is known, when this node is not active
   * (active-held is active). The HTTP layer answers 421, 409 or 503.
   */
  private requireActive(what: string): void {
    this.runtime.refresh();
    if (!isActiveState(this.runtime.state.state)) throw this.notActive(what);
  }

  private notActive(what: string): TandemError {
    const s = this.runtime.state;
    const visible = peerVisible(s.peer, this.runtime.now(), this.config.heartbeat.timeoutMs);
    return notActiveError(what, { nodeId: this.config.node.id, state: s.state, peerId: this.config.peer.id, peerState: visible ? s.peer.state : "unknown", peerApi: this.config.peer.api });
  }

  /**
   * An operator's action, audited: the "requested" entry is on disk before the
   * action runs, and an action that cannot be recorded is refused
   * (TANDEM_ERR_AUDIT_UNAVAILABLE, 503) without running. The outcome follows:
   * the role machine records its own (with its reasons); when it did not,
   * this records ok, or refused/failed with the error.
   */
  private async audited<T>(actor: Actor, action: string, details: Record<string, unknown> | undefined, run: () => Promise<T>): Promise<T> {
    const intent = this.recordIntent(actor, action, details);
    const recorded = (results: string[]) => this.auditLog.list({ since: intent.seq, limit: 1000 }).some((e) => e.action === action && e.user === actor.user && results.includes(e.result));
    try {
      const r = await run();
      if (!recorded(["ok"])) this.writeAudit(action, actor, "ok", details);
      return r;
    } catch (err) {
      if (!recorded(["refused", "failed"])) {
        const te = err instanceof TandemError ? err : null;
        this.writeAudit(action, actor, te && te.status < 500 ? "refused" : "failed", { ...(details ?? {}), code: te?.code ?? "TANDEM_ERR_INTERNAL", reason: (err as Error).message });
      }
      throw err;
    }
  }

  /** The "requested" entry; throws TANDEM_ERR_AUDIT_UNAVAILABLE when it cannot be written. */
  private recordIntent(actor: Actor, action: string, details: Record<string, unknown> | undefined): AuditEntry {
    try {
      return this.appendAudit(action, actor, "requested", details);
    } catch (err) {
      this.log.error({ err, user: actor.user, from: actor.from, action }, `cannot write the audit log: ${(err as Error).message}; ${action} by ${actor.user} refused`);
      throw err instanceof TandemError ? err : new TandemError("TANDEM_ERR_AUDIT_UNAVAILABLE", [(err as Error).message]);
    }
  }

  private appendAudit(action: string, actor: AuditActor | "system", result: AuditEntry["result"], details?: Record<string, unknown>): AuditEntry {
    const a = actor === "system" ? { user: "system", role: "system" as const, from: "local" } : { user: actor.user, role: actor.role, from: actor.from ?? "local" };
    const entry = this.auditLog.append({
      user: a.user,
      role: a.role,
      from: a.from,
      action,
      result,
      nodeId: this.config.node.id,
      epoch: this.runtime?.state.epoch ?? this.store.epoch,
      ...(details === undefined ? {} : { details }),
    });
    this.log.info({ audit: entry.seq, user: a.user, from: a.from, action, result }, `audit: ${a.user} ${action} ${result}`);
    return entry;
  }

  /**
   * An entry for what already happened (an outcome, the node's own doings): it
   * cannot be taken back, so a failure is logged and counted, not thrown. The
   * "requested" entry before it is on disk.
   */
  private writeAudit(action: string, actor: AuditActor | "system", result: "ok" | "refused" | "failed", details?: Record<string, unknown>): void {
    try {
      this.appendAudit(action, actor, result, details);
    } catch (err) {
      this.log.error({ err, action, result }, `cannot write the audit log: ${(err as Error).message} (${action} ${result} is not recorded)`);
    }
  }
}
