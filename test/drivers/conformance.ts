// One suite every protocol driver passes (STYLE.md §3), run against each
// protocol's simulator and against servers Tandem did not write
// (conformance-*.test.ts): connect and read every type the server offers,
// quality bad when the server goes away and good when it is back, the modes
// off / connect / read, writes that land on the server, junk values refused
// before anything is sent, the write gate asked at the moment a write leaves
// (S1: a lease that ran out while the write waited sends nothing), and stop
// releasing every socket and timer.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { driversSection, type ModbusDeviceConfig, type OpcuaDeviceConfig } from "../../drivers/config-schema.js";
import type { DeviceDriver, DriverMode, WriteGate } from "../../drivers/driver-api.js";
import { ModbusDriver, modbusTag } from "../../drivers/modbus-driver.js";
import { OpcuaDriver, opcuaTag } from "../../drivers/opcua-driver.js";
import { jsonValue, type TagSample } from "../../drivers/tag-model.js";
import { LeaseGate, log, openGate, openResources, tempDir, waitFor } from "./helpers.js";

/** One tag per type the server offers. */
export interface TypeCase {
  /** the tag's config without name and device */
  tag: Record<string, unknown>;
  /** what the driver reads once the server was seeded (a function: read from the server's own state) */
  read: unknown;
  /** a value to write, as the API sends it; absent: the tag is read-only */
  write?: unknown;
  /** what the driver reads after the write (default: `write`) */
  readBack?: unknown;
  /** what peek() gives once the write landed (raw registers for Modbus, the server's own value for OPC UA) */
  stored?: unknown;
  /** values this tag must refuse (besides the ones every tag of its kind refuses) */
  junk?: unknown[];
}

export interface TargetServer {
  driver: "modbus" | "opcua";
  /** device fields: endpoints or serial ports, timeouts */
  device: Record<string, unknown>;
  cases: TypeCase[];
  /** puts every case's `read` value into the server by its own means */
  seed(): Promise<void>;
  /** the server's own account of a case's value */
  peek(c: TypeCase): Promise<unknown>;
  /** the server goes away (connections dropped or refused) / is back */
  goAway(): Promise<void>;
  comeBack(): Promise<void>;
  /**
   * Answers late from now on (0: at once). `reading`: the driver's reads hold
   * its request slot meanwhile (Modbus); `lookup`: a write's data-type lookup
   * waits (OPC UA, tested in mode connect, where no subscription has told the type).
   */
  slow(ms: number): Promise<void>;
  slowWhile: "reading" | "lookup";
  /** write requests the server received */
  writes(): Promise<number>;
  /** read requests the server answered, where it can tell */
  reads?(): Promise<number>;
  /** client connections the server holds, where it can tell */
  connections?(): number;
  /** where the watchdog counter would live, and the server's own reading of it */
  watchdogWord: string;
  peekWord(): Promise<number>;
  stop(): Promise<void>;
}

export interface ConformanceTarget {
  name: string;
  start(dir: string): Promise<TargetServer>;
}

/** Values no tag of the kind accepts. */
function universalJunk(c: TypeCase): unknown[] {
  const w = c.write;
  if (typeof w === "boolean") return [null, "", 0, 1, "true", [], {}];
  // 64-bit integers: JSON numbers cannot carry them, so a decimal string is the one text they take
  if (typeof w === "string" && /^-?\d+$/.test(w)) return [null, "", false, [], {}, "1.5", " 12", "0x10"];
  if (typeof w === "string") return [null, 42, [], {}, true];
  return [null, "", false, true, [], {}, "12"];
}

/**
 * How late a slowed server answers. A lookup needs less (the write's lease,
 * its timeout + 250 ms, runs out within one delayed round trip), and more
 * would starve the OPC UA subscription: its keep-alives, 500 ms apart, may
 * be silent for 1.5 s before the driver drops the connection (a silent
 * server), and 800 ms of delay left 200 ms of that to a loaded machine.
 */
const SLOW_MS = { reading: 800, lookup: 500 } as const;

