// Modbus RTU over a serial line (a socat pseudo-terminal pair) against
// Debian's pymodbus serial server: reads, writes, coalescing, and a line
// that goes away turning tags bad.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driversSection, type ModbusDeviceConfig } from "../../drivers/config-schema.js";
import { ModbusDriver, modbusTag } from "../../drivers/modbus-driver.js";
import type { TagSample } from "../../drivers/tag-model.js";
import { log, ptyPair, startPymodbus, tempDir, waitFor, type PtyPair, type Pymodbus } from "./helpers.js";

describe("modbus RTU driver against pymodbus over a pty pair", () => {
  const tmp = tempDir();
  let pty: PtyPair;
  let py: Pymodbus;
  let driver: ModbusDriver | undefined;
  beforeAll(async () => {
    pty = await ptyPair(tmp.dir);
    py = await startPymodbus(`rtu:${pty.b}`);
  });
  afterAll(async () => {
    await driver?.stop();
    await py.stop();
    await pty.stop();
    tmp.remove();
  });

  it("reads and writes typed values, coalesced, and turns bad when the line goes", async () => {
    const cfg = driversSection.parse({
      devices: [{ name: "rtu", driver: "modbus", transport: "rtu", serial: [{ path: pty.a, baudRate: 19200, parity: "none" }], timeoutMs: 300, retries: 0, reconnect: { initialMs: 100, maxMs: 200 } }],
      tags: [
        { name: "r.f", device: "rtu", address: "hr:10", type: "float32", byteOrder: "CDAB", writable: true, scanMs: 50 },
        { name: "r.i", device: "rtu", address: "hr:12", type: "int16", writable: true, scanMs: 50 },
        { name: "r.c", device: "rtu", address: "co:3", writable: true, scanMs: 50 },
      ],
    });
    const dev = cfg.devices[0] as ModbusDeviceConfig;
    const samples = new Map<string, TagSample>();
    driver = new ModbusDriver({ device: dev, tags: cfg.tags.map((t) => modbusTag(t, dev, cfg.scanMs)), onSample: (n, s) => samples.set(n, s), log });
    expect(driver.plan()).toEqual([{ scanMs: 50, requests: 2, registers: 4 }]);
    driver.setMode("read");
    await waitFor(() => driver!.status().connected, "serial port open", 5000);
    expect(driver.status().path).toBe(pty.a);
    await driver.write("r.f", -12.25);
    await driver.write("r.i", -321);
    await driver.write("r.c", true);
    await waitFor(() => samples.get("r.f")?.value === -12.25 && samples.get("r.i")?.value === -321 && samples.get("r.c")?.value === true, "values read back over RTU", 5000);
    // the line goes away (the other end stops answering): tags bad
    await py.stop();
    await waitFor(() => samples.get("r.f")?.quality === "bad", "bad without answers", 3000);
    expect(["timeout", "comm_lost"]).toContain(samples.get("r.f")?.reason);
  });
});
