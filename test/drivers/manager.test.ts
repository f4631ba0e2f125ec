// The driver manager as a pair would run it: two managers (node a active,
// node b standby hot) against one plant simulator. Write gating (S1, S3),
// the PLC watchdog and fence, health penalties, connection counts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driversSection, watchdogSection } from "../../drivers/config-schema.js";
import { demoDriversConfig } from "../../drivers/demo-tags.js";
import { DriverManager, PENALTY, type WriteGate } from "../../drivers/manager.js";
import { runSimulator, type Simulator } from "../../drivers/simulator/main.js";
import { TandemError } from "../../core/errors.js";
import { silentLogs } from "../../runtime/logging.js";
import type { NodeState } from "../../runtime/node-api.js";
import { freePort, LeaseGate, tempDir, waitFor } from "./helpers.js";

/** The lead engineer's gate, as specified: nothing unless active; process writes not while held. */
function gate(node: { state: NodeState }): WriteGate {
  return {
    check(kind) {
      if (node.state === "active") return;
      if (node.state === "active-held" && kind === "operator") return;
      throw new TandemError("TANDEM_ERR_NOT_ACTIVE", [`${kind} write`, node.state]);
    },
  };
}

describe("driver manager (pair against the simulator)", () => {
  let sim: Simulator;
  const tmp = tempDir();
  const managers: DriverManager[] = [];
  const a = { state: "starting" as NodeState };
  const b = { state: "starting" as NodeState };
  let ma: DriverManager;
  let mb: DriverManager;
  const wd = watchdogSection.parse({ device: "sim-modbus", counter: "hr:900", epoch: "hr:902", intervalMs: 50, staleAfterMs: 400 });

  beforeAll(async () => {
    sim = await runSimulator({ modbusPort: await freePort(), opcuaPort: await freePort(), dataDir: `${tmp.dir}/sim`, logs: silentLogs(), tickMs: 50 });
    const drivers = driversSection.parse(demoDriversConfig("127.0.0.1", sim.modbusPort, sim.opcuaPort));
    const fast = { ...drivers, scanMs: 100, devices: drivers.devices.map((d) => ({ ...d, reconnect: { initialMs: 50, maxMs: 200 } })) };
    ma = new DriverManager({ drivers: fast, watchdog: wd, dataDir: `${tmp.dir}/a`, logs: silentLogs(), gate: gate(a) });
    mb = new DriverManager({ drivers: fast, watchdog: wd, dataDir: `${tmp.dir}/b`, logs: silentLogs(), gate: gate(b) });
    managers.push(ma, mb);
    await ma.start();
    await mb.start();
    a.state = "active";
    ma.setRole(true, 2);
    b.state = "standby";
    mb.setRole(false, 2);
  });
  afterAll(async () => {
    for (const m of managers) await m.stop();
    await sim.stop();
    tmp.remove();
  });

  it("both nodes read the demo's tags over Modbus and OPC UA (standby hot)", async () => {
    const allGood = (m: DriverManager) => m.tags().every((t) => t.quality === "good");
    await waitFor(() => allGood(ma) && allGood(mb), "every tag good on both nodes", 20_000);
    const tags = ma.tags();
    expect(tags.length).toBeGreaterThanOrEqual(10);
    expect(new Set(tags.map((t) => t.driver))).toEqual(new Set(["modbus", "opcua"]));
    expect(tags.filter((t) => t.writable).length).toBeGreaterThanOrEqual(4);
    for (const t of tags) {
      expect(t).toMatchObject({ name: expect.any(String), quality: "good", writable: expect.any(Boolean) });
      expect(t.receivedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    expect(ma.tag("line1.reactor.temperature")?.timestamp).toMatch(/^\d{4}-/);
    expect(ma.tag("nope")).toBeUndefined();
    expect(ma.connections().filter((c) => c.connected)).toHaveLength(2);
    expect(ma.health()).toEqual({ penalty: 0, reasons: [] });
  });

  it("writes on the active; refused on the standby; active-held refuses process writes, allows the operator", async () => {
    await ma.write("line1.reactor.setpoint", 70, "operator");
    await ma.write("line1.tank1.inletValve", 25, "process");
    await waitFor(() => mb.tag("line1.reactor.setpoint")?.value === 70 && mb.tag("line1.tank1.inletValve")?.value === 25, "the standby reads what the active wrote");
    await expect(mb.write("line1.reactor.setpoint", 60, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_NOT_ACTIVE", status: 409 });
    await expect(ma.write("line1.tank1.level", 1, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_READ_ONLY" });
    await expect(ma.write("line1.nope", 1, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_UNKNOWN", status: 404 });
    a.state = "active-held";
    ma.setRole(true, 2);
    await expect(ma.write("line1.pump1.run", false, "process")).rejects.toMatchObject({ code: "TANDEM_ERR_NOT_ACTIVE" });
    await ma.write("line1.pump1.run", true, "operator");
    a.state = "active";
    ma.setRole(true, 2);
  });

  it("watchdog: the active drives the counter and raises the fence; a stale node's writes never leave it", async () => {
    await waitFor(() => mb.watchdogView().plcEpoch === 2 && mb.watchdogView().counter !== null, "standby sees the active's epoch");
    const c0 = mb.watchdogView().counter;
    await waitFor(() => mb.watchdogView().counter !== c0, "the counter moves");
    expect(mb.watchdogView()).toMatchObject({ configured: true, counterStale: false, fenced: false });
    // b takes over with epoch 3: the fence goes to 3; a, still believing it is active at epoch 2, is fenced.
    b.state = "active";
    mb.setRole(true, 3);
    await waitFor(() => ma.watchdogView().plcEpoch === 3, "the PLC holds epoch 3");
    await expect(ma.write("line1.reactor.setpoint", 50, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_FENCED", message: /PLC holds epoch 3, this node has epoch 2/ });
    expect(ma.health().penalty).toBeGreaterThanOrEqual(PENALTY.fenced);
    expect(ma.health().reasons.join()).toMatch(/fence/);
    await mb.write("line1.reactor.setpoint", 66, "operator");
    // a demotes; b stops driving (as if it died): a sees the counter stop
    a.state = "standby";
    ma.setRole(false, 3);
    b.state = "standby";
    mb.setRole(false, 3);
    await waitFor(() => ma.watchdogView().counterStale, "counter stale once nobody drives it", 3000);
    expect(ma.health().penalty).toBe(0);
    a.state = "active";
    ma.setRole(true, 3);
    await waitFor(() => !mb.watchdogView().counterStale, "counter moves again");
  });

  it("S1: a new epoch's first write raises the fence before it leaves, not at the watchdog's next turn", async () => {
    const c = { state: "starting" as NodeState };
    const slow = watchdogSection.parse({ device: "sim-modbus", counter: "hr:900", epoch: "hr:902", intervalMs: 30_000, staleAfterMs: 60_000 });
    const drivers = driversSection.parse(demoDriversConfig("127.0.0.1", sim.modbusPort, sim.opcuaPort));
    const mc = new DriverManager({ drivers, watchdog: slow, dataDir: `${tmp.dir}/c`, logs: silentLogs(), gate: gate(c) });
    managers.push(mc);
    await mc.start();
    await waitFor(() => mc.tag("line1.tank1.inletValve")?.quality === "good", "c reads the plant");
    const fence = () => (sim.memory().registers[902]! << 16) | sim.memory().registers[903]!;
    const before = fence();
    c.state = "active";
    mc.setRole(true, before + 5);
    await mc.write("line1.tank1.inletValve", 33, "process");
    expect(fence()).toBe(before + 5);
    // the older active (a, at a lower epoch) is fenced from then on
    await expect(ma.write("line1.tank1.inletValve", 34, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_FENCED" });
    c.state = "standby";
    mc.setRole(false, before + 5);
    await mc.stop();
    // the plant's fence back where it was, for the tests after this one (node a active at its epoch)
    sim.memory().registers[902] = before >>> 16;
    sim.memory().registers[903] = before & 0xffff;
    await waitFor(() => !ma.watchdogView().fenced, "a no longer fenced");
  });

  it("a PLC lost by the active only: tags bad at once, health penalty above the takeover margin, then recovery", async () => {
    await waitFor(() => ma.tags().every((t) => t.quality === "good"), "good");
    sim.faults.setModbusDown(true);
    await waitFor(() => ma.tag("line1.tank1.level")?.quality === "bad", "bad", 2000);
    expect(ma.tag("line1.tank1.level")).toMatchObject({ reason: "comm_lost", value: null });
    expect(ma.tag("line1.reactor.temperature")?.quality).toBe("good"); // the OPC UA device is unaffected
    await waitFor(() => ma.health().penalty >= PENALTY.deviceLost, "penalty");
    expect(ma.health().penalty).toBeGreaterThan(50);
    expect(ma.health().reasons.join()).toMatch(/sim-modbus unreachable/);
    sim.faults.setModbusDown(false);
    await waitFor(() => ma.tags().every((t) => t.quality === "good") && ma.health().penalty === 0, "recovered", 5000);
  });

  it("refuses a watchdog on an unknown device with the config path", () => {
    const drivers = driversSection.parse(demoDriversConfig("127.0.0.1", 1, 2));
    expect(() => new DriverManager({ drivers, watchdog: { ...wd, device: "nope" }, dataDir: tmp.dir, logs: silentLogs(), gate: gate(a) })).toThrow(/watchdog.device: no device named 'nope'/);
  });
});

describe("driver manager: the write gate at send time (S1)", () => {
  let sim: Simulator;
  const tmp = tempDir();
  let m: DriverManager;
  const lease = new LeaseGate();
  const TAG = "gate.target";

  beforeAll(async () => {
    sim = await runSimulator({ modbusPort: await freePort(), opcuaPort: await freePort(), dataDir: `${tmp.dir}/sim`, logs: silentLogs(), tickMs: 100 });
    const drivers = driversSection.parse({
      scanMs: 50,
      devices: [{ name: "plc", driver: "modbus", endpoints: [`127.0.0.1:${sim.modbusPort}`], timeoutMs: 2000, writeTimeoutMs: 150, retries: 0, reconnect: { initialMs: 50, maxMs: 200 } }],
      tags: [
        { name: "gate.level", device: "plc", address: "hr:0", type: "float32" },
        { name: TAG, device: "plc", address: "hr:1500", type: "uint16", writable: true },
      ],
    });
    m = new DriverManager({ drivers, dataDir: `${tmp.dir}/node`, logs: silentLogs(), gate: lease });
    await m.start();
    m.setRole(true, 1);
    await waitFor(() => m.tag(TAG)?.quality === "good", "reading", 10_000);
  });
  afterAll(async () => {
    await m?.stop();
    await sim?.stop();
    tmp.remove();
  });

  it("S1: a write queued behind a slow scan read, whose lease runs out before it can leave, is refused and never reaches the PLC", async () => {
    lease.renew();
    const writes = sim.writes().modbus;
    const requests = sim.modbusRequests();
    sim.faults.setModbusDelay(800);
    try {
      // a scan read has reached the PLC and is answered late: it holds the one request slot
      await waitFor(() => sim.modbusRequests() > requests, "a read at the PLC", 5000, 1);
      // the gate allows the write when it is asked for; the lease ends while it waits for the slot
      lease.endsIn(400);
      await expect(m.write(TAG, 4321, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_LEASE" });
    } finally {
      sim.faults.setModbusDelay(0);
    }
    expect(sim.writes().modbus).toBe(writes);
    expect(sim.memory().registers[1500]).toBe(0);
    // the queue-time check passed, the send-time one (after the slot came free) refused
    const [atQueue, atSend] = lease.checks.slice(-2);
    expect(atQueue).toMatchObject({ kind: "operator", needMs: 0, ok: true });
    expect(atSend).toMatchObject({ kind: "operator", needMs: 150, ok: false });
    expect(atSend!.at - atQueue!.at).toBeGreaterThanOrEqual(300);
  });

  it("S1: a write whose timeout would outlast the lease left is refused before it leaves; with lease to spare it is written", async () => {
    const writes = sim.writes().modbus;
    lease.endsIn(100); // valid for 100 ms, the write may take 150
    await expect(m.write(TAG, 1234, "process")).rejects.toMatchObject({ code: "TANDEM_ERR_LEASE", message: /100 ms left|\d+ ms left/ });
    expect(sim.writes().modbus).toBe(writes);
    expect(sim.memory().registers[1500]).toBe(0);
    lease.endsIn(10_000);
    await m.write(TAG, 1234, "process");
    expect(sim.memory().registers[1500]).toBe(1234);
    expect(sim.writes().modbus).toBe(writes + 1);
  });

  it("a device whose write timeout cannot fit in the node's lease is a config error naming the key", () => {
    const drivers = driversSection.parse({ devices: [{ name: "plc", driver: "modbus", endpoints: ["127.0.0.1:502"], writeTimeoutMs: 900 }] });
    const budget: WriteGate = { check() {}, leaseBudgetMs: 750 };
    expect(() => new DriverManager({ drivers, dataDir: tmp.dir, logs: silentLogs(), gate: budget })).toThrow(
      /drivers\.devices\.0\.writeTimeoutMs: 900 ms does not fit in the lease \(750 ms\): every write to device 'plc' would be refused/,
    );
    // the default (the smaller of timeoutMs and 500) fits
    const fine = driversSection.parse({ devices: [{ name: "plc", driver: "modbus", endpoints: ["127.0.0.1:502"] }] });
    expect(() => new DriverManager({ drivers: fine, dataDir: tmp.dir, logs: silentLogs(), gate: budget })).not.toThrow();
  });
});
