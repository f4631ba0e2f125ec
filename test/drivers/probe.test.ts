// `tandem status --probe --config FILE` (issue 8): from the CLI, connect to
// every device of the config, read each tag once and report the tags the PLC
// refuses and the devices that cannot be reached — against pymodbus, a
// server Tandem did not write. Nothing is written.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClientCommand } from "../../runtime/cli-client.js";
import { freePort, startPymodbus, type Pymodbus } from "./helpers.js";

const KEY = "k".repeat(40);
let py: Pymodbus;
const dir = mkdtempSync(join(tmpdir(), "tandem-probe-"));
beforeAll(async () => {
  py = await startPymodbus();
});
afterAll(async () => {
  await py.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("status --probe", () => {
  it("reads each tag once and lists the ones the PLC refuses and the devices it cannot reach; writes nothing", async () => {
    const closed = await freePort();
    const file = join(dir, "node.yaml");
    writeFileSync(
      file,
      `pair: { id: line1, key: "${KEY}" }
node: { id: a, role: main, dataDir: ./data }
peer: { id: b, listen: 127.0.0.1:7410, address: 127.0.0.1:7411, links: [{ name: lan, bind: "127.0.0.1:7420", peer: "127.0.0.1:7421" }] }
http: { listen: 127.0.0.1:8080 }
drivers:
  devices:
    - { name: plc1, driver: modbus, endpoints: ["127.0.0.1:${py.port}"], addressing: modicon, timeoutMs: 2000 }
    - { name: gone, driver: modbus, endpoints: ["127.0.0.1:${closed}"], timeoutMs: 500, reconnect: { initialMs: 100, maxMs: 200 } }
  tags:
    - { name: line1.level, device: plc1, address: 40001, type: REAL }
    - { name: "line1.valve{i}", device: plc1, address: "00001", count: 4, writable: true }
    - { name: line1.beyond, device: plc1, address: 420001 }
    - { name: line1.lost, device: gone, address: hr:0 }
`,
    );
    await py.set("hr", 0, [0x3fc0, 0]);
    const writesBefore = await py.writes();
    const out: string[] = [];
    const err: string[] = [];
    const code = await runClientCommand("status", ["--probe", "--config", file], { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
    expect(code).toBe(1);
    expect(out[0]).toBe(`device plc1 (modbus): connected via 127.0.0.1:${py.port}; 5 of 6 tags read good`);
    expect(out[1]).toBe("  line1.beyond: bad, modbus_exception:2 illegal data address");
    expect(out[2]).toMatch(/^device gone \(modbus\): NOT reachable.*; 0 of 1 tags read good$/);
    expect(out[3]).toMatch(/^ {2}line1\.lost: bad, /);
    expect(err).toEqual(["tandem status: 2 tags not read good, 1 device not reachable"]);
    expect(await py.writes()).toBe(writesBefore);

    const json: string[] = [];
    expect(await runClientCommand("status", ["--probe", "--config", file, "--json"], { out: (s) => json.push(s), err: () => {}, env: {} })).toBe(1);
    const r = JSON.parse(json[0]!) as { devices: { device: string; good: number; refused: { name: string }[] }[] };
    expect(r.devices.map((d) => [d.device, d.good, d.refused.map((t) => t.name)])).toEqual([
      ["plc1", 5, ["line1.beyond"]],
      ["gone", 0, ["line1.lost"]],
    ]);
  });

  it("needs a config to know the devices", async () => {
    const err: string[] = [];
    expect(await runClientCommand("status", ["--probe"], { out: () => {}, err: (s) => err.push(s), env: {} })).toBe(2);
    expect(err[0]).toBe("tandem status: --probe connects to the devices of a config: give --config FILE");
  });
});
