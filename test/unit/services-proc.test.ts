// runtime/services/proc.ts against real processes: the /proc readers the
// supervisor uses to find, measure and confirm the end of a service's group.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  bootId, clockTicksPerSec, cpuPercent, groupUsage, liveGroupMembers, nodeLoad, parseProcStat, rate, readProcStat,
} from "../../runtime/services/proc.js";
import { exited, Spawned, until } from "../helpers/spawned.js";

const linux = process.platform === "linux";
const kids = new Spawned();
let tmp = "";

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "tandem-proc-"));
});
afterEach(() => kids.killAll());
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.runIf(linux)("services/proc: process groups", () => {
  it("finds the three members of a detached group, with their group id", async () => {
    const sh = kids.run("sh", ["-c", "sleep 30 & sleep 30 & wait"], { detached: true });
    const pgid = sh.pid!;
    // three members as soon as the shell forked twice; each fork is "sh" until it has exec'd sleep
    const comms = () => liveGroupMembers(pgid).map((m) => m.comm).sort();
    expect(await until(() => JSON.stringify(comms()) === '["sh","sleep","sleep"]', 2000), JSON.stringify(comms())).toBe(true);
    const members = liveGroupMembers(pgid);
    expect(members.every((m) => m.pgrp === pgid && m.session === pgid)).toBe(true);
    expect(members.map((m) => m.comm).sort()).toEqual(["sh", "sleep", "sleep"]);
    const sleeps = members.filter((m) => m.comm === "sleep");
    expect(sleeps.every((m) => m.ppid === pgid)).toBe(true);
    // our own group is not theirs
    expect(liveGroupMembers(pgid).some((m) => m.pid === process.pid)).toBe(false);

    const usage = groupUsage(pgid)!;
    expect(usage.pids.sort((a, b) => a - b)).toEqual(members.map((m) => m.pid).sort((a, b) => a - b));
    expect(usage.rssBytes).toBeGreaterThan(3 * 4096);
    expect(usage.cpuTicks).toBeGreaterThanOrEqual(0);
    expect(usage.readBytes).toBeGreaterThanOrEqual(0);
  });

  it("counts a killed group as gone within a second, zombies or not", async () => {
    const sh = kids.run("sh", ["-c", "sleep 30 & sleep 30 & wait"], { detached: true });
    const pgid = sh.pid!;
    expect(await until(() => liveGroupMembers(pgid).length === 3, 2000)).toBe(true);
    process.kill(-pgid, "SIGKILL");
    // The sleeps' parent dies with them, so they are handed to PID 1, which on
    // these machines does not reap orphans: they may stay zombies ('Z') in
    // /proc, still in the group, for as long as the machine runs. They have
    // run their last instruction, so liveGroupMembers leaves them out.
    const t0 = Date.now();
    expect(await until(() => liveGroupMembers(pgid).length === 0, 1000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(groupUsage(pgid)).toEqual({ pids: [], cpuTicks: 0, rssBytes: 0, readBytes: 0, writeBytes: 0 });
    await exited(sh);
  });
});

describe.runIf(linux)("services/proc: /proc/PID/stat", () => {
  it("reads a process whose name holds spaces and ')'", async () => {
    const exe = join(tmp, "a b) c");
    copyFileSync("/bin/sleep", exe);
    const child = kids.run(exe, ["30"]);
    const pid = child.pid!;
    // sleeping ('S') means it got past exec and into nanosleep, its pages mapped
    const ready = (): boolean => readProcStat(pid)?.comm === "a b) c" && readProcStat(pid)?.state === "S";
    expect(await until(ready, 2000)).toBe(true);
    const st = readProcStat(pid)!;
    const self = readProcStat(process.pid)!;
    expect(st).toMatchObject({ pid, ppid: process.pid, pgrp: self.pgrp, session: self.session, state: "S" });
    // started after us, in the same boot
    expect(st.startTicks).toBeGreaterThanOrEqual(self.startTicks);
    expect(st.rssPages).toBeGreaterThan(0);
  });

  it("parses at the last ')' and rejects a cut-off line", () => {
    const fields = "S 1 77 77 0 -1 4194560 90 0 0 0 12 34 0 0 20 0 1 0 5555 2224128 88 18446744073709551615";
    const st = parseProcStat(42, `42 (x) y) z) ${fields}\n`);
    expect(st).toEqual({
      pid: 42, comm: "x) y) z", state: "S", ppid: 1, pgrp: 77, session: 77, utimeTicks: 12, stimeTicks: 34, startTicks: 5555, rssPages: 88,
    });
    expect(parseProcStat(42, "42 (x) S 1 77")).toBeNull();
    expect(parseProcStat(42, "")).toBeNull();
  });

  it("answers null for a process that is gone", async () => {
    const child = kids.run("true", []);
    await exited(child);
    expect(readProcStat(child.pid!)).toBeNull();
    expect(readProcStat(-1)).toBeNull();
    expect(readProcStat(4_194_305)).toBeNull(); // above the kernel's largest pid
    expect(liveGroupMembers(4_194_305)).toEqual([]);
  });
});

describe.runIf(linux)("services/proc: the machine", () => {
  it("knows its boot and its clock", () => {
    expect(bootId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(bootId()).toBe(bootId());
    expect(Number.isInteger(clockTicksPerSec()) && clockTicksPerSec() > 0).toBe(true);
  });

  it("samples sane load numbers, and two samples give a CPU percentage", () => {
    const a = nodeLoad();
    expect(a.totalMemBytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(a.freeMemBytes).toBeGreaterThan(0);
    expect(a.freeMemBytes).toBeLessThanOrEqual(a.totalMemBytes);
    expect(a.cpuBusyTicks).toBeGreaterThan(0);
    expect(a.cpuBusyTicks).toBeLessThan(a.cpuTotalTicks);
    expect(a.netBytes).toBeGreaterThanOrEqual(0);
    const until = Date.now() + 60; // busy for a few ticks
    while (Date.now() < until) Math.sqrt(Math.random());
    const b = nodeLoad();
    expect(b.cpuTotalTicks).toBeGreaterThan(a.cpuTotalTicks);
    expect(b.cpuBusyTicks).toBeGreaterThanOrEqual(a.cpuBusyTicks);
    const pct = cpuPercent(a, b);
    expect(pct).toBeGreaterThan(0);
    expect(pct).toBeLessThanOrEqual(100);
    expect(cpuPercent(a, a)).toBe(0);
  });

  it("turns two counter samples into a rate, never negative", () => {
    expect(rate(100, 300, 2000)).toBe(100);
    expect(rate(300, 100, 1000)).toBe(0);
    expect(rate(100, 300, 0)).toBe(0);
  });
});

describe.skipIf(linux)("services/proc: without /proc", () => {
  it("answers empty, never throws", () => {
    expect(readProcStat(process.pid)).toBeNull();
    expect(liveGroupMembers(process.pid)).toEqual([]);
    expect(groupUsage(process.pid)).toBeNull();
    expect(nodeLoad().totalMemBytes).toBeGreaterThan(0);
  });
});
