// Counters go from the components to the metrics through
// node:diagnostics_channel: the publish helpers, the mapping from a
// component's count names to metric names, and the documentation of every
// metric (docs/monitoring.md).
import diagnostics from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { COUNT_CHANNELS, counterFor, countedFields, type CountChannel, type CountEvent } from "../../core/diagnostics.js";
import { classify, COUNTERS } from "../../runtime/metrics.js";

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

describe("documentation", () => {
  it("docs/monitoring.md lists every metric a node serves, with its type", () => {
    const doc = read("docs/monitoring.md");
    const gauges = [...read("runtime/metrics.ts").matchAll(/new Gauge\(\{ name: "(tandem_[a-z_]+)"/g)].map((m) => m[1]!);
    expect(gauges.length).toBeGreaterThan(5);
    const missing: string[] = [];
    for (const name of gauges) if (!new RegExp(`\\|\\s*\`${name}(\\{[^\`]*\\})?\`\\s*\\|\\s*gauge\\s*\\|`).test(doc)) missing.push(`${name} (gauge)`);
    for (const name of Object.keys(COUNTERS)) if (!new RegExp(`\\|\\s*\`${name}(\\{[^\`]*\\})?\`\\s*\\|\\s*counter\\s*\\|`).test(doc)) missing.push(`${name} (counter)`);
    expect(missing).toEqual([]);
  });
});