export function driverConformance(target: ConformanceTarget): void {
  describe(`driver conformance: ${target.name}`, () => {
    const tmp = tempDir("tandem-conformance-");
    let srv: TargetServer;
    const running: DeviceDriver[] = [];

    beforeAll(async () => {
      srv = await target.start(tmp.dir);
    });
    // a test that failed half-way must not leave its driver holding the device (a serial port is exclusive)
    afterEach(async () => {
      for (const d of running.splice(0)) await d.stop();
    });
    afterAll(async () => {
      await srv?.stop();
      tmp.remove();
    });

    const names = () => srv.cases.map((_, i) => `c.t${i}`);

    function start(mode: DriverMode, gate: WriteGate = openGate) {
      const cfg = driversSection.parse({
        devices: [{ name: "dev", driver: srv.driver, ...srv.device }],
        tags: srv.cases.map((c, i) => ({ name: `c.t${i}`, device: "dev", scanMs: 50, writable: c.write !== undefined, ...c.tag })),
      });
      const dev = cfg.devices[0]!;
      const samples = new Map<string, TagSample>();
      const history: { name: string; s: TagSample }[] = [];
      const onSample = (name: string, s: TagSample) => {
        samples.set(name, s);
        history.push({ name, s });
      };
      const driver =
        dev.driver === "modbus"
          ? new ModbusDriver({ device: dev as ModbusDeviceConfig, tags: cfg.tags.map((t) => modbusTag(t, dev as ModbusDeviceConfig, cfg.scanMs)), onSample, log, gate })
          : new OpcuaDriver({ device: dev as OpcuaDeviceConfig, tags: cfg.tags.map((t) => opcuaTag(t, dev as OpcuaDeviceConfig, cfg.scanMs)), onSample, log, gate, pkiDir: `${tmp.dir}/client-pki` });
      running.push(driver);
      driver.setMode(mode);
      return { driver, v: (n: string) => samples.get(n), history, samples };
    }

    const expected = (c: TypeCase) => (typeof c.read === "function" ? (c.read as () => unknown)() : c.read);
    const writable = () => srv.cases.map((c, i) => ({ c, name: `c.t${i}` })).filter((x) => x.c.write !== undefined);

    it("connects and reads every type the server offers", async () => {
      await srv.seed();
      const { driver, v } = start("read");
      await waitFor(() => names().every((n, i) => v(n)?.quality === "good" && sameValue(v(n)!.value, expected(srv.cases[i]!))), "every type read", 10_000).catch((e) => {
        throw new Error(`${(e as Error).message}: ${names().map((n, i) => `${n} ${JSON.stringify(srv.cases[i]!.tag)} = ${show(v(n))} (want ${show(expected(srv.cases[i]!))})`).join("; ")}`);
      });
      expect(driver.status()).toMatchObject({ connected: true, connections: 1, mode: "read" });
      await driver.stop();
    });

    it("writes land on the server and read back; the write's answer is the value as written, equal to the value read back; a write before connecting is refused", async () => {
      await srv.seed();
      const idle = start("off");
      const first = writable()[0]!;
      await expect(idle.driver.write(first.name, first.c.write, "operator")).rejects.toMatchObject({ code: "TANDEM_ERR_DEVICE_UNAVAILABLE" });
      await idle.driver.stop();
      const { driver, v } = start("read");
      await waitFor(() => driver.status().connected, "connected", 10_000);
      const answers = new Map<string, unknown>();
      for (const { c, name } of writable()) {
        answers.set(name, await driver.write(name, c.write, "operator"));
        expect(await srv.peek(c), `${name} ${JSON.stringify(c.tag)} on the server`).toEqual(c.stored);
      }
      await waitFor(() => writable().every(({ c, name }) => v(name)?.quality === "good" && sameValue(v(name)!.value, c.readBack ?? c.write)), "written values read back", 10_000).catch((e) => {
        throw new Error(`${(e as Error).message}: ${writable().map(({ c, name }) => `${name} = ${show(v(name))} (want ${show(c.readBack ?? c.write)})`).join("; ")}`);
      });
      // the answer is what the PLC holds (float32-rounded, scaled back, 64-bit as text): exactly what a read shows, as the API shows it
      for (const { c, name } of writable()) {
        const what = `${name} ${JSON.stringify(c.tag)} written as ${show(c.write)}`;
        expect(answers.get(name), what).toStrictEqual(jsonValue(v(name)!.value));
        expect(answers.get(name), what).toStrictEqual(jsonValue(c.readBack ?? c.write));
      }
      await driver.stop();
    });

    it("refuses junk values with the tag, its type and what was given; nothing reaches the server", async () => {
      await srv.seed();
      const { driver } = start("connect");
      await waitFor(() => driver.status().connected, "connected", 10_000);
      const before = await srv.writes();
      for (const { c, name } of writable()) {
        for (const junk of [...universalJunk(c), ...(c.junk ?? [])]) {
          const err = await driver.write(name, junk, "operator").then(
            () => null,
            (e: unknown) => e,
          );
          expect(err, `${name} ${JSON.stringify(c.tag)} given ${show(junk)}`).toMatchObject({ code: "TANDEM_ERR_TAG_VALUE", status: 400 });
          expect((err as Error).message).toContain(name);
          expect((err as Error).message).toMatch(/needs|not supported/);
        }
      }
      expect(await srv.writes()).toBe(before);
      await driver.stop();
    });

    it("S1: a write whose lease runs out while it waits to be sent never leaves (the gate is asked at send time)", async () => {
      const gate = new LeaseGate();
      const mode = srv.slowWhile === "reading" ? "read" : "connect";
      const { driver } = start(mode, gate);
      const { c, name } = writable()[0]!;
      await waitFor(() => driver.status().connected && (mode === "connect" || driver.status().requests > 2), "connected", 10_000);
      const held = await srv.peek(c);
      const writes = await srv.writes();
      await srv.slow(SLOW_MS[srv.slowWhile]);
      try {
        if (srv.slowWhile === "reading") {
          // a scan read has left and will be answered late: it holds the request slot
          const r0 = driver.status().requests;
          await waitFor(() => driver.status().requests > r0, "a read in flight", 5000, 1);
        }
        // the lease covers the write when it is asked for, and runs out while it waits
        const timeout = writeTimeout(srv);
        const asked = Date.now();
        gate.endsIn(timeout + 250);
        const err = await driver.write(name, c.write, "operator").then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, String(err)).toMatchObject({ code: "TANDEM_ERR_LEASE" });
        // the gate said no when the request was about to leave, not when the write was asked for
        const last = gate.checks.at(-1)!;
        expect(last).toMatchObject({ kind: "operator", needMs: timeout, ok: false });
        expect(last.at - asked).toBeGreaterThanOrEqual(250);
      } finally {
        await srv.slow(0);
      }
      expect(await srv.writes()).toBe(writes);
      expect(await srv.peek(c)).toEqual(held);
      await driver.stop();
    });

    it("S1: a write whose timeout would outlast the lease left is refused; one the lease covers is sent", async () => {
      const gate = new LeaseGate();
      const { driver } = start("connect", gate);
      const { c, name } = writable()[0]!;
      await waitFor(() => driver.status().connected, "connected", 10_000);
      const writes = await srv.writes();
      const timeout = writeTimeout(srv);
      gate.endsIn(timeout / 2);
      await expect(driver.write(name, c.write, "process")).rejects.toMatchObject({ code: "TANDEM_ERR_LEASE", message: /may run out before the request's \d+ ms timeout/ });
      expect(await srv.writes()).toBe(writes);
      gate.endsIn(60_000);
      await driver.write(name, c.write, "process");
      expect(await srv.peek(c)).toEqual(c.stored);
      expect(gate.checks.at(-1)).toMatchObject({ kind: "process", needMs: timeout, ok: true });
      await driver.stop();
    });

    it("S1: watchdog and fence writes pass the same gate at send time", async () => {
      const gate = new LeaseGate();
      const { driver } = start("connect", gate);
      await waitFor(() => driver.status().connected, "connected", 10_000);
      await driver.writeWatchdogWord(srv.watchdogWord, 1, 1111);
      expect(await srv.peekWord()).toBe(1111);
      gate.endsIn(0);
      await expect(driver.writeWatchdogWord(srv.watchdogWord, 1, 2222)).rejects.toMatchObject({ code: "TANDEM_ERR_LEASE" });
      expect(await srv.peekWord()).toBe(1111);
      expect(await driver.readWatchdogWord(srv.watchdogWord, 1)).toBe(1111);
      expect(gate.checks.map((x) => [x.kind, x.needMs])).toEqual([
        ["operator", writeTimeout(srv)],
        ["operator", writeTimeout(srv)],
      ]);
      await driver.stop();
    });

    it("quality turns bad when the server goes away and good when it is back", async () => {
      await srv.seed();
      const { driver, v, history } = start("read");
      await waitFor(() => names().every((n) => v(n)?.quality === "good"), "good", 10_000);
      const t0 = Date.now();
      await srv.goAway();
      try {
        await waitFor(() => names().every((n) => history.some((h) => h.name === n && h.s.receivedAt >= t0 && h.s.quality === "bad")), "every tag bad", 10_000);
        const bad = history.find((h) => h.s.receivedAt >= t0 && h.s.quality === "bad")!;
        expect(["comm_lost", "timeout"]).toContain(bad.s.reason);
        expect(bad.s.value).toBeNull();
      } finally {
        await srv.comeBack();
      }
      await waitFor(() => names().every((n) => v(n)?.quality === "good"), "good again", 15_000);
      expect(driver.status().reconnects).toBeGreaterThanOrEqual(1);
      await driver.stop();
    });

    it("modes: connect holds a connection without reading, read reads, off holds none", async () => {
      // what the server holds once the previous tests' connections are gone (a session cut off by the network may stay)
      const base = srv.connections ? await settled(srv.connections) : undefined;
      const { driver, v } = start("connect");
      await waitFor(() => driver.status().connected, "connected, not reading", 10_000);
      if (base !== undefined) await waitFor(() => srv.connections!() === base + 1, "one more connection on the server");
      expect(names().every((n) => v(n)?.quality === "bad" && v(n)?.reason === "not_reading")).toBe(true);
      const requests = driver.status().requests;
      const reads = await srv.reads?.();
      await stays(() => driver.status().requests === requests && names().every((n) => v(n)?.reason === "not_reading"), 300);
      if (reads !== undefined) expect(await srv.reads!()).toBe(reads);
      driver.setMode("read");
      await waitFor(() => names().every((n) => v(n)?.quality === "good"), "reading", 10_000);
      expect(driver.status()).toMatchObject({ mode: "read", connected: true, connections: 1 });
      driver.setMode("off");
      await waitFor(() => driver.status().connections === 0, "disconnected");
      expect(driver.status()).toMatchObject({ mode: "off", connected: false, path: null });
      expect(names().every((n) => v(n)?.reason === "not_reading")).toBe(true);
      if (base !== undefined) await waitFor(() => srv.connections!() === base, "the connection gone from the server", 5000);
      await driver.stop();
    });

    it("stop releases every socket and timer, and nothing is read after it", async () => {
      const before = openResources();
      const { driver, v, history } = start("read");
      await waitFor(() => names().every((n) => v(n)?.quality === "good"), "reading", 10_000);
      await driver.stop();
      const after = history.length;
      await waitFor(() => sameCounts(openResources(), before), `resources back to ${JSON.stringify(before)}`, 5000).catch((e) => {
        throw new Error(`${(e as Error).message}; now ${JSON.stringify(openResources())}`);
      });
      expect(driver.status()).toMatchObject({ connections: 0, connected: false });
      expect(history.length).toBe(after);
    });
  });
}

function writeTimeout(srv: TargetServer): number {
  return srv.device.writeTimeoutMs as number;
}

/** The value once it has not changed for a while (connections closing on the server side). */
async function settled(fn: () => number, forMs = 300): Promise<number> {
  let last = fn();
  let since = Date.now();
  const end = Date.now() + 10_000;
  while (Date.now() - since < forMs && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    const now = fn();
    if (now !== last) [last, since] = [now, Date.now()];
  }
  return last;
}

/** Holds for the whole window (an absence can only be watched for a while). */
async function stays(fn: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!fn()) throw new Error("a condition that should hold stopped holding");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function sameCounts(now: Record<string, number>, before: Record<string, number>): boolean {
  for (const k of new Set([...Object.keys(now), ...Object.keys(before)])) if ((now[k] ?? 0) > (before[k] ?? 0)) return false;
  return true;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  return a === b;
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x)) ?? String(v);
}
