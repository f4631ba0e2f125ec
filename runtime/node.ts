// The composition root of one node. It starts storage (epoch store, audit
// log, the database with replication and the process modules: node-data.ts),
// the drivers (loaded before the node joins the pair: node-opcua's start-up
// work must not stall heartbeats once this node may be active), the peer
// link and role machine, the services, then the HTTP API; it stops the
// process modules and services (which must be gone before a handover), hands
// over, and stops the rest in reverse. stop() releases every timer, socket,
// child and file handle.
//
// It is also the NodeController the API calls: one short method per operation,
// handing over to the part that does it (node-actions.ts, node-audit.ts,
// node-status.ts, node-stream.ts, node-data.ts, node-history.ts).
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { DriverManager } from "../drivers/manager.js";
import { EpochStore } from "../redundancy/epoch-store.js";
import { PairRuntime } from "../redundancy/pair-runtime.js";
import type { AuditVerifyResult } from "./audit/chain.js";
import { makePrivateDir } from "./private-files.js";
import type { LogLevel, TandemConfig } from "./config/schema.js";
import { TandemError } from "../core/errors.js";
import { isActiveState } from "../core/types.js";
import { createHttpServer, type HttpServer } from "./http/server.js";
import { loadTlsMaterial } from "./http/tls.js";
import { LogManager } from "./logging.js";
import { NodeMetrics } from "./metrics.js";
import { pairRuntimeOptions } from "./pair-options.js";
import { NodeActions } from "./node-actions.js";
import { NodeAudit } from "./node-audit.js";
import { NodeData } from "./node-data.js";
import { NodeHistory, PEER_EVENTS_TOPIC } from "./node-history.js";
import { NodeMqtt } from "./node-mqtt.js";
import { NodeSite } from "./node-site.js";
import type { NodeOpcuaServer } from "./node-opcua-server.js";
import { startHostMonitoring, startLogWatch, startStaleMonitoring } from "./node-host.js";
import { attentionOf } from "./node-attention.js";
import { ConfigWatch, PEER_CONFIG_TOPIC } from "./config/config-watch.js";
import { pairConfigVersion, writtenSections } from "./config/pair-config.js";
import { tandemVersion } from "./version.js";
import { PEER_PUSH_RESULT_TOPIC, PEER_PUSH_TOPIC } from "./config/config-push.js";
import { NodeConfig, type PushAnswer } from "./node-config.js";
import { startBackups } from "./node-backup.js";
import type { BackupsView } from "./backup/node-backups.js";
import type { BackupSidecar, RestoreTestResult } from "./backup/backups.js";
import { followNode } from "./node-stream.js";
import { stopSteps } from "./node-stop.js";
import { nodeHealth, nodeStatus, ownApiUrl, serviceLevel, type HealthSource } from "./node-status.js";
import { mqttMetrics } from "./mqtt/metrics.js";
import type { VerifyResult } from "../redundancy/replication/verify.js";
import { pairView } from "./services/pair-view.js";
import { Supervisor } from "./services/supervisor.js";
import type { EventsView, HistoryQuery, TagHistoryView } from "./node-api.js";
import type { Actor, AuditEntry, ContextView, DivergenceView, NodeController, RecordAnswer, RecordView, NodeState, NodeStatus, RefusalRecord, ServicesView, StreamEvent, SwitchoverResult, TagView } from "./node-api.js";

const LEVEL_EVERY_MS = 100;

export class TandemNode implements NodeController {
  readonly logs: LogManager;
  readonly runtime: PairRuntime;
  private readonly store: EpochStore;
  /** the node's audit log, its syslog and pair copies, and the audited() wrapper of operators' actions */
  private readonly auditTrail: NodeAudit;
  /** the operators' actions, audited; the controller's methods below hand over to it */
  private readonly actions: NodeActions;
  private http: HttpServer | null = null;
  private host: ReturnType<typeof startHostMonitoring> | null = null;
  private backups: ReturnType<typeof startBackups> | null = null;
  private stale: ReturnType<typeof startStaleMonitoring> | null = null;
  private logWatch: ReturnType<typeof startLogWatch> | null = null;
  /** both nodes' pair-wide configurations compared */
  private readonly configWatch: ConfigWatch;
  /** a new configuration from the active (config push) */
  private readonly nodeConfig: NodeConfig;
  private readonly configFile: string | undefined;
  /** the embedded MQTT broker and what the active publishes on it (mqtt section) */
  mqtt: NodeMqtt | null = null;
  readonly site = new NodeSite(this); // the site view: every pair on the site broker (node-site.ts)
  /** the node's OPC UA server (opcua.server), loaded on start only when configured: node-opcua is a large import */
  opcua: NodeOpcuaServer | null = null;
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

