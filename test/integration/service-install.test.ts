// `tandem service install|uninstall|status`, the real command: the unit it
// generates from a node's config passes systemd-analyze verify and carries
// the config's limits (memory for the node and its services, open files, the
// stop bound); --dry-run writes only into --out; the witness; the Windows
// service definition; and a real install where systemd does not run changes
// nothing and says why.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../runtime/auth/passwords.js";

const CLI = new URL("../../dist/runtime/cli.js", import.meta.url).pathname;
const EXAMPLE = new URL("../../config/two-hosts/a.yaml", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "tandem-service-"));
const env: NodeJS.ProcessEnv = { ...process.env, TANDEM_PAIR_KEY: "k".repeat(40), TANDEM_WITNESS_KEY: "w".repeat(40) };
beforeAll(async () => {
  for (const r of ["VIEWER", "OPERATOR", "ADMIN"]) env[`TANDEM_${r}_HASH`] = await hashPassword(r.toLowerCase());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tandem(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, "service", ...args], { env, encoding: "utf8", timeout: 30_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** systemd-analyze's findings (it prints them and may still exit 0) */
function verify(file: string): string {
  try {
    return execFileSync("sh", ["-c", 'systemd-analyze verify "$1" 2>&1', "sh", file], { encoding: "utf8" });
  } catch (err) {
    return (err as { stdout?: string }).stdout || String(err);
  }
}

const line = (unit: string, key: string) => unit.split("\n").find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

describe("tandem service install --dry-run", () => {
  it("writes a unit from the node's config that verifies, with the config's limits, and installs nothing", () => {
    const out = join(dir, "node");
    const r = tandem("install", "--config", EXAMPLE, "--dry-run", "--out", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(["tandem-line1-a.service"]);
    expect(existsSync("/etc/systemd/system/tandem-line1-a.service")).toBe(false);
    const file = join(out, "tandem-line1-a.service");
    const unit = readFileSync(file, "utf8");
    expect(verify(file).trim()).toBe("");
    // 1024 MB for the node, its job-agent's 512, and 512 for each of its two services without memoryMaxMB
    expect(line(unit, "MemoryMax")).toBe("2560M");
    expect(r.out).toMatch(/MemoryMax 2560 MB \(1024 MB for the node, plus its 3 services \(1 with memoryMaxMB, 512 MB for each other\)/);
    expect(line(unit, "LimitNOFILE")).toBe("65536");
    expect(line(unit, "TimeoutStopSec")).toBe("45"); // node.stopTimeoutMs 30 s + 15
    expect(line(unit, "User")).toBe("tandem");
    expect(line(unit, "ExecStart")).toBe(`${process.execPath} ${CLI} start --config ${EXAMPLE}`);
    expect(line(unit, "ExecStartPre")).toBe(`${process.execPath} ${CLI} check-config ${EXAMPLE}`);
    // the data dir, the log's folder, and the config's folder (a configuration pushed from the active is written there)
    expect(line(unit, "ReadWritePaths")).toBe(`/var/lib/tandem /var/log/tandem ${dirname(EXAMPLE)}`);
    expect(line(unit, "KillSignal")).toBe("SIGTERM");
    expect(line(unit, "Restart")).toBe("always");
    expect(line(unit, "RestartPreventExitStatus")).toBe("2");
  });

  it("takes node.memoryMaxMB, maxOpenFiles, serviceUser and stopTimeoutMs from the config", () => {
    const cfg = join(dir, "custom.yaml");
    writeFileSync(cfg, readFileSync(EXAMPLE, "utf8").replace("  dataDir: /var/lib/tandem\n", "  dataDir: /srv/tandem data\n  memoryMaxMB: 4096\n  maxOpenFiles: 200000\n  serviceUser: plant_tandem\n  stopTimeoutMs: 90000\n") + "backup: { copyTo: /mnt/plant share/tandem }\n");
    const out = join(dir, "custom");
    expect(tandem("install", "--config", cfg, "--dry-run", "--out", out).code).toBe(0);
    const file = join(out, "tandem-line1-a.service");
    const unit = readFileSync(file, "utf8");
    expect(line(unit, "MemoryMax")).toBe("4096M");
    expect(line(unit, "LimitNOFILE")).toBe("200000");
    expect(line(unit, "User")).toBe("plant_tandem");
    expect(line(unit, "TimeoutStopSec")).toBe("105");
    // a path with a space is quoted, and still verifies
    // the backups' second location may be missing (a share not mounted): "-", so the node still starts
    expect(line(unit, "ReadWritePaths")).toBe(`"/srv/tandem data" /var/log/tandem ${dir} "-/mnt/plant share/tandem"`);
    expect(verify(file).trim()).toBe("");
  });

  it("the witness", () => {
    const out = join(dir, "witness");
    expect(tandem("install", "--witness", "--listen", "203.0.113.10:7400", "--dry-run", "--out", out).code).toBe(0);
    const file = join(out, "tandem-witness.service");
    const unit = readFileSync(file, "utf8");
    expect(line(unit, "ExecStart")).toBe(`${process.execPath} ${CLI} witness --listen 203.0.113.10:7400`);
    expect(line(unit, "EnvironmentFile")).toBe("/etc/tandem/tandem-witness.env");
    expect(verify(file).trim()).toBe("");
  });

  it("the Windows service: a WinSW definition with the same stop bound and an installer that only says what it would do under -WhatIf", () => {
    const out = join(dir, "windows");
    expect(tandem("install", "--config", EXAMPLE, "--platform", "windows", "--dry-run", "--out", out).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["install.ps1", "tandem-line1-a.xml"]);
    const xml = readFileSync(join(out, "tandem-line1-a.xml"), "utf8");
    expect(xml).toMatch(/<id>tandem-line1-a<\/id>/);
    expect(xml).toMatch(/<stoptimeout>45 sec<\/stoptimeout>/);
    expect(xml).toContain(`<arguments>${CLI} start --config ${EXAMPLE}</arguments>`);
    expect(xml).toMatch(/<onfailure action="restart"/);
    const ps1 = readFileSync(join(out, "install.ps1"), "utf8");
    expect(ps1).toMatch(/SupportsShouldProcess/);
    expect(ps1).toMatch(/if \(\$PSCmdlet\.ShouldProcess\('tandem-line1-a'/);
    expect(ps1).toContain("& $exe install $def");
  });
});

describe("tandem service without --dry-run", () => {
  it("where systemd does not run, install changes nothing and says why; status says not installed (exit 3)", () => {
    const systemdRuns = existsSync("/run/systemd/system");
    const r = tandem("install", "--config", EXAMPLE);
    if (systemdRuns) return; // a machine with systemd: installing for real is not this test's business
    expect(r.code).toBe(1);
    expect(r.err).toMatch(process.getuid?.() === 0 ? /systemd is not running on this machine .* nothing was changed/ : /run it as root/);
    expect(existsSync("/etc/systemd/system/tandem-line1-a.service")).toBe(false);
    expect(existsSync("/etc/tandem/tandem-line1-a.env")).toBe(false);
    const st = tandem("status", "--config", EXAMPLE);
    expect(st.code).toBe(3);
    expect(st.out).toMatch(/tandem-line1-a: not installed/);
  });

  it("refuses bad usage with exit 2 and the usage", () => {
    expect(tandem("install").code).toBe(2);
    expect(tandem("install", "--config", EXAMPLE, "--dry-run").err).toMatch(/--dry-run and --out DIR go together/);
    expect(tandem("restart", "--config", EXAMPLE).err).toMatch(/unknown action 'restart'/);
    expect(tandem("install", "--config", EXAMPLE, "--user", "x", "--dry-run", "--out", dir).err).toMatch(/--user is for the witness/);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "pair: {}\n");
    const r = tandem("install", "--config", bad, "--dry-run", "--out", join(dir, "bad"));
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, "bad"))).toBe(false);
  });
});
