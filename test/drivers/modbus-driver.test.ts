// What is Modbus's own, beyond the conformance suite every driver passes
// (conformance-*.test.ts): against Debian's pymodbus every data type × byte
// order and coalescing counted by the server; against modbus-serial's
// ServerTCP the faults (exceptions, dropped connections, delays, endpoint
// failover) and the write functions. Run for both TCP clients (modbus-serial
// and Tandem's own MBAP framing).
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driversSection, type ModbusDeviceConfig, type TagConfig } from "../../drivers/config-schema.js";
import { BYTE_ORDERS } from "../../drivers/modbus-codec.js";
import { ModbusDriver, modbusTag } from "../../drivers/modbus-driver.js";
import type { TagSample } from "../../drivers/tag-model.js";
import { SAMPLES } from "./samples.js";
import { log, openGate, startFakePlc, startPymodbus, waitFor, type FakePlc, type Pymodbus } from "./helpers.js";

function setup(device: Record<string, unknown>, tags: Record<string, unknown>[]) {
  const cfg = driversSection.parse({ devices: [{ name: "plc", driver: "modbus", tcpClient, ...device }], tags: tags.map((t) => ({ device: "plc", ...t })) });
  const dev = cfg.devices[0] as ModbusDeviceConfig;
  const samples = new Map<string, TagSample>();
  seenClients.add(dev.tcpClient);
  const driver = new ModbusDriver({ device: dev, tags: cfg.tags.map((t: TagConfig) => modbusTag(t, dev, cfg.scanMs)), onSample: (n, s) => samples.set(n, s), log, gate: openGate });
  return { driver, samples, value: (n: string) => samples.get(n) };
}

let tcpClient = "modbus-serial";
const seenClients = new Set<string>();
const drivers: ModbusDriver[] = [];
afterAll(async () => {
  for (const d of drivers) await d.stop();
});

