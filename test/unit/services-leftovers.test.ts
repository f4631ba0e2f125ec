// runtime/services/leftovers.ts against real process groups: at its start the
// node kills what its previous run left, and nothing that is not its own.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Logger } from "../../core/logger.js";
import { cleanupLeftovers, readRecords, removeRecord, waitGroupGone, writeRecord, type ServiceRecord } from "../../runtime/services/leftovers.js";
import { bootId, isLive, liveGroupMembers, readProcStat } from "../../runtime/services/proc.js";
import { Spawned, until } from "../helpers/spawned.js";

const kids = new Spawned();
/** above the kernel's largest pid: never a process */
const NO_PID = 4_194_305;
let root = "";
let runDir = "";
let tmpRoot = "";

type Line = { level: string; obj: object; msg: string };
function recordingLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (a: object | string, b?: string): void => {
    lines.push(typeof a === "string" ? { level, obj: {}, msg: a } : { level, obj: a, msg: b ?? "" });
  };
  const log: Logger = { fatal: at("fatal"), error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug"), trace: at("trace"), child: () => log };
  return { log, lines };
}

function record(over: Partial<ServiceRecord> & { key: string }): ServiceRecord {
  const tmpDir = join(tmpRoot, over.key);
  mkdirSync(tmpDir, { recursive: true });
  writeFileSync(join(tmpDir, "scratch"), "x");
  return {
    name: "job-agent", instance: 1, launcherPid: NO_PID, launcherStartTicks: 1, servicePid: null, serviceStartTicks: null,
    bootId: bootId(), tmpDir, startedAt: new Date().toISOString(), ...over,
  };
}

/** A detached `sh` with two sleeping children: a launcher and its service, as the node starts them. */
async function liveGroup(): Promise<{ pgid: number; startTicks: number; members: number[] }> {
  const sh = kids.run("sh", ["-c", "sleep 30 & sleep 30 & wait"], { detached: true });
  const pgid = sh.pid!;
  // the shell and its two forks, each fork once it has exec'd sleep (until then it is "sh")
  const comms = () => liveGroupMembers(pgid).map((m) => m.comm).sort().join(",");
  expect(await until(() => comms() === "sh,sleep,sleep", 2000), comms()).toBe(true);
  return { pgid, startTicks: readProcStat(pgid)!.startTicks, members: liveGroupMembers(pgid).map((m) => m.pid).sort() };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "tandem-leftovers-"));
  runDir = join(root, "services", "run");
  tmpRoot = join(root, "tmp");
  mkdirSync(tmpRoot);
});
afterEach(async () => {
  await kids.killAll();
  rmSync(root, { recursive: true, force: true });
});

