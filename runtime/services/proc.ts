// What the service supervisor learns about processes and the machine, read
// from /proc. Every reader is synchronous: the supervisor calls them every few
// seconds (usage, load) or every 10 ms for a short while (waiting for a group
// to die), and a /proc read is served from kernel memory without touching a
// disk, so it costs microseconds; a promise per file would cost more than the
// read. Where /proc is missing (not Linux) or a process vanishes mid-read the
// readers answer null or empty and never throw: a process that exits while we
// look at it is the normal case, not an error.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";

export interface ProcStat {
  pid: number;
  /** the executable's name as the kernel keeps it (at most 15 bytes) */
  comm: string;
  /** R running, S sleeping, D disk wait, Z zombie, T stopped, X dead … */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  utimeTicks: number;
  stimeTicks: number;
  /** ticks after boot when the process started: with the pid, it names one process for the life of the boot */
  startTicks: number;
  rssPages?: number;
}

export interface GroupUsage {
  pids: number[];
  cpuTicks: number;
  rssBytes: number;
  readBytes: number;
  writeBytes: number;
}

export interface NodeLoadSample {
  freeMemBytes: number;
  totalMemBytes: number;
  /** only the ratio of two samples' differences means something (ticks on Linux, ms elsewhere) */
  cpuBusyTicks: number;
  cpuTotalTicks: number;
  /** bytes received plus sent over every interface but lo, since boot */
  netBytes: number;
}

let procPresent: boolean | undefined;
/** Whether this system has a Linux-style /proc at all (asked once). */
export function hasProc(): boolean {
  procPresent ??= existsSync("/proc/self/stat");
  return procPresent;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A getconf value, asked once: it runs a program, so never on a hot path. */
function sysconf(name: string, fallback: number): number {
  try {
    const n = Number(execFileSync("getconf", [name], { encoding: "utf8", timeout: 2000, stdio: ["ignore", "pipe", "ignore"] }).trim());
    return Number.isInteger(n) && n > 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

let ticksPerSec: number | undefined;
/** CLK_TCK: the unit of every *Ticks field (100 on every Linux we run on). */
export function clockTicksPerSec(): number {
  ticksPerSec ??= sysconf("CLK_TCK", 100);
  return ticksPerSec;
}

let pageSize: number | undefined;
/** 4096 on x86; some arm64 kernels use 16 or 64 KiB pages, which would make RSS four or sixteen times too small. */
export function pageSizeBytes(): number {
  pageSize ??= sysconf("PAGESIZE", 4096);
  return pageSize;
}

/** This boot of the machine: differs after every restart. */
export function bootId(): string | null {
  const text = readText("/proc/sys/kernel/random/boot_id");
  const id = text?.trim();
  return id ? id : null;
}

/**
 * Parses the text of /proc/PID/stat. The command name sits in parentheses and
 * may itself hold spaces and ')' (a program can name itself anything), so the
 * fields after it start at the LAST ')'.
 */
export function parseProcStat(pid: number, text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  // fields from the third (state) on; rest[n - 3] is field n of proc(5)
  const rest = text.slice(close + 2).trim().split(" ");
  if (rest.length < 20) return null;
  const num = (field: number): number => Number(rest[field - 3]);
  const stat: ProcStat = {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: num(4),
    pgrp: num(5),
    session: num(6),
    utimeTicks: num(14),
    stimeTicks: num(15),
    startTicks: num(22),
  };
  const rss = num(24);
  if (Number.isFinite(rss)) stat.rssPages = rss;
  for (const v of [stat.ppid, stat.pgrp, stat.session, stat.utimeTicks, stat.stimeTicks, stat.startTicks]) {
    if (!Number.isFinite(v)) return null;
  }
  return stat;
}

/** The process's stat line, or null when it is gone (or /proc is not there). */
export function readProcStat(pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const text = readText(`/proc/${pid}/stat`);
  return text === null ? null : parseProcStat(pid, text);
}

/** A zombie has run its last instruction; only its exit status waits for a parent that may never come. */
export function isLive(stat: ProcStat | null): stat is ProcStat {
  return stat !== null && stat.state !== "Z" && stat.state !== "X" && stat.state !== "x";
}

/**
 * Every running process of the group. Zombies count as gone: on these
 * machines PID 1 does not reap orphans, so a killed service's children can
 * stay zombies for as long as the machine runs.
 */
export function liveGroupMembers(pgid: number): ProcStat[] {
  if (!hasProc() || !Number.isInteger(pgid) || pgid <= 0) return [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue; // not a digit: not a process
    const stat = readProcStat(Number(name)); // null when it exited since readdir
    if (isLive(stat) && stat.pgrp === pgid) out.push(stat);
  }
  return out;
}

/** Lines "key: value …" as numbers (first number of each value). */
function keyedNumbers(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) m.set(line.slice(0, i).trim(), Number.parseInt(line.slice(i + 1).trim(), 10));
  }
  return m;
}

/**
 * /proc/PID/io. read_bytes/write_bytes count what reached the storage layer;
 * a kernel without task I/O accounting only has rchar/wchar (every read and
 * write, pipes and sockets included). Another user's process is unreadable: 0.
 */
function processIo(pid: number): { read: number; write: number } {
  const text = readText(`/proc/${pid}/io`);
  if (text === null) return { read: 0, write: 0 };
  const m = keyedNumbers(text);
  const pick = (a: string, b: string): number => {
    const v = m.get(a) ?? m.get(b);
    return v !== undefined && Number.isFinite(v) ? v : 0;
  };
  return { read: pick("read_bytes", "rchar"), write: pick("write_bytes", "wchar") };
}

/**
 * What the group uses now, summed over its running members. CPU and I/O are
 * counters since each member started; a member that exits takes its share
 * with it, so the sum can go down between samples (rate() treats that as 0).
 * null where there is no /proc.
 */
export function groupUsage(pgid: number): GroupUsage | null {
  if (!hasProc()) return null;
  const usage: GroupUsage = { pids: [], cpuTicks: 0, rssBytes: 0, readBytes: 0, writeBytes: 0 };
  const page = pageSizeBytes();
  for (const m of liveGroupMembers(pgid)) {
    usage.pids.push(m.pid);
    usage.cpuTicks += m.utimeTicks + m.stimeTicks;
    // statm's second field is resident pages; stat's rss field is the fallback
    const resident = Number(readText(`/proc/${m.pid}/statm`)?.split(" ")[1]);
    usage.rssBytes += (Number.isFinite(resident) ? resident : (m.rssPages ?? 0)) * page;
    const io = processIo(m.pid);
    usage.readBytes += io.read;
    usage.writeBytes += io.write;
  }
  return usage;
}

/** Busy and total CPU time of the machine, from the first ("cpu ") line of /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const line = readText("/proc/stat")?.split("\n", 1)[0];
  if (line?.startsWith("cpu ")) {
    // user nice system idle iowait irq softirq steal [guest guest_nice]; guest
    // time is already inside user and nice, so only the first eight add up
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length >= 4 && f.every(Number.isFinite)) {
      const total = f.reduce((a, b) => a + b, 0);
      return { busy: total - f[3] - (f[4] ?? 0), total };
    }
  }
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** Bytes in and out of the machine, loopback left out (it is the node talking to itself). */
function netBytes(): number {
  const text = readText("/proc/net/dev");
  if (text === null) return 0;
  let sum = 0;
  for (const line of text.split("\n").slice(2)) {
    const i = line.indexOf(":");
    if (i < 0 || line.slice(0, i).trim() === "lo") continue;
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    // receive bytes is the first column, transmit bytes the ninth
    if (Number.isFinite(f[0]) && Number.isFinite(f[8])) sum += f[0] + f[8];
  }
  return sum;
}

/**
 * Resolves true once no running process is left in the group, false after
 * timeoutMs. A signal is delivered asynchronously: kill() returns before the
 * processes have ended, so whoever must know they are gone polls.
 */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (liveGroupMembers(pgid).length === 0) return true;
    if (Date.now() >= until) return false;
    await new Promise<void>((r) => setTimeout(r, 10));
  }
}

