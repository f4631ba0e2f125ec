// runtime/config/config-push.ts: the active's pair-wide sections and files
// written into the standby's config file — its own sections and comments
// kept, the result checked as at start, what it replaced kept beside — and
// a push that names a file outside the config folder, or would not start,
// changes nothing.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyPush, buildPush, checkPush } from "../../runtime/config/config-push.js";
import { loadConfig } from "../../runtime/config/load.js";
import { pairConfigVersion, writtenSections } from "../../runtime/config/pair-config.js";
import { minimalConfig, TEST_KEY } from "../helpers/min-config.js";

const root = mkdtempSync(join(tmpdir(), "tandem-push-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const env = { PAIR_KEY: TEST_KEY };

function node(name: string, body: string, module: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "modules"), { recursive: true });
  writeFileSync(join(dir, "modules", "batch.js"), module);
  const file = join(dir, "node.yaml");
  writeFileSync(file, body);
  return file;
}

const shared = (arg: string) => `services:
  agent: { command: /bin/sleep, args: ["${arg}"], placement: both }
processes:
  batch: { module: ./modules/batch.js }
`;
const standbyText = "# the standby's own notes\n" + minimalConfig().replace("node: { id: a, role: main, dataDir: ./data }", "node: { id: b, role: secondary, dataDir: ./data-b }  # its own data dir").replace("id: b\n  listen", "id: a\n  listen") + shared("600");

describe("a configuration push", () => {
  it("puts the active's pair-wide sections and module into the standby's file, keeping its own parts and comments", () => {
    const active = node("a1", minimalConfig() + shared("700"), "export function start() { /* v2 */ }\n");
    const standby = node("b1", standbyText, "export function start() { /* v1 */ }\n");
    const push = buildPush(active, env, "p1");
    expect(push.version).toBe(pairConfigVersion(loadConfig(active, env), writtenSections(readFileSync(active, "utf8"))).version);
    const r = applyPush(standby, checkPush(JSON.parse(JSON.stringify(push))) as never, env, new Date("2026-11-30T02:00:00Z"));
    expect(r.version).toBe(push.version);
    const text = readFileSync(standby, "utf8");
    expect(text).toContain("# the standby's own notes");
    expect(text).toMatch(/^node: \{ id: b, role: secondary, dataDir: \.\/data-b \} +# its own data dir$/m);
    expect(text).toMatch(/args:\s*\n\s*- "700"/);
    expect(readFileSync(join(root, "b1", "modules", "batch.js"), "utf8")).toContain("v2");
    // what it replaced is kept beside it
    expect(readFileSync(r.kept, "utf8")).toBe(standbyText);
    expect(readdirSync(join(root, "b1", "modules")).some((f) => f.startsWith("batch.js.before-push-"))).toBe(true);
    // and it starts: the standby's version is now the active's
    expect(pairConfigVersion(loadConfig(standby, env), writtenSections(readFileSync(standby, "utf8"))).version).toBe(push.version);
    expect(loadConfig(standby, env).node.id).toBe("b");
  });

  it("refuses a file outside the standby's config folder, and a result that would not start; nothing changes", () => {
    const standby = node("b2", standbyText, "export function start() {}\n");
    const active = node("a2", minimalConfig() + shared("700"), "x\n");
    const push = buildPush(active, env, "p2");
    const evil = { ...push, files: [{ path: "../../../etc/cron.d/x", base64: Buffer.from("* * * * * root sh").toString("base64") }] };
    expect(() => applyPush(standby, evil, env, new Date())).toThrow(/outside this node's config folder/);
    const broken = { ...push, sections: { ...push.sections, services: { agent: { placement: "everywhere" } } } };
    expect(() => applyPush(standby, broken, env, new Date())).toThrow(/services\.agent/);
    expect(readFileSync(standby, "utf8")).toBe(standbyText);
    expect(readdirSync(join(root, "b2")).filter((f) => f.includes("before-push"))).toEqual([]);
    expect(existsSync(join(root, "etc"))).toBe(false);
  });

  it("a tag CSV file is pushed with its section and checked as the new one: a bad one is refused and nothing changes", () => {
    const drivers = `drivers:\n  devices: [{ name: plc1, driver: modbus, endpoints: ["127.0.0.1:502"] }]\n  tagFiles: [{ file: tags.csv, device: plc1 }]\n`;
    const csv = (rows: string[]) => ["name,address,type", ...rows].join("\n") + "\n";
    const standby = node("b3", standbyText + drivers, "x\n");
    writeFileSync(join(root, "b3", "tags.csv"), csv(["line1.level,hr:0,INT"]));
    const active = node("a3", minimalConfig() + shared("600") + drivers, "x\n");
    writeFileSync(join(root, "a3", "tags.csv"), csv(["line1.level,hr:0,INT", "line1.temp,hr:1,INT"]));
    const r = applyPush(standby, buildPush(active, env, "p3"), env, new Date());
    expect(loadConfig(standby, env).drivers!.tags.map((t) => t.name)).toEqual(["line1.level", "line1.temp"]);
    expect(r.version).toBe(pairConfigVersion(loadConfig(active, env), writtenSections(readFileSync(active, "utf8"))).version);
    // a bad CSV: the active does not push what it would not start with itself ...
    writeFileSync(join(root, "a3", "tags.csv"), csv(["line1.level,hr:0,INT", "line1.bad,hr:1,REALL"]));
    expect(() => buildPush(active, env, "p4")).toThrow(/REALL/);
    // ... and a standby sent one anyway (a hostile peer) checks the new file, refuses it and keeps what it has
    writeFileSync(join(root, "a3", "tags.csv"), csv(["line1.level,hr:0,INT"]));
    const push = buildPush(active, env, "p5");
    push.files = push.files.map((f) => (f.path === "tags.csv" ? { ...f, base64: Buffer.from(csv(["line1.level,hr:0,INT", "line1.bad,hr:1,REALL"])).toString("base64") } : f));
    const before = readFileSync(join(root, "b3", "tags.csv"), "utf8");
    expect(() => applyPush(standby, push, env, new Date())).toThrow(/REALL/);
    expect(readFileSync(join(root, "b3", "tags.csv"), "utf8")).toBe(before);
  });

  it("checks what came over the link", () => {
    expect(checkPush({})).toBe("no id");
    expect(checkPush({ id: "x", version: "0123456789abcdef", sections: { pair: {} }, files: [] })).toBe("sections other than the pair-wide ones");
    expect(checkPush({ id: "x", version: "0123456789abcdef", sections: {}, files: [{ path: 1 }] })).toMatch(/files are not/);
  });
});
