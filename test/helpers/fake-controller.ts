// A NodeController for unit tests of the API, the CLI and the HMI: its status
// is set by the test, and every action is recorded with the actor that asked.
import { TandemError } from "../../core/errors.js";
import type { LogLevel } from "../../runtime/config/schema.js";
import type { AuditVerifyResult } from "../../runtime/audit/chain.js";
import type { EventView, EventsView, HistoryQuery, HistorySample, RecordAnswer, TagHistoryView } from "../../runtime/node-api.js";
import type { VerifyResult } from "../../redundancy/replication/verify.js";
import type { BackupsView } from "../../runtime/backup/node-backups.js";
import type { BackupSidecar, RestoreTestResult } from "../../runtime/backup/backups.js";
import type { Actor, AuditEntry, ContextView, DivergenceView, NodeController, NodeState, NodeStatus, RefusalRecord, ServiceView, ServicesView, StreamEvent, SwitchoverResult, TagView } from "../../runtime/node-api.js";

export interface FakeCall {
  method: "confirm" | "reject" | "switchover" | "promote" | "maintenance" | "setLogLevel" | "writeTag" | "serviceAction" | "discardDivergent" | "verifyReplication" | "resyncReplication" | "backupNow" | "restoreTest" | "pushConfig";
  actor: Actor;
  args: unknown[];
}

type Method = FakeCall["method"] | "status" | "health" | "audit" | "pairAudit" | "verifyAudit" | "metrics" | "logLevels" | "tags" | "services" | "writeRecord";

/** a full replication status as an active in sync with its peer live reports it; `over` changes what a test needs */
export function replicationStatus(over: Partial<NodeStatus["replication"]> = {}): NodeStatus["replication"] {
  return {
    mode: "sync",
    role: "leader",
    peer: "live",
    acknowledging: "both",
    whenPeerAway: "accept",
    lastSeq: 1234,
    peerSeq: 1234,
    lagRecords: 0,
    lagMs: 0,
    journalRecords: 0,
    catchUp: null,
    refused: 0,
    divergentSetAside: 0,
    engine: "sqlite",
    database: "/data/a/records.db",
    ...over,
  };
}

export function makeStatus(over: Partial<NodeStatus> = {}): NodeStatus {
  return {
    pairId: "line1",
    nodeId: "a",
    pid: 4242,
    role: "main",
    state: "active",
    epoch: 7,
    serviceLevel: 230,
    serviceLevelReasons: ["witness unreachable"],
    leaseRemainingMs: 1180,
    message: "Active: this node drives the plant. The standby b is in step.",
    since: "2024-05-01T03:00:00.000Z",
    peer: {
      nodeId: "b",
      state: "standby",
      epoch: 7,
      serviceLevel: 220,
      lastSeenMs: 40,
      connected: true,
      links: [
        { name: "lan", up: true, lastSeenMs: 40 },
        { name: "direct", up: false, lastSeenMs: null },
      ],
      api: null,
    },
    witness: { configured: true, reachable: true, address: "10.0.0.9:7400", holder: "a", holderEpoch: 7 },
    context: { held: false, seq: 1234, heldSince: null, autoConfirmAt: null },
    replication: { mode: "sync", lagRecords: 0, journalRecords: 0 },
    awaitingOperator: false,
    counters: { takeovers: 1 },
    ...over,
  };
}

export class FakeController implements NodeController {
  current: NodeStatus;
  readonly calls: FakeCall[] = [];
  readonly auditEntries: AuditEntry[] = [];
  /** what the HTTP layer asked to audit as refused */
  readonly refusals: RefusalRecord[] = [];
  /** the next call of a method throws this (once) */
  readonly failNext = new Map<Method, Error>();
  levels: { default: LogLevel; components: Record<string, LogLevel> } = { default: "info", components: { http: "info" } };
  metricsText = "# HELP tandem_epoch The pair epoch\n# TYPE tandem_epoch gauge\ntandem_epoch 7\n";

  constructor(status: Partial<NodeStatus> = {}) {
    this.current = makeStatus(status);
  }

  /** follow()'s listeners: emit() reaches them */
  readonly followers = new Set<(e: StreamEvent) => void>();

  set(over: Partial<NodeStatus>): void {
    this.current = { ...this.current, ...over };
  }

  setState(state: NodeState): void {
    const from = this.current.state;
    this.set({ state, context: { ...this.current.context, held: state === "active-held" } });
    this.emit({ type: "state", data: { from, to: state, epoch: this.current.epoch, reason: "test" } });
  }

  follow(fn: (e: StreamEvent) => void): () => void {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }

  emit(e: StreamEvent): void {
    for (const f of this.followers) f(e);
  }

