// What the HTTP API and the CLI see of a running node. The node runtime
// (runtime/node.ts) implements it; the API layer only calls it.
import type { PushAnswer } from "./node-config.js";
import type { BackupsView } from "./backup/node-backups.js";
import type { BackupSidecar, RestoreTestResult } from "./backup/backups.js";
import type { AuditVerifyResult } from "./audit/chain.js";
import type { ReplicationStatus } from "../redundancy/replication/replicator.js";
import type { ProcessView } from "./processes/host.js";
import type { VerifyResult } from "../redundancy/replication/verify.js";
import type { Quality, TagSnapshot } from "../drivers/tag-model.js";
import type { Actor, LogLevel, NodeState, Role } from "../core/types.js";
import type { SiteView } from "./site/view.js";
import type { SparkplugStatus } from "./sparkplug/edge-node.js";

export type { Actor, NodeState, Role };

export interface NodeStatus {
  pairId: string;
  nodeId: string;
  pid: number;
  role: "main" | "secondary";
  state: NodeState;
  epoch: number;
  serviceLevel: number;
  /** why the service level is below 255 (a link down, the witness unreachable, a device unreachable …) */
  serviceLevelReasons: string[];
  leaseRemainingMs: number;
  /** plain words for the operator: what happened, what to do */
  message: string;
  since: string;
  peer: {
    nodeId: string;
    state: NodeState | "unknown";
    epoch: number | null;
    serviceLevel: number | null;
    lastSeenMs: number | null;
    connected: boolean;
    links: { name: string; up: boolean; lastSeenMs: number | null }[];
    /** the peer's API base (http://host:port/api/v1) from peer.api, null when not configured: where to go when the peer is active */
    api: string | null;
  };
  witness: { configured: boolean; reachable: boolean; address?: string; holder?: string | null; holderEpoch?: number | null };
  context: { held: boolean; seq: number; heldSince?: string | null; autoConfirmAt?: string | null };
  /** replication (runtime/records.ts; the fields beyond the first three: ReplicationStatus) */
  replication: { mode: "sync" | "async" | "none"; lagRecords: number; journalRecords: number } & Partial<ReplicationStatus & { engine: string; database: string }>;
  /** PLC connections per device and endpoint, when the node has drivers */
  devices?: { device: string; endpoint: string; connected: boolean; path?: string }[];
  /** the embedded MQTT broker, when the mqtt section is there: where it listens, whether it serves clients now, how many */
  mqtt?: { broker: "embedded" | "external"; listen: string; serving: boolean; clients: number; sparkplug?: SparkplugStatus };
  /** the node's OPC UA server, when opcua.server is there: its endpoint, the ServiceLevel it serves now, its sessions */
  opcua?: { endpoint: string; serviceLevel: number; sessions: number };
  /** what on this node needs an operator's eye: its monitoring alarms and warnings, and its backups (runtime/node-attention.ts) */
  attention?: {
    alarms: { source: "host" | "silence" | "log" | "backup"; level: "warn" | "alarm"; text: string }[];
    backups: { makesBackups: boolean; last: { name: string | null; ok: boolean; at: string; error?: string } | null; restoreTest: { ok: boolean; at: string; backup: string | null } | null; count: number } | null;
  };
  /** this node's pair-wide configuration version and the peer's (runtime/config/pair-config.ts): match null until the peer has said */
  config?: { tandem: string; peerTandem: string | null; version: string; peerVersion: string | null; match: boolean | null; differs: string[]; onDisk?: string | null };
  /** the standby lost the active on every link and has no witness: an operator decides */
  awaitingOperator: boolean;
  counters: Record<string, number>;
}

export interface AuditEntry {
  seq: number;
  ts: string;
  user: string;
  /** "none": a refused request whose login was not (or not yet) checked */
  role: Role | "system" | "none";
  /** where the request came from (the client's address; "local" for the node itself) */
  from: string;
  action: string;
  /** requested: written before an operator's action runs (no record, no action); then ok, refused or failed */
  result: "requested" | "ok" | "refused" | "failed";
  nodeId: string;
  epoch: number;
  /** bounded and well-formed (runtime/audit/normalise.ts) */
  details?: Record<string, unknown>;
  /** sha256 of the previous line: the log is an append-only hash chain */
  prev: string;
  /** HMAC-SHA256 of the line with the node's audit key (absent on lines written before the keyed chain) */
  mac?: string;
}

/**
 * A request the HTTP layer refused before it reached the controller (a failed
 * or throttled login, a role too low, a cross-site request), for the audit
 * log. `user` is who the request claimed to be; `role` is set when the login
 * was checked. The HTTP layer bounds how often this is called.
 */
export interface RefusalRecord {
  action: string;
  user: string;
  role?: Role;
  from: string;
  details: Record<string, unknown>;
}

