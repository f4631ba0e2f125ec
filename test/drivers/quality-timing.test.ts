// Quality and timing in the field (issue 8), against servers Tandem did not
// write, as real processes: a PLC frozen with SIGSTOP (its TCP connection
// open) turns every tag bad at once, within one scan, with one reason that
// stays; a PLC that comes back is used again within reconnect.initialMs plus
// a scan; snapshots carry the source time and the time a read last confirmed
// the value; refusals reach the log once; each log line names its device once;
// a node without OPC UA devices never loads node-opcua (nor prints its notice).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DestinationStream } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driversSection, type ModbusDeviceConfig, type OpcuaDeviceConfig } from "../../drivers/config-schema.js";
import { DriverManager } from "../../drivers/manager.js";
import { ModbusDriver, modbusTag } from "../../drivers/modbus-driver.js";
import { OpcuaDriver, opcuaTag } from "../../drivers/opcua-driver.js";
import type { TagSample } from "../../drivers/tag-model.js";
import { LogManager } from "../../runtime/logging.js";
import { freePort, openGate, sleep, startPymodbus, tempDir, waitFor, type Pymodbus } from "./helpers.js";
import { bareServer, type BareServer } from "./opcua-server.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A log that keeps its lines (JSON text, as a log file would hold them). */
function capturedLogs(): { logs: LogManager; lines: string[] } {
  const lines: string[] = [];
  const logs = new LogManager({ level: "info", destination: { write: (l: string) => void lines.push(l) } as DestinationStream });
  return { logs, lines };
}

interface Seen {
  name: string;
  at: number;
  s: TagSample;
}

/** Builds a driver that records every sample it gives, in order. */
function modbusDriver(port: number, device: Record<string, unknown>, tags: Record<string, unknown>[], logs = capturedLogs()) {
  const cfg = driversSection.parse({ devices: [{ name: "plc", driver: "modbus", endpoints: [`127.0.0.1:${port}`], ...device }], tags: tags.map((t) => ({ device: "plc", ...t })) });
  const dev = cfg.devices[0] as ModbusDeviceConfig;
  const seen: Seen[] = [];
  const latest = new Map<string, TagSample>();
  const driver = new ModbusDriver({
    device: dev,
    tags: cfg.tags.map((t) => modbusTag(t, dev, cfg.scanMs)),
    onSample: (name, s) => {
      seen.push({ name, at: Date.now(), s });
      latest.set(name, s);
    },
    log: logs.logs.get("drivers"),
    gate: openGate,
  });
  const names = cfg.tags.map((t) => t.name);
  const all = (q: TagSample["quality"]) => names.every((n) => latest.get(n)?.quality === q);
  return { driver, seen, latest, names, all, lines: logs.lines };
}

/** The first bad sample of every tag at or after t0, and every bad reason seen since. */
function badSince(seen: Seen[], names: string[], t0: number): { first: number[]; reasons: Set<string>; goodAfter: number } {
  const first = names.map((n) => seen.find((x) => x.name === n && x.at >= t0 && x.s.quality === "bad")?.at ?? Number.NaN);
  const reasons = new Set(seen.filter((x) => x.at >= t0 && x.s.quality === "bad").map((x) => x.s.reason ?? ""));
  const lastFirst = Math.max(...first);
  const goodAfter = seen.filter((x) => x.at > lastFirst && x.s.quality !== "bad").length;
  return { first, reasons, goodAfter };
}

