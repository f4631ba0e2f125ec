// The node's Prometheus metrics (GET /api/v1/metrics). Gauges read the node's
// state, its services' (Supervisor.views()) and its replication's, when scraped. Counters are
// what the components published on their diagnostics channels
// (core/diagnostics.ts): the peer link, the witness client, the drivers and
// the log say what happened, this module decides how it is counted and
// named. docs/monitoring.md lists every metric.
import diagnostics from "node:diagnostics_channel";
import { Counter, Gauge, Registry } from "prom-client";
import { COUNT_CHANNELS, counterFor, type CountChannel, type CountEvent } from "../core/diagnostics.js";
import { NODE_STATES } from "../core/types.js";
import { linkStatus } from "../redundancy/failure-detector.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { LogManager } from "./logging.js";
import { SERVICE_STATES, type NodeStatus, type ServiceView } from "./node-api.js";

/** Every counter a node can show: name → help and label names. */
export const COUNTERS = {
  tandem_peer_messages_rejected_total: { help: "Peer messages (heartbeats, grants, peer-connection frames) dropped unread, by reason: bad_mac, replay, old_incarnation, wrong_sender, wrong_channel, bad_body, bad_frame …", labels: ["reason"] },
  tandem_peer_datagrams_received_total: { help: "Authenticated datagrams received from the peer, by heartbeat link", labels: ["link"] },
  tandem_peer_send_errors_total: { help: "Datagrams to the peer the kernel refused to send, by heartbeat link", labels: ["link"] },
  tandem_peer_connection_errors_total: { help: "Errors on the peer connection, by error code (econnrefused, econnreset …)", labels: ["code"] },
  tandem_peer_datagrams_refused_total: { help: "Heartbeats to the peer that came back ICMP port unreachable (nothing listens on its heartbeat port: its process is gone, or a REJECT rule), by link", labels: ["link"] },
  tandem_peer_refusals_disproved_total: { help: "Times the active peer's heartbeats kept arriving while its host refused this node's datagrams or connections (a firewall REJECT rule): the refusals were then not taken as proof that its process is gone", labels: [] },
  tandem_peer_connections_dropped_total: { help: "Connections to the peer port closed before they authenticated, by reason: preauth_timeout, preauth_frame_too_large, preauth_not_authenticated, preauth_too_many, preauth_too_many_from_address, tls_refused", labels: ["reason"] },
  tandem_peer_socket_errors_total: { help: "Errors of the peer link's own sockets (udp: a heartbeat socket, listener: the peer connection listener)", labels: ["socket"] },
  tandem_witness_requests_sent_total: { help: "Requests sent to the witness", labels: [] },
  tandem_witness_requests_total: { help: "Witness requests by outcome: replied, or timeout (no valid answer in time)", labels: ["result"] },
  tandem_witness_replies_rejected_total: { help: "Datagrams from the witness address dropped unread, by reason: bad_mac, replay, unmatched, not_witness_reply, bad_body …", labels: ["reason"] },
  tandem_witness_datagrams_received_total: { help: "Datagrams received on the witness client's socket (before any check)", labels: [] },
  tandem_witness_send_errors_total: { help: "Witness requests the kernel refused to send", labels: [] },
  tandem_witness_socket_errors_total: { help: "Errors of the witness client's socket", labels: [] },
  tandem_witness_restarts_seen_total: { help: "Times the witness answered from a new incarnation (it restarted)", labels: [] },
  tandem_takeovers_total: { help: "Unplanned takeovers: this node became active because the active failed", labels: [] },
  tandem_switchovers_in_total: { help: "Planned switchovers that made this node active", labels: [] },
  tandem_activations_total: { help: "Times this node became active other than by takeover or switchover (election at start-up, the witness's grant with the peer away)", labels: [] },
  tandem_lease_requests_refused_total: { help: "Lease requests from the peer this node refused", labels: [] },
  tandem_handovers_ignored_total: { help: "Switchover handovers this node ignored (not expected, stale, or too late)", labels: [] },
  tandem_same_epoch_actives_total: { help: "Heartbeats from a peer active in this node's own epoch while this node was active (should stay 0; the lower node id keeps the role)", labels: [] },
  tandem_plc_fence_higher_epoch_total: { help: "Times the PLC fence register held an epoch above this node's (an active steps down at once)", labels: [] },
  tandem_driver_requests_total: { help: "Requests sent to a device (reads, writes, watchdog)", labels: ["device"] },
  tandem_driver_request_errors_total: { help: "Device requests that failed (timeouts and exceptions included)", labels: ["device"] },
  tandem_driver_request_timeouts_total: { help: "Device requests that got no answer in time", labels: ["device"] },
  tandem_driver_exception_responses_total: { help: "Modbus exception responses from a device", labels: ["device"] },
  tandem_driver_request_splits_total: { help: "Coalesced Modbus reads split after an exception, to find the bad address", labels: ["device"] },
  tandem_driver_reconnects_total: { help: "Reconnections to a device after its connection was lost", labels: ["device"] },
  tandem_driver_notifications_total: { help: "OPC UA data change notifications received from a device", labels: ["device"] },
  tandem_log_lines_dropped_total: { help: "Log lines dropped because the log destination was slow and the log buffer full (log.bufferBytes)", labels: [] },
  tandem_log_write_errors_total: { help: "Writes to the log destination that failed (the lines are kept and tried again)", labels: [] },
  tandem_http_login_failures_total: { help: "Logins refused for a wrong user name or password, by method (basic: HTTP Basic on any request, form: the HMI login)", labels: ["method"] },
  tandem_http_logins_throttled_total: { help: "Login attempts refused before the password check by the brute-force limits, by limit (address, account, in_flight)", labels: ["limit"] },
  tandem_http_requests_refused_total: { help: "API requests refused before they reached the node, by reason (forbidden: role too low, cross_site, content_type)", labels: ["reason"] },
  tandem_internal_errors_total: { help: "Unexpected errors a component caught and survived (a bug: please report it with the log)", labels: ["component"] },
  tandem_component_events_total: { help: "Counts a component published that have no metric of their own yet, by component and name", labels: ["component", "name"] },
  tandem_state_changes_total: { help: "State transitions of this node", labels: ["from", "to"] },
} as const satisfies Record<string, { help: string; labels: readonly string[] }>;

