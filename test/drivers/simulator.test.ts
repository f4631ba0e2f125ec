// The plant simulator, read and written by Tandem's own drivers over both
// protocols; its fault switches turn tags bad and back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driversSection, type ModbusDeviceConfig, type OpcuaDeviceConfig } from "../../drivers/config-schema.js";
import { ModbusDriver, modbusTag } from "../../drivers/modbus-driver.js";
import { OpcuaDriver, opcuaTag } from "../../drivers/opcua-driver.js";
import { runSimulator, type Simulator } from "../../drivers/simulator/main.js";
import { initialPlant, step } from "../../drivers/simulator/plant.js";
import type { TagSample } from "../../drivers/tag-model.js";
import { silentLogs } from "../../runtime/logging.js";
import { freePort, log, openGate, tempDir, waitFor } from "./helpers.js";

describe("plant model (pure)", () => {
  it("runs batches, keeps levels and temperatures plausible", () => {
    let s = initialPlant();
    const seen = new Set<number>();
    for (let i = 0; i < 6000; i++) {
      s = step(s, 100); // 10 minutes
      seen.add(s.batchStep);
      expect(s.tank1Level).toBeGreaterThanOrEqual(0);
      expect(s.tank1Level).toBeLessThanOrEqual(100);
      expect(s.reactorTemp).toBeGreaterThan(10);
      expect(s.reactorTemp).toBeLessThan(80);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(s.batchCount).toBeGreaterThanOrEqual(3);
  });
});

describe("simulator", () => {
  let sim: Simulator;
  const tmp = tempDir();
  const drivers: { stop(): Promise<void> }[] = [];
  const history: ({ name: string } & TagSample)[] = [];
  const wentBad = (name: string, since: number) => history.find((h) => h.name === name && h.receivedAt >= since && h.quality === "bad");
  beforeAll(async () => {
    sim = await runSimulator({ modbusPort: await freePort(), opcuaPort: await freePort(), dataDir: tmp.dir, logs: silentLogs(), tickMs: 50 });
  });
  afterAll(async () => {
    for (const d of drivers) await d.stop();
    await sim.stop();
    tmp.remove();
  });

  function start(devices: Record<string, unknown>[], tags: Record<string, unknown>[]) {
    const cfg = driversSection.parse({ devices, tags });
    const samples = new Map<string, TagSample>();
    const sink = (n: string, s: TagSample) => {
      samples.set(n, s);
      history.push({ name: n, ...s });
    };
    const out: (ModbusDriver | OpcuaDriver)[] = [];
    for (const dev of cfg.devices) {
      const mine = cfg.tags.filter((t) => t.device === dev.name);
      const d =
        dev.driver === "modbus"
          ? new ModbusDriver({ device: dev as ModbusDeviceConfig, tags: mine.map((t) => modbusTag(t, dev as ModbusDeviceConfig, cfg.scanMs)), onSample: sink, log, gate: openGate })
          : new OpcuaDriver({ device: dev as OpcuaDeviceConfig, tags: mine.map((t) => opcuaTag(t, dev as OpcuaDeviceConfig, cfg.scanMs)), onSample: sink, log, gate: openGate, pkiDir: `${tmp.dir}/client-pki` });
      drivers.push(d);
      out.push(d);
      d.setMode("read");
    }
    return { drivers: out, samples, v: (n: string) => samples.get(n) };
  }

  it("serves the same plant over Modbus and OPC UA; writes over one show on the other", async () => {
    const { v } = start(
      [
        { name: "mb", driver: "modbus", endpoints: [`127.0.0.1:${sim.modbusPort}`] },
        { name: "ua", driver: "opcua", endpoints: [sim.opcuaUrl], publishingIntervalMs: 50 },
      ],
      [
        { name: "mb.level", device: "mb", address: "hr:0", type: "float32", scanMs: 50 },
        { name: "mb.levelRaw", device: "mb", address: "hr:12", type: "int16", scaling: { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 }, scanMs: 50 },
        { name: "mb.setpoint", device: "mb", address: "hr:6", type: "float32", writable: true, scanMs: 50 },
        { name: "mb.pump", device: "mb", address: "co:0", writable: true, scanMs: 50 },
        { name: "mb.name", device: "mb", address: "hr:20", type: "string", length: 20, scanMs: 50 },
        { name: "mb.ambient", device: "mb", address: "ir:0", type: "int16", scaling: { rawMin: 0, rawMax: 1000, engMin: 0, engMax: 100 }, scanMs: 50 },
        { name: "ua.level", device: "ua", nodeId: "ns=1;s=Plant.Tank1.Level", scanMs: 100 },
        { name: "ua.setpoint", device: "ua", nodeId: "ns=1;s=Plant.Reactor.Setpoint", writable: true, scanMs: 100 },
        { name: "ua.pump", device: "ua", nodeId: "ns=1;s=Plant.Pump1.Run", writable: true, scanMs: 100 },
        { name: "ua.name", device: "ua", nodeId: "ns=1;s=Plant.Batch.Name", scanMs: 100 },
      ],
    );
    const names = ["mb.level", "mb.levelRaw", "mb.setpoint", "mb.pump", "mb.name", "mb.ambient", "ua.level", "ua.setpoint", "ua.pump", "ua.name"];
    await waitFor(() => names.every((n) => v(n)?.quality === "good"), "all good", 15_000).catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(names.map((n) => [n, v(n)]))}`);
    });
    const lvl = v("mb.level")!.value as number;
    expect(lvl).toBeGreaterThan(0);
    expect(lvl).toBeLessThan(100);
    expect(Math.abs((v("mb.levelRaw")!.value as number) - lvl)).toBeLessThan(1);
    expect(v("mb.ambient")!.value).toBeGreaterThan(15);
    expect(v("ua.name")!.value).toBe(v("mb.name")!.value);
    expect(v("ua.level")!.sourceTime).not.toBeNull();
    const [mb, ua] = drivers.slice(-2) as [ModbusDriver, OpcuaDriver];
    await mb.write("mb.setpoint", 72.5, "operator");
    await waitFor(() => v("ua.setpoint")?.value === 72.5, "OPC UA sees the Modbus write");
    await ua.write("ua.pump", false, "operator");
    await waitFor(() => v("mb.pump")?.value === false, "Modbus sees the OPC UA write");
    await ua.write("ua.pump", true, "operator");
    await expect(ua.write("ua.setpoint", 500, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_WRITE", message: /BadOutOfRange/ });
    await expect(ua.write("ua.setpoint", "warm", "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_VALUE" });
    // fault: every connection dropped → both drivers' tags bad, then good again
    const dropped = Date.now();
    await sim.faults.dropConnections();
    await waitFor(() => wentBad("mb.level", dropped) && wentBad("ua.level", dropped), "bad after drop", 5000);
    expect(wentBad("ua.level", dropped)?.reason).toBe("comm_lost");
    expect(wentBad("mb.level", dropped)?.reason).toBe("comm_lost");
    await waitFor(() => names.every((n) => v(n)?.quality === "good"), "good after reconnect", 15_000);
    expect(mb.status().reconnects).toBeGreaterThanOrEqual(1);
    expect(ua.status().reconnects).toBeGreaterThanOrEqual(1);
    // fault: an exception on one register
    sim.faults.setModbusException(20, 4);
    await waitFor(() => v("mb.name")?.reason === "modbus_exception:4 server device failure", "exception on the name only");
    expect(v("mb.level")?.quality).toBe("good");
    sim.faults.setModbusException(20, null);
    await waitFor(() => v("mb.name")?.quality === "good", "name good again");
    for (const d of [mb, ua]) await d.stop();
  });

  it("a client Tandem did not write (mbpoll, libmodbus) reads the same plant", async () => {
    const { execFile } = await import("node:child_process");
    sim.faults.freeze(true);
    try {
      const out = await new Promise<string>((resolve, reject) =>
        execFile("mbpoll", ["-m", "tcp", "-a", "1", "-0", "-r", "0", "-c", "1", "-t", "4:float", "-B", "-1", "-o", "2", "-p", String(sim.modbusPort), "127.0.0.1"], (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      const v = Number(/\[0\]:\s+(-?[\d.]+)/.exec(out)?.[1]);
      expect(Math.abs(v - sim.plant().tank1Level)).toBeLessThan(0.01);
    } finally {
      sim.faults.freeze(false);
    }
  });

  it("OPC UA: unknown node ids are bad/config, endpoints fail over, SignAndEncrypt with a user", async () => {
    const dead = `opc.tcp://127.0.0.1:${await freePort()}`;
    const { v, drivers: [ua] } = start(
      [
        {
          name: "ua2",
          driver: "opcua",
          endpoints: [dead, sim.opcuaUrl],
          securityMode: "SignAndEncrypt",
          username: "sim",
          password: "sim",
          trustUnknownServerCertificate: true,
          publishingIntervalMs: 50,
          reconnect: { initialMs: 100, maxMs: 200 },
          requestTimeoutMs: 3000,
        },
      ],
      [
        { name: "s.level", device: "ua2", nodeId: "ns=1;s=Plant.Tank1.Level", scanMs: 100 },
        { name: "s.nope", device: "ua2", nodeId: "ns=1;s=Plant.Nope", scanMs: 100 },
      ],
    );
    await waitFor(() => v("s.level")?.quality === "good", "good over SignAndEncrypt through the second endpoint", 15_000);
    expect(ua!.status().path).toBe(sim.opcuaUrl);
    expect(v("s.nope")).toMatchObject({ quality: "bad", reason: "config: opcua:BadNodeIdUnknown" });
    await ua!.stop();
  });

  it("the watchdog works over OPC UA too (counter and epoch nodes)", async () => {
    const { WatchdogLoop } = await import("../../drivers/watchdog.js");
    const { watchdogSection } = await import("../../drivers/config-schema.js");
    const { realClock } = await import("../../drivers/driver-api.js");
    const { drivers: [ua] } = start([{ name: "uawd", driver: "opcua", endpoints: [sim.opcuaUrl] }], []);
    await waitFor(() => ua!.status().connected, "connected");
    const cfg = watchdogSection.parse({ device: "uawd", counter: "ns=1;s=Plant.Watchdog.Counter", epoch: "ns=1;s=Plant.Watchdog.Epoch", intervalMs: 50, staleAfterMs: 300 });
    const loop = new WatchdogLoop(cfg, ua!, realClock, log);
    loop.setRole(true, 41);
    loop.start();
    try {
      await waitFor(() => (sim.plant().memory[902]! | (sim.plant().memory[903]! << 16)) === 41, "epoch 41 in the PLC");
      const c = sim.plant().memory[900];
      await waitFor(() => sim.plant().memory[900] !== c, "counter moves");
      // the PLC holds the write before its answer reaches the loop: wait for the loop's own view
      await waitFor(() => loop.view().plcEpoch === 41 && (loop.view().counter ?? 0) > 0, "the loop saw its own writes");
      expect(loop.view()).toMatchObject({ plcEpoch: 41, fenced: false, counterStale: false });
      loop.setRole(false, 40); // a node with an older epoch
      await waitFor(() => loop.view().fenced, "fenced");
      await waitFor(() => loop.view().counterStale, "stale once nobody writes");
    } finally {
      await loop.stop();
      await ua!.stop();
    }
  });
});