describe("a frozen Modbus PLC (pymodbus stopped with SIGSTOP, its connection open)", () => {
  let py: Pymodbus;
  const stopLater: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    py = await startPymodbus();
  });
  afterAll(async () => {
    for (const s of stopLater) await s();
    await py?.stop();
  });

  it("turns every tag bad at once, within one scan after the request is overdue, with one reason that stays (timeout) through the reconnects", async () => {
    const scanMs = 500;
    const timeoutMs = 500;
    // four requests in the 500 ms class and one in a 1 s class: all wait on one connection
    const tags = [
      ...Array.from({ length: 20 }, (_, i) => ({ name: `a.r${i}`, address: `hr:${i}`, scanMs })),
      ...Array.from({ length: 20 }, (_, i) => ({ name: `b.r${i}`, address: `hr:${1000 + i}`, scanMs })),
      ...Array.from({ length: 10 }, (_, i) => ({ name: `c.coil${i}`, address: `co:${i}`, scanMs })),
      ...Array.from({ length: 4 }, (_, i) => ({ name: `d.in${i}`, address: `ir:${i}`, scanMs })),
      ...Array.from({ length: 4 }, (_, i) => ({ name: `e.slow${i}`, address: `hr:${3000 + i}`, scanMs: 1000 })),
    ];
    const m = modbusDriver(py.port, { timeoutMs, retries: 1 }, tags);
    stopLater.push(() => m.driver.stop());
    expect(m.driver.plan().reduce((n, c) => n + c.requests, 0)).toBe(5);
    m.driver.setMode("read");
    await waitFor(() => m.all("good"), "every tag good", 10_000);

    const t0 = Date.now();
    process.kill(py.pid, "SIGSTOP");
    await waitFor(() => m.all("bad"), "every tag bad", 10_000, 5);
    // two reconnects to the frozen server (its kernel still accepts TCP): the reason must not change across them
    const reconnectsBefore = m.driver.status().reconnects;
    await waitFor(() => m.driver.status().reconnects >= reconnectsBefore + 2, "two reconnects while frozen", 15_000, 20);
    const { first, reasons, goodAfter } = badSince(m.seen, m.names, t0);
    const spread = Math.max(...first) - Math.min(...first);
    // at once: one synchronous pass over every tag (the slack is for a loaded machine)
    expect(spread, `first bad of each tag spread over ${spread} ms`).toBeLessThanOrEqual(50);
    // within one scan: the next request leaves within a scan of the freeze and is overdue after timeoutMs (+ the link's timeout sweep)
    expect(Math.min(...first) - t0).toBeLessThan(scanMs + timeoutMs + 100 + 400);
    expect([...reasons]).toEqual(["timeout"]);
    expect(goodAfter).toBe(0);
    expect(m.driver.status().connected).toBe(false);

    process.kill(py.pid, "SIGCONT");
    // the backoff is capped at 5 s by default (this device: the default)
    await waitFor(() => m.all("good"), "every tag good after the PLC runs again", 15_000);
    await m.driver.stop();
  });
});

describe("recovery after an outage (pymodbus stopped, started again on the same port)", () => {
  it("tags are good again within reconnect.initialMs plus one scan of the PLC listening again (default reconnect settings)", async () => {
    let py = await startPymodbus();
    const port = py.port;
    const scanMs = 200;
    const m = modbusDriver(port, {}, [{ name: "r.v", address: "hr:7", scanMs }]);
    try {
      const initialMs = 500; // the default, which this device keeps
      m.driver.setMode("read");
      await waitFor(() => m.all("good"), "good", 10_000);
      await py.stop();
      await waitFor(() => m.all("bad"), "bad once the PLC is gone", 5000);
      expect(m.latest.get("r.v")?.reason).toBe("comm_lost");
      // an outage of 4 s: long enough for a doubling backoff to wait well past its end
      await sleep(4000);
      py = await startPymodbus(port);
      const back = Date.now();
      await waitFor(() => m.all("good"), "good again", 15_000, 5);
      const took = Date.now() - back;
      expect(took, `good ${took} ms after the PLC listened again`).toBeLessThan(initialMs + scanMs + 800);
      // the probe is a bare TCP connect: no request reached the PLC before the real connection
      expect(m.driver.status().reconnects).toBe(1);
      expect(m.lines.some((l) => l.includes("accepts connections again"))).toBe(true);
    } finally {
      await m.driver.stop();
      await py.stop();
    }
  });
});