export type CounterName = keyof typeof COUNTERS;

/** Where a component's count goes: a counter and its labels, or null when it is not shown on its own. */
export type Counted = { metric: CounterName; labels?: Record<string, string> } | null;

const COMPONENT: Record<CountChannel, string> = {
  [COUNT_CHANNELS.peerLink]: "peer-link",
  [COUNT_CHANNELS.witnessClient]: "witness-client",
  [COUNT_CHANNELS.witnessServer]: "witness-server",
  [COUNT_CHANNELS.role]: "role",
  [COUNT_CHANNELS.driver]: "driver",
  [COUNT_CHANNELS.log]: "log",
  [COUNT_CHANNELS.http]: "http",
};

const ROLE: Record<string, CounterName | null> = {
  takeovers: "tandem_takeovers_total",
  switchovers_in: "tandem_switchovers_in_total",
  activations: "tandem_activations_total",
  lease_refused: "tandem_lease_requests_refused_total",
  handover_ignored: "tandem_handovers_ignored_total",
  same_epoch_actives: "tandem_same_epoch_actives_total",
  plc_fence_demotions: "tandem_plc_fence_higher_epoch_total",
  peer_refusals_disproved: "tandem_peer_refusals_disproved_total",
  // the same event as the witness client's timeouts (tandem_witness_requests_total{result="timeout"})
  witness_timeouts: null,
};

const DRIVER: Record<string, CounterName> = {
  requests: "tandem_driver_requests_total",
  errors: "tandem_driver_request_errors_total",
  timeouts: "tandem_driver_request_timeouts_total",
  exceptions: "tandem_driver_exception_responses_total",
  splits: "tandem_driver_request_splits_total",
  reconnects: "tandem_driver_reconnects_total",
  notifications: "tandem_driver_notifications_total",
};

const WITNESS_CLIENT: Record<string, Counted> = {
  sent: { metric: "tandem_witness_requests_sent_total" },
  replies: { metric: "tandem_witness_requests_total", labels: { result: "replied" } },
  timeouts: { metric: "tandem_witness_requests_total", labels: { result: "timeout" } },
  received: { metric: "tandem_witness_datagrams_received_total" },
  send_errors: { metric: "tandem_witness_send_errors_total" },
  socket_errors: { metric: "tandem_witness_socket_errors_total" },
  witness_incarnation_changed: { metric: "tandem_witness_restarts_seen_total" },
  internal_errors: { metric: "tandem_internal_errors_total", labels: { component: "witness-client" } },
};

