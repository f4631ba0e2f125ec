// runtime/config/pair-config.ts: the pair-wide part of a config, versioned by
// content — the same on both nodes of a pair whose node-local parts differ,
// and different, naming the section, when a tag, a service or a module's
// file differs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../runtime/config/load.js";
import { differingSections, pairConfigVersion } from "../../runtime/config/pair-config.js";
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
const load = (text: string, baseDir = dir) => pairConfigVersion(parseConfig(text, { baseDir }));

describe("the pair-wide configuration's version", () => {
  it("is the same on both nodes whatever their own ids, addresses and data dirs, and however it is written", () => {
    const a = load(minimalConfig() + shared);
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    expect(load(b(minimalConfig()) + shared).version).toBe(a.version);
    // the same meaning written otherwise (flow style, an explicit default, keys in another order)
    const other = `services: { agent: { placement: both, command: /bin/true, args: [] } }
processes: { batch: { module: ./batch.js } }
replication: { tables: { batch_log: {} }, mode: sync }
`;
    expect(load(minimalConfig() + other).version).toBe(a.version);
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
