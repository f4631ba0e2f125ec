// The pair and the plant together (DESIGN.md, cause 4): each node reads the
// simulator's Modbus server through its own path; when only the active loses
// its path, its service level drops below the standby's by the margin and the
// pair switches over — planned, so nothing is held, and never two actives
// (S1). Without a witness the PLC watchdog decides and fences (S1, S3).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import M from "modbus-serial";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TcpRelay } from "../helpers/chaos-relay.js";
import { type Cluster, exited, freePort, sleep, spawnCli, waitUntil } from "../helpers/cluster.js";
import { expectOneActive, sampledBoth, useCluster } from "../helpers/use-cluster.js";

const ModbusRTU = M.default;
const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-plant-"));
let sim: ReturnType<typeof spawnCli>;
let modbus: number;
const paths: Record<"a" | "b", TcpRelay> = {} as never;

/**
 * The watchdog's registers as the PLC holds them, read by a client Tandem did
 * not write: the counter (hr:950) and the fence epoch, a uint32 in hr:951–952
 * (word order ABCD, the device's default: high word first).
 */
async function watchdogRegisters(): Promise<{ counter: number; epoch: number }> {
  const c = new ModbusRTU();
  try {
    await c.connectTCP("127.0.0.1", { port: modbus });
    c.setID(1);
    c.setTimeout(1000);
    const r = await c.readHoldingRegisters(950, 3);
    return { counter: r.data[0]!, epoch: r.data[1]! * 0x10000 + r.data[2]! };
  } finally {
    await new Promise<void>((res) => c.close(() => res()));
  }
}

/**
 * A write the acting node must carry to the PLC. With this file's short
 * device timeouts (200 ms, no retry) a loaded machine can drop the PLC
 * connection for a moment; the write is then refused 503, device not
 * reachable, which is right. Any other refusal fails at once; that one is
 * tried again for up to 10 s.
 */
async function writeThrough(cluster: Cluster, id: "a" | "b", value: number): Promise<void> {
  let write = await cluster.api(id, "POST", "/tags/line1.tank1.inletValve", { value }, "operator");
  for (let tries = 0; write.status === 503 && write.json?.error?.code === "TANDEM_ERR_DEVICE_UNAVAILABLE" && tries < 50; tries++) {
    await sleep(200);
    write = await cluster.api(id, "POST", "/tags/line1.tank1.inletValve", { value }, "operator");
  }
  expect(write.status, `${id}'s write of ${value}: ${JSON.stringify(write.json)}`).toBe(200);
}

beforeAll(async () => {
  modbus = await freePort();
  const opcua = await freePort();
  sim = spawnCli(["sim", "--modbus-port", String(modbus), "--opcua-port", String(opcua), "--data-dir", join(dir, "sim")]);
  await waitUntil("the simulator serving", () => sim.output().includes("plant simulator:"), { timeoutMs: 20_000, seen: () => sim.output() });
  // each node's own network path to the PLC
  for (const id of ["a", "b"] as const) {
    paths[id] = new TcpRelay({ host: "127.0.0.1", port: modbus });
    await paths[id].start();
  }
});

// a test that fails with a path cut must not leave it cut for the next one
afterEach(() => {
  for (const r of Object.values(paths)) r.cut = false;
});

afterAll(async () => {
  for (const r of Object.values(paths)) await r?.stop();
  sim?.kill("SIGTERM");
  if (sim) await exited(sim);
  rmSync(dir, { recursive: true, force: true });
});

const drivers = (id: "a" | "b") => `drivers:
  scanMs: 200
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${paths[id].port}"], unitId: 1, timeoutMs: 200, retries: 0, standby: hot, reconnect: { initialMs: 200, maxMs: 1000 } }
  tags:
    - { name: line1.tank1.level, device: plc, address: "hr:0", type: float32 }
    - { name: line1.tank1.inletValve, device: plc, address: "hr:8", type: uint16, writable: true }
`;