const prefixed = (name: string, prefix: string): string | null => (name.startsWith(prefix) && name.length > prefix.length ? name.slice(prefix.length) : null);

/** What a component's count name means as a metric. Names come from the components' count() helpers. */
export function classify(channel: CountChannel, ev: CountEvent): Counted {
  const name = ev.name;
  let rest: string | null;
  switch (channel) {
    case COUNT_CHANNELS.peerLink:
      if (name === "rejected_total") return null; // the sum of the rejected counter over its reasons
      if (name === "handler_errors") return { metric: "tandem_internal_errors_total", labels: { component: "peer-link" } };
      if (name === "udp_errors") return { metric: "tandem_peer_socket_errors_total", labels: { socket: "udp" } };
      if (name === "tcp_errors") return { metric: "tandem_peer_socket_errors_total", labels: { socket: "listener" } };
      if ((rest = prefixed(name, "rejected_"))) return { metric: "tandem_peer_messages_rejected_total", labels: { reason: rest } };
      if ((rest = prefixed(name, "conn_dropped_"))) return { metric: "tandem_peer_connections_dropped_total", labels: { reason: rest } };
      if ((rest = prefixed(name, "received_"))) return { metric: "tandem_peer_datagrams_received_total", labels: { link: rest } };
      if ((rest = prefixed(name, "send_errors_"))) return { metric: "tandem_peer_send_errors_total", labels: { link: rest } };
      if ((rest = prefixed(name, "refused_"))) return { metric: "tandem_peer_datagrams_refused_total", labels: { link: rest } };
      if ((rest = prefixed(name, "tcp_"))) return { metric: "tandem_peer_connection_errors_total", labels: { code: rest } };
      break;
    case COUNT_CHANNELS.witnessClient:
      if (name in WITNESS_CLIENT) return WITNESS_CLIENT[name]!;
      if ((rest = prefixed(name, "rejected_"))) return { metric: "tandem_witness_replies_rejected_total", labels: { reason: rest } };
      break;
    case COUNT_CHANNELS.role:
      if (name in ROLE) return ROLE[name] ? { metric: ROLE[name]! } : null;
      break;
    case COUNT_CHANNELS.driver:
      if (name in DRIVER) return { metric: DRIVER[name]!, labels: { device: ev.device ?? "" } };
      break;
    case COUNT_CHANNELS.log:
      if (name === "dropped_lines") return { metric: "tandem_log_lines_dropped_total" };
      if (name === "write_errors") return { metric: "tandem_log_write_errors_total" };
      break;
    case COUNT_CHANNELS.http:
      if ((rest = prefixed(name, "login_failed_"))) return { metric: "tandem_http_login_failures_total", labels: { method: rest } };
      if ((rest = prefixed(name, "throttled_"))) return { metric: "tandem_http_logins_throttled_total", labels: { limit: rest } };
      if ((rest = prefixed(name, "refused_"))) return { metric: "tandem_http_requests_refused_total", labels: { reason: rest } };
      break;
    case COUNT_CHANNELS.witnessServer:
      // a node runs no witness; the witness process has no metrics endpoint yet
      return null;
  }
  return { metric: "tandem_component_events_total", labels: { component: COMPONENT[channel], name } };
}

export interface NodeMetricsOptions {
  pair: string;
  node: string;
  runtime: PairRuntime;
  logs: LogManager;
  heartbeatTimeoutMs: number;
  /** the supervised services as the API shows them (Supervisor.views()); no per-service metrics without it */
  services?: () => ServiceView[];
  /** the replication as the status shows it (Records.status()); no replication metrics without it */
  replication?: () => NodeStatus["replication"];
  /** the node's tags (their quality is counted) */
  tags?: () => { quality: string }[];
}

const QUALITIES = ["good", "uncertain", "bad"] as const;

