// A configuration written in one pass (issue 8): check-config reports every
// problem at once — a shape error never hides a cross-check — names a tag by
// its name with the line it was written on, and says which key was meant.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../core/errors.js";
import { loadConfig, parseConfig } from "../../runtime/config/load.js";
import { minimalConfig, TEST_KEY } from "../helpers/min-config.js";

const KEY = TEST_KEY;
const head = minimalConfig();

function problems(text: string): string[] {
  try {
    parseConfig(text, { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tandem-config-"));
  dirs.push(d);
  return d;
}

describe("check-config reports every problem at once", () => {
  it("a config with several mistakes: shape errors, cross-checks and a section elsewhere, each by tag name and line, with suggestions", () => {
    const text = `${head}takeover: { leaseMs: 1000, startupWaitMs: 500 }
drivers:
  devices:
    - { name: plc1, driver: modbus, endpoints: ["127.0.0.1:502"] }
  tags:
    - { name: line1.tank1.level, device: plc1, address: hr:0, type: float32, writeable: true }
    - { name: line1.batch.name, device: plc1, address: hr:20, type: string, len: 20 }
    - { name: line1.tank1.high, device: plc1, address: di:0, writable: true }
    - { name: line1.pump.run, device: plc2, address: co:0 }
    - { name: line1.tank1.level, device: plc1, address: hr:40, type: int16 }
`;
    const p = problems(text);
    expect(p).toEqual([
      `drivers.tags "line1.tank1.level": unknown key 'writeable' (did you mean 'writable'?) (line 15)`,
      `drivers.tags "line1.batch.name": unknown key 'len' (did you mean 'length'?) (line 16)`,
      `drivers.tags "line1.tank1.high".writable: input registers and discrete inputs are read-only in Modbus (line 17)`,
      `drivers.tags "line1.pump.run".device: no device named 'plc2' in drivers.devices (have: plc1) (line 18)`,
      `drivers.tags "line1.tank1.level".name: duplicate tag name 'line1.tank1.level' (line 19)`,
      `takeover.startupWaitMs: must be at least takeover.leaseMs (1000): a restarted node has forgotten the leases it granted before (line 10)`,
    ]);
  });

  it("an unknown key anywhere in the file says which key was meant", () => {
    const text = head.replace("http: { listen: 127.0.0.1:8080 }", "http: { listen: 127.0.0.1:8080, metricAuth: false }").replace("dataDir: ./data", "dataDir: ./data, rol: main");
    const p = problems(text.replace("role: main, dataDir", "dataDir"));
    expect(p).toEqual([
      "node.role: Invalid option: expected one of \"main\"|\"secondary\" (line 3)",
      "node: unknown key 'rol' (did you mean 'role'?) (line 3)",
      "http: unknown key 'metricAuth' (did you mean 'metricsAuth'?) (line 9)",
    ]);
  });

  it("a problem in a block names the generated tag", () => {
    const p = problems(`${head}drivers:
  devices: [{ name: plc1, driver: modbus, endpoints: ["127.0.0.1:502"] }]
  tags:
    - { name: "line1.valve{i}", device: plc1, address: co:65530, count: 8 }
    - { name: line1.motor, device: plc1, address: hr:1, count: 2 }
`);
    expect(p).toEqual([
      `drivers.tags "line1.valve{i}".count: the block runs past address 65535 at its tag 6 (line1.valve6): 8 tags from co:65530 with stride 1 (line 13)`,
      `drivers.tags "line1.motor".name: a block (count) generates its names from a pattern with {i}, e.g. 'line1.motor{i}' or 'line1.motor.item{i}' (line 14)`,
    ]);
  });
});

describe("tag files (CSV)", () => {
  it("problems name the CSV file and line, next to the YAML's", () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "tags.csv"),
      ["name,address,type,order,scaling,units,description", "line1.tank1.level,hr:0,REAL,word swap,,%,tank 1", "line1.tank1.raw,ir:7,INT,,0..27648=0..100,%,", "line1.bad,hr:5,REALL,,,,", "line1.worse,hr:6,INT,,0-100,,"].join("\n"),
    );
    writeFileSync(join(dir, "node.yaml"), `${head}drivers:\n  devices: [{ name: plc1, driver: modbus, endpoints: ["127.0.0.1:502"] }]\n  tagFiles: [{ file: tags.csv, device: plc1 }]\n  tags:\n    - { name: line1.tank1.level, device: plc1, address: hr:100 }\n`);
    let err: unknown;
    try {
      loadConfig(join(dir, "node.yaml"), {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "tags.csv line 5: scaling: expected rawMin..rawMax=engMin..engMax (e.g. 0..27648=0..100, add ' clamp' to clamp), got '0-100'",
      `drivers.tags "line1.tank1.level".name: duplicate tag name 'line1.tank1.level' (tags.csv line 2)`,
      expect.stringMatching(/^drivers\.tags "line1\.bad"\.type: expected a type \(.*\), got "REALL" \(tags\.csv line 4\)$/),
    ]);
  });
});
