// The simulator's write log, the plant's own witness for the independent
// checker: the real simulator driven by clients Tandem did not write
// (modbus-serial's client, node-opcua's client, a raw socket), and
// `tandem sim --write-log` through the compiled CLI.
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import M from "modbus-serial";
import { AttributeIds, DataType, OPCUACertificateManager } from "node-opcua";
import { afterAll, describe, expect, it } from "vitest";
import { createClient } from "../../drivers/opcua-client.js";
import { runSimulator } from "../../drivers/simulator/main.js";
import { readWriteLog } from "../../drivers/simulator/write-log.js";
import { silentLogs } from "../../runtime/logging.js";
import { exited, freePort, spawnCli, waitUntil } from "../helpers/cluster.js";

const ModbusRTU = M.default;
type Client = InstanceType<typeof ModbusRTU>;
const dir = mkdtempSync(join(tmpdir(), "tandem-wlog-it-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function connect(port: number): Promise<Client> {
  const c = new ModbusRTU();
  await c.connectTCP("127.0.0.1", { port });
  c.setID(1);
  c.setTimeout(2000);
  return c;
}
const close = (c: Client) => new Promise<void>((r) => c.close(() => r()));

/** sends bytes no client library would send on a raw socket; resolves with the first `expect` bytes answered */
async function raw(port: number, bytes: Buffer, expect: number): Promise<Buffer> {
  const s = net.connect(port, "127.0.0.1");
  let got = Buffer.alloc(0);
  s.on("data", (d) => (got = Buffer.concat([got, d])));
  await new Promise<void>((r) => s.once("connect", () => r()));
  s.write(bytes);
  await waitUntil(`${expect} bytes answered`, () => got.length >= expect, { seen: () => got.toString("hex") });
  s.destroy();
  return got;
}

describe("the simulator's write log", () => {
  it("logs every Modbus write on arrival, with its connection, address and attributed epoch, refused ones too", async () => {
    const file = join(dir, "plant-writes.jsonl");
    const sim = await runSimulator({ modbusPort: await freePort(), opcuaPort: await freePort(), dataDir: join(dir, "sim"), logs: silentLogs(), writeLog: { file } });
    const t0 = Date.now();
    const c1 = await connect(sim.modbusPort);
    const c2 = await connect(sim.modbusPort);
    try {
      await c1.writeRegisters(901, [0, 5]); // connection 1: epoch 5
      await c1.writeRegister(9, 3);
      await c2.writeRegister(8, 40); // connection 2, no epoch of its own yet: its address's, 5
      await c2.writeRegisters(901, [0, 6]); // connection 2: epoch 6
      await c2.writeRegisters(6, [0x4248, 0]); // setpoint 50.0
      await c1.writeCoil(0, true); // connection 1 keeps its own epoch, 5
      await c2.writeCoils(3, [true, false, true]);
      await expect(c2.writeRegister(0, 1)).rejects.toMatchObject({ modbusCode: 2 }); // read-only: refused, logged all the same
      expect(sim.plant()).toMatchObject({ batchStep: 3, inletValve: 40, reactorSetpoint: 50, pumpRun: true });
      // hostile bytes on a third connection: a frame too short, a wrong byte count, an unknown function, then a real write
      const frame = (pdu: number[]) => Buffer.from([0, 1, 0, 0, 0, pdu.length + 1, 1, ...pdu]);
      const answer = await raw(sim.modbusPort, Buffer.concat([frame([6, 0]), frame([16, 0, 9, 0, 2, 4, 0, 1]), frame([99, 1, 2, 3, 4]), frame([6, 0, 150, 0, 7])]), 9 + 12);
      expect(answer.subarray(7, 9)).toEqual(Buffer.from([99 | 0x80, 1])); // the unknown function answered as before
      expect(answer.subarray(16)).toEqual(Buffer.from([6, 0, 150, 0, 7])); // the write answered
    } finally {
      await close(c1);
      await close(c2);
      await sim.stop();
    }
    const t1 = Date.now();
    const lines = readWriteLog(file);
    expect(lines.map(({ at: _at, port: _port, ...rest }) => rest)).toEqual([
      { from: "127.0.0.1", conn: 1, fc: 16, table: "hr", addr: 901, values: [0, 5], epoch: 5, proto: "modbus" },
      { from: "127.0.0.1", conn: 1, fc: 6, table: "hr", addr: 9, values: [3], epoch: 5, proto: "modbus" },
      { from: "127.0.0.1", conn: 2, fc: 6, table: "hr", addr: 8, values: [40], epoch: 5, proto: "modbus" },
      { from: "127.0.0.1", conn: 2, fc: 16, table: "hr", addr: 901, values: [0, 6], epoch: 6, proto: "modbus" },
      { from: "127.0.0.1", conn: 2, fc: 16, table: "hr", addr: 6, values: [0x4248, 0], epoch: 6, proto: "modbus" },
      { from: "127.0.0.1", conn: 1, fc: 5, table: "co", addr: 0, values: [true], epoch: 5, proto: "modbus" },
      { from: "127.0.0.1", conn: 2, fc: 15, table: "co", addr: 3, values: [true, false, true], epoch: 6, proto: "modbus" },
      { from: "127.0.0.1", conn: 2, fc: 6, table: "hr", addr: 0, values: [1], epoch: 6, proto: "modbus" },
      { from: "127.0.0.1", conn: 3, fc: 6, table: "hr", addr: 150, values: [7], epoch: 6, proto: "modbus" },
    ]);
    // the receive times: the simulator's clock, in order
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.at).toBeGreaterThanOrEqual(lines[i - 1]!.at);
    expect(lines[0]!.at).toBeGreaterThanOrEqual(t0);
    expect(lines.at(-1)!.at).toBeLessThanOrEqual(t1);
    // one source port per connection, two connections: two ports
    const ports = new Map(lines.map((l) => [l.conn, l.port]));
    for (const l of lines) expect(l.port).toBe(ports.get(l.conn));
    expect(new Set([ports.get(1), ports.get(2)]).size).toBe(2);
  });

  it("logs OPC UA value writes with the node id, the epoch from the watchdog's epoch node by address", async () => {
    const file = join(dir, "opcua-writes.jsonl");
    const sim = await runSimulator({ modbusPort: await freePort(), opcuaPort: await freePort(), dataDir: join(dir, "sim-ua"), logs: silentLogs(), writeLog: { file } });
    const pki = new OPCUACertificateManager({ rootFolder: join(dir, "client-pki"), automaticallyAcceptUnknownCertificate: true });
    await pki.initialize();
    const client = createClient({ securityMode: "None", pki });
    try {
      await client.connect(sim.opcuaUrl);
      const session = await client.createSession();
      const write = (nodeId: string, dataType: DataType, value: unknown) => session.write({ nodeId, attributeId: AttributeIds.Value, value: { value: { dataType, value } } });
      expect((await write("ns=1;s=Plant.Reactor.Setpoint", DataType.Double, 55)).name).toBe("Good");
      expect((await write("ns=1;s=Plant.Watchdog.Epoch", DataType.UInt32, 9)).name).toBe("Good");
      expect((await write("ns=1;s=Plant.Pump1.Run", DataType.Boolean, true)).name).toBe("Good");
      await session.close();
    } finally {
      await client.disconnect();
      await pki.dispose();
      await sim.stop();
    }
    const lines = readWriteLog(file);
    expect(lines.map((l) => ({ proto: l.proto, node: l.node, values: l.values, epoch: l.epoch, from: l.from }))).toEqual([
      { proto: "opcua", node: "ns=1;s=Plant.Reactor.Setpoint", values: [55], epoch: null, from: "127.0.0.1" },
      { proto: "opcua", node: "ns=1;s=Plant.Watchdog.Epoch", values: [9], epoch: 9, from: "127.0.0.1" },
      { proto: "opcua", node: "ns=1;s=Plant.Pump1.Run", values: [true], epoch: 9, from: "127.0.0.1" },
    ]);
    expect(new Set(lines.map((l) => l.conn)).size).toBe(1);
  });

  it("`tandem sim --write-log FILE --epoch-register N` writes the file (the compiled CLI; npm run build first)", async () => {
    const file = join(dir, "cli", "writes.jsonl");
    const modbus = await freePort();
    const sim = spawnCli(["sim", "--modbus-port", String(modbus), "--opcua-port", String(await freePort()), "--data-dir", join(dir, "sim-cli"), "--write-log", file, "--epoch-register", "950"]);
    try {
      await waitUntil("the simulator serving", () => sim.output().includes("plant simulator:"), { timeoutMs: 20_000, seen: () => sim.output() });
      expect(sim.output()).toContain(`every write logged to ${file}`);
      const c = await connect(modbus);
      await c.writeRegisters(950, [0, 3]);
      await c.writeRegister(8, 10);
      await close(c);
    } finally {
      sim.kill("SIGTERM");
      expect(await exited(sim)).toMatchObject({ code: 0 });
    }
    expect(readWriteLog(file).map((l) => [l.addr, l.values, l.epoch])).toEqual([
      [950, [0, 3], 3],
      [8, [10], 3],
    ]);
  });

  it("refuses an epoch register without a write log, or out of range", async () => {
    const cases = [["--epoch-register", "950"], ["--write-log", join(dir, "x.jsonl"), "--epoch-register", "65535"], ["--write-log", join(dir, "x.jsonl"), "--epoch-register", "hr:901"]];
    const sims = cases.map((args) => spawnCli(["sim", ...args]));
    for (const sim of sims) {
      expect(await exited(sim)).toMatchObject({ code: 2 });
      expect(sim.output()).toMatch(/--epoch-register/);
    }
  });
});