describe("timestamps, refusals in the log, and the device named once per log line (through the driver manager)", () => {
  const tmp = tempDir();
  let py: Pymodbus;
  let ua: BareServer;
  let manager: DriverManager;
  const cap = capturedLogs();
  beforeAll(async () => {
    py = await startPymodbus();
    ua = await bareServer(`${tmp.dir}/ua`, await freePort());
    const drivers = driversSection.parse({
      scanMs: 200,
      devices: [
        { name: "plc", driver: "modbus", endpoints: [`127.0.0.1:${py.port}`] },
        { name: "ua", driver: "opcua", endpoints: [ua.url], publishingIntervalMs: 100, requestTimeoutMs: 2000 },
      ],
      tags: [
        { name: "m.v", device: "plc", address: "hr:50" },
        // pymodbus holds 10,000 registers: this one is refused (exception 2)
        { name: "m.refused", device: "plc", address: "hr:20000", scanMs: 50 },
        { name: "u.v", device: "ua", nodeId: "ns=1;s=T.Double", scanMs: 100 },
      ],
    });
    manager = new DriverManager({ drivers, dataDir: `${tmp.dir}/node`, logs: cap.logs, gate: openGate });
    manager.setRole(true, 1);
    await manager.start();
  });
  afterAll(async () => {
    await manager?.stop();
    await ua?.stop();
    await py?.stop();
    tmp.remove();
  });

  it("a steady value keeps its source time while confirmedAt follows every read; the API's age counts from confirmedAt (Modbus and OPC UA)", async () => {
    await waitFor(() => manager.tag("m.v")?.quality === "good" && manager.tag("u.v")?.quality === "good", "both good", 20_000);
    const first = { m: manager.tag("m.v")!, u: manager.tag("u.v")! };
    expect(first.m.timestamp).not.toBeNull();
    expect(first.u.timestamp).not.toBeNull();
    // a second and a half later both values are still confirmed by reads, not only by their last change
    const since = Date.parse(first.m.receivedAt!) + 1500;
    await waitFor(
      () => ["m.v", "u.v"].every((n) => Date.parse(manager.tag(n)?.confirmedAt ?? "") > since),
      "both confirmed 1.5 s after their last change",
      10_000,
    );
    const m = manager.tag("m.v")!;
    const u = manager.tag("u.v")!;
    // the source time and the change time stay: the value did not change
    expect(m.timestamp).toBe(first.m.timestamp);
    expect(m.receivedAt).toBe(first.m.receivedAt);
    expect(u.timestamp).toBe(first.u.timestamp);
    expect(u.receivedAt).toBe(first.u.receivedAt);
    // the age is from the last confirming read: a Modbus scan (200 ms), an OPC UA keep-alive (500 ms), plus slack for a loaded machine
    expect(m.ageMs).toBeLessThan(200 + 500);
    expect(u.ageMs).toBeLessThan(500 + 700);
    expect(Date.now() - Date.parse(m.timestamp!)).toBeGreaterThan(1500);
    // the bus carries changes only: the snapshot subscribers got is the first one
    expect(manager.bus.get("m.v")?.receivedAt).toBe(first.m.receivedAt);
    // every tag the API lists carries both times
    for (const t of manager.tags()) expect(t).toHaveProperty("confirmedAt");
  });

  it("an illegal-address exception reaches the log once, with the tag and the exception, not on every scan", async () => {
    await waitFor(() => manager.tag("m.refused")?.reason === "modbus_exception:2 illegal data address", "refused", 10_000);
    const refusedScans = () => manager.deviceStatus().find((d) => d.device === "plc")!.errors;
    const before = refusedScans();
    await waitFor(() => refusedScans() >= before + 5, "five more refused scans", 10_000);
    const lines = cap.lines.filter((l) => l.includes("refuses"));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: "warn", device: "plc", tags: ["m.refused"], exception: "modbus_exception:2 illegal data address", address: "hr:20000" });
  });

  it("every driver log line names its device once", async () => {
    const withDevice = cap.lines.filter((l) => l.includes('"device":'));
    // connected, device path in use, mode, refusals: for both devices
    expect(withDevice.some((l) => l.includes("modbus connected"))).toBe(true);
    expect(withDevice.some((l) => l.includes("opcua connected"))).toBe(true);
    const twice = withDevice.filter((l) => l.split('"device":').length > 2);
    expect(twice).toEqual([]);
  });
});

