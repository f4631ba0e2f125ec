// The drivers and watchdog config sections: what passes, and the path and
// reason of what does not (S5: malformed config is refused with both).
import { describe, expect, it } from "vitest";
import { driversSection, parseModbusAddress, watchdogSection } from "../../drivers/config-schema.js";
import { demoDriversConfig } from "../../drivers/demo-tags.js";

function problems(input: unknown): string[] {
  const r = driversSection.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

const mb = { name: "plc1", driver: "modbus", endpoints: ["10.0.0.5:502"] };
const ua = { name: "ua1", driver: "opcua", endpoints: ["opc.tcp://10.0.0.6:4840"] };

describe("drivers config", () => {
  it("accepts the demo config, with defaults filled in", () => {
    const d = driversSection.parse(demoDriversConfig("127.0.0.1", 5020, 4840));
    expect(d.tags.length).toBeGreaterThanOrEqual(10);
    const dev = d.devices[0]!;
    expect(dev).toMatchObject({ driver: "modbus", standby: "hot", reconnect: { initialMs: 500, maxMs: 5_000 } });
    expect(d.devices[1]).toMatchObject({ driver: "opcua", securityMode: "None", redundancy: "paths" });
  });

  it("a Modbus device without a read timeout gets its fastest scan, within 500–1000 ms (a frozen PLC then shows bad within one scan); RTU and an explicit timeout keep theirs", () => {
    const rtu = { name: "rtu1", driver: "modbus", transport: "rtu", serial: [{ path: "/dev/ttyS0" }] };
    const d = driversSection.parse({
      scanMs: 900,
      devices: [mb, { ...mb, name: "fast" }, { ...mb, name: "slow", scanMs: 5000 }, { ...mb, name: "set", timeoutMs: 900 }, rtu, { ...mb, name: "idle" }],
      tags: [
        { name: "a", device: "plc1", address: "hr:1" },
        { name: "b", device: "plc1", address: "hr:2", scanMs: 700 },
        { name: "c", device: "fast", address: "hr:1", scanMs: 50 },
        { name: "d", device: "slow", address: "hr:1" },
        { name: "e", device: "set", address: "hr:1", scanMs: 100 },
        { name: "f", device: "rtu1", address: "hr:1", scanMs: 100 },
      ],
    });
    const timeout = Object.fromEntries(d.devices.map((x) => [x.name, x.driver === "modbus" ? x.timeoutMs : null]));
    expect(timeout).toEqual({ plc1: 700, fast: 500, slow: 1000, set: 900, rtu1: 1000, idle: 900 });
  });

  it("parses Modbus addresses", () => {
    expect(parseModbusAddress("hr:100")).toEqual({ table: "holding", address: 100 });
    expect(parseModbusAddress("hr:20.15")).toEqual({ table: "holding", address: 20, bit: 15 });
    expect(parseModbusAddress("co:3")).toEqual({ table: "coil", address: 3 });
    expect(parseModbusAddress("40001")).toMatch(/expected <table>:<address>/);
    expect(parseModbusAddress("co:3.1")).toMatch(/only applies to registers/);
    expect(parseModbusAddress("hr:1.16")).toMatch(/0–15/);
    expect(parseModbusAddress("hr:70000")).toMatch(/0–65535/);
  });

  it("names the path and the reason of every shape problem", () => {
    const p = problems({
      devices: [mb, { ...mb, name: "two", endpoints: ["plc1"] }],
      tags: [
        { name: "bad name!", device: "plc1", address: "hr:3" },
        { name: "j", device: "plc1", address: "hr:1", byteOrder: "ADCB" },
        { name: "k", device: "plc1", address: "hr:1", scaling: { rawMin: 0, rawMax: 0, engMin: 0, engMax: 1 } },
        { name: "l", device: "plc1", address: "hr:1", colour: "red" },
      ],
    });
    expect(p).toEqual([
      "devices.1.endpoints.0: expected host:port (e.g. 192.168.0.10:502), got 'plc1'",
      "tags.0.name: expected a dotted name like line1.tank.level (letters, digits, '_', '-', dots between parts)",
      "tags.1.byteOrder: expected ABCD, CDAB, BADC, DCBA or a vendor's name for one (big-endian, word swap, byte swap, little-endian …), got \"ADCB\"",
      "tags.2.scaling: rawMin and rawMax must differ",
      "tags.3: unknown key 'colour'",
    ]);
  });

  // Cross-checks (devices against tags) run over every entry that has the right shape.
  it("names the path and the reason of every cross-check problem", () => {
    const p = problems({
      devices: [mb, { ...mb }, { name: "ser", driver: "modbus", transport: "rtu" }, { ...ua, securityMode: "Sign", username: "x" }, { ...mb, name: "one", maxConnections: 1 }],
      tags: [
        { name: "a.b", device: "plc1", address: "hr:1", type: "float32", byteOrder: "CDAB" },
        { name: "a.b", device: "plc1", address: "hr:2" },
        { name: "c", device: "nope", address: "hr:3" },
        { name: "d", device: "plc1", address: "co:1", type: "int16" },
        { name: "e", device: "plc1", address: "ir:1", writable: true },
        { name: "f", device: "plc1", address: "hr:1", type: "string" },
        { name: "g", device: "ua1", address: "hr:1" },
        { name: "h", device: "plc1", nodeId: "ns=1;s=x", address: "hr:1" },
        { name: "i", device: "plc1", address: "hr:65535", type: "float64" },
        { name: "m", device: "plc1", address: "hr:1", type: "bool", scaling: { rawMin: 0, rawMax: 1, engMin: 0, engMax: 2 } },
      ],
    });
    const expectIn = (re: RegExp) => expect(p.some((x) => re.test(x)), `${re} in\n${p.join("\n")}`).toBe(true);
    expectIn(/^devices\.1\.name: duplicate device name 'plc1'/);
    expectIn(/^devices\.2\.serial: a Modbus RTU device needs serial/);
    expectIn(/^devices\.3\.password: username and password go together/);
    expectIn(/^devices\.4\.maxConnections: with standby 'hot' both nodes hold a connection \(2\) but the device allows 1/);
    expectIn(/^tags\.1\.name: duplicate tag name 'a\.b'/);
    expectIn(/^tags\.2\.device: no device named 'nope'/);
    expectIn(/^tags\.3\.type: coils and discrete inputs hold bool, not int16/);
    expectIn(/^tags\.4\.writable: input registers and discrete inputs are read-only/);
    expectIn(/^tags\.5\.length: type string needs length/);
    expectIn(/^tags\.6\.nodeId: an OPC UA tag needs nodeId/);
    expectIn(/^tags\.6\.address: 'address' is for Modbus tags/);
    expectIn(/^tags\.7\.nodeId: 'nodeId' is for OPC UA tags/);
    expectIn(/^tags\.8\.address: float64 at 65535 runs past register 65535/);
    expectIn(/^tags\.9\.scaling: scaling applies to numbers, not bool/);
    expect(p).toHaveLength(14);
  });

  it("OPC UA security and redundancy are checked", () => {
    expect(problems({ devices: [{ ...ua, securityMode: "None", securityPolicy: "Basic256Sha256" }] })[0]).toMatch(/securityMode None needs securityPolicy None/);
    expect(problems({ devices: [{ ...ua, redundancy: "non-transparent" }] })[0]).toMatch(/at least two servers/);
    expect(problems({ devices: [{ ...ua, endpoints: ["http://x:1"] }] })[0]).toMatch(/opc\.tcp/);
    expect(problems({ devices: [{ ...ua, securityMode: "SignAndEncrypt" }] })).toEqual([]);
  });

  it("tag limits: min ≤ max, numbers only, writable tags only", () => {
    const tag = (t: Record<string, unknown>) => problems({ devices: [mb], tags: [{ name: "v", device: "plc1", address: "hr:1", writable: true, ...t }] });
    expect(tag({ min: 0, max: 100 })).toEqual([]);
    expect(tag({ min: 10, max: 5 })).toEqual(["tags.0.max: must be at least min (10)"]);
    expect(tag({ min: 0, writable: false })).toEqual(["tags.0.min: min and max limit writes; the tag is not writable (writable: true)"]);
    expect(tag({ address: "co:1", max: 1 })).toEqual(["tags.0.max: min and max apply to numbers, not bool"]);
    expect(tag({ max: "100" })[0]).toMatch(/^tags.0.max: /);
  });

  it("watchdog section", () => {
    expect(watchdogSection.parse({ device: "plc1", counter: "hr:900", epoch: "hr:901" })).toMatchObject({ intervalMs: 500, staleAfterMs: 3000, fence: true });
    const r = watchdogSection.safeParse({ device: "plc1", counter: "hr:900", epoch: "hr:901", intervalMs: 1000, staleAfterMs: 1500 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ["staleAfterMs"], message: expect.stringMatching(/two intervals/) });
  });
});

describe("docs/drivers.md", () => {
  it("its YAML example passes both sections", async () => {
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("yaml");
    const md = readFileSync(new URL("../../docs/drivers.md", import.meta.url), "utf8");
    const block = /```yaml\n([\s\S]*?)```/.exec(md)![1]!;
    const doc = parse(block) as { drivers: unknown; watchdog: unknown };
    const d = driversSection.parse(doc.drivers);
    expect(d.devices.map((x) => x.name)).toEqual(["plc1", "plc2", "scada"]);
    expect(d.tags).toHaveLength(5);
    expect(watchdogSection.parse(doc.watchdog)).toMatchObject({ device: "plc1", fence: true });
  });
});
