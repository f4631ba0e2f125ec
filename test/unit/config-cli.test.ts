// The CLI around a configuration (issue 8): check-config prints the devices
// and tag counts of a valid file; import-tags turns a site's CSV tag list
// into drivers.tags YAML that loads to the same tags as the file named in
// drivers.tagFiles; status shows device connections and paths.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { CLIENT_COMMANDS, formatDevices } from "../../runtime/cli-client.js";
import { main } from "../../runtime/cli.js";
import { loadConfig } from "../../runtime/config/load.js";
import { runImportTags } from "../../runtime/import-tags.js";

const KEY = "k".repeat(40);
const head = `
pair: { id: line1, key: "${KEY}" }
node: { id: a, role: main, dataDir: ./data }
peer: { id: b, listen: 127.0.0.1:7410, address: 127.0.0.1:7411, links: [{ name: lan, bind: "127.0.0.1:7420", peer: "127.0.0.1:7421" }] }
http: { listen: 127.0.0.1:8080 }
`;
const devices = `  devices:
    - { name: plc1, driver: modbus, endpoints: ["10.0.1.10:502", "10.0.2.10:502"], addressing: modicon }
    - { name: scada, driver: opcua, endpoints: ["opc.tcp://10.0.1.20:4840"], standby: warm }
`;
const csv = ["name,address,type,order,scaling,units,description,device,writable", "line1.tank1.level,40001,REAL,word swap,,%,tank 1,plc1,", "line1.pump.run,00004,,,,,,plc1,yes", "line1.valve{i},hr:50.0,,,,,valve {i},plc1,", ""].join("\n");