/** node-opcua's server in its own process (test/drivers/fixtures/opcua-server-child.mjs). */
async function opcuaChild(dir: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL("./fixtures/opcua-server-child.mjs", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script, String(await freePort()), dir], { stdio: ["pipe", "pipe", "pipe"], cwd: ROOT });
  let out = "";
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the OPC UA server did not start: ${out}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  return {
    url: `opc.tcp://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGCONT");
      child.stdin!.end("stop\n");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

describe("a frozen OPC UA server (node-opcua's server process stopped with SIGSTOP)", () => {
  const tmp = tempDir();
  let srv: Awaited<ReturnType<typeof opcuaChild>>;
  let driver: OpcuaDriver | null = null;
  beforeAll(async () => {
    srv = await opcuaChild(`${tmp.dir}/server`);
  });
  afterAll(async () => {
    await driver?.stop();
    await srv?.stop();
    tmp.remove();
  });

  it("turns every tag bad at once within the keep-alive bound, with one reason (timeout) through the reconnect attempts, and good when it runs again", async () => {
    const publishingIntervalMs = 100;
    const cap = capturedLogs();
    const cfg = driversSection.parse({
      // requestTimeoutMs as by default (5 s): node-opcua's own keep-alive follows it, the driver's liveness check does not
      devices: [{ name: "ua", driver: "opcua", endpoints: [srv.url], publishingIntervalMs, reconnect: { initialMs: 200, maxMs: 1000 } }],
      tags: ["F.Double", "F.Int32", "F.Boolean"].map((id) => ({ name: `f.${id}`, device: "ua", nodeId: `ns=1;s=${id}`, scanMs: 100 })),
    });
    const dev = cfg.devices[0] as OpcuaDeviceConfig;
    const seen: Seen[] = [];
    const latest = new Map<string, TagSample>();
    driver = new OpcuaDriver({
      device: dev,
      tags: cfg.tags.map((t) => opcuaTag(t, dev, cfg.scanMs)),
      onSample: (name, s) => {
        seen.push({ name, at: Date.now(), s });
        latest.set(name, s);
      },
      log: cap.logs.get("drivers"),
      gate: openGate,
      pkiDir: `${tmp.dir}/client-pki`,
    });
    const names = cfg.tags.map((t) => t.name);
    const all = (q: string) => names.every((n) => latest.get(n)?.quality === q);
    driver.setMode("read");
    await waitFor(() => all("good"), "every tag good", 30_000);

    const t0 = Date.now();
    process.kill(srv.pid, "SIGSTOP");
    await waitFor(() => all("bad"), "every tag bad", 15_000, 5);
    // a failed connect attempt to the frozen server (its kernel accepts TCP, nobody answers the hello)
    const failed = () => cap.lines.filter((l) => l.includes("opcua connect failed")).length;
    await waitFor(() => failed() >= 1, "a failed reconnect while frozen", 20_000, 20);
    const { first, reasons, goodAfter } = badSince(seen, names, t0);
    expect(Math.max(...first) - Math.min(...first)).toBeLessThanOrEqual(50);
    // the documented bound: keep-alive period (max(publishing, 500 ms)) + max(publishing, 1 s), plus slack for a loaded machine
    expect(Math.min(...first) - t0).toBeLessThan(500 + 1000 + 700);
    expect([...reasons]).toEqual(["timeout"]);
    expect(goodAfter).toBe(0);

    process.kill(srv.pid, "SIGCONT");
    await waitFor(() => all("good"), "every tag good after the server runs again", 20_000);
    await driver.stop();
    driver = null;
  });
});

describe("a node without OPC UA devices", () => {
  it("never loads node-opcua, so its RSA PKCS#1 notice never reaches the node's output", async () => {
    const manager = path.join(ROOT, "dist/drivers/manager.js");
    expect(existsSync(manager), "dist/ is missing: run npm run build").toBe(true);
    const py = await startPymodbus();
    const tmp = tempDir();
    try {
      // the manager with a Modbus device only, in a process of its own: everything it prints is captured
      const script = `
        const { DriverManager } = await import(${JSON.stringify(manager)});
        const { driversSection } = await import(${JSON.stringify(path.join(ROOT, "dist/drivers/config-schema.js"))});
        const { silentLogs } = await import(${JSON.stringify(path.join(ROOT, "dist/runtime/logging.js"))});
        const drivers = driversSection.parse({ devices: [{ name: "plc", driver: "modbus", endpoints: ["127.0.0.1:${py.port}"] }], tags: [{ name: "v", device: "plc", address: "hr:1", scanMs: 50 }] });
        const m = new DriverManager({ drivers, dataDir: ${JSON.stringify(tmp.dir)}, logs: silentLogs(), gate: { check() {} } });
        m.setRole(true, 1);
        await m.start();
        const end = Date.now() + 10000;
        while (m.tag("v").quality !== "good" && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        console.log("TAG " + m.tag("v").quality);
        await m.stop();
      `;
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
      let out = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      expect(out).toContain("TAG good");
      expect(code).toBe(0);
      expect(out).not.toMatch(/PKCS|NODE-OPCUA|CVE-2023-46809/);
    } finally {
      await py.stop();
      tmp.remove();
    }
  });
});
