// runtime/config/pair-config.ts: the pair-wide part of a config, versioned by
// content — the same on both nodes of a pair whose node-local parts differ,
// and different, naming the section, when a tag, a service or a module's
// file differs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../runtime/config/load.js";
import { differingSections, pairConfigVersion, writtenSections } from "../../runtime/config/pair-config.js";
import { minimalConfig } from "../helpers/min-config.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-paircfg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "batch.js"), "export function start() {}\n");

const shared = `services:
  agent: { command: /bin/true, placement: both }
processes:
  batch: { module: ./batch.js }
replication: { mode: sync, tables: { batch_log: {} } }
`;
const b = (text: string) =>
  text.replace("node: { id: a, role: main, dataDir: ./data }", "node: { id: b, role: secondary, dataDir: /srv/other }").replace("id: b\n  listen: 127.0.0.1:7410", "id: a\n  listen: 127.0.0.1:7411").replace("address: 127.0.0.1:7411", "address: 127.0.0.1:7410").replace("http: { listen: 127.0.0.1:8080 }", "http: { listen: 0.0.0.0:9090 }");
const load = (text: string, baseDir = dir, env: NodeJS.ProcessEnv = {}) => pairConfigVersion(parseConfig(text, { baseDir, env }), writtenSections(text));

describe("the pair-wide configuration's version", () => {
  it("is the same on both nodes whatever their own ids, addresses and data dirs, and however it is written", () => {
    const a = load(minimalConfig() + shared);
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    expect(load(b(minimalConfig()) + shared).version).toBe(a.version);
    // the same written otherwise (flow style, keys in another order)
    const other = `services: { agent: { placement: both, command: /bin/true } }
processes: { batch: { module: ./batch.js } }
replication: { tables: { batch_log: {} }, mode: sync }
`;
    expect(load(minimalConfig() + other).version).toBe(a.version);
  });

  it("a value each node takes from its environment is the same text on both; the route to a device is each node's own", () => {
    const withVar = minimalConfig() + shared.replace("command: /bin/true", 'command: /bin/sleep, args: ["${WEB_PORT}"]');
    expect(load(withVar, dir, { WEB_PORT: "8090" }).version).toBe(load(b(withVar), dir, { WEB_PORT: "8091" }).version);
    const plc = (ep: string) => `drivers:\n  devices: [{ name: plc1, driver: modbus, endpoints: ["${ep}"] }]\n  tags: [{ name: level, device: plc1, address: "hr:0", type: uint16 }]\n`;
    const a = load(minimalConfig() + shared + plc("192.0.2.10:502"));
    expect(load(minimalConfig() + shared + plc("198.51.100.10:502")).version).toBe(a.version);
    expect(differingSections(a, load(minimalConfig() + shared + plc("192.0.2.10:502").replace("hr:0", "hr:1")))).toEqual(["drivers"]);
  });

  it("differs, naming the section, when a service, a module's file or the users differ", () => {
    const a = load(minimalConfig() + shared);
    expect(differingSections(a, load(minimalConfig() + shared.replace("/bin/true", "/bin/false")))).toEqual(["services"]);
    const d2 = mkdtempSync(join(dir, "b-"));
    writeFileSync(join(d2, "batch.js"), "export function start() { /* edited on one node */ }\n");
    expect(differingSections(a, load(minimalConfig() + shared, d2))).toEqual(["processes"]);
    expect(differingSections(a, load(minimalConfig().replace("http: { listen: 127.0.0.1:8080 }", 'http: { listen: 127.0.0.1:8080, users: [{ name: ada, role: admin, passwordHash: "scrypt$16384$8$1$bYyWdL9FETWxnKh1c2CisA==$uev/FgCMmigem2zBmGLJrTWb55oALAoqQzvJ/gMgAik=" }] }') + shared))).toEqual(["users"]);
  });
});