  callsOf(method: FakeCall["method"]): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  private maybeFail(m: Method): void {
    const e = this.failNext.get(m);
    if (e) {
      this.failNext.delete(m);
      throw e;
    }
  }

  private record(method: FakeCall["method"], actor: Actor, args: unknown[], result: AuditEntry["result"] = "ok"): void {
    this.calls.push({ method, actor, args });
    this.auditEntries.push({
      seq: this.auditEntries.length + 1,
      ts: new Date(Date.UTC(2024, 4, 1, 3, 0, this.auditEntries.length)).toISOString(),
      user: actor.user,
      role: actor.role,
      from: actor.from ?? "local",
      action: method,
      result,
      nodeId: this.current.nodeId,
      epoch: this.current.epoch,
      prev: "0".repeat(64),
    });
  }

  status(): NodeStatus {
    this.maybeFail("status");
    return structuredClone(this.current);
  }

  health() {
    this.maybeFail("health");
    const s = this.current;
    return { state: s.state, serviceLevel: s.serviceLevel, epoch: s.epoch, nodeId: s.nodeId };
  }

  async confirm(actor: Actor) {
    this.maybeFail("confirm");
    if (this.current.state !== "active-held") {
      this.record("confirm", actor, [], "refused");
      throw new TandemError("TANDEM_ERR_NOT_HELD", ["confirm", this.current.state]);
    }
    this.record("confirm", actor, []);
    this.setState("active");
    return { state: this.current.state, epoch: this.current.epoch };
  }

  async reject(actor: Actor) {
    this.maybeFail("reject");
    if (this.current.state !== "active-held") {
      this.record("reject", actor, [], "refused");
      throw new TandemError("TANDEM_ERR_NOT_HELD", ["reject", this.current.state]);
    }
    this.record("reject", actor, []);
    this.setState("active");
    return { state: this.current.state, epoch: this.current.epoch };
  }

  /** a switchover that takes this long (tests of requests in flight) */
  switchoverDelayMs = 0;

  async switchover(actor: Actor, to?: string, acceptConfig = false): Promise<SwitchoverResult> {
    if (this.switchoverDelayMs) await new Promise((r) => setTimeout(r, this.switchoverDelayMs));
    this.maybeFail("switchover");
    this.record("switchover", actor, acceptConfig ? [to, true] : [to]);
    const peer = this.current.peer.nodeId;
    this.set({ state: "standby", epoch: this.current.epoch + 1 });
    return { from: this.current.nodeId, to: to ?? peer, epoch: this.current.epoch, durationMs: 120 };
  }

  async promote(actor: Actor) {
    this.maybeFail("promote");
    this.record("promote", actor, []);
    this.set({ state: "active-held", epoch: this.current.epoch + 1, awaitingOperator: false });
    return { state: this.current.state, epoch: this.current.epoch };
  }

  async maintenance(actor: Actor, enter: boolean, force?: boolean) {
    this.maybeFail("maintenance");
    this.record("maintenance", actor, [enter, force]);
    this.set({ state: enter ? "maintenance" : "standby", serviceLevel: enter ? 0 : 200 });
    return { state: this.current.state };
  }

  recordRefusal(r: RefusalRecord): void {
    this.refusals.push(r);
  }

  audit(opts: { limit?: number; since?: number }): AuditEntry[] {
    this.maybeFail("audit");
    let out = this.auditEntries;
    if (opts.since !== undefined) out = out.filter((e) => e.seq > opts.since!).slice(0, opts.limit ?? 100);
    else out = out.slice(-(opts.limit ?? 100));
    return structuredClone(out);
  }

  /** what pairAudit answers (a node's `_audit` table) */
  pairAuditEntries: AuditEntry[] = [];

  async pairAudit(opts: { limit?: number; since?: number }): Promise<{ entries: AuditEntry[]; next: number | null }> {
    this.maybeFail("pairAudit");
    return { entries: structuredClone(this.pairAuditEntries.slice(0, opts.limit ?? 100)), next: null };
  }

  verifyResult: AuditVerifyResult = { ok: true, lines: 0, entries: 0, keyedFrom: null, unkeyedLines: 0, summary: "ok: 0 lines" };

  async verifyAudit(): Promise<AuditVerifyResult> {
    this.maybeFail("verifyAudit");
    return structuredClone(this.verifyResult);
  }

  setLogLevel(actor: Actor, level: LogLevel, component?: string) {
    this.maybeFail("setLogLevel");
    this.record("setLogLevel", actor, [level, component]);
    if (component) this.levels.components[component] = level;
    else this.levels.default = level;
    return structuredClone(this.levels);
  }

  logLevels() {
    this.maybeFail("logLevels");
    return structuredClone(this.levels);
  }

