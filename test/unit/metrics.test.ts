// Counters go from the components to the metrics through
// node:diagnostics_channel: the publish helpers, the mapping from a
// component's count names to metric names, and the documentation of every
// metric (docs/monitoring.md).
import diagnostics from "node:diagnostics_channel";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { COUNT_CHANNELS, counterFor, countedFields, type CountChannel, type CountEvent } from "../../core/diagnostics.js";
import { classify, COUNTERS, replicationMetrics, serviceMetrics } from "../../runtime/metrics.js";
import { SERVICE_STATES, type NodeStatus, type ServiceView } from "../../runtime/node-api.js";
import { parseProm, type Sample } from "../helpers/prom-text.js";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (f: string) => readFileSync(resolve(ROOT, f), "utf8");

function listen(channel: CountChannel): { events: CountEvent[]; stop(): void } {
  const events: CountEvent[] = [];
  const fn = (m: unknown) => events.push(m as CountEvent);
  diagnostics.subscribe(channel, fn);
  return { events, stop: () => diagnostics.unsubscribe(channel, fn) };
}

describe("publishing counts", () => {
  it("counterFor publishes the name, the amount and the scope, and only while someone listens", () => {
    const count = counterFor(COUNT_CHANNELS.peerLink);
    count("received_lan", { pair: "p", node: "a" }); // nobody listens: dropped, no error
    const l = listen(COUNT_CHANNELS.peerLink);
    try {
      count("received_lan", { pair: "p", node: "a" });
      count("rejected_bad_mac", undefined, 3);
    } finally {
      l.stop();
    }
    expect(l.events).toEqual([
      { pair: "p", node: "a", name: "received_lan", n: 1 },
      { name: "rejected_bad_mac", n: 3 },
    ]);
  });

  it("countedFields publishes each increase of a plain counter field and stays a plain object to read", () => {
    let device = "plc1";
    const stats = countedFields(COUNT_CHANNELS.driver, () => ({ device }), { requests: 0, errors: 0 });
    const l = listen(COUNT_CHANNELS.driver);
    try {
      stats.requests++;
      stats.requests++;
      stats.errors += 3;
      device = "plc2";
      stats.requests++;
      stats.errors = 0; // a reset is not an event
    } finally {
      l.stop();
    }
    expect(l.events).toEqual([
      { device: "plc1", name: "requests", n: 1 },
      { device: "plc1", name: "requests", n: 1 },
      { device: "plc1", name: "errors", n: 3 },
      { device: "plc2", name: "requests", n: 1 },
    ]);
    expect({ ...stats }).toEqual({ requests: 3, errors: 0 });
  });
});