/** The node's registry, its gauges and the counters fed by the diagnostics channels. */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly counters = new Map<CounterName, Counter<string>>();
  private readonly subscriptions: [CountChannel, (msg: unknown) => void][] = [];
  private readonly startedAt = Date.now();

  constructor(private readonly o: NodeMetricsOptions) {
    const r = this.registry;
    r.setDefaultLabels({ pair: o.pair, node: o.node });
    this.gauges();
    if (o.services) serviceMetrics(r, o.services);
    if (o.replication) replicationMetrics(r, o.replication);
    for (const [name, spec] of Object.entries(COUNTERS)) {
      this.counters.set(name as CounterName, new Counter({ name, help: spec.help, labelNames: spec.labels, registers: [r] }));
    }
    for (const channel of Object.values(COUNT_CHANNELS)) {
      const onMessage = (msg: unknown) => this.onCount(channel, msg as CountEvent);
      diagnostics.subscribe(channel, onMessage);
      this.subscriptions.push([channel, onMessage]);
    }
    o.runtime.on("state", (from, to) => this.inc("tandem_state_changes_total", { from, to }));
  }

  /** Stops counting (the node stopped). */
  close(): void {
    for (const [channel, fn] of this.subscriptions) diagnostics.unsubscribe(channel, fn);
    this.subscriptions.length = 0;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  private inc(metric: CounterName, labels: Record<string, string> | undefined, n = 1): void {
    const c = this.counters.get(metric)!;
    if (labels) c.inc(labels, n);
    else c.inc(n);
  }

  private onCount(channel: CountChannel, ev: CountEvent): void {
    // several nodes can share a process (tests): count only this node's
    if ((ev.pair !== undefined && ev.pair !== this.o.pair) || (ev.node !== undefined && ev.node !== this.o.node)) return;
    const where = classify(channel, ev);
    if (where) this.inc(where.metric, where.labels, ev.n);
  }

  private gauges(): void {
    const { runtime, logs, heartbeatTimeoutMs } = this.o;
    const r = this.registry;
    // prom-client collects metrics in registration order: the first gauge
    // refreshes every gauge before any is written out
    const refresh = () => {
      runtime.refresh();
      const s = runtime.state;
      const now = runtime.now();
      for (const st of NODE_STATES) state.set({ state: st }, s.state === st ? 1 : 0);
      epoch.set(s.epoch);
      level.set(s.level);
      lease.set(runtime.leaseRemainingMs());
      for (const l of linkStatus(s.peer, now, heartbeatTimeoutMs)) {
        links.set({ link: l.name }, l.up ? 1 : 0);
        // never heard on this link: no age (a series that is not there, not a made-up one)
        if (l.lastSeenMs === null) linkAge.remove({ link: l.name });
        else linkAge.set({ link: l.name }, l.lastSeenMs / 1000);
      }
      leaseSeconds.set(runtime.leaseRemainingMs() / 1000);
      const tagList = this.o.tags?.() ?? [];
      for (const q of QUALITIES) tags.set({ quality: q }, tagList.filter((t) => t.quality === q).length);
      peerConn.set(s.peer.tcpUp ? 1 : 0);
      witness.set(s.witness.reachable ? 1 : 0);
      logBuffer.set(logs.bufferedBytes);
      uptime.set((Date.now() - this.startedAt) / 1000);
    };
    const state = new Gauge({ name: "tandem_state", help: "1 for the node's current state", labelNames: ["state"] as const, registers: [r], collect: refresh });
    const epoch = new Gauge({ name: "tandem_epoch", help: "The node's epoch", registers: [r] });
    const level = new Gauge({ name: "tandem_service_level", help: "Service level 0–255", registers: [r] });
    const lease = new Gauge({ name: "tandem_lease_remaining_ms", help: "Lease left on the active", registers: [r] });
    const links = new Gauge({ name: "tandem_peer_link_up", help: "1 when a heartbeat link is up", labelNames: ["link"] as const, registers: [r] });
    const linkAge = new Gauge({ name: "tandem_peer_link_heartbeat_age_seconds", help: "Seconds since the peer's last heartbeat on each link", labelNames: ["link"] as const, registers: [r] });
    const leaseSeconds = new Gauge({ name: "tandem_lease_remaining_seconds", help: "Lease left on the active, in seconds (0 elsewhere)", registers: [r] });
    const tags = new Gauge({ name: "tandem_tags", help: "The node's tags by quality (good, uncertain, bad)", labelNames: ["quality"] as const, registers: [r] });
    const peerConn = new Gauge({ name: "tandem_peer_connected", help: "1 when the peer connection is up", registers: [r] });
    const witness = new Gauge({ name: "tandem_witness_reachable", help: "1 when the witness answers", registers: [r] });
    const logBuffer = new Gauge({ name: "tandem_log_buffered_bytes", help: "Bytes of log lines waiting for the log destination", registers: [r] });
    const uptime = new Gauge({ name: "tandem_uptime_seconds", help: "Seconds since the node started", registers: [r] });
  }
}