  async metrics(): Promise<string> {
    this.maybeFail("metrics");
    return this.metricsText;
  }

  /** tags the test sets; writes are recorded and applied */
  tagList: TagView[] = [];

  tags(): TagView[] {
    this.maybeFail("tags");
    return structuredClone(this.tagList);
  }

  tag(name: string): TagView {
    this.maybeFail("tags");
    const t = this.tagList.find((x) => x.name === name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    return structuredClone(t);
  }

  async writeTag(actor: Actor, name: string, value: unknown): Promise<{ name: string; value: unknown }> {
    this.record("writeTag", actor, [name, value]);
    this.maybeFail("writeTag");
    const t = this.tagList.find((x) => x.name === name);
    if (!t) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    t.value = value;
    return { name, value };
  }

  /** services the test sets; actions are recorded and applied */
  serviceList: ServiceView[] = [];
  /** the balanced services' shared load figures the test sets; by default only this node's id */
  serviceFigures: ServicesView["figures"] | null = null;
  events: { name: string; count: number }[] = [];

  /** GET /services answered or refused */
  servicesReads = 0;

  services(): ServicesView {
    this.servicesReads++;
    this.maybeFail("services");
    const s = this.current;
    const figures = this.serviceFigures ?? { own: { nodeId: s.nodeId }, peer: null };
    return { nodeId: s.nodeId, state: s.state, epoch: s.epoch, services: structuredClone(this.serviceList), figures: structuredClone(figures) };
  }

  private service(name: string): ServiceView[] {
    const list = this.serviceList.filter((x) => x.name === name);
    if (!list.length) throw new TandemError("TANDEM_ERR_SERVICE_UNKNOWN", [name, this.serviceList.map((x) => x.name).join(", ") || "none"]);
    return list;
  }

  /** a service action that takes this long (a stop waits for the service to end) */
  serviceActionDelayMs = 0;

  async serviceAction(actor: Actor, name: string, action: "start" | "stop" | "restart") {
    const list = this.service(name);
    this.record("serviceAction", actor, [name, action]);
    if (this.serviceActionDelayMs) await new Promise((r) => setTimeout(r, this.serviceActionDelayMs));
    this.maybeFail("serviceAction");
    for (const x of list) {
      x.state = action === "stop" ? "stopped" : "running";
      x.stoppedByOperator = action === "stop" ? { by: actor.user, at: "2024-05-01T03:00:00.000Z" } : null;
      if (action === "restart") x.restarts++;
    }
    return { name, action, instances: list.map((x) => x.instance) };
  }

  serviceEvents(name: string, count: number) {
    this.service(name);
    this.events.push({ name, count });
    return { name, accepted: true };
  }

  /** records tables this fake knows, and what was written to them */
  recordTables: Record<string, { seq: number; data: unknown; key?: string }[]> = { batch_log: [] };
  divergent: DivergenceView["records"] = [];
  private recordSeq = 0;

  private recordTable(table: string) {
    // own tables only: "toString" or "constructor" is a table name the API lets through, as the node does (records.ts)
    const t = Object.hasOwn(this.recordTables, table) ? this.recordTables[table] : undefined;
    if (!t) throw new TandemError("TANDEM_ERR_TABLE_UNKNOWN", [table, Object.keys(this.recordTables).join(", ")]);
    return t;
  }

  async writeRecord(table: string, data: unknown, idempotencyKey?: string): Promise<RecordAnswer> {
    this.maybeFail("writeRecord");
    const t = this.recordTable(table);
    const s = this.current;
    if (s.state !== "active" && s.state !== "active-held") throw new TandemError("TANDEM_ERR_NOT_ACTIVE", ["record write", s.state], { active: null, activeNode: null });
    const had = idempotencyKey === undefined ? undefined : t.find((r) => r.key === idempotencyKey);
    const row = had ?? { seq: ++this.recordSeq, data, key: idempotencyKey };
    if (!had) t.push(row);
    return { id: `${s.epoch}-${row.seq}`, table, epoch: s.epoch, seq: row.seq, at: new Date(0).toISOString(), ...(had ? { existing: true } : {}) };
  }

  async readRecords(table: string, afterSeq: number, limit: number) {
    const rows = this.recordTable(table).filter((r) => r.seq > afterSeq).slice(0, limit);
    const epoch = this.current.epoch;
    return { table, records: rows.map((r) => ({ id: `${epoch}-${r.seq}`, seq: r.seq, epoch, at: new Date(0).toISOString(), data: r.data })), next: rows.length === limit ? rows[rows.length - 1].seq : null };
  }

  async divergence(afterId: number, limit: number): Promise<DivergenceView> {
    const rows = this.divergent.filter((r) => r.id > afterId).slice(0, limit);
    return { records: structuredClone(rows), next: rows.length === limit ? rows[rows.length - 1].id : null };
  }

  /** what GET /tags/:name/history serves, per tag (the test sets them; each sample's timestamp decides whether a range holds it) */
  history: Record<string, HistorySample[]> = {};
  /** the queries GET /tags/:name/history passed on */
  readonly historyQueries: { name: string; q: HistoryQuery }[] = [];

  async tagHistory(name: string, q: HistoryQuery): Promise<TagHistoryView> {
    this.historyQueries.push({ name, q });
    const all = Object.hasOwn(this.history, name) ? this.history[name] : undefined;
    if (!all) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    const inRange = all.filter((s) => Date.parse(s.timestamp) >= q.from && Date.parse(s.timestamp) <= q.to);
    if (q.order === "desc") inRange.reverse();
    return { name, from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString(), order: q.order, samples: inRange.slice(0, q.limit), more: inRange.length > q.limit };
  }

  /** what GET /events/history serves (the test sets them) */
  storedEvents: EventView[] = [];

  async eventHistory(afterSeq: number, limit: number): Promise<EventsView> {
    const rows = this.storedEvents.filter((e) => e.seq > afterSeq).slice(0, limit);
    return { events: structuredClone(rows), next: rows.length === limit ? rows[rows.length - 1].seq : null };
  }

  /** what GET /context answers (the test sets processes) */
  contextProcesses: ContextView["processes"] = [];

  async context(): Promise<ContextView> {
    const s = this.current;
    return { nodeId: s.nodeId, state: s.state, epoch: s.epoch, held: s.state === "active-held", seq: s.context.seq, processes: structuredClone(this.contextProcesses) };
  }

  /** what POST /replication/verify answers (the test may set it) */
  replicationVerify: VerifyResult = { id: "v1", by: "operator", startedAt: new Date(0).toISOString(), durationMs: 12, upTo: 100, ranges: 1, rows: 100, ok: true, mismatches: [], error: null };

  async verifyReplication(actor: Actor): Promise<VerifyResult> {
    this.record("verifyReplication", actor, []);
    return structuredClone(this.replicationVerify);
  }

  async resyncReplication(actor: Actor): Promise<{ started: boolean }> {
    this.record("resyncReplication", actor, []);
    return { started: true };
  }

  async discardDivergent(actor: Actor, id: number) {
    this.record("discardDivergent", actor, [id]);
    const before = this.divergent.length;
    this.divergent = this.divergent.filter((r) => r.id !== id);
    return { id, discarded: this.divergent.length < before };
  }

  /** what GET /backups answers (the test may set it) */
  backups: BackupsView = { dir: "/var/lib/tandem/backups", copyTo: null, schedule: "0 0 2 * * *", restoreTestSchedule: "0 30 2 * * *", runOn: "standby", makesBackups: true, running: null, last: null, lastRestoreTest: null, alarms: [], backups: [], copies: [] };
  /** what POST /backups/restore-test answers */
  restoreResult: RestoreTestResult = { ok: true, backup: "tandem-line1-a-20261130-020000", location: "/var/lib/tandem/backups", at: new Date(0).toISOString(), durationMs: 40, checks: ["PRAGMA integrity_check: ok"], problems: [] };

  backupsView(): BackupsView {
    return structuredClone(this.backups);
  }

  async backupNow(actor: Actor): Promise<BackupSidecar> {
    this.record("backupNow", actor, []);
    const name = "tandem-line1-a-20261130-020000";
    const database = { engine: "sqlite" as const, schemaVersion: 3, lastSeq: 10, lastEpoch: 2, rows: 10, tables: { _events: 10 }, divergent: 0, checksum: "0".repeat(64), entry: "db/tandem.db" };
    return { manifest: { format: "tandem-backup/1", name, pair: "line1", node: "a", createdAt: new Date(0).toISOString(), tandemVersion: "0.1.0", nodeState: "standby", epoch: 2, database, files: [], skipped: [] }, archive: { file: `${name}.tar.gz`, bytes: 1000, sha256: "0".repeat(64) } };
  }

  async restoreTest(actor: Actor, name?: string): Promise<RestoreTestResult> {
    this.record("restoreTest", actor, name === undefined ? [] : [name]);
    return structuredClone(this.restoreResult);
  }

  async pushConfig(actor: Actor) {
    this.record("pushConfig", actor, []);
    return { node: "b", version: "0123456789abcdef", kept: "/etc/tandem/b.yaml.before-push-2026-11-30T02-00-00-000Z", running: "fedcba9876543210" };
  }
}