/** A tag as the API shows it (CONTRACT.md: name, driver, value, quality, timestamp, writable). */
export type TagView = TagSnapshot;

export interface SwitchoverResult {
  from: string;
  to: string;
  epoch: number;
  durationMs: number;
}

/** Every state a service instance can be in (a state added to runtime/services/instance.ts but not here fails to compile in Supervisor.views()). */
export const SERVICE_STATES = ["stopped", "waiting", "backoff", "starting", "running", "stopping", "failed"] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

/** One service instance as the API, the CLI and the HMI show it (GET /api/v1/services). */
export interface ServiceView {
  /** the service's name; balanced instances share it */
  name: string;
  /** "name" or "name#i" for the i-th balanced instance */
  instance: string;
  placement: "active" | "standby" | "both" | "balanced";
  state: ServiceState;
  /** the service's own pid while it runs here, else null */
  pid: number | null;
  /** where it runs: this node's id while present here; for balanced instances, the node it is assigned to; null when nowhere */
  node: string | null;
  /** why it is (or is not) running here, in plain words; for balanced instances the scheme's figures */
  reason: string;
  dependsOn: string[];
  health: "ok" | "failing" | "unknown" | "none";
  healthDetail: string;
  startedAt: string | null;
  uptimeMs: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: string; description: string } | null;
  cpuPercent: number;
  rssBytes: number;
  readBytes: number;
  writeBytes: number;
  eventsPerSec: number;
  lastOutputAt: string | null;
  /** an operator stopped it: it stays stopped on both nodes, across a takeover, until started again */
  stoppedByOperator: { by: string; at: string } | null;
  scheme?: string;
}

export interface ServicesView {
  nodeId: string;
  state: NodeState;
  epoch: number;
  services: ServiceView[];
  /** balanced services: the load figures both nodes share (this node's, and the peer's when it is in the pool) */
  figures: { own: Record<string, unknown>; peer: Record<string, unknown> | null };
}

/** what GET /api/v1/events streams (runtime/http/event-stream.ts): a state change (the stream sends a fresh status), a tag's new value or quality, an event or alarm, an audit entry, the services' view (as it changes, and every few seconds for the figures) */
export type StreamEvent =
  | { type: "state"; data: { from: NodeState; to: NodeState; epoch: number; reason: string } }
  | { type: "tag"; data: TagView }
  | { type: "event"; data: { type: string; severity: string; text: string; node: string; at: number } }
  | { type: "audit"; data: AuditEntry }
  | { type: "services"; data: ServicesView }
  | { type: "site"; data: SiteView };