/** A service instance runs here and its health check has answered: its health word means something now. */
const CHECKED_HERE = new Set<string>(["running", "stopping"]);

/**
 * Per-service metrics, read from the services' views when scraped. Every
 * series is dropped and set again at each scrape, so an instance that is no
 * longer there leaves no series behind.
 *
 * The instance's key is the label `service_instance`, not `instance`:
 * Prometheus sets `instance` to the scraped target itself (host:port), and a
 * metric's own `instance` label would be renamed `exported_instance`.
 */
export function serviceMetrics(r: Registry, views: () => ServiceView[]): void {
  const labelNames = ["service", "service_instance", "placement"] as const;
  // prom-client collects in registration order: the first gauge refreshes every one of them
  const refresh = () => {
    const list = views();
    for (const m of all) m.reset();
    const failedServices = new Set<string>();
    for (const v of list) {
      const l = { service: v.name, service_instance: v.instance, placement: v.placement };
      up.set(l, v.state === "running" ? 1 : 0);
      for (const st of SERVICE_STATES) state.set({ ...l, state: st }, v.state === st ? 1 : 0);
      if (CHECKED_HERE.has(v.state) && (v.health === "ok" || v.health === "failing")) healthy.set(l, v.health === "ok" ? 1 : 0);
      // the count never goes down while the node runs: set it as it is (reset above, then add it whole)
      restarts.inc(l, v.restarts);
      cpu.set(l, v.cpuPercent);
      rss.set(l, v.rssBytes);
      read.set(l, v.readBytes);
      written.set(l, v.writeBytes);
      events.set(l, v.eventsPerSec);
      uptime.set(l, (v.uptimeMs ?? 0) / 1000);
      if (v.state === "failed") failedServices.add(v.name);
    }
    failed.set(failedServices.size);
  };
  const up = new Gauge({ name: "tandem_service_up", help: "1 while the service instance runs on this node (state running), 0 otherwise: not meant to run here now, starting, stopping, waiting to restart, stopped or failed", labelNames, registers: [r], collect: refresh });
  const state = new Gauge({ name: "tandem_service_state", help: "1 for the service instance's current state on this node, 0 for the others: stopped (also: not meant to run on this node now), waiting (for a service it depends on), backoff (waiting to restart after an exit), starting, running, stopping, failed (gave up restarting: an operator must start it)", labelNames: [...labelNames, "state"] as const, registers: [r] });
  const healthy = new Gauge({ name: "tandem_service_healthy", help: "1 when the service's health check passes, 0 when it fails (after enough failures in a row the service is restarted as hung). No value when the service has no health check, has not passed its first check since it started, or does not run on this node", labelNames, registers: [r] });
  const restarts = new Counter({ name: "tandem_service_restarts_total", help: "Times the node restarted the service instance by itself after it exited or was stopped as hung or over its memory limit (operator restarts not counted). Counted since the node started: it starts again at 0 when the node restarts, as every counter does (use increase())", labelNames, registers: [r] });
  const cpu = new Gauge({ name: "tandem_service_cpu_percent", help: "CPU used by the service's processes over the last few seconds, in percent of one CPU core (can exceed 100 on several cores); 0 when it does not run here", labelNames, registers: [r] });
  const rss = new Gauge({ name: "tandem_service_rss_bytes", help: "Memory the service's processes hold in RAM (resident set), in bytes; 0 when it does not run here", labelNames, registers: [r] });
  const read = new Gauge({ name: "tandem_service_read_bytes", help: "Bytes the service's running processes have read from disk since they started (on a kernel without I/O accounting: every read, pipes and sockets included); it drops when the service restarts or one of its processes ends; 0 when it does not run here", labelNames, registers: [r] });
  const written = new Gauge({ name: "tandem_service_write_bytes", help: "Bytes the service's running processes have written to disk since they started (on a kernel without I/O accounting: every write, pipes and sockets included); it drops when the service restarts or one of its processes ends; 0 when it does not run here", labelNames, registers: [r] });
  const events = new Gauge({ name: "tandem_service_events_per_second", help: "Events the service reported it handled (its '@tandem events N' lines or the API), per second over the last 10 s; 0 when it does not run here", labelNames, registers: [r] });
  const uptime = new Gauge({ name: "tandem_service_uptime_seconds", help: "Seconds since the service instance last started on this node; 0 when it does not run here", labelNames, registers: [r] });
  const failed = new Gauge({ name: "tandem_services_failed", help: "Services on this node that failed (gave up restarting after too many failed runs in a row) and wait for an operator to start them; each one lowers the node's service level (tandem_service_level)", registers: [r] });
  const all = [up, state, healthy, restarts, cpu, rss, read, written, events, uptime, failed];
}

