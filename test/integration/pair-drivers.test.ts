// The pair and the plant together (DESIGN.md, cause 4): each node reads the
// simulator's Modbus server through its own path; when only the active loses
// its path, its service level drops below the standby's by the margin and the
// pair switches over — planned, so nothing is held (S3) and never two actives (S1).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TcpRelay } from "../helpers/chaos-relay.js";
import { exited, freePort, spawnCli } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-plant-"));
let sim: ReturnType<typeof spawnCli>;
const paths: Record<"a" | "b", TcpRelay> = {} as never;

beforeAll(async () => {
  const modbus = await freePort();
  const opcua = await freePort();
  sim = spawnCli(["sim", "--modbus-port", String(modbus), "--opcua-port", String(opcua), "--data-dir", join(dir, "sim")]);
  const t0 = Date.now();
  while (!sim.output().includes("plant simulator:")) {
    if (Date.now() - t0 > 20_000) throw new Error(`simulator did not start: ${sim.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // each node's own network path to the PLC
  for (const id of ["a", "b"] as const) {
    paths[id] = new TcpRelay({ host: "127.0.0.1", port: modbus });
    await paths[id].start();
  }
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
  it("an active that loses its PLC path while the standby still reads the PLC hands over the active role (cause 4, S1, S3)", async () => {
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
    expect((await cluster.api(active, "POST", "/tags/line1.tank1.inletValve", { value: 55 }, "operator")).status).toBe(200);
    cluster.startSampling();

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
    expect((await cluster.api(standby, "POST", "/tags/line1.tank1.inletValve", { value: 56 }, "operator")).status).toBe(200);
    expect((await cluster.api(active, "POST", "/tags/line1.tank1.inletValve", { value: 57 }, "operator")).status).toBe(409);
    cluster.stopSampling();
    expect(cluster.twoActives()).toEqual([]);
    const audit = await cluster.api(active, "GET", "/audit?limit=30", undefined, "viewer");
    expect(JSON.stringify(audit.json)).toMatch(/service level \d+ is below the standby/);
    paths[active].cut = false;
  });

  it("without a witness, the PLC watchdog decides: the pair split, the isolated active's counter stops, the standby takes over held and fences it (S1, S3)", async () => {
    const watchdog = (id: "a" | "b") => `${drivers(id)}watchdog: { device: plc, counter: "hr:950", epoch: "hr:951", intervalMs: 200, staleAfterMs: 1000 }
`;
    const cluster = await pair.start({ witness: false, extra: watchdog });
    const { active, standby } = await cluster.ready();
    await cluster.waitFor(standby, (s) => s.serviceLevel === 255, 15_000, "standby reading the PLC");
    await new Promise((r) => setTimeout(r, 1000)); // the counter moves
    const epoch = (await cluster.status(active))!.epoch;
    cluster.startSampling();

    cluster.cutPeer(true); // both heartbeat links and the peer connection
    await cluster.waitFor(active, (s) => s.state === "isolated", 4000, "the active isolates (no lease)");
    const took = await cluster.waitFor(standby, (s) => s.state === "active-held", 6000, "the standby takes over on the stopped counter");
    expect(took.epoch).toBe(epoch + 1);
    expect(took.message).toMatch(/PLC watchdog counter stopped/);
    expect(took.awaitingOperator).toBe(false);
    // the new active drives the plant once confirmed; the old one is fenced
    expect((await cluster.api(standby, "POST", "/confirm", {}, "operator")).status).toBe(200);
    expect((await cluster.api(standby, "POST", "/tags/line1.tank1.inletValve", { value: 61 }, "operator")).status).toBe(200);
    expect((await cluster.api(active, "POST", "/tags/line1.tank1.inletValve", { value: 62 }, "operator")).status).toBe(409);

    cluster.cutPeer(false);
    await cluster.waitFor(active, (s) => s.state === "standby" && s.epoch === epoch + 1, 5000, "the old active follows the new epoch");
    cluster.stopSampling();
    expect(cluster.twoActives()).toEqual([]);
  });
});