export interface NodeController {
  /** the site view (runtime/node-site.ts): every pair on the site broker; absent on a controller without one */
  readonly site?: { view(): SiteView };
  /** calls fn with each StreamEvent until the returned function is called */
  follow(fn: (e: StreamEvent) => void): () => void;
  status(): NodeStatus;
  /** service level and state, for /health */
  health(): { state: NodeState; serviceLevel: number; epoch: number; nodeId: string };
  /** Throws TandemError (TANDEM_ERR_NOT_HELD …) when not applicable. */
  confirm(actor: Actor): Promise<{ state: NodeState; epoch: number }>;
  reject(actor: Actor): Promise<{ state: NodeState; epoch: number }>;
  /** On the active: hand over to the peer. On the standby: ask the active to hand over. */
  /** acceptConfig: although the nodes run different pair-wide configurations */
  switchover(actor: Actor, to?: string, acceptConfig?: boolean): Promise<SwitchoverResult>;
  /**
   * On a standby that lost the active on every link without a witness: the
   * operator has checked that the active is down (manual fencing).
   */
  promote(actor: Actor): Promise<{ state: NodeState; epoch: number }>;
  maintenance(actor: Actor, enter: boolean, force?: boolean): Promise<{ state: NodeState }>;
  audit(opts: { limit?: number; since?: number }): AuditEntry[];
  /** the pair's audit: the lines the active nodes wrote to the replicated `_audit` table, as this node's database holds them (`since`: a row sequence number) */
  pairAudit(opts: { limit?: number; since?: number }): Promise<{ entries: AuditEntry[]; next: number | null }>;
  /** checks the whole audit chain (runtime/audit/chain.ts) */
  verifyAudit(): Promise<AuditVerifyResult>;
  setLogLevel(actor: Actor, level: LogLevel, component?: string): { default: LogLevel; components: Record<string, LogLevel> };
  logLevels(): { default: LogLevel; components: Record<string, LogLevel> };
  /** Prometheus text format */
  metrics(): Promise<string>;
  /** every configured tag ([] when the node has no drivers) */
  tags(): TagView[];
  /** one tag; throws TANDEM_ERR_TAG_UNKNOWN */
  tag(name: string): TagView;
  /** writes an audit entry (result "refused") for a request refused before the controller; never throws */
  recordRefusal(r: RefusalRecord): void;
  /** an operator's write: only on the active (allowed while held); audited. `value` in the answer is the value as written (drivers/tag-value.ts writtenValue) */
  writeTag(actor: Actor, name: string, value: unknown): Promise<{ name: string; value: unknown }>;
  /** the supervised services on this node */
  services(): ServicesView;
  /** an operator's start, stop or restart (audited); throws TANDEM_ERR_SERVICE_UNKNOWN */
  serviceAction(actor: Actor, name: string, action: "start" | "stop" | "restart"): Promise<{ name: string; action: string; instances: string[] }>;
  /** events a service reports it handled (for events/s and the fewest-events scheme); throws TANDEM_ERR_SERVICE_UNKNOWN */
  serviceEvents(name: string, count: number): { name: string; accepted: boolean };
  /** a record from a service or script (active or held only); answered once acknowledged per the replication mode */
  writeRecord(table: string, data: unknown, idempotencyKey?: string): Promise<RecordAnswer>;
  readRecords(table: string, afterSeq: number, limit: number): Promise<{ table: string; records: RecordView[]; next: number | null }>;
  /** one tag's recorded values in a time range (runtime/history/); throws TANDEM_ERR_TAG_UNKNOWN for a name neither configured nor recorded */
  tagHistory(name: string, q: HistoryQuery): Promise<TagHistoryView>;
  /** the stored events and alarms, in the order they were written, after a sequence number */
  eventHistory(afterSeq: number, limit: number): Promise<EventsView>;
  /** records a rejoining node wrote under an old epoch, kept aside */
  divergence(afterId: number, limit: number): Promise<DivergenceView>;
  /** the process context and the process modules: content, step, sequence, age, writer epoch, held or not */
  context(): Promise<ContextView>;
  /** compares both databases now (on the active; audited) */
  verifyReplication(actor: Actor): Promise<VerifyResult>;
  /** the standby rebuilds its copy from the active's (on the active; admin; audited) */
  resyncReplication(actor: Actor): Promise<{ started: boolean }>;
  /** an operator has dealt with a divergent record (audited) */
  discardDivergent(actor: Actor, id: number): Promise<{ id: number; discarded: boolean }>;
  /** sends the pair-wide part of this node's config file to the standby, which writes it into its own (admin, audited; on the active) */
  pushConfig(actor: Actor): Promise<PushAnswer>;
  /** this node's backups, the last backup and restore test, the alarms (runtime/backup/) */
  backupsView(): BackupsView;
  /** a backup now (audited); throws TANDEM_ERR_BUSY while one runs, TANDEM_ERR_BACKUP when it fails */
  backupNow(actor: Actor): Promise<BackupSidecar>;
  /** restores a backup (the newest this node made by default) into a scratch place and checks it (audited) */
  restoreTest(actor: Actor, name?: string): Promise<RestoreTestResult>;
}

export interface RecordAnswer {
  id: string;
  table: string;
  epoch: number;
  seq: number;
  at: string;
  /** true when an earlier write with the same idempotency key is the answer */
  existing?: boolean;
}

/** A time range of one tag's history (GET /tags/:name/history): source times in ms, both included. */
export interface HistoryQuery {
  from: number;
  to: number;
  limit: number;
  /** oldest first (asc) or newest first (desc) */
  order: "asc" | "desc";
}

/** One recorded value of a tag: its value, quality (with the reason when not good) and source time. */
export interface HistorySample {
  value: unknown;
  quality: Quality;
  reason?: string;
  /** ISO source time (a heartbeat sample: when a read last confirmed the value) */
  timestamp: string;
}

export interface TagHistoryView {
  name: string;
  from: string;
  to: string;
  order: "asc" | "desc";
  samples: HistorySample[];
  /** the range holds more samples than `limit`: ask again from the last one's time */
  more: boolean;
}

/** One stored event or alarm (GET /events/history). */
export interface EventView {
  seq: number;
  type: string;
  severity: "info" | "warning" | "alarm";
  text: string;
  /** the node that saw it */
  node: string;
  /** ISO time it happened (on that node's clock) */
  at: string;
}

export interface EventsView {
  events: EventView[];
  /** the `after` of the next page, or null when this was the last */
  next: number | null;
}

export interface RecordView {
  id: string;
  seq: number;
  epoch: number;
  at: string;
  data: unknown;
}

export interface ContextView {
  nodeId: string;
  state: NodeState;
  epoch: number;
  held: boolean;
  /** the sequence number of the latest context write this node holds */
  seq: number;
  processes: ProcessView[];
}

export interface DivergenceView {
  records: { id: number; table: string; kind: string; key: string | null; seq: number; epoch: number; at: string; foundAt: string; activeEpoch: number; data: unknown }[];
  next: number | null;
}