for (const client of ["modbus-serial", "tandem"]) describe(`tcpClient ${client}`, () => {
  beforeAll(() => {
    tcpClient = client;
  });

  it("a path that accepts TCP but never answers (a gateway whose PLC is gone) is not connected, and its tags are bad", async () => {
    // a real listening socket that reads requests and never replies
    const silent = net.createServer((sock) => sock.on("data", () => undefined));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const { driver, value } = setup({ endpoints: [`127.0.0.1:${port}`], timeoutMs: 100, retries: 0, reconnect: { initialMs: 100, maxMs: 200 } }, [{ name: "x", address: "hr:0", scanMs: 100 }]);
      drivers.push(driver);
      driver.setMode("read");
      await waitFor(() => value("x")?.quality === "bad", "tag bad", 3000);
      for (let i = 0; i < 10; i++) {
        expect(driver.status().connected).toBe(false);
        await new Promise((r) => setTimeout(r, 50));
      }
      await driver.stop();
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  // found by test/unit/modbus-fuzz.test.ts: modbus-serial took an answer's byte count on
  // trust, so a byte count one short in an answer of the right length read as no data (a
  // coil turned good with the value false) or as a register read past the count (good)
  it("an answer whose byte count is not the one asked for is refused: no tag turns good, the connection is dropped", async () => {
    const bytesFor = (fcode: number, count: number) => (fcode <= 2 ? Math.ceil(count / 8) : count * 2);
    let byteCount: "wrong" | "right" = "wrong";
    const device = net.createServer((sock) =>
      sock.on("data", (d) => {
        const n = bytesFor(d[7]!, d.readUInt16BE(10));
        const a = Buffer.alloc(9 + n, 0xff);
        a.writeUInt16BE(d.readUInt16BE(0), 0);
        a.writeUInt16BE(0, 2);
        a.writeUInt16BE(3 + n, 4);
        a[6] = d[6]!;
        a[7] = d[7]!;
        a[8] = byteCount === "wrong" ? n - 1 : n; // a coil's 0, a register's odd 1
        sock.write(a);
      }),
    );
    await new Promise<void>((r) => device.listen(0, "127.0.0.1", () => r()));
    const port = (device.address() as net.AddressInfo).port;
    const { driver, value } = setup({ endpoints: [`127.0.0.1:${port}`], timeoutMs: 200, retries: 0, reconnect: { initialMs: 50, maxMs: 100 } }, [
      { name: "c", address: "co:0", scanMs: 50 },
      { name: "h", address: "hr:0", scanMs: 50 },
    ]);
    drivers.push(driver);
    try {
      driver.setMode("read");
      await waitFor(() => driver.status().lastError?.includes("expected 1"), "the byte count refused", 3000);
      for (const t of ["c", "h"]) expect(value(t)?.quality, t).not.toBe("good");
      byteCount = "right";
      await waitFor(() => value("c")?.quality === "good" && value("h")?.quality === "good", "tags good once the answers are right", 3000);
      expect([value("c")!.value, value("h")!.value]).toEqual([true, 0xffff]);
    } finally {
      await driver.stop(); // its connection open would hold the device's close
      await new Promise<void>((r) => device.close(() => r()));
    }
  });

  describe(`modbus driver (${client}) against pymodbus`, () => {
    let py: Pymodbus;
    beforeAll(async () => {
      py = await startPymodbus();
    });
    afterAll(async () => {
      await py.stop();
    });

    it("writes and reads back every data type in every byte order", async () => {
      const tags: Record<string, unknown>[] = [];
      const expected = new Map<string, unknown>();
      let addr = 0;
      for (const order of BYTE_ORDERS) {
        for (const [type, values] of Object.entries(SAMPLES)) {
          if (type === "bool") continue;
          // the last value JSON can carry (a finite number)
          const v = values.filter((x) => typeof x !== "number" || Number.isFinite(x)).at(-1);
          const name = `t.${type}.${order}`;
          tags.push({ name, address: `hr:${addr}`, type, byteOrder: order, writable: true, scanMs: 50 });
          expected.set(name, type === "float32" ? Math.fround(v as number) : v);
          addr += 4;
        }
        tags.push({ name: `t.string.${order}`, address: `hr:${addr}`, type: "string", length: 9, byteOrder: order, writable: true, scanMs: 50 });
        expected.set(`t.string.${order}`, "LINE1-ABC");
        addr += 5;
        tags.push({ name: `t.bit.${order}`, address: `hr:${addr}.9`, byteOrder: order, writable: true, scanMs: 50 });
        expected.set(`t.bit.${order}`, true);
        addr += 1;
      }
      tags.push({ name: "t.coil", address: "co:5", writable: true, scanMs: 50 });
      expected.set("t.coil", true);
      tags.push({ name: "t.di", address: "di:5", scanMs: 50 });
      tags.push({ name: "t.ir", address: "ir:5", type: "int32", scanMs: 50 });
      const { driver, value } = setup({ endpoints: [`127.0.0.1:${py.port}`], timeoutMs: 2000 }, tags);
      drivers.push(driver);
      driver.setMode("read");
      await waitFor(() => driver.status().connected, "connected");
      for (const [name, v] of expected) await driver.write(name, typeof v === "bigint" ? v.toString() : v, "operator");
      await waitFor(() => [...expected].every(([n, v]) => value(n)?.quality === "good" && value(n)?.value === v), "all values read back", 5000);
      expect(value("t.di")).toMatchObject({ quality: "good", value: false });
      expect(value("t.ir")).toMatchObject({ quality: "good", value: 0 });
      // setting bit 9 left the other bits of the register alone: write bit 9 false again
      await driver.write("t.bit.ABCD", false, "operator");
      await waitFor(() => value("t.bit.ABCD")?.value === false, "bit cleared");
      await driver.stop();
    });

    it("coalesces a scan into the expected number of requests, counted by the server", async () => {
      // 10 adjacent uint16 + a float32 within the gap = 1 request; hr:300 = 1; coils 0..99 = 1; ir:0 = 1
      const tags = [
        ...Array.from({ length: 10 }, (_, i) => ({ name: `c.r${i}`, address: `hr:${200 + i}` })),
        { name: "c.f", address: "hr:220", type: "float32" },
        { name: "c.far", address: "hr:300" },
        ...Array.from({ length: 100 }, (_, i) => ({ name: `c.coil${i}`, address: `co:${i}` })),
        { name: "c.ir", address: "ir:0" },
      ];
      const { driver, samples } = setup({ endpoints: [`127.0.0.1:${py.port}`], maxGapRegisters: 16 }, tags.map((t) => ({ ...t, scanMs: 3_600_000 })));
      drivers.push(driver);
      expect(driver.plan()).toEqual([{ scanMs: 3_600_000, requests: 4, registers: 22 + 1 + 100 + 1 }]);
      const before = await py.count();
      driver.setMode("read");
      await waitFor(() => samples.size === tags.length && [...samples.values()].every((s) => s.quality === "good"), "one scan");
      expect((await py.count()) - before).toBe(4);
      expect(driver.counters().requests).toBe(4);
      await driver.stop();
    });
  });

  describe(`modbus driver (${client}) against modbus-serial ServerTCP (faults)`, () => {
    let a: FakePlc;
    let b: FakePlc;
    beforeAll(async () => {
      a = await startFakePlc();
      b = await startFakePlc();
    });
    afterAll(async () => {
      await a.stop();
      await b.stop();
    });

    it("an exception marks only the tags it covers bad, with the reason", async () => {
      a.holding[10] = 7;
      a.holding[12] = 9;
      a.exceptions.set(11, 2);
      a.exceptions.set(40, 6);
      const { driver, value } = setup({ endpoints: [`127.0.0.1:${a.port}`] }, [
        { name: "x.ok", address: "hr:10", scanMs: 50 },
        { name: "x.bad", address: "hr:11", scanMs: 50 },
        { name: "x.ok2", address: "hr:12", scanMs: 50 },
        { name: "x.busy", address: "hr:40", scanMs: 50 },
      ]);
      drivers.push(driver);
      driver.setMode("read");
      await waitFor(() => ["x.ok", "x.bad", "x.ok2", "x.busy"].every((n) => value(n) && value(n)?.reason !== "no_data"), "first scan");
      expect(value("x.ok")).toMatchObject({ quality: "good", value: 7 });
      expect(value("x.ok2")).toMatchObject({ quality: "good", value: 9 });
      expect(value("x.bad")).toMatchObject({ quality: "bad", reason: "modbus_exception:2 illegal data address" });
      expect(value("x.busy")).toMatchObject({ quality: "bad", reason: "modbus_exception:6 server device busy" });
      expect(driver.status().connected).toBe(true);
      a.exceptions.clear();
      await waitFor(() => value("x.bad")?.quality === "good" && value("x.busy")?.quality === "good", "recovered after the device stops refusing");
      await driver.stop();
    });

    it("a lost connection turns tags bad within a scan; reconnection turns them good", async () => {
      a.holding[1] = 42;
      const { driver, value } = setup({ endpoints: [`127.0.0.1:${a.port}`], reconnect: { initialMs: 50, maxMs: 200 } }, [{ name: "l.v", address: "hr:1", scanMs: 100 }]);
      drivers.push(driver);
      driver.setMode("read");
      await waitFor(() => value("l.v")?.quality === "good", "good");
      const t0 = Date.now();
      a.dropClients();
      await waitFor(() => value("l.v")?.quality === "bad", "bad after drop", 2000, 2);
      // the socket's close event turns them bad at once; the bound is one scan (100 ms) plus slack for a loaded CI machine
      expect(Date.now() - t0).toBeLessThan(100 + 150);
      expect(value("l.v")).toMatchObject({ reason: "comm_lost", value: null });
      await waitFor(() => value("l.v")?.quality === "good", "good after reconnect", 3000);
      expect(driver.status().reconnects).toBeGreaterThanOrEqual(1);
      await driver.stop();
    });

    it("a device that stops answering: the first timeout turns the tag bad, the retry fails, the connection is dropped, and the reason stays timeout", async () => {
      const { driver, value } = setup({ endpoints: [`127.0.0.1:${a.port}`], timeoutMs: 100, retries: 1, reconnect: { initialMs: 50, maxMs: 100 } }, [{ name: "d.v", address: "hr:1", scanMs: 50 }]);
      drivers.push(driver);
      driver.setMode("read");
      await waitFor(() => value("d.v")?.quality === "good", "good");
      a.delayMs = 400;
      const t0 = Date.now();
      // the first timeout (100 ms) already turns the tag bad, within one scan after the cut
      await waitFor(() => value("d.v")?.quality === "bad", "bad after the first timeout", 3000, 2);
      // timeout (100 ms) + at most one scan (50 ms) + slack for a loaded CI machine
      expect(Date.now() - t0).toBeLessThan(100 + 50 + 150);
      expect(value("d.v")?.reason).toBe("timeout");
      // after the retry the connection counts as lost and is opened again; the tag keeps its one reason
      const reconnects = driver.status().reconnects;
      await waitFor(() => driver.status().reconnects > reconnects, "a new connection after the retry", 3000, 2);
      expect(value("d.v")).toMatchObject({ quality: "bad", reason: "timeout" });
      a.delayMs = 0;
      await waitFor(() => value("d.v")?.quality === "good", "good again", 3000);
      await driver.stop();
    });

    it("fails over to the second endpoint and reports the path in use", async () => {
      b.holding[3] = 33;
      a.holding[3] = 33;
      const { driver, value } = setup({ endpoints: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], reconnect: { initialMs: 50, maxMs: 100 } }, [{ name: "f.v", address: "hr:3", scanMs: 50 }]);
      drivers.push(driver);
      driver.setMode("read");
      await waitFor(() => value("f.v")?.quality === "good", "good");
      expect(driver.status().path).toBe(`127.0.0.1:${a.port}`);
      // path A goes away entirely (server down), B stays
      await a.stop();
      await waitFor(() => driver.status().path === `127.0.0.1:${b.port}`, "on path B", 3000);
      b.holding[3] = 34;
      await waitFor(() => value("f.v")?.value === 34 && value("f.v")?.quality === "good", "reading through B");
      expect(driver.status().endpoints).toEqual([
        { endpoint: `127.0.0.1:${a.port}`, connected: false },
        { endpoint: `127.0.0.1:${b.port}`, connected: true },
      ]);
      await driver.stop();
      a = await startFakePlc(a.port);
    });

    it("writes: single and multiple register functions, refusals with reasons", async () => {
      const { driver } = setup({ endpoints: [`127.0.0.1:${b.port}`], writeFunction: "single" }, [
        { name: "w.u32", address: "hr:50", type: "uint32", writable: true, scanMs: 1000 },
        { name: "w.ro", address: "hr:60", scanMs: 1000 },
        { name: "w.scaled", address: "hr:61", type: "int16", writable: true, scaling: { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 }, scanMs: 1000 },
      ]);
      drivers.push(driver);
      await expect(driver.write("w.u32", 1, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_DEVICE_UNAVAILABLE" });
      driver.setMode("read");
      await waitFor(() => driver.status().connected, "connected");
      await driver.write("w.u32", 0x10002, "operator");
      expect(b.holding.slice(50, 52)).toEqual([1, 2]);
      await driver.write("w.scaled", 50, "operator");
      expect(b.holding[61]).toBe(13824);
      await expect(driver.write("w.ro", 1, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_READ_ONLY" });
      await expect(driver.write("w.u32", -1, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_VALUE" });
      await expect(driver.write("w.nope", 1, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_UNKNOWN" });
      b.exceptions.set(50, 3);
      await expect(driver.write("w.u32", 5, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_WRITE", message: /exception 3/ });
      b.exceptions.clear();
      await driver.stop();
    });
  });
});

it("both TCP clients were exercised", () => {
  // guards the suite above: each describe really ran with its own client
  expect([...seenClients].sort()).toEqual(["modbus-serial", "tandem"]);
});