  constructor(
    readonly config: TandemConfig,
    opts: { logs?: LogManager; configDir?: string; configFile?: string } = {},
  ) {
    const c = config;
    this.configFile = opts.configFile;
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
    this.auditTrail = new NodeAudit({ config: c, log: this.log, syslogLog: this.logs.get("audit"), epoch: () => this.runtime?.state.epoch ?? this.store.epoch, pair: () => this.data.audit });
    this.runtime = new PairRuntime(pairRuntimeOptions(c, this.store, this.logs.get("pair")));
    this.history = new NodeHistory({ config: c, runtime: this.runtime, records: () => this.data.records, drivers: () => this.drivers, log: this.logs.get("history") });
    this.data = new NodeData({ config: c, runtime: this.runtime, log: (name) => this.logs.get(name), drivers: () => this.drivers, setProcessesUp: (up) => this.reportUp("processes", up), notActive: (what) => this.actions.notActive(what), alarm: (type, text) => this.history.alarm(type, text) });
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
      apiUrl: () => ownApiUrl(this.httpAddress ?? c.http.listen, c.http.tls.enabled),
    });
    this.actions = new NodeActions({ config: c, runtime: this.runtime, audit: this.auditTrail, logs: this.logs, supervisor: this.supervisor, data: this.data, drivers: () => this.drivers });
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
    // as written in its file (${VARIABLES} unexpanded); a config made in code: as loaded
    const running = pairConfigVersion(c, this.configFile ? writtenSections(readFileSync(this.configFile, "utf8")) : null);
    this.nodeConfig = new NodeConfig({ configFile: this.configFile, peerId: c.peer.id, running: running.version, runtime: this.runtime, env: process.env, log: this.logs.get("node") });
    this.configWatch = new ConfigWatch({
      nodeId: c.node.id,
      peerId: c.peer.id,
      mine: running,
      tandem: tandemVersion(),
      send: (data) => this.runtime.sendPeerApp(PEER_CONFIG_TOPIC, data),
      setMismatch: (why) => this.runtime.setConfigMismatch(why),
      event: (severity, text) => this.history.events.record("config-mismatch", severity, text),
      log: this.logs.get("node"),
    });
    this.runtime.on("peer-app", (topic, data) => {
      if (topic === "services") this.supervisor.onPeerReport(data);
      else if (topic === PEER_CONFIG_TOPIC) this.configWatch.onPeer(data);
      else if (topic === PEER_PUSH_TOPIC) this.nodeConfig.onPush(data);
      else if (topic === PEER_PUSH_RESULT_TOPIC) this.nodeConfig.onResult(data);
      else if (topic === PEER_EVENTS_TOPIC) this.history.acceptPeerEvents(data);
    });
    this.runtime.on("epoch", (epoch) => this.drivers?.setRole(isActiveState(this.runtime.state.state), epoch));
    this.runtime.on("audit", (action, actor, result, details) => this.auditTrail.write(action, actor, result, details));
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
    this.auditTrail.open();
    // storage first: the node serves nothing it could not write down
    await this.data.open();
    this.addHealthSource({ name: "replication", health: () => this.data.health() });
    // The drivers load and start before the node joins the pair: their start-up
    // work (node-opcua alone is a large import) must not stall heartbeats and
    // lease renewals once this node may be active. The OPC UA server's address space loads before them (a second or more, the event loop held: their first reads would time out behind it).
    if (c.opcua?.server) this.opcua = await (await import("./node-opcua-server.js")).prepareOpcuaServer({ config: c, runtime: this.runtime, drivers: () => this.drivers, writeTag: (actor, name, value) => this.writeTag(actor, name, value), log: this.logs.get("opcua") });
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
    this.host = startHostMonitoring({ config: c, events: this.history.events, logs: this.logs, registry: this.metricsOut.registry, addHealthSource: (s) => this.addHealthSource(s) });
    this.logWatch = startLogWatch({ config: c, events: this.history.events, logs: this.logs, registry: this.metricsOut.registry });
    this.stale = startStaleMonitoring({
      config: c,
      runtime: this.runtime,
      drivers: () => this.drivers,
      lastVerifyAt: () => {
        const v = this.data.records?.replicator.lastVerify;
        return v ? Date.parse(v.startedAt) : null;
      },
      events: this.history.events,
      logs: this.logs,
      registry: this.metricsOut.registry,
    });
    this.backups = startBackups({
      config: c,
      configFile: this.configFile,
      state: () => this.runtime.state.state,
      epoch: () => this.runtime.state.epoch,
      database: () => this.data.records?.storage ?? null,
      events: this.history.events,
      logs: this.logs,
      registry: this.metricsOut.registry,
    });
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
      this.mqtt = new NodeMqtt({ config: c, runtime: this.runtime, drivers: () => this.drivers, events: this.history.events, httpTls: tls, writeTag: (actor, name, value) => this.writeTag(actor, name, value), site: this.site.mqttHooks(), log: this.logs.get("mqtt") });
      await this.mqtt.start();
    }
    this.site.start();
    await this.opcua?.listen(); // as the broker: before the node joins the pair (ServiceLevel "no data" until then; writes wait for the active)
    this.runtime.setLevel(this.computeLevel().level, settled());
    await this.runtime.start();
    this.configWatch.start();
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
    this.auditTrail.write("node-start", "system", "ok", { pid: process.pid, incarnation: this.store.incarnation, cleanOwner: this.store.cleanOwner });
  }

  /** Clean stop: hand over if active, then stop everything in reverse order. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // the last lines of a node say how it stopped: none of them is dropped
    this.logs.keepFinalLines();
    const stepOf = stopSteps(this.log, this.config.node.stopTimeoutMs);
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
    for (const part of [this.host, this.stale, this.logWatch, this.configWatch, this.nodeConfig]) part?.stop();
    await stepOf("HTTP API", async () => this.http?.stop());
    this.http = null;
    await stepOf("MQTT broker", async () => this.mqtt?.stop());
    await stepOf("site view", () => this.site.stop());
    this.mqtt = null;
    await stepOf("OPC UA server", async () => this.opcua?.stop());
    await stepOf("drivers", async () => this.drivers?.stop());
    await stepOf("peer link", () => this.runtime.stop());
    await stepOf("backups", async () => this.backups?.stop());
    await stepOf("database", () => this.data.close());
    this.log.info("stopping: stores");
    this.store.markCleanStop(this.runtime.state.context.ownerIsMeClean);
    this.auditTrail.write("node-stop", "system", "ok", { state: this.runtime.state.state });
    await this.auditTrail.close();
    this.metricsOut.close();
    this.log.info("node stopped");
    await this.logs.flush();
  }

  // ------------------------------------------------------- controller

  computeLevel(): { level: number; reasons: string[] } {
    return serviceLevel(this.runtime.state, this.runtime.now(), this.config, this.healthSources);
  }

  health(): { state: NodeState; serviceLevel: number; epoch: number; nodeId: string } {
    return nodeHealth(this.runtime, this.config.node.id);
  }

  status(): NodeStatus {
    this.runtime.refresh();
    return nodeStatus(this.config, this.runtime, {
      levelReasons: this.computeLevel().reasons,
      since: this.stateSinceWall,
      replication: this.replicationStatus(),
      devices: this.drivers?.connections(),
      mqtt: this.mqtt?.status(),
      opcua: this.opcua?.status(),
      config: { ...this.configWatch.view(), onDisk: this.nodeConfig.onDisk },
      attention: attentionOf({ host: this.host?.items() ?? [], stale: this.stale?.items() ?? [], log: this.logWatch?.items() ?? [], backups: this.backups?.view() ?? null }),
    });
  }

  confirm(actor: Actor): Promise<{ state: NodeState; epoch: number }> {
    return this.actions.confirm(actor);
  }

  reject(actor: Actor): Promise<{ state: NodeState; epoch: number }> {
    return this.actions.reject(actor);
  }

  promote(actor: Actor): Promise<{ state: NodeState; epoch: number }> {
    return this.actions.promote(actor);
  }

  switchover(actor: Actor, to?: string, acceptConfig = false): Promise<SwitchoverResult> {
    return this.actions.switchover(actor, to, acceptConfig);
  }

  maintenance(actor: Actor, enter: boolean, force?: boolean): Promise<{ state: NodeState }> {
    return this.actions.maintenance(actor, enter, force);
  }

  audit(opts: { limit?: number; since?: number }): AuditEntry[] {
    return this.auditTrail.list(opts);
  }

  pairAudit(opts: { limit?: number; since?: number }): Promise<{ entries: AuditEntry[]; next: number | null }> {
    return this.auditTrail.pairList(opts);
  }

  verifyAudit(): Promise<AuditVerifyResult> {
    return this.auditTrail.verify();
  }

  recordRefusal(r: RefusalRecord): void {
    this.auditTrail.write(r.action, { user: r.user || "(none)", role: r.role ?? "none", from: r.from }, "refused", r.details);
  }

  setLogLevel(actor: Actor, level: LogLevel, component?: string): { default: LogLevel; components: Record<string, LogLevel> } {
    return this.actions.setLogLevel(actor, level, component);
  }

  logLevels(): { default: LogLevel; components: Record<string, LogLevel> } {
    return this.logs.levels();
  }

  async metrics(): Promise<string> {
    return this.metricsOut.text();
  }

  follow(fn: (e: StreamEvent) => void): () => void {
    return followNode({ runtime: this.runtime, events: this.history.events, auditFollowers: this.auditTrail.followers, drivers: this.drivers, services: this.supervisor.names().length ? () => this.services() : null, site: this.site, log: this.log }, fn);
  }

  tags(): TagView[] {
    return this.drivers?.tags() ?? [];
  }

  tag(name: string): TagView {
    const t = this.drivers?.tag(name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    return t;
  }

  writeTag(actor: Actor, name: string, value: unknown): Promise<{ name: string; value: unknown }> {
    return this.actions.writeTag(actor, name, value);
  }

  services(): ServicesView {
    return this.actions.services();
  }

  serviceAction(actor: Actor, name: string, action: "start" | "stop" | "restart"): Promise<{ name: string; action: string; instances: string[] }> {
    return this.actions.serviceAction(actor, name, action);
  }

  serviceEvents(name: string, count: number): { name: string; accepted: boolean } {
    return this.actions.serviceEvents(name, count);
  }

  /** the pair-wide part of this node's config file, to the standby (admin, audited; on the active) */
  pushConfig(actor: Actor): Promise<PushAnswer> {
    return this.auditTrail.audited(actor, "config-push", undefined, () => this.nodeConfig.push((what) => this.actions.notActive(what)));
  }

  // ------------------------------------------------------------ backups

  backupsView(): BackupsView {
    if (!this.backups) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["the node is starting"]);
    return this.backups.view();
  }

  backupNow(actor: Actor): Promise<BackupSidecar> {
    const b = this.backups;
    if (!b) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["the node is starting"]);
    return this.auditTrail.audited(actor, "backup", undefined, () => b.backupNow(actor.user));
  }

  restoreTest(actor: Actor, name?: string): Promise<RestoreTestResult> {
    const b = this.backups;
    if (!b) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["the node is starting"]);
    return this.auditTrail.audited(actor, "restore-test", name ? { backup: name } : undefined, () => b.restoreTest(actor.user, name ?? null));
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

  verifyReplication(actor: Actor): Promise<VerifyResult> {
    return this.actions.verifyReplication(actor);
  }

  resyncReplication(actor: Actor): Promise<{ started: boolean }> {
    return this.actions.resyncReplication(actor);
  }

  discardDivergent(actor: Actor, id: number): Promise<{ id: number; discarded: boolean }> {
    return this.actions.discardDivergent(actor, id);
  }
}
