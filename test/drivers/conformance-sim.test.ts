// The driver conformance suite against Tandem's plant simulator: Modbus TCP
// (its free memory, hr:1000 and co:1000 on) and OPC UA (the plant's
// variables, reached through a relay that can slow the path).
import { afterAll } from "vitest";
import { runSimulator, type Simulator } from "../../drivers/simulator/main.js";
import { silentLogs } from "../../runtime/logging.js";
import { driverConformance, type TypeCase } from "./conformance.js";
import { MODBUS_DEVICE, OPCUA_DEVICE, modbusCases, type ModbusCase } from "./conformance-cases.js";
import { DelayRelay, freePort, tempDir } from "./helpers.js";

const tmp = tempDir("tandem-conformance-sim-");
let running: Promise<Simulator> | null = null;
const simulator = () =>
  (running ??= (async () => runSimulator({ modbusPort: await freePort(), opcuaPort: await freePort(), dataDir: `${tmp.dir}/sim`, logs: silentLogs(), tickMs: 100 }))());
afterAll(async () => {
  if (running) await (await running).stop();
  tmp.remove();
});

const BASE = 1000;

driverConformance({
  name: "Modbus TCP against the plant simulator",
  async start() {
    const sim = await simulator();
    const cases = modbusCases(BASE);
    const mem = () => sim.memory();
    const peek = (c: ModbusCase) => (c.at.table === "co" ? [mem().coils[c.at.address]!] : Array.from(mem().registers.subarray(c.at.address, c.at.address + c.at.count)));
    return {
      driver: "modbus",
      device: { ...MODBUS_DEVICE, endpoints: [`127.0.0.1:${sim.modbusPort}`] },
      cases,
      async seed() {
        for (const c of cases) (c.at.table === "co" ? mem().coils : mem().registers).set(c.seed, c.at.address);
      },
      peek: async (c) => peek(c as ModbusCase),
      goAway: async () => sim.faults.setModbusDown(true),
      comeBack: async () => sim.faults.setModbusDown(false),
      slow: async (ms) => sim.faults.setModbusDelay(ms),
      slowWhile: "reading",
      writes: async () => sim.writes().modbus,
      reads: async () => sim.modbusRequests() - sim.writes().modbus,
      connections: () => sim.connections().modbus,
      watchdogWord: `hr:${BASE + 40}`,
      peekWord: async () => mem().registers[BASE + 40]!,
      stop: async () => {},
    };
  },
});

driverConformance({
  name: "OPC UA against the plant simulator",
  async start() {
    const sim = await simulator();
    const relay = new DelayRelay({ host: "127.0.0.1", port: sim.opcuaPort });
    await relay.start();
    const p = () => sim.plant();
    const word = (at: number) => p().memory[at]! | (p().memory[at + 1]! << 16);
    const peeks = new Map<TypeCase, () => unknown>();
    const ua = (id: string, c: Omit<TypeCase, "tag" | "read">, read: () => unknown): TypeCase => {
      const tc: TypeCase = { tag: { nodeId: `ns=1;s=Plant.${id}` }, read, ...c };
      peeks.set(tc, read);
      return tc;
    };
    const cases = [
      ua("Reactor.Setpoint", { write: 42.5, stored: 42.5, junk: ["42.5"] }, () => p().reactorSetpoint),
      ua("Reactor.HeaterEnable", { write: false, stored: false }, () => p().heaterEnable),
      ua("Batch.Step", { write: 3, stored: 3, junk: [70000, -1, 1.5] }, () => p().batchStep),
      ua("Watchdog.Counter", { write: 123456, stored: 123456, junk: [4294967296, -1] }, () => word(900)),
      ua("Batch.Name", {}, () => p().batchName),
      ua("Tank1.Level", {}, () => p().tank1Level),
    ];
    return {
      driver: "opcua",
      device: { ...OPCUA_DEVICE, endpoints: [`opc.tcp://127.0.0.1:${relay.port}`] },
      cases,
      // the plant stands still, so what the driver reads can be compared with it
      seed: async () => sim.faults.freeze(true),
      peek: async (c) => peeks.get(c)!(),
      goAway: () => sim.faults.dropConnections(),
      comeBack: async () => {},
      slow: async (ms) => void (relay.delayMs = ms),
      slowWhile: "lookup",
      writes: async () => sim.writes().opcua,
      connections: () => sim.connections().opcua,
      watchdogWord: "ns=1;s=Plant.Watchdog.Epoch",
      peekWord: async () => word(902),
      stop: async () => {
        sim.faults.freeze(false);
        await relay.stop();
      },
    };
  },
});