/** One sample of the machine's load; compare two with cpuPercent() and rate(). */
export function nodeLoad(): NodeLoadSample {
  const meminfo = readText("/proc/meminfo");
  const mem = meminfo === null ? new Map<string, number>() : keyedNumbers(meminfo);
  // MemAvailable counts the page cache the kernel would give back; MemFree does not
  const availKb = mem.get("MemAvailable");
  const totalKb = mem.get("MemTotal");
  const cpu = cpuTimes();
  return {
    freeMemBytes: availKb !== undefined && Number.isFinite(availKb) ? availKb * 1024 : freemem(),
    totalMemBytes: totalKb !== undefined && Number.isFinite(totalKb) ? totalKb * 1024 : totalmem(),
    cpuBusyTicks: cpu.busy,
    cpuTotalTicks: cpu.total,
    netBytes: netBytes(),
  };
}

/** CPU busy between two samples, 0–100 (0 when no time passed). */
export function cpuPercent(a: NodeLoadSample, b: NodeLoadSample): number {
  const total = b.cpuTotalTicks - a.cpuTotalTicks;
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, ((b.cpuBusyTicks - a.cpuBusyTicks) / total) * 100));
}

/**
 * Per-second rate of a counter sampled twice, dtMs apart. A counter that went
 * down (a member exited, an interface was reset) gives 0, not a negative rate.
 */
export function rate(a: number, b: number, dtMs: number): number {
  if (!(dtMs > 0) || !(b > a)) return 0;
  return ((b - a) * 1000) / dtMs;
}