/** The count names a component's source passes to its count()/drop()/warn() helpers as string literals. */
function literalNames(file: string): string[] {
  const src = read(file);
  const names = new Set<string>();
  for (const m of src.matchAll(/\b(?:count|drop)\("([a-z_]+)"/g)) names.add(m[1]!);
  for (const m of src.matchAll(/\bwarn\([^;]*?,\s*"([a-z_]+)"\)/g)) names.add(m[1]!);
  return [...names];
}

describe("what each count becomes", () => {
  const named = (channel: CountChannel, name: string, extra: Partial<CountEvent> = {}) => classify(channel, { name, n: 1, ...extra });

  it("every count the peer link and the witness client make has a metric of its own", () => {
    const peer = literalNames("redundancy/peer-link.ts");
    const witness = literalNames("redundancy/witness-client.ts");
    expect(peer.length).toBeGreaterThan(4);
    expect(witness.length).toBeGreaterThan(4);
    // and the names they build from a reason or a link
    peer.push("rejected_bad_mac", "rejected_replay", "rejected_old_incarnation", "received_lan", "send_errors_plant", "tcp_econnreset");
    witness.push("rejected_bad_mac", "rejected_replay", "rejected_old_incarnation");
    for (const name of peer.filter((n) => n !== "rejected_total")) expect(named(COUNT_CHANNELS.peerLink, name)?.metric, name).not.toMatch(/^(tandem_component_events_total)?$/);
    for (const name of witness) expect(named(COUNT_CHANNELS.witnessClient, name)?.metric, name).not.toMatch(/^(tandem_component_events_total)?$/);
    // the sum over reasons is not a metric of its own: Prometheus sums
    expect(named(COUNT_CHANNELS.peerLink, "rejected_total")).toBeNull();
  });

  it("maps names to labelled counters", () => {
    expect(named(COUNT_CHANNELS.peerLink, "rejected_bad_mac")).toEqual({ metric: "tandem_peer_messages_rejected_total", labels: { reason: "bad_mac" } });
    expect(named(COUNT_CHANNELS.peerLink, "received_plant")).toEqual({ metric: "tandem_peer_datagrams_received_total", labels: { link: "plant" } });
    expect(named(COUNT_CHANNELS.peerLink, "tcp_econnrefused")).toEqual({ metric: "tandem_peer_connection_errors_total", labels: { code: "econnrefused" } });
    expect(named(COUNT_CHANNELS.peerLink, "tcp_errors")).toEqual({ metric: "tandem_peer_socket_errors_total", labels: { socket: "listener" } });
    expect(named(COUNT_CHANNELS.peerLink, "conn_dropped_preauth_timeout")).toEqual({ metric: "tandem_peer_connections_dropped_total", labels: { reason: "preauth_timeout" } });
    expect(named(COUNT_CHANNELS.witnessClient, "timeouts")).toEqual({ metric: "tandem_witness_requests_total", labels: { result: "timeout" } });
    expect(named(COUNT_CHANNELS.witnessClient, "rejected_unmatched")).toEqual({ metric: "tandem_witness_replies_rejected_total", labels: { reason: "unmatched" } });
    expect(named(COUNT_CHANNELS.driver, "exceptions", { device: "plc" })).toEqual({ metric: "tandem_driver_exception_responses_total", labels: { device: "plc" } });
    expect(named(COUNT_CHANNELS.log, "dropped_lines")).toEqual({ metric: "tandem_log_lines_dropped_total" });
    for (const [name, metric] of [
      ["takeovers", "tandem_takeovers_total"],
      ["switchovers_in", "tandem_switchovers_in_total"],
      ["activations", "tandem_activations_total"],
      ["lease_refused", "tandem_lease_requests_refused_total"],
      ["handover_ignored", "tandem_handovers_ignored_total"],
      ["same_epoch_actives", "tandem_same_epoch_actives_total"],
      ["plc_fence_demotions", "tandem_plc_fence_higher_epoch_total"],
    ]) expect(named(COUNT_CHANNELS.role, name!)).toEqual({ metric });
  });

  it("a count nobody named yet is still shown, under the component and its name", () => {
    expect(named(COUNT_CHANNELS.role, "something_new")).toEqual({ metric: "tandem_component_events_total", labels: { component: "role", name: "something_new" } });
  });

  it("every driver counter field has a metric", () => {
    for (const file of ["drivers/modbus-driver.ts", "drivers/opcua-driver.ts"]) {
      const fields = /countedFields\([^{]*\{[^}]*\}\),\s*\{([^}]*)\}/.exec(read(file));
      expect(fields, file).not.toBeNull();
      for (const f of fields![1]!.split(",").map((x) => x.split(":")[0]!.trim()).filter(Boolean)) {
        expect(named(COUNT_CHANNELS.driver, f, { device: "d" })?.metric, `${file}: ${f}`).toMatch(/^tandem_driver_/);
      }
    }
  });
});

