// GET /api/v1/metrics of real nodes: the counters move when the thing they
// count happens — forged datagrams, witness requests, a takeover, PLC
// requests and exceptions — and status.counters still says the same. The
// per-service series follow the real supervisor: a service placed `both` runs
// on both nodes, one placed `active` only on the active, then on the node
// that took over.
import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sender, keyFromSecret } from "../../redundancy/wire.js";
import { type Cluster, freePort } from "../helpers/cluster.js";
import { startFakePlc, type FakePlc } from "../drivers/helpers.js";
import { parseProm, sampleValue } from "../helpers/prom-text.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
let plc: FakePlc;

beforeAll(async () => {
  plc = await startFakePlc(await freePort());
  plc.exceptions.set(40, 2); // illegal data address: every read of line1.bad gets an exception
});
afterAll(async () => {
  await plc?.stop();
});

const drivers = () => `drivers:
  scanMs: 200
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${plc.port}"], unitId: 1, timeoutMs: 500, retries: 0, standby: hot, reconnect: { initialMs: 200, maxMs: 1000 } }
  tags:
    - { name: line1.level, device: plc, address: "hr:0", type: uint16 }
    - { name: line1.bad, device: plc, address: "hr:40", type: uint16 }
`;

const services = () => `services:
  ticker: { command: sleep, args: ["600"], placement: both, stopTimeoutMs: 1000 }
  job: { command: sleep, args: ["600"], placement: active, stopTimeoutMs: 1000 }
`;

async function metrics(cluster: Cluster, id: "a" | "b"): Promise<string> {
  const r = await fetch(`${cluster.nodes[id].url}/api/v1/metrics`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` }, signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
  return r.text();
}

/** Polls a node's metrics until `pred` holds; returns the text that satisfied it. */
async function metricsUntil(cluster: Cluster, id: "a" | "b", pred: (text: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const last = await metrics(cluster, id);
    if (pred(last)) return last;
    if (Date.now() - t0 > timeoutMs) throw new Error(`node ${id}: ${what} not seen within ${timeoutMs} ms in its metrics:\n${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("metrics: counters fed by what the components publish", () => {
  it("forged datagrams, witness requests and a takeover move their counters on GET /metrics; the services' series follow the takeover", async () => {
    const cluster = await pair.start({ extra: services });
    const { active, standby } = await cluster.ready();

    const svc = (instance: string, placement: string) => ({ service: instance, service_instance: instance, placement });
    const up = (t: string, instance: string, placement: string) => sampleValue(t, "tandem_service_up", svc(instance, placement));
    const onActive = await metricsUntil(cluster, active, (t) => up(t, "job", "active") === 1 && up(t, "ticker", "both") === 1, "job and ticker running");
    expect(sampleValue(onActive, "tandem_service_state", { ...svc("job", "active"), state: "running", node: active })).toBe(1);
    expect(parseProm(onActive).find((x) => x.name === "tandem_service_restarts_total" && x.labels.service_instance === "job")?.value).toBe(0);
    expect(sampleValue(onActive, "tandem_services_failed")).toBe(0);
    const onStandby = await metricsUntil(cluster, standby, (t) => up(t, "ticker", "both") === 1, "ticker running");
    expect(up(onStandby, "job", "active")).toBe(0);
    expect(sampleValue(onStandby, "tandem_service_state", { ...svc("job", "active"), state: "stopped" })).toBe(1);
    expect(parseProm(onStandby).filter((x) => x.name === "tandem_service_state" && x.labels.service_instance === "job" && x.value === 1)).toHaveLength(1);

    // the hand-kept gauge is gone; counters are counters, with _total names
    const first = await metrics(cluster, standby);
    const samples = parseProm(first);
    expect(samples.some((s) => s.name === "tandem_counter")).toBe(false);
    expect(first).toMatch(/^# TYPE tandem_peer_messages_rejected_total counter$/m);
    expect(sampleValue(first, "tandem_takeovers_total")).toBe(0);

    // forged heartbeats (the wrong key) to the standby's heartbeat port
    const rejected = (t: string) => sampleValue(t, "tandem_peer_messages_rejected_total", { reason: "bad_mac" });
    const before = rejected(first);
    const forger = new Sender({ pair: "it", from: active, inc: 999_999, key: keyFromSecret("not-the-pair-key-not-the-pair-key-xx") });
    const sock = dgram.createSocket("udp4");
    for (let i = 0; i < 7; i++) {
      const hb = forger.seal("lan", "hb", { state: "active", epoch: 1000, level: 255, role: "main", leaseReq: true, candidate: false, leaseMs: 1000 }).bytes;
      await new Promise<void>((r) => sock.send(hb, cluster.ports[standby].lan, "127.0.0.1", () => r()));
    }
    sock.close();
    const after = await metricsUntil(cluster, standby, (t) => rejected(t) >= before + 7, "7 more bad_mac rejections");
    expect(rejected(after)).toBe(before + 7);
    // status.counters, which people read, counts the same
    const status = (await cluster.status(standby))!;
    expect(status.counters.peer_rejected_bad_mac).toBeGreaterThanOrEqual(before + 7);

    // the active renews through the witness: replied requests go up, sent ≥ replied
    const replied = (t: string) => sampleValue(t, "tandem_witness_requests_total", { result: "replied" });
    const w0 = replied(await metrics(cluster, active));
    const w1 = await metricsUntil(cluster, active, (t) => replied(t) > w0, "more witness replies");
    expect(sampleValue(w1, "tandem_witness_requests_sent_total")).toBeGreaterThanOrEqual(replied(w1));

    // kill -9 the active: the standby takes over, and counts it
    cluster.signal(active, "SIGKILL");
    await cluster.waitFor(standby, (s) => s.state === "active-held", 10_000, "the takeover");
    const took = await metrics(cluster, standby);
    expect(sampleValue(took, "tandem_takeovers_total")).toBe(1);
    expect(sampleValue(took, "tandem_state_changes_total", { from: "standby", to: "active-held" })).toBe(1);
    expect((await cluster.status(standby))!.counters.takeovers).toBe(1);
    await metricsUntil(cluster, standby, (t) => up(t, "job", "active") === 1, "job running on the node that took over");
  });

  it("PLC requests and exception responses move the driver counters of both nodes", async () => {
    const cluster = await pair.start({ extra: drivers });
    // a node with drivers loads node-opcua before it answers: slow on a loaded machine
    for (const id of ["a", "b"] as const) await cluster.waitFor(id, () => true, 60_000, "the node answers");
    const { active, standby } = await cluster.ready();
    // both nodes read the PLC (hot standby); the bad address answers with an exception
    for (const id of [active, standby]) {
      const exceptions = (t: string) => sampleValue(t, "tandem_driver_exception_responses_total", { device: "plc" });
      const requests = (t: string) => sampleValue(t, "tandem_driver_requests_total", { device: "plc" });
      const t0 = await metricsUntil(cluster, id, (x) => exceptions(x) > 0, "a Modbus exception counted");
      const t1 = await metricsUntil(cluster, id, (x) => requests(x) > requests(t0) && exceptions(x) > exceptions(t0), "more requests and exceptions");
      expect(sampleValue(t1, "tandem_driver_request_errors_total", { device: "plc" })).toBeGreaterThanOrEqual(exceptions(t1));
    }
    expect(plc.requests).toBeGreaterThan(0);
  });
});