const dir = mkdtempSync(join(tmpdir(), "tandem-config-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((s: unknown) => void out.push(String(s)));
  const error = vi.spyOn(console, "error").mockImplementation((s: unknown) => void err.push(String(s)));
  try {
    return { code: await fn(), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe("check-config", () => {
  it("prints the devices and their tag counts when the file is valid", async () => {
    writeFileSync(join(dir, "tags.csv"), csv.replace("line1.valve{i},hr:50.0", "line1.valve,hr:50.0").replace("valve {i}", "valve"));
    const file = join(dir, "ok.yaml");
    writeFileSync(file, `${head}drivers:\n${devices}  tagFiles: [tags.csv]\n  tags:\n    - { name: "line1.ua{i}", device: scada, nodeId: "ns=1;s=V{i}", count: 3 }\n`);
    const r = await capture(() => main(["check-config", file]));
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.slice(1)).toEqual([
      "  2 devices, 6 tags:",
      "    plc1 (modbus tcp, modicon addresses) 10.0.1.10:502, 10.0.2.10:502; standby hot: 3 tags, 1 writable; read timeout 1000 ms",
      "    scada (opcua None) opc.tcp://10.0.1.20:4840; standby warm: 3 tags, 0 writable",
      "  no services (no services section)",
    ]);
  });

  it("lists the services in the order they start, with placement, health and restart policy", async () => {
    const file = join(dir, "services.yaml");
    const services = `services:
  agent: { command: /opt/site/agent, args: [--fast], placement: active, dependsOn: [gw], memoryMaxMB: 256 }
  gw: { command: /opt/site/gw, placement: both, health: { tcp: "127.0.0.1:4855" } }
  pool: { command: /opt/site/worker, placement: balanced, instances: 2, restart: on-failure }
`;
    writeFileSync(file, `${head}${services}`);
    const r = await capture(() => main(["check-config", file]));
    expect(r.err).toEqual([]);
    expect(r.out.slice(2)).toEqual([
      "  3 services, started in this order:",
      "    gw (both): /opt/site/gw; health tcp 127.0.0.1:4855; restart always",
      "    agent (active, after gw): /opt/site/agent --fast; health none; restart always; memory ≤ 256 MB",
      "    pool (balanced ×2 (fewest-instances)): /opt/site/worker; health none; restart on-failure",
    ]);
  });

  it("says when a device's read timeout outlasts its fastest scan (a silent PLC then shows bad later than one scan)", async () => {
    const file = join(dir, "slow-timeout.yaml");
    const tags = `  tags:\n    - { name: fast, device: plc1, address: hr:1, scanMs: 600 }\n    - { name: slow, device: plc2, address: hr:1, scanMs: 600 }\n`;
    const devs = `  devices:\n    - { name: plc1, driver: modbus, endpoints: ["10.0.1.10:502"] }\n    - { name: plc2, driver: modbus, endpoints: ["10.0.1.11:502"], timeoutMs: 1000 }\n`;
    writeFileSync(file, `${head}drivers:\n${devs}${tags}`);
    const r = await capture(() => main(["check-config", file]));
    expect(r.code).toBe(0);
    expect(r.out.slice(2)).toEqual([
      "    plc1 (modbus tcp) 10.0.1.10:502; standby hot: 1 tag, 0 writable; read timeout 600 ms",
      "    plc2 (modbus tcp) 10.0.1.11:502; standby hot: 1 tag, 0 writable; read timeout 1000 ms — longer than its fastest scan (600 ms): a PLC that stops answering shows bad after the timeout, not within one scan",
      "  no services (no services section)",
    ]);
  });

  it("prints every problem and exits 2", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, `${head}drivers:\n${devices}  tags:\n    - { name: a.b, device: plc1, address: 40001, typ: REAL }\n    - { name: a.c, device: plc9, address: 40002 }\n`);
    const r = await capture(() => main(["check-config", file]));
    expect(r.code).toBe(2);
    expect(r.err.join("\n").split("\n")).toEqual([
      `config error: ${file}: drivers.tags "a.b": unknown key 'typ' (did you mean 'type'?) (line 11)`,
      `config error: ${file}: drivers.tags "a.c".device: no device named 'plc9' in drivers.devices (have: plc1, scada) (line 12)`,
    ]);
  });
});

describe("import-tags", () => {
  it("prints drivers.tags YAML that loads to the same tags as the CSV named in tagFiles", async () => {
    const csvFile = join(dir, "site.csv");
    writeFileSync(csvFile, csv.replace("line1.valve{i},hr:50.0,,,,,valve {i},plc1,", "line1.valve{i},hr:50.0,,,,,valve {i},plc1,").replace("\n\n", "\n"));
    // the block needs its count: a column the CSV may carry
    writeFileSync(csvFile, csv.replace("device,writable", "device,writable,count").replace("valve {i},plc1,", "valve {i},plc1,,16"));
    const cfgFile = join(dir, "import.yaml");
    writeFileSync(cfgFile, `${head}drivers:\n${devices}`);
    const out: string[] = [];
    const err: string[] = [];
    expect(await runImportTags([csvFile, "--config", cfgFile], { out: (s) => out.push(s), err: (s) => err.push(s) })).toBe(0);
    expect(err).toEqual([]);
    const printed = parse(out.join("")) as { tags: unknown[] };
    writeFileSync(join(dir, "pasted.yaml"), `${head}drivers:\n${devices}  tags: ${JSON.stringify(printed.tags)}\n`);
    writeFileSync(join(dir, "named.yaml"), `${head}drivers:\n${devices}  tagFiles: [site.csv]\n`);
    const pasted = loadConfig(join(dir, "pasted.yaml"), {}).drivers!.tags;
    expect(pasted).toEqual(loadConfig(join(dir, "named.yaml"), {}).drivers!.tags);
    expect(pasted).toHaveLength(18);
    expect(pasted[0]).toMatchObject({ name: "line1.tank1.level", address: "hr:0", type: "float32", byteOrder: "CDAB" });
    expect(pasted[17]).toMatchObject({ name: "line1.valve15", address: "hr:50.15", description: "valve 15" });
  });

  it("names the CSV file and line of every problem, checked against the config's devices", async () => {
    const csvFile = join(dir, "wrong.csv");
    writeFileSync(csvFile, ["name,adress,type", "a,hr:1,INT"].join("\n"));
    const err: string[] = [];
    expect(await runImportTags([csvFile], { out: () => {}, err: (s) => err.push(s) })).toBe(2);
    expect(err).toEqual([
      `tandem import-tags: ${csvFile} line 1: unknown column 'adress' (column 2) (did you mean 'address'?); columns: name, address, type, order, byteorder, scaling, units, description, device, writable, length, count, scanms, deadband, min, max, unitid, nodeid`,
      `tandem import-tags: ${csvFile} line 1: the header has no 'address' column`,
    ]);
    writeFileSync(csvFile, ["name,address,type,device", "a,40001,INT,plc1", "b,40002,REALL,plc1", "c,hr:3,INT,plc7"].join("\n"));
    const cfgFile = join(dir, "import.yaml");
    err.length = 0;
    expect(await runImportTags([csvFile, "--config", cfgFile], { out: () => {}, err: (s) => err.push(s) })).toBe(2);
    expect(err).toEqual([
      expect.stringMatching(new RegExp(`^tandem import-tags: ${csvFile} line 3 "b".type: expected a type .*got "REALL"$`)),
      `tandem import-tags: ${csvFile} line 4 "c".device: no device named 'plc7' in drivers.devices (have: plc1, scada)`,
    ]);
  });
});

describe("status", () => {
  it("shows each device's connection and the path in use", () => {
    expect(
      formatDevices([
        { device: "plc1", endpoint: "10.0.1.10:502", connected: false },
        { device: "plc1", endpoint: "10.0.2.10:502", connected: true, path: "alternate 1" },
        { device: "scada", endpoint: "opc.tcp://10.0.1.20:4840", connected: false },
      ]),
    ).toEqual(["  devices:", "    plc1: connected via 10.0.2.10:502 (alternate 1); also 10.0.1.10:502", "    scada: NOT connected (opc.tcp://10.0.1.20:4840)"]);
  });
});

describe("help", () => {
  it("lists every client command, the replication ones with their words", async () => {
    const r = await capture(() => main(["help"]));
    expect(r.code).toBe(0);
    const text = r.out.join("\n");
    for (const cmd of CLIENT_COMMANDS) expect(text, cmd).toMatch(new RegExp(`^  tandem (\\S+ \\| )*${cmd}\\b`, "m"));
    expect(text).toContain("tandem replication [status | verify | resync [--from-active]]");
    expect(text).toContain("tandem divergence [list | export | discard ID]");
  });
});