/** every source file under runtime/, relative to the checkout */
const RUNTIME_FILES: string[] = (function walk(dir: string): string[] {
  return readdirSync(resolve(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
})("runtime");

describe("documentation", () => {
  it("docs/monitoring.md lists every metric a node serves, with its type", () => {
    const doc = read("docs/monitoring.md");
    // every gauge any part of the node registers (runtime/metrics.ts, monitoring/, backup/ …): a
    // metric's name and help written together, not as a counter
    const gauges = RUNTIME_FILES.flatMap((f) => [...read(f).matchAll(/(new Counter\(\{ )?name: "(tandem_[a-z_]+)", help: /g)].filter((m) => !m[1]).map((m) => m[2]!));
    expect(gauges).toContain("tandem_stale_level");
    expect(gauges.length).toBeGreaterThan(5);
    const missing: string[] = [];
    // metrics made outside COUNTERS (the per-service restarts, read from the services' views)
    const counters = [...Object.keys(COUNTERS), ...[...read("runtime/metrics.ts").matchAll(/new Counter\(\{ name: "(tandem_[a-z_]+)"/g)].map((m) => m[1]!)];
    expect(counters).toContain("tandem_service_restarts_total");
    for (const name of gauges) if (!new RegExp(`\\|\\s*\`${name}(\\{[^\`]*\\})?\`\\s*\\|\\s*gauge\\s*\\|`).test(doc)) missing.push(`${name} (gauge)`);
    for (const name of counters) if (!new RegExp(`\\|\\s*\`${name}(\\{[^\`]*\\})?\`\\s*\\|\\s*counter\\s*\\|`).test(doc)) missing.push(`${name} (counter)`);
    expect(missing).toEqual([]);
  });
});

/** A service instance as Supervisor.views() shows it, with what the test sets. */
function view(v: Partial<ServiceView> & Pick<ServiceView, "name" | "instance" | "placement" | "state">): ServiceView {
  return {
    pid: null, node: null, reason: "", dependsOn: [], health: "none", healthDetail: "", startedAt: null, uptimeMs: null, restarts: 0, lastExit: null,
    cpuPercent: 0, rssBytes: 0, readBytes: 0, writeBytes: 0, eventsPerSec: 0, lastOutputAt: null, stoppedByOperator: null,
    ...v,
  };
}

describe("per-service metrics, read from the services' views at each scrape", () => {
  let views: ServiceView[] = [];
  const registry = new Registry();
  serviceMetrics(registry, () => views);
  const scrape = async () => {
    const text = await registry.metrics();
    const samples = parseProm(text);
    const of = (name: string, instance?: string) => samples.filter((x) => x.name === name && (instance === undefined || x.labels.service_instance === instance));
    const one = (name: string, instance?: string): Sample | undefined => {
      const found = of(name, instance);
      expect(found.length, `${name} ${instance ?? ""}`).toBeLessThanOrEqual(1);
      return found[0];
    };
    return { text, samples, of, one, value: (name: string, instance?: string) => one(name, instance)?.value };
  };

  it("shows each instance with its service, key and placement; the state as an enum; a failed service", async () => {
    views = [
      view({ name: "ingest", instance: "ingest", placement: "active", state: "running", pid: 4242, health: "ok", uptimeMs: 90_500, restarts: 2, cpuPercent: 12.5, rssBytes: 52_428_800, readBytes: 4096, writeBytes: 8192, eventsPerSec: 37.5 }),
      view({ name: "pool", instance: "pool#1", placement: "balanced", state: "running", pid: 4300, uptimeMs: 1000 }),
      view({ name: "pool", instance: "pool#2", placement: "balanced", state: "stopped", node: "b" }),
      // gave up restarting; its last health word stays in the view
      view({ name: "reporter", instance: "reporter", placement: "both", state: "failed", health: "failing", restarts: 5 }),
      // still in its start-up grace: a failing check means nothing yet
      view({ name: "cache", instance: "cache", placement: "standby", state: "starting", pid: 4400, health: "failing", uptimeMs: 300 }),
      // about to be stopped as hung
      view({ name: "hmi", instance: "hmi", placement: "active", state: "running", pid: 4500, health: "failing", uptimeMs: 5000 }),
    ];
    const m = await scrape();

    expect(m.one("tandem_service_up", "ingest")).toEqual({ name: "tandem_service_up", labels: { service: "ingest", service_instance: "ingest", placement: "active" }, value: 1 });
    expect(m.one("tandem_service_up", "pool#2")).toEqual({ name: "tandem_service_up", labels: { service: "pool", service_instance: "pool#2", placement: "balanced" }, value: 0 });
    expect(Object.fromEntries(m.of("tandem_service_up").map((x) => [x.labels.service_instance, x.value]))).toEqual({ ingest: 1, "pool#1": 1, "pool#2": 0, reporter: 0, cache: 0, hmi: 1 });

    // the enum: one series per state and instance, 1 for the current state only
    const states = (instance: string) => Object.fromEntries(m.of("tandem_service_state", instance).map((x) => [x.labels.state, x.value]));
    expect(m.of("tandem_service_state")).toHaveLength(6 * SERVICE_STATES.length);
    expect(states("reporter")).toEqual({ stopped: 0, waiting: 0, backoff: 0, starting: 0, running: 0, stopping: 0, failed: 1 });
    expect(states("pool#2")).toEqual({ stopped: 1, waiting: 0, backoff: 0, starting: 0, running: 0, stopping: 0, failed: 0 });
    expect(m.of("tandem_service_state", "cache").find((x) => x.value === 1)?.labels).toEqual({ service: "cache", service_instance: "cache", placement: "standby", state: "starting" });
    expect(m.value("tandem_services_failed")).toBe(1);

    // health: only while it runs here with a check that has answered
    expect(Object.fromEntries(m.of("tandem_service_healthy").map((x) => [x.labels.service_instance, x.value]))).toEqual({ ingest: 1, hmi: 0 });

    expect(m.text).toMatch(/^# TYPE tandem_service_restarts_total counter$/m);
    expect(m.value("tandem_service_restarts_total", "ingest")).toBe(2);
    expect(m.value("tandem_service_restarts_total", "reporter")).toBe(5);
    expect(m.value("tandem_service_restarts_total", "pool#2")).toBe(0);

    expect(m.value("tandem_service_cpu_percent", "ingest")).toBe(12.5);
    expect(m.value("tandem_service_rss_bytes", "ingest")).toBe(52_428_800);
    expect(m.value("tandem_service_read_bytes", "ingest")).toBe(4096);
    expect(m.value("tandem_service_write_bytes", "ingest")).toBe(8192);
    expect(m.value("tandem_service_events_per_second", "ingest")).toBe(37.5);
    expect(m.value("tandem_service_uptime_seconds", "ingest")).toBe(90.5);
    expect(m.value("tandem_service_uptime_seconds", "pool#2")).toBe(0);
    // every per-instance metric has every instance, with the same labels
    for (const name of ["tandem_service_up", "tandem_service_restarts_total", "tandem_service_cpu_percent", "tandem_service_rss_bytes", "tandem_service_read_bytes", "tandem_service_write_bytes", "tandem_service_events_per_second", "tandem_service_uptime_seconds"]) {
      expect(m.of(name).map((x) => x.labels).sort((a, b) => a.service_instance!.localeCompare(b.service_instance!)), name).toEqual(m.of("tandem_service_up").map((x) => x.labels).sort((a, b) => a.service_instance!.localeCompare(b.service_instance!)));
    }
  });

  it("counts failed services, not instances, and leaves no series of an instance that is gone", async () => {
    views = [
      view({ name: "pool", instance: "pool#1", placement: "balanced", state: "failed", restarts: 6 }),
      view({ name: "pool", instance: "pool#2", placement: "balanced", state: "failed", restarts: 6 }),
      view({ name: "reporter", instance: "reporter", placement: "both", state: "failed" }),
    ];
    expect((await scrape()).value("tandem_services_failed")).toBe(2);

    views = [view({ name: "pool", instance: "pool#1", placement: "balanced", state: "running", health: "ok", restarts: 7 })];
    const m = await scrape();
    const instances = new Set(m.samples.filter((x) => x.labels.service_instance !== undefined).map((x) => x.labels.service_instance));
    expect([...instances]).toEqual(["pool#1"]);
    expect(m.value("tandem_service_restarts_total", "pool#1")).toBe(7);
    expect(m.value("tandem_services_failed")).toBe(0);
    expect(m.value("tandem_service_healthy", "pool#1")).toBe(1);

    views = [];
    const none = await scrape();
    expect(none.samples.map((x) => x.name)).toEqual(["tandem_services_failed"]);
    expect(none.value("tandem_services_failed")).toBe(0);
  });
});

describe("replication metrics, read from the replication status at each scrape", () => {
  const leader: NodeStatus["replication"] = {
    mode: "sync", role: "leader", peer: "live", acknowledging: "both", whenPeerAway: "accept", lastSeq: 50_000, peerSeq: 50_000,
    lagRecords: 0, lagMs: 0, journalRecords: 0, catchUp: null, refused: 0, divergentSetAside: 0, engine: "sqlite", database: "/data/a/records.db",
  };
  let status: NodeStatus["replication"] = leader;
  const registry = new Registry();
  replicationMetrics(registry, () => status);
  const scrape = async () => {
    const samples = parseProm(await registry.metrics());
    const value = (name: string, labels: Record<string, string> = {}) => samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)).map((x) => x.value);
    return { samples, value, acknowledging: () => Object.fromEntries(samples.filter((x) => x.name === "tandem_replication_acknowledging").map((x) => [x.labels.mode, x.value])) };
  };

  it("a live sync pair: both databases acknowledge, nothing behind", async () => {
    status = leader;
    const m = await scrape();
    expect(m.acknowledging()).toEqual({ both: 1, local: 0, refusing: 0 });
    expect(m.value("tandem_replication_peer_live")).toEqual([1]);
    expect(m.value("tandem_replication_last_seq")).toEqual([50_000]);
    for (const name of ["tandem_replication_lag_records", "tandem_replication_lag_seconds", "tandem_replication_journal_records", "tandem_replication_divergent_set_aside", "tandem_replication_refused_total"]) expect(m.value(name), name).toEqual([0]);
    expect(m.value("tandem_replication_catchup_ratio")).toEqual([]); // no catch-up runs
  });

  it("a peer catching up: lag, journal and how far it has come; writes acknowledged here only", async () => {
    status = { ...leader, peer: "catching-up", acknowledging: "local", peerSeq: 12_345, lagRecords: 37_655, lagMs: 2500, journalRecords: 37_655, catchUp: { records: 12_345, total: 50_000, percent: 24, snapshot: false } };
    const m = await scrape();
    expect(m.acknowledging()).toEqual({ both: 0, local: 1, refusing: 0 });
    expect(m.value("tandem_replication_peer_live")).toEqual([0]);
    expect(m.value("tandem_replication_lag_records")).toEqual([37_655]);
    expect(m.value("tandem_replication_lag_seconds")).toEqual([2.5]);
    expect(m.value("tandem_replication_journal_records")).toEqual([37_655]);
    expect(m.value("tandem_replication_catchup_ratio")).toEqual([0.2469]);
    status = { ...leader, peer: "away", acknowledging: "refusing", whenPeerAway: "refuse", peerSeq: null, lagRecords: 10 };
    expect((await scrape()).acknowledging()).toEqual({ both: 0, local: 0, refusing: 1 });
  });

  it("a standby: no peer series, what it set aside, and refusals counted across follower runs", async () => {
    status = { ...leader, role: "follower", peer: "n/a", acknowledging: "n/a", lastSeq: 900, peerSeq: null, refused: 4, divergentSetAside: 3 };
    let m = await scrape();
    expect(m.value("tandem_replication_peer_live")).toEqual([]);
    expect(m.acknowledging()).toEqual({ both: 0, local: 0, refusing: 0 });
    expect(m.value("tandem_replication_last_seq")).toEqual([900]);
    expect(m.value("tandem_replication_divergent_set_aside")).toEqual([3]);
    expect(m.value("tandem_replication_refused_total")).toEqual([4]);
    status = { ...status, refused: 6 };
    expect((await scrape()).value("tandem_replication_refused_total")).toEqual([6]);
    // it led, and follows again: the status counts from 0, the counter goes on
    status = { ...status, refused: 2 };
    m = await scrape();
    expect(m.value("tandem_replication_refused_total")).toEqual([8]);
    expect((await registry.metrics())).toMatch(/^# TYPE tandem_replication_refused_total counter$/m);
  });

  it("a node whose database is not open yet shows zeros, not an error", async () => {
    status = { mode: "sync", lagRecords: 0, journalRecords: 0 };
    const m = await scrape();
    expect(m.value("tandem_replication_last_seq")).toEqual([0]);
    expect(m.value("tandem_replication_peer_live")).toEqual([]);
    expect(m.acknowledging()).toEqual({ both: 0, local: 0, refusing: 0 });
  });
});