/** What a write's acknowledgement means now, as tandem_replication_acknowledging's label. */
const ACKNOWLEDGING = ["both", "local", "refusing"] as const;

/**
 * Replication metrics, read from the replication status when scraped. A
 * figure that means nothing on this node now has no series rather than a
 * made-up value: peer_live only where this node leads (the standby does not
 * track its peer), the catch-up ratio only while a catch-up runs.
 */
export function replicationMetrics(r: Registry, status: () => NodeStatus["replication"]): void {
  // The status counts refusals per follower run: it starts again at 0 when
  // the node leads and follows again. The counter adds what is new since the
  // last scrape, so it only goes up while the node runs.
  let refusedSeen = 0;
  const refresh = () => {
    const s = status();
    lagRecords.set(s.lagRecords);
    lagSeconds.set((s.lagMs ?? 0) / 1000);
    journal.set(s.journalRecords);
    lastSeq.set(s.lastSeq ?? 0);
    // remove(), not reset(): an unlabelled gauge that is reset still shows 0
    peerLive.remove();
    if (s.role === "leader" && s.mode !== "none" && s.peer) peerLive.set(s.peer === "live" ? 1 : 0);
    for (const a of ACKNOWLEDGING) acknowledging.set({ mode: a }, s.acknowledging === a ? 1 : 0);
    catchUp.remove();
    if (s.catchUp) catchUp.set(s.catchUp.total > 0 ? s.catchUp.records / s.catchUp.total : 1);
    setAside.set(s.divergentSetAside ?? 0);
    const now = s.refused ?? 0;
    refused.inc(now >= refusedSeen ? now - refusedSeen : now);
    refusedSeen = now;
  };
  const lagRecords = new Gauge({ name: "tandem_replication_lag_records", help: "Records the active has committed that its peer has not acknowledged (0 on the standby)", registers: [r], collect: refresh });
  const lagSeconds = new Gauge({ name: "tandem_replication_lag_seconds", help: "Seconds since the connected peer last held every record the active committed: 0 when it holds them all, while it is away (the lag in records still counts) and on the standby", registers: [r] });
  const journal = new Gauge({ name: "tandem_replication_journal_records", help: "Records on the active not yet on the peer, kept to send when it returns or catches up (0 on the standby)", registers: [r] });
  const lastSeq = new Gauge({ name: "tandem_replication_last_seq", help: "The newest record's sequence number in this node's database: written (active) or applied (standby)", registers: [r] });
  const peerLive = new Gauge({ name: "tandem_replication_peer_live", help: "On the active: 1 while the peer takes every write as it is made, 0 while it is away, resuming or catching up. No series on the standby or with replication off", registers: [r] });
  const acknowledging = new Gauge({ name: "tandem_replication_acknowledging", help: "1 for what a write's acknowledgement means now: both (both databases hold it), local (this node's only: async, replication off, or the peer away with whenPeerAway accept), refusing (the peer is away and whenPeerAway is refuse); all 0 on the standby", labelNames: ["mode"] as const, registers: [r] });
  const catchUp = new Gauge({ name: "tandem_replication_catchup_ratio", help: "How far the running catch-up has come, 0–1 (records sent or applied of those to catch up). No series while none runs", registers: [r] });
  const setAside = new Gauge({ name: "tandem_replication_divergent_set_aside", help: "Records this node set aside into the divergence table when it rejoined, since it last began to follow (0 while it is active); tandem divergence list shows the table", registers: [r] });
  const refused = new Counter({ name: "tandem_replication_refused_total", help: "Replication messages this node refused from an active in an epoch older than the pair's (a stale active still sending)", registers: [r] });
}
