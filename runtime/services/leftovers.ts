// What a previous run of the node left behind. The node starts each service
// instance through a launcher spawned detached, so the launcher leads its own
// process group (pgid === launcher pid) and the service runs inside it. While
// an instance runs, a record file says which group that is; a node that died
// without stopping its services finds the records at its next start and, from
// them, the processes that are still ours, and only those.
//
// A pid alone does not name a process (pids are recycled), so a record holds
// the launcher's start time too: the pair (pid, start ticks) is unique for
// the life of a boot, and the boot id tells us whether it is the same boot.
import { readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import type { Logger } from "../../core/logger.js";
import { bootId, hasProc, isLive, liveGroupMembers, readProcStat } from "./proc.js";

// the caller of cleanupLeftovers waits with it for the groups it killed
export { waitGroupGone } from "./proc.js";

export interface ServiceRecord {
  key: string;
  name: string;
  instance: number;
  launcherPid: number;
  launcherStartTicks: number;
  servicePid: number | null;
  serviceStartTicks: number | null;
  bootId: string | null;
  tmpDir: string;
  /** ISO time */
  startedAt: string;
}

export interface ProcessNote {
  pid: number;
  comm: string;
}

export interface CleanupReport {
  /** the record's key, or the file name of a record that could not be read */
  key: string;
  record: ServiceRecord | null;
  /** the record is from an earlier boot of the machine: nothing of it can be running */
  rebooted: boolean;
  /** false where there is no /proc: no process was looked at, none was touched */
  processesChecked: boolean;
  killed: ProcessNote[];
  /** the process group that was sent the signal, so the caller can wait for it (waitGroupGone) */
  killedGroup: number | null;
  leftAlone: (ProcessNote & { why: string })[];
  removed: string[];
  notRemoved: { path: string; why: string }[];
  /** signals that could not be sent, in words */
  failed: string[];
}

export interface CleanupOptions {
  log: Logger;
  /** SIGKILL unless told otherwise: the previous run is gone, nobody is there to shut down cleanly */
  killSignal?: NodeJS.Signals;
  /** a record's tmpDir is removed only when it lies under this directory; without it, never */
  tmpRoot?: string;
}

// encodeURIComponent leaves no '/' in a key; with ".json" after it the name is never "." or "..".
const fileOf = (key: string): string => `${encodeURIComponent(key)}.json`;

/**
 * Writes the record so that a reader sees the old one or the new one, never
 * half of one: a temp file renamed over the target. No fsync: the record
 * matters only while this boot lasts, and a power cut ends every process it
 * could name.
 */
export function writeRecord(dir: string, rec: ServiceRecord): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, fileOf(rec.key));
  const temp = `${target}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * Forgets a service's record. One that cannot be removed (a damaged run
 * directory) is harmless: the next start finds its processes gone by their
 * start times, and says so.
 */
export function removeRecord(dir: string, key: string): void {
  try {
    rmSync(join(dir, fileOf(key)), { force: true });
  } catch {
    /* see above */
  }
}

function isRecord(v: unknown): v is ServiceRecord {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  const int = (x: unknown): boolean => Number.isInteger(x);
  const intOrNull = (x: unknown): boolean => x === null || Number.isInteger(x);
  return (
    typeof r.key === "string" && typeof r.name === "string" && int(r.instance) &&
    int(r.launcherPid) && (r.launcherPid as number) > 0 && int(r.launcherStartTicks) &&
    intOrNull(r.servicePid) && intOrNull(r.serviceStartTicks) &&
    (r.bootId === null || typeof r.bootId === "string") &&
    typeof r.tmpDir === "string" && typeof r.startedAt === "string"
  );
}

/** Every record in dir; a file that does not parse as one is named in `unreadable` (file names, not paths). */
export function readRecords(dir: string): { records: ServiceRecord[]; unreadable: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  } catch {
    return { records: [], unreadable: [] }; // no directory: nothing ran
  }
  const records: ServiceRecord[] = [];
  const unreadable: string[] = [];
  for (const name of names) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(join(dir, name), "utf8"));
    } catch {
      parsed = undefined;
    }
    // a key that does not match its file name would make removeRecord miss the file
    if (isRecord(parsed) && fileOf(parsed.key) === name) records.push(parsed);
    else unreadable.push(name);
  }
  return { records, unreadable };
}

/** Sends a signal; says why not in words when it could not, null when sent (or the target was already gone). */
function signal(target: number, sig: NodeJS.Signals): string | null {
  try {
    process.kill(target, sig);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return null;
    const what = target < 0 ? `process group ${-target}` : `process ${target}`;
    return `could not stop ${what}: ${code === "EPERM" ? "permission denied" : String(code ?? err)}`;
  }
}

/** dir's real path when it lies strictly under root, else why not. */
function insideRoot(dir: string, root: string | undefined): { path: string } | { why: string } {
  if (root === undefined) return { why: "no temporary root was given" };
  let real: string;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(dir); // follows links, so a link under root cannot lead outside it
  } catch {
    return { why: "already gone" };
  }
  const prefix = realRoot.endsWith(sep) ? realRoot : realRoot + sep;
  if (resolve(dir) === resolve(root) || !real.startsWith(prefix)) return { why: `outside ${root}` };
  return { path: real };
}

/** Removes what a previous run left: its processes first, then its temporary directories and records. */
export function cleanupLeftovers(dir: string, opts: CleanupOptions): CleanupReport[] {
  const sig = opts.killSignal ?? "SIGKILL";
  const { records, unreadable } = readRecords(dir);
  const reports: CleanupReport[] = [];
  const boot = bootId();
  for (const rec of records) {
    const report = cleanOne(rec, boot, sig, opts.tmpRoot);
    removeFile(join(dir, fileOf(rec.key)), report);
    logReport(opts.log, report);
    reports.push(report);
  }
  for (const name of unreadable) {
    const file = join(dir, name);
    const report: CleanupReport = { ...emptyReport(name, null), processesChecked: false };
    removeFile(file, report);
    // warn: whatever it described was not checked, and an engineer may want to look
    const kept = report.notRemoved[0];
    const fate = kept ? `could not be removed either (${kept.why})` : "was removed";
    opts.log.warn({ file }, `service record ${file} could not be read and ${fate}; any processes it described were not checked`);
    reports.push(report);
  }
  // temp files of a write cut short by the previous run's end
  try {
    for (const name of readdirSync(dir)) if (name.endsWith(".tmp")) rmSync(join(dir, name), { force: true });
  } catch {
    /* no directory, or a stray entry we cannot remove: it is in nobody's way */
  }
  return reports;
}

/** A file that cannot be removed (someone made a directory of that name, a read-only dir) is reported, not thrown. */
function removeFile(file: string, report: CleanupReport): void {
  try {
    rmSync(file, { force: true });
    report.removed.push(file);
  } catch (err) {
    report.notRemoved.push({ path: file, why: String((err as NodeJS.ErrnoException).code ?? err) });
  }
}

const emptyReport = (key: string, record: ServiceRecord | null): CleanupReport => ({
  key, record, rebooted: false, processesChecked: true, killed: [], killedGroup: null, leftAlone: [], removed: [], notRemoved: [], failed: [],
});

function cleanOne(rec: ServiceRecord, boot: string | null, sig: NodeJS.Signals, tmpRoot: string | undefined): CleanupReport {
  const report = emptyReport(rec.key, rec);
  // an unknown boot id on either side proves nothing: fall through to the start-ticks check
  report.rebooted = rec.bootId !== null && boot !== null && rec.bootId !== boot;
  report.processesChecked = !report.rebooted && hasProc();
  if (report.processesChecked) killLeftovers(rec, sig, report);
  const tmp = insideRoot(rec.tmpDir, tmpRoot);
  if ("why" in tmp) {
    if (tmp.why !== "already gone") report.notRemoved.push({ path: rec.tmpDir, why: tmp.why });
  } else {
    try {
      // retries: a process killed a moment ago may still finish a write into it
      rmSync(tmp.path, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
      report.removed.push(rec.tmpDir);
    } catch (err) {
      report.notRemoved.push({ path: rec.tmpDir, why: String((err as NodeJS.ErrnoException).code ?? err) });
    }
  }
  return report;
}

function killLeftovers(rec: ServiceRecord, sig: NodeJS.Signals, report: CleanupReport): void {
  const pgid = rec.launcherPid;
  const launcher = readProcStat(pgid);
  const note = (s: { pid: number; comm: string }): ProcessNote => ({ pid: s.pid, comm: s.comm });
  const killGroup = (): void => {
    const members = liveGroupMembers(pgid);
    if (members.length === 0) return;
    // one signal to the group, not one per pid: it also reaches a child forked after the scan
    const failed = signal(-pgid, sig);
    if (failed) report.failed.push(failed);
    else {
      report.killed.push(...members.map(note));
      report.killedGroup = pgid;
    }
  };
  if (isLive(launcher) && launcher.startTicks === rec.launcherStartTicks) {
    killGroup();
    if (launcher.pgrp !== pgid && !report.failed.length) {
      // a launcher that left its own group (it should not): stop it by pid as well
      const failed = signal(pgid, sig);
      if (failed) report.failed.push(failed);
      else report.killed.push(note(launcher));
    }
  } else if (isLive(launcher)) {
    // Linux hands out a pid again only when no process has it as pid, group id
    // or session id, so the old group is empty and this is someone else's process
    report.leftAlone.push({ ...note(launcher), why: "its process number now belongs to another program" });
  } else {
    // launcher gone: any running member of its group is an orphan of ours, the
    // group id keeping the number reserved for as long as one is left
    killGroup();
  }
  if (rec.servicePid === null || report.killed.some((k) => k.pid === rec.servicePid)) return;
  const service = readProcStat(rec.servicePid);
  if (!isLive(service)) return;
  if (service.startTicks === rec.serviceStartTicks) {
    // the service moved itself to a group of its own
    const failed = signal(service.pid, sig);
    if (failed) report.failed.push(failed);
    else report.killed.push(note(service));
  } else if (!report.leftAlone.some((l) => l.pid === service.pid)) {
    report.leftAlone.push({ ...note(service), why: "its process number now belongs to another program" });
  }
}

const pidList = (ps: ProcessNote[]): string => ps.map((p) => `${p.pid} ${p.comm}`).join(", ");

function logReport(log: Logger, r: CleanupReport): void {
  const rec = r.record;
  const who = rec ? `service ${rec.key === rec.name ? rec.name : `${rec.name}#${rec.instance}`}` : `service record ${r.key}`;
  const parts: string[] = [];
  if (r.killed.length) {
    const n = r.killed.length;
    parts.push(`killed ${n} process${n === 1 ? "" : "es"} left by the previous run (pids ${pidList(r.killed)})`);
  } else if (r.rebooted) {
    parts.push("the machine has restarted since the previous run, so nothing of it was running");
  } else if (!r.processesChecked) {
    parts.push("this system has no /proc, so no process was checked or stopped");
  } else {
    parts.push("nothing of the previous run was still running");
  }
  for (const l of r.leftAlone) parts.push(`left process ${l.pid} (${l.comm}) alone: ${l.why}`);
  parts.push(...r.failed);
  const tmp = rec ? r.removed.find((p) => p === rec.tmpDir) : undefined;
  if (tmp) parts.push(`removed its temporary directory ${tmp}`);
  for (const n of r.notRemoved) parts.push(`kept ${n.path} (${n.why})`);
  const fields = { service: rec?.name, instance: rec?.instance, killed: r.killed, leftAlone: r.leftAlone, removed: r.removed, notRemoved: r.notRemoved, failed: r.failed };
  const msg = `${who}: ${parts.join("; ")}`;
  if (r.killed.length || r.failed.length) log.warn(fields, msg);
  else log.info(fields, msg);
}