describe("services/leftovers: record files", () => {
  it("writes a private file that reads back, and removes it", () => {
    const rec = record({ key: "job-agent/1" });
    writeRecord(runDir, rec);
    const { records, unreadable } = readRecords(runDir);
    expect(records).toEqual([rec]);
    expect(unreadable).toEqual([]);
    const file = join(runDir, `${encodeURIComponent(rec.key)}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    removeRecord(runDir, rec.key);
    expect(readRecords(runDir).records).toEqual([]);
    expect(readRecords(join(root, "missing"))).toEqual({ records: [], unreadable: [] });
  });
});

describe.runIf(process.platform === "linux")("services/leftovers: cleanup at start", () => {
  it("kills every member of a group that is still ours, and removes its files", async () => {
    const g = await liveGroup();
    const service = readProcStat(g.members.find((p) => p !== g.pgid)!)!;
    const rec = record({ key: "job-agent-1", launcherPid: g.pgid, launcherStartTicks: g.startTicks, servicePid: service.pid, serviceStartTicks: service.startTicks });
    writeRecord(runDir, rec);
    const { log, lines } = recordingLog();
    const [report] = cleanupLeftovers(runDir, { log, tmpRoot });
    expect(report.killed.map((k) => k.pid).sort()).toEqual(g.members);
    expect(report.killedGroup).toBe(g.pgid);
    expect(await waitGroupGone(g.pgid, 1000)).toBe(true);
    expect(existsSync(rec.tmpDir)).toBe(false);
    expect(readRecords(runDir)).toEqual({ records: [], unreadable: [] });
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe("warn");
    expect(lines[0].msg).toMatch(/^service job-agent#1: killed 3 processes left by the previous run \(pids .*sleep.*\); removed its temporary directory /);
  });

  it("touches no process when the launcher's pid now belongs to another program", async () => {
    const other = kids.run("sleep", ["30"], { detached: true }); // not in our group, not ours to kill
    expect(await until(() => readProcStat(other.pid!)?.comm === "sleep", 2000)).toBe(true);
    const real = readProcStat(other.pid!)!;
    const rec = record({ key: "recycled", launcherPid: real.pid, launcherStartTicks: real.startTicks - 1, servicePid: real.pid, serviceStartTicks: real.startTicks + 1 });
    writeRecord(runDir, rec);
    const { log, lines } = recordingLog();
    const [report] = cleanupLeftovers(runDir, { log, tmpRoot });
    expect(report.killed).toEqual([]);
    expect(report.leftAlone).toEqual([{ pid: real.pid, comm: "sleep", why: expect.stringContaining("another program") }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(isLive(readProcStat(real.pid))).toBe(true);
    expect(other.exitCode === null && other.signalCode === null).toBe(true);
    expect(lines[0].level).toBe("info");
    expect(lines[0].msg).toContain(`left process ${real.pid} (sleep) alone`);
    expect(existsSync(rec.tmpDir)).toBe(false);
  });

  it("kills an orphan left in the group of a launcher that is gone", async () => {
    const g = await liveGroup();
    const sh = readProcStat(g.pgid)!;
    process.kill(g.pgid, "SIGKILL"); // the launcher only: its two sleeps live on, orphaned
    expect(await until(() => readProcStat(g.pgid) === null, 2000)).toBe(true);
    expect(liveGroupMembers(g.pgid)).toHaveLength(2);
    writeRecord(runDir, record({ key: "orphan", launcherPid: g.pgid, launcherStartTicks: sh.startTicks }));
    const [report] = cleanupLeftovers(runDir, { log: recordingLog().log, tmpRoot });
    expect(report.killed.map((k) => k.comm)).toEqual(["sleep", "sleep"]);
    expect(await waitGroupGone(g.pgid, 1000)).toBe(true);
  });

  it("kills nothing when the machine has restarted since the record was written", async () => {
    const g = await liveGroup(); // would be killed if the boot id were ignored
    const rec = record({ key: "before-reboot", launcherPid: g.pgid, launcherStartTicks: g.startTicks, bootId: "00000000-0000-0000-0000-000000000000" });
    writeRecord(runDir, rec);
    const { log, lines } = recordingLog();
    const [report] = cleanupLeftovers(runDir, { log, tmpRoot });
    expect(report).toMatchObject({ rebooted: true, killed: [], leftAlone: [] });
    expect(liveGroupMembers(g.pgid)).toHaveLength(3);
    expect(existsSync(rec.tmpDir)).toBe(false);
    expect(readRecords(runDir).records).toEqual([]);
    expect(lines[0]).toMatchObject({ level: "info", msg: expect.stringContaining("the machine has restarted") });
  });

  it("reports and removes a record it cannot read", () => {
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, "bad.json"), "{not json");
    writeFileSync(join(runDir, "half.json"), JSON.stringify({ key: "half", name: "x" }));
    writeFileSync(join(runDir, "job.json.123.tmp"), "{");
    mkdirSync(join(runDir, "zdir.json")); // not a file at all: reported, never thrown
    expect(readRecords(runDir)).toEqual({ records: [], unreadable: ["bad.json", "half.json", "zdir.json"] });
    const { log, lines } = recordingLog();
    const reports = cleanupLeftovers(runDir, { log, tmpRoot });
    expect(reports.map((r) => [r.key, r.record, r.processesChecked])).toEqual([["bad.json", null, false], ["half.json", null, false], ["zdir.json", null, false]]);
    expect(reports[2].notRemoved).toEqual([{ path: join(runDir, "zdir.json"), why: expect.any(String) }]);
    expect(lines.map((l) => l.level)).toEqual(["warn", "warn", "warn"]);
    expect(lines[0].msg).toContain("could not be read");
    expect(existsSync(join(runDir, "bad.json")) || existsSync(join(runDir, "half.json")) || existsSync(join(runDir, "job.json.123.tmp"))).toBe(false);
  });

  it("never removes a temporary directory outside tmpRoot, through a link or not", () => {
    const outside = mkdtempSync(join(tmpdir(), "tandem-outside-"));
    try {
      writeFileSync(join(outside, "keep"), "x");
      mkdirSync(join(outside, "sub"));
      symlinkSync(outside, join(tmpRoot, "link"));
      writeRecord(runDir, record({ key: "outside", tmpDir: outside }));
      writeRecord(runDir, record({ key: "via-link", tmpDir: join(tmpRoot, "link", "sub") }));
      writeRecord(runDir, record({ key: "the-root", tmpDir: tmpRoot }));
      const reports = cleanupLeftovers(runDir, { log: recordingLog().log, tmpRoot });
      expect(reports.map((r) => r.notRemoved.map((n) => n.path))).toEqual([[outside], [tmpRoot], [join(tmpRoot, "link", "sub")]]);
      expect(readFileSync(join(outside, "keep"), "utf8")).toBe("x");
      expect(existsSync(join(outside, "sub"))).toBe(true);
      expect(existsSync(tmpRoot)).toBe(true);
      // without a tmpRoot, nothing is removed but the record
      const rec = record({ key: "no-root" });
      writeRecord(runDir, rec);
      cleanupLeftovers(runDir, { log: recordingLog().log });
      expect(existsSync(rec.tmpDir)).toBe(true);
      expect(readRecords(runDir).records).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("waitGroupGone says false while the group still runs", async () => {
    const g = await liveGroup();
    expect(await waitGroupGone(g.pgid, 50)).toBe(false);
    process.kill(-g.pgid, "SIGKILL");
    expect(await waitGroupGone(g.pgid, 1000)).toBe(true);
  });
});
