// Config loading (S5: malformed config is refused at start with the path and
// the reason), ${ENV} substitution, and the examples in config/ stay valid.
import { readdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { loadConfig, parseConfig } from "../../runtime/config/load.js";
import { parseHostPort } from "../../runtime/config/schema.js";
import { configProblems, minimalConfig, TEST_KEY } from "../helpers/min-config.js";

const KEY = TEST_KEY;
const minimal = minimalConfig({ key: "${PAIR_KEY}" });

const problems = (text: string, e: NodeJS.ProcessEnv = { PAIR_KEY: KEY }) => configProblems(text, e);

describe("config", () => {
  it("applies defaults and resolves the data dir against the file's folder", () => {
    const c = parseConfig(minimal, { env: { PAIR_KEY: KEY }, baseDir: "/etc/tandem" });
    expect(c.node.dataDir).toBe("/etc/tandem/data");
    expect(c.heartbeat).toEqual({ intervalMs: 50, timeoutMs: 500, deadProcessMisses: 3, replayWindow: 64 });
    expect(c.takeover.leaseMs).toBe(1000);
    expect(c.takeover.autoConfirmMs).toBe(0);
    expect(c.failback.mode).toBe("manual");
    expect(c.witness).toBeUndefined();
    expect(c.peer.links[0]!.bind).toEqual({ host: "127.0.0.1", port: 7420 });
  });

  it("http: metrics need a login by default; trusted workstations are addresses or networks, a typo names its key", () => {
    const c = parseConfig(minimal, { env: { PAIR_KEY: KEY } });
    expect(c.http.metricsAuth).toBe(true);
    expect(c.http.trustedAddresses).toEqual([]);
    const ok = minimal.replace("http: { listen: 127.0.0.1:8080 }", 'http: { listen: 127.0.0.1:8080, trustedAddresses: ["192.0.2.20", "198.51.100.0/24", "::1"] }');
    expect(parseConfig(ok, { env: { PAIR_KEY: KEY } }).http.trustedAddresses).toHaveLength(3);
    const bad = minimal.replace("http: { listen: 127.0.0.1:8080 }", 'http: { listen: 127.0.0.1:8080, trustedAddresses: ["192.0.2.20", "control-room", "10.0.0.0/40"] }');
    const p = problems(bad);
    expect(p.some((x) => x.startsWith("http.trustedAddresses[1]: 'control-room' is not an IP address"))).toBe(true);
    expect(p.some((x) => x.startsWith("http.trustedAddresses[2]: '10.0.0.0/40': the prefix length must be 0–32"))).toBe(true);
  });

  it("substitutes ${ENV} and ${ENV:-default}, and names a missing variable with its key path", () => {
    expect(parseConfig(minimal.replace("./data", "\"${DATA:-/srv/d}\""), { env: { PAIR_KEY: KEY } }).node.dataDir).toBe("/srv/d");
    expect(problems(minimal, {})).toEqual(["pair.key: environment variable PAIR_KEY is not set"]);
  });

  it("reports every problem at once, each with its key path, reason and line", () => {
    const bad = minimal
      .replace("role: main", "role: boss")
      .replace("127.0.0.1:7421", "plc1")
      .replace("http: { listen: 127.0.0.1:8080 }", "http: { listen: 127.0.0.1:8080, colour: red }\nbackup: { every: 1h, schedule: '0 0 25 * * *' }\nmqtt: { listen: 127.0.0.1:1883, broker: external }");
    const p = problems(bad);
    expect(p.some((x) => /^node\.role: .*main.*secondary/.test(x))).toBe(true);
    expect(p).toContain("peer.links[0].peer: expected host:port (e.g. 127.0.0.1:7400), got 'plc1' (line 8)");
    expect(p.some((x) => x.startsWith("http: unknown key 'colour'"))).toBe(true);
    expect(p.some((x) => x.startsWith("backup: unknown key 'every'"))).toBe(true);
    expect(p.some((x) => x.startsWith("backup.schedule: '0 0 25 * * *': hour"))).toBe(true);
    expect(p.some((x) => x.startsWith("mqtt.url: required with broker: external"))).toBe(true);
    expect(p.some((x) => x.startsWith("mqtt.listen: only for broker: embedded"))).toBe(true);
  });

  it("checks relations between keys", () => {
    const p = problems(
      minimal.replace("node: { id: a", "node: { id: b").replace("http:", "heartbeat: { intervalMs: 500, timeoutMs: 400 }\ntakeover: { leaseMs: 900, leaseSafetyMs: 600 }\nhttp:"),
    );
    expect(p).toContain("peer.id: must differ from node.id ('b') (line 5)");
    expect(p).toContain("heartbeat.timeoutMs: must be longer than heartbeat.intervalMs (500) (line 9)");
    expect(p).toContain("takeover.leaseSafetyMs: must be less than half of takeover.leaseMs (900) (line 10)");
    expect(p.some((x) => x.startsWith("takeover.leaseMs: must be more than two heartbeat intervals"))).toBe(true);
  });

  it("refuses YAML syntax errors, duplicate keys, non-mappings and short keys", () => {
    expect(problems("pair: [")[0]).toMatch(/^: YAML line 1/);
    expect(problems(minimal + "\nhttp: { listen: 127.0.0.1:9 }")[0]).toMatch(/YAML .*unique|Map keys must be unique/i);
    expect(problems("- a\n- b")).toEqual([": expected a YAML mapping with the sections pair, node, peer, http…"]);
    expect(problems(minimal, { PAIR_KEY: "short" })[0]).toMatch(/^pair\.key: a key needs at least 32 characters/);
  });

  // found by config-fuzz.test.ts: the yaml library resolves aliases only in toJS(), where
  // these threw a ReferenceError instead of a config error (`tandem start` exited 1, not 2
  // with "config error: …")
  it("refuses an alias to no anchor, and too many aliases (a billion laughs), as config errors", () => {
    expect(problems("*pair")).toEqual([": YAML: Unresolved alias (the anchor must be set before the alias): pair"]);
    const laughs = `${minimal}l0: &l0 [x]\nl1: &l1 [*l0, *l0, *l0, *l0]\nl2: &l2 [*l1, *l1, *l1, *l1]\nl3: &l3 [*l2, *l2, *l2, *l2]\n`;
    expect(problems(laughs)).toEqual([expect.stringMatching(/^: YAML: Excessive alias count/)]);
    // a few aliases, as a real file uses them, are fine
    expect(problems(`${minimal.replace("dataDir: ./data", "dataDir: &d ./data")}log: { file: *d }\n`)).toEqual([]);
  });

  it("parses host:port forms", () => {
    expect(parseHostPort("[::1]:7400")).toEqual({ host: "::1", port: 7400 });
    expect(parseHostPort("plc.local:502")).toEqual({ host: "plc.local", port: 502 });
    expect(parseHostPort("1.2.3.4:70000")).toMatch(/port must be 1–65535/);
    expect(parseHostPort("1.2.3.4")).toMatch(/expected host:port/);
  });

  describe("the examples in config/", () => {
    const env: NodeJS.ProcessEnv = { TANDEM_PAIR_KEY: KEY, TANDEM_WITNESS_KEY: KEY };
    beforeAll(async () => {
      for (const r of ["VIEWER", "OPERATOR", "ADMIN"]) env[`TANDEM_${r}_HASH`] = await hashPassword(r.toLowerCase());
    });
    const root = new URL("../../config/", import.meta.url).pathname;
    const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".yaml"));
    it("has both layouts", () => expect(files.sort()).toEqual(["one-host/a.yaml", "one-host/b.yaml", "two-hosts/a.yaml", "two-hosts/b.yaml"]));
    for (const f of files) {
      it(`${f} is valid and mirrors its peer`, () => {
        const c = loadConfig(join(root, f), env);
        const peerFile = f.replace(/\/(a|b)\.yaml$/, (_m, id: string) => `/${id === "a" ? "b" : "a"}.yaml`);
        const p = loadConfig(join(root, peerFile), env);
        expect(c.peer.id).toBe(p.node.id);
        expect(c.peer.address).toEqual(p.peer.listen);
        for (const l of c.peer.links) expect(l.peer).toEqual(p.peer.links.find((x) => x.name === l.name)!.bind);
        expect(c.pair.id).toBe(p.pair.id);
        expect([c.node.role, p.node.role].sort()).toEqual(["main", "secondary"]);
        // a service moves between the nodes: both must know it the same way
        expect(c.services).toEqual(p.services);
      });
    }
  });

  it("loadConfig names the file when it cannot be read", () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-cfg-"));
    try {
      writeFileSync(join(dir, "x.yaml"), minimal);
      expect(() => loadConfig(join(dir, "missing.yaml"))).toThrow(/cannot read the file/);
      expect(loadConfig(join(dir, "x.yaml"), { PAIR_KEY: KEY }).node.dataDir).toBe(join(dir, "data"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