describe("the pair and the plant", () => {
  it("an active that loses its PLC path while the standby still reads the PLC hands over the active role, planned and not held (cause 4, S1)", async () => {
    const cluster = await pair.start({ extra: drivers, takeover: "  serviceLevelForMs: 1000" });
    const { active, standby } = await cluster.ready();
    // the drivers load slowly: a node may claim the role through the witness
    // only after it listened for its peer for the whole start-up window (1 s)
    for (const id of [active, standby]) {
      const lines = cluster.logTail(id, 400).split("\n").map((l) => JSON.parse(l) as { time: string; msg: string });
      const started = lines.find((l) => l.msg.startsWith(`node ${id} of pair`));
      const claimed = lines.find((l) => l.msg.includes("the witness granted the role"));
      if (started && claimed) expect(Date.parse(claimed.time) - Date.parse(started.time)).toBeGreaterThanOrEqual(900);
    }
    const good = (s: { serviceLevel: number }) => s.serviceLevel === 255;
    await cluster.waitFor(active, good, 15_000, "active reading the PLC");
    await cluster.waitFor(standby, good, 15_000, "standby reading the PLC");
    const epoch = (await cluster.status(active))!.epoch;
    // the active drives the plant
    await writeThrough(cluster, active, 55);
    cluster.startSampling();
    await sampledBoth(cluster);

    paths[active].cut = true; // the active's plant switch fails
    const degraded = await cluster.waitFor(active, (s) => s.serviceLevel <= 205, 5000, "service level drops");
    expect(JSON.stringify(degraded.devices)).toContain('"connected":false');
    const bad = await cluster.api(active, "GET", "/tags/line1.tank1.level", undefined, "viewer");
    expect(bad.json.quality).toBe("bad");

    const took = await cluster.waitFor(standby, (s) => s.state === "active", 8000, "the standby takes the role");
    expect(took.epoch).toBe(epoch + 1);
    expect(took.context.held).toBe(false); // planned: nothing was lost
    await cluster.waitFor(active, (s) => s.state === "standby", 3000, "the old active is standby");
    // the new active drives the plant
    await writeThrough(cluster, standby, 56);
    expect((await cluster.api(active, "POST", "/tags/line1.tank1.inletValve", { value: 57 }, "operator")).status).toBe(409);
    expectOneActive(cluster, { acted: [active, standby] });
    const audit = await cluster.api(active, "GET", "/audit?limit=30", undefined, "viewer");
    expect(JSON.stringify(audit.json)).toMatch(/service level \d+ is below the standby/);
  });

  it("without a witness, the PLC watchdog decides: the pair split, the isolated active's counter stops, the standby takes over held and fences it (S1, S3)", async () => {
    const watchdog = (id: "a" | "b") => `${drivers(id)}watchdog: { device: plc, counter: "hr:950", epoch: "hr:951", intervalMs: 200, staleAfterMs: 1000 }
`;
    const cluster = await pair.start({ witness: false, extra: watchdog });
    const { active, standby } = await cluster.ready();
    await cluster.waitFor(standby, (s) => s.serviceLevel === 255, 15_000, "standby reading the PLC");
    const epoch = (await cluster.status(active))!.epoch;
    // the active's watchdog runs: the PLC holds its epoch and the counter moves
    let read: unknown = null;
    const first = await waitUntil("the active's epoch in the PLC's fence register", async () => {
      const r = await watchdogRegisters().catch((e: Error) => ({ error: e.message }));
      read = r;
      return "epoch" in r && r.epoch === epoch ? r : null;
    }, { seen: () => `last read: ${JSON.stringify(read)}, active's epoch ${epoch}` });
    await waitUntil("the watchdog counter moving", async () => (await watchdogRegisters()).counter !== first.counter);
    cluster.startSampling();
    await sampledBoth(cluster);

    cluster.cutPeer(true); // both heartbeat links and the peer connection
    await cluster.waitFor(active, (s) => s.state === "isolated", 4000, "the active isolates (no lease)");
    const took = await cluster.waitFor(standby, (s) => s.state === "active-held", 6000, "the standby takes over on the stopped counter");
    expect(took.epoch).toBe(epoch + 1);
    expect(took.message).toMatch(/PLC watchdog counter stopped/);
    expect(took.awaitingOperator).toBe(false);
    // the new active drives the plant once confirmed; the old one is fenced
    expect((await cluster.api(standby, "POST", "/confirm", {}, "operator")).status).toBe(200);
    await writeThrough(cluster, standby, 61);
    // the isolated node writes nothing, and cut off it knows no active to point to: 503, saying so
    const refused = await cluster.api(active, "POST", "/tags/line1.tank1.inletValve", { value: 62 }, "operator");
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe("TANDEM_ERR_NOT_ACTIVE");
    // the fence: the PLC now holds the new epoch, written by the new active
    await waitUntil("the new epoch in the PLC's fence register", async () => (await watchdogRegisters()).epoch === epoch + 1);

    cluster.cutPeer(false);
    await cluster.waitFor(active, (s) => s.state === "standby" && s.epoch === epoch + 1, 5000, "the old active follows the new epoch");
    await sampledBoth(cluster);
    expectOneActive(cluster, { acted: [active, standby] });
  });
});
