// One running copy of a service on this node: its process group, its
// temporary directory, its health checks and its figures. It starts, stops
// and reports; whether it should run at all is the supervisor's decision
// (supervisor.ts), and so is when it starts again after an exit.
import { chownSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../core/logger.js";
import type { ServiceConfig } from "./config-schema.js";
import { runHealthCheck, type HealthCheckSpec } from "./health-check.js";
import { Launched } from "./launcher.js";
import { removeRecord, writeRecord } from "./leftovers.js";
import { bootId, clockTicksPerSec, groupUsage, liveGroupMembers, readProcStat } from "./proc.js";

export type InstanceState = "stopped" | "waiting" | "backoff" | "starting" | "running" | "stopping" | "failed";
export type HealthWord = "ok" | "failing" | "unknown" | "none";

/** A line a service prints to report its work: "@tandem events N" = N events handled since its last report. */
export const EVENTS_LINE = /^@tandem events (\d{1,9})\s*$/;
const EVENTS_WINDOW_MS = 10_000;
/** while a service starts, its health is asked this often until the first success (its dependants wait for it) */
export const STARTUP_CHECK_MS = 25;

export interface InstanceFigures {
  cpuPercent: number;
  rssBytes: number;
  readBytes: number;
  writeBytes: number;
  eventsPerSec: number;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  at: string;
  /** the run lasted this long */
  ranMs: number;
  /** the node stopped it (an operator, a role change, a restart it decided): not a failure */
  expected: boolean;
}

export interface InstanceDeps {
  /** "name" or "name#i" for balanced instances */
  key: string;
  name: string;
  index: number;
  config: ServiceConfig;
  log: Logger;
  /** told when the instance is given up on (failed) besides the log (the node stores it as an event) */
  alarm?: (text: string) => void;
  /** where records of running instances are kept (leftovers.ts) */
  runDir: string;
  /** each instance's temporary directory is made under this */
  tmpRoot: string;
  now: () => number;
  /** something about this instance changed: the supervisor looks again */
  changed: () => void;
  uid?: number;
  gid?: number;
  cwd?: string;
}

export class ServiceInstance {
  state: InstanceState = "stopped";
  health: HealthWord;
  healthDetail = "";
  pid: number | null = null;
  pgid: number | null = null;
  startedAt: number | null = null;
  startedAtWall: string | null = null;
  restarts = 0;
  /** failed runs in a row (short, hung, over memory): the backoff and the limit count these */
  failuresInRow = 0;
  nextStartAt = 0;
  lastExit: ExitInfo | null = null;
  lastOutputAt: string | null = null;
  /** why it is in its state, in plain words */
  reason = "not started";
  figures: InstanceFigures = { cpuPercent: 0, rssBytes: 0, readBytes: 0, writeBytes: 0, eventsPerSec: 0 };
  private launched: Launched | null = null;
  private stopWhy: string | null = null;
  private stopTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private healthFailures = 0;
  private healthOkOnce = false;
  private checking = false;
  private events: { at: number; n: number }[] = [];
  private lastCpu: { ticks: number; at: number } | null = null;
  private tmpDir: string | null = null;
  /** the environment it was started with: its health command runs with the same */
  private env: NodeJS.ProcessEnv = {};
  private gone: (() => void)[] = [];
  /** what ends the current run is a failure (hung, over memory) even though the node stopped it */
  private failedRun = false;
  /** SIGKILL was sent to its group in this run */
  private killed = false;

  constructor(private readonly d: InstanceDeps) {
    this.health = d.config.health ? "unknown" : "none";
  }

  get key(): string {
    return this.d.key;
  }
  get name(): string {
    return this.d.name;
  }
  /** 1-based; 1 for a service that is not balanced */
  get index(): number {
    return this.d.index;
  }
  get config(): ServiceConfig {
    return this.d.config;
  }
  /** started and not yet confirmed gone */
  get present(): boolean {
    return this.state === "starting" || this.state === "running" || this.state === "stopping";
  }
  /** up and, when it has a health check, passing it: its dependants may start */
  get ready(): boolean {
    return this.state === "running";
  }

  start(env: NodeJS.ProcessEnv): void {
    if (this.present) return;
    const c = this.d.config;
    this.tmpDir = join(this.d.tmpRoot, this.d.key.replace("#", "-"));
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    if (this.d.uid !== undefined) chownSync(this.tmpDir, this.d.uid, this.d.gid ?? -1);
    this.state = "starting";
    this.reason = "starting";
    this.stopWhy = null;
    this.failedRun = false;
    this.killed = false;
    this.healthFailures = 0;
    this.healthOkOnce = false;
    this.health = c.health ? "unknown" : "none";
    this.startedAt = this.d.now();
    this.startedAtWall = new Date().toISOString();
    this.lastCpu = null;
    this.events = [];
    this.pid = null;
    this.env = { ...env, TMPDIR: this.tmpDir };
    const log = this.d.log;
    this.launched = Launched.start(
      {
        label: `tandem-svc:${this.d.key}`,
        command: c.command,
        args: c.args,
        env: this.env,
        ...(this.d.cwd === undefined ? {} : { cwd: this.d.cwd }),
        ...(this.d.uid === undefined ? {} : { uid: this.d.uid }),
        ...(this.d.gid === undefined ? {} : { gid: this.d.gid }),
      },
      {
        line: (stream, line) => this.onLine(stream, line),
        pid: (pid) => this.onPid(pid),
        exit: (code, signal) => this.onExit(code, signal),
        error: (err) => {
          log.error({ err }, `service ${this.d.key} could not be started: ${err.message}`);
          this.onExit(null, null, `could not be started: ${err.message}`);
        },
      },
    );
    this.pgid = this.launched.pgid > 0 ? this.launched.pgid : null;
    if (!c.health) this.state = "running";
    this.reason = c.health ? "starting: waiting for its first healthy check" : "running";
    this.record();
    if (c.health) this.scheduleHealth(STARTUP_CHECK_MS);
    log.info({ pgid: this.pgid }, `service ${this.d.key} started: ${[c.command, ...c.args].join(" ")}`);
  }

  /** How long it may go on without a word from the node (launcher.ts); null = no deadline. */
  setDeadline(ms: number | null): void {
    this.launched?.setDeadline(ms);
  }

  /**
   * Stops it: SIGTERM to its whole group, SIGKILL after stopTimeoutMs (or at
   * once when `kill`). Resolves once no process of the group is left.
   */
  stop(why: string, opts: { kill?: boolean; failure?: boolean } = {}): Promise<void> {
    if (opts.failure) this.failedRun = true;
    if (!this.present || !this.launched) return Promise.resolve();
    const done = new Promise<void>((r) => this.gone.push(r));
    const kill = opts.kill || this.d.config.stopTimeoutMs === 0;
    if (this.state === "stopping") {
      if (kill && !this.killed) {
        this.killed = true;
        this.reason = `stopping: ${why}: killed at once`;
        this.launched.signal("SIGKILL");
      }
      return done;
    }
    this.state = "stopping";
    this.stopWhy = why;
    this.reason = `stopping: ${why}`;
    this.d.log.info(`service ${this.d.key}: stopping (${why})${kill ? ": killed at once" : ""}`);
    if (!kill) {
      // before the launcher reported the pid it does not ignore SIGTERM yet (launcher.ts): the signal waits for it
      if (this.pid !== null) this.launched.signal("SIGTERM");
      this.stopTimer = setTimeout(() => {
        this.d.log.warn(`service ${this.d.key} did not stop within ${this.d.config.stopTimeoutMs} ms of SIGTERM: killing its processes`);
        this.launched?.signal("SIGKILL");
      }, this.d.config.stopTimeoutMs);
    } else {
      this.killed = true;
      this.launched.signal("SIGKILL");
    }
    this.clearHealth();
    this.d.changed();
    return done;
  }

  /** Its figures now (called every few seconds); also enforces memoryMaxMB. */
  sample(): void {
    if (!this.present || this.pgid === null) return;
    const u = groupUsage(this.pgid);
    const now = this.d.now();
    if (u) {
      const cpu = this.lastCpu ? ((u.cpuTicks - this.lastCpu.ticks) / clockTicksPerSec() / Math.max(0.001, (now - this.lastCpu.at) / 1000)) * 100 : 0;
      this.lastCpu = { ticks: u.cpuTicks, at: now };
      this.figures = { ...this.figures, cpuPercent: Math.max(0, Math.round(cpu * 10) / 10), rssBytes: u.rssBytes, readBytes: u.readBytes, writeBytes: u.writeBytes };
    }
    this.events = this.events.filter((e) => now - e.at <= EVENTS_WINDOW_MS);
    const span = Math.min(EVENTS_WINDOW_MS, Math.max(1000, now - (this.startedAt ?? now)));
    this.figures.eventsPerSec = Math.round((this.events.reduce((a, e) => a + e.n, 0) / (span / 1000)) * 10) / 10;
    const max = this.d.config.memoryMaxMB;
    if (max !== undefined && this.state !== "stopping" && this.figures.rssBytes > max * 1024 * 1024) {
      const mb = Math.round(this.figures.rssBytes / 1024 / 1024);
      this.d.log.warn({ rssMB: mb, memoryMaxMB: max }, `service ${this.d.key} uses ${mb} MB, over its memoryMaxMB ${max}: restarting it`);
      void this.stop(`over its memory limit (${mb} MB > memoryMaxMB ${max})`, { failure: true });
    }
  }

  /** Events a service reports through the API (POST /services/:name/events). */
  addEvents(n: number): void {
    if (this.present) this.events.push({ at: this.d.now(), n });
  }

  /** Forgets the failed state (an operator's start or restart). */
  resetFailures(): void {
    this.failuresInRow = 0;
    this.nextStartAt = 0;
    if (this.state === "failed" || this.state === "backoff") this.state = "stopped";
  }

  // ---------------------------------------------------------- internals

  private onLine(stream: "stdout" | "stderr", line: string): void {
    this.lastOutputAt = new Date().toISOString();
    const m = stream === "stdout" ? EVENTS_LINE.exec(line) : null;
    if (m) return this.addEvents(Number(m[1]));
    if (stream === "stderr") this.d.log.warn({ stream }, line);
    else this.d.log.info({ stream }, line);
  }

  private onPid(pid: number): void {
    this.pid = pid;
    this.record();
    if (this.state === "stopping" && !this.killed) this.launched?.signal("SIGTERM");
  }

  private onExit(code: number | null, signal: string | null, failure?: string): void {
    const ranMs = this.startedAt === null ? 0 : Math.round(this.d.now() - this.startedAt);
    const expected = this.stopWhy !== null && !this.failedRun;
    this.launched = null;
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = null;
    this.clearHealth();
    // the launcher is gone; whatever the service left in its group goes too
    const pgid = this.pgid;
    const left = pgid === null ? [] : liveGroupMembers(pgid);
    if (left.length && pgid !== null) {
      this.d.log.warn(`service ${this.d.key}: killing ${left.length} process(es) it left behind (${left.map((p) => `${p.pid} ${p.comm}`).join(", ")})`);
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        /* gone meanwhile */
      }
    }
    this.lastExit = { code, signal, at: new Date().toISOString(), ranMs, expected };
    const how = failure ?? describeExit(code, signal);
    const stopWhy = this.stopWhy;
    void this.confirmGone(pgid).then(() => {
      if (this.tmpDir) rmSync(this.tmpDir, { recursive: true, force: true });
      this.tmpDir = null;
      removeRecord(this.d.runDir, this.d.key);
      this.pid = null;
      this.pgid = null;
      this.startedAt = null;
      this.figures = { cpuPercent: 0, rssBytes: 0, readBytes: 0, writeBytes: 0, eventsPerSec: 0 };
      // what its checks said was about a process that is gone
      this.health = this.d.config.health ? "unknown" : "none";
      this.healthDetail = "";
      if (expected) {
        this.state = "stopped";
        this.reason = `stopped: ${stopWhy}`;
        this.failuresInRow = 0;
      } else this.afterFailure(how, ranMs, stopWhy);
      for (const r of this.gone.splice(0)) r();
      this.d.changed();
    });
  }

  /** An exit the node did not ask for, or a run it ended as a failure: restart later, or give up. */
  private afterFailure(how: string, ranMs: number, stopWhy: string | null): void {
    const c = this.d.config;
    // a run that lasted starts the count again; a short one, or one ended as hung or over memory, adds to it
    this.failuresInRow = ranMs >= c.stableAfterMs && !this.failedRun ? 1 : this.failuresInRow + 1;
    const clean = this.lastExit?.code === 0 && !this.failedRun;
    const restart = c.restart === "always" || (c.restart === "on-failure" && !clean);
    const what = stopWhy ? `${stopWhy}, ${how}` : how;
    if (!restart) {
      this.state = "stopped";
      this.reason = `exited (${what}); restart: ${c.restart}`;
      this.d.log.warn(`service ${this.d.key} ${this.reason}`);
      return;
    }
    if (this.failuresInRow > c.restartLimit) {
      this.state = "failed";
      this.reason = `failed: ${this.failuresInRow} failed runs in a row (last: ${what}); not restarted until an operator starts it`;
      this.d.log.error({ alarm: "service-failed", service: this.d.name }, `ALARM: service ${this.d.key} ${this.reason}`);
      this.d.alarm?.(`service ${this.d.key} ${this.reason}`);
      return;
    }
    const delay = Math.min(c.restartMaxDelayMs, c.restartDelayMs * 2 ** Math.max(0, this.failuresInRow - 1));
    this.state = "backoff";
    this.nextStartAt = this.d.now() + delay;
    this.restarts++;
    this.reason = `exited (${what}); restarting in ${delay} ms (failed run ${this.failuresInRow} of at most ${c.restartLimit})`;
    this.d.log.warn(`service ${this.d.key} ${this.reason}`);
  }

  private async confirmGone(pgid: number | null): Promise<void> {
    if (pgid === null) return;
    for (let i = 0; i < 300 && liveGroupMembers(pgid).length; i++) await new Promise((r) => setTimeout(r, 10));
    const left = liveGroupMembers(pgid);
    if (left.length) this.d.log.error(`service ${this.d.key}: ${left.length} process(es) still alive 3 s after SIGKILL (${left.map((p) => `${p.pid} ${p.comm} state ${p.state}`).join(", ")})`);
  }

  private record(): void {
    if (this.pgid === null || !this.tmpDir) return;
    const ls = readProcStat(this.pgid);
    const ss = this.pid === null ? null : readProcStat(this.pid);
    if (!ls) return;
    try {
      writeRecord(this.d.runDir, {
        key: this.d.key,
        name: this.d.name,
        instance: this.d.index,
        launcherPid: this.pgid,
        launcherStartTicks: ls.startTicks,
        servicePid: this.pid,
        serviceStartTicks: ss?.startTicks ?? null,
        bootId: bootId(),
        tmpDir: this.tmpDir,
        startedAt: this.startedAtWall ?? new Date().toISOString(),
      });
    } catch (err) {
      // a full disk must not take the node down with it (the fault-injection runs found this): the service runs
      this.d.log.error(
        `service ${this.d.key}: its processes could not be recorded in ${this.d.runDir} (${(err as Error).message}); it runs, but should this node crash before the record is written again, its next start cannot find them to clean them up`,
      );
    }
  }

  private scheduleHealth(ms: number): void {
    this.clearHealth();
    this.healthTimer = setTimeout(() => void this.checkHealth(), ms);
  }

  private clearHealth(): void {
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = null;
  }

  private async checkHealth(): Promise<void> {
    const h = this.d.config.health;
    if (!h || this.checking || (this.state !== "starting" && this.state !== "running")) return;
    this.checking = true;
    const spec: HealthCheckSpec = h.tcp ? { tcp: h.tcp } : h.http ? { http: h.http, ...(h.expectStatus === undefined ? {} : { expectStatus: h.expectStatus }) } : { command: h.command! };
    const r = await runHealthCheck(spec, { timeoutMs: h.timeoutMs, env: this.env, ...(this.d.cwd === undefined ? {} : { cwd: this.d.cwd }), ...(this.d.uid === undefined ? {} : { uid: this.d.uid, gid: this.d.gid }) });
    this.checking = false;
    if (this.state !== "starting" && this.state !== "running") return;
    const inGrace = this.startedAt !== null && this.d.now() - this.startedAt < h.startGraceMs;
    this.healthDetail = r.detail;
    if (r.ok) {
      this.healthFailures = 0;
      this.healthOkOnce = true;
      if (this.health !== "ok" && this.state === "running") this.d.log.info(`service ${this.d.key} is healthy again (${r.detail})`);
      this.health = "ok";
      if (this.state === "starting") {
        this.state = "running";
        this.reason = "running";
        this.d.log.info(`service ${this.d.key} is healthy (${r.detail})`);
        this.d.changed();
      }
      return this.scheduleHealth(h.intervalMs);
    }
    this.health = "failing";
    if (inGrace && !this.healthOkOnce) return this.scheduleHealth(STARTUP_CHECK_MS);
    this.healthFailures++;
    if (this.healthFailures >= h.failures) {
      const why = `hung: its health check failed ${this.healthFailures} times in a row while it runs (${r.detail})`;
      this.d.log.warn(`service ${this.d.key} is ${why}: killing and restarting it`);
      void this.stop(why, { failure: true });
      return;
    }
    this.scheduleHealth(this.healthOkOnce ? h.intervalMs : STARTUP_CHECK_MS);
  }
}

export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `killed by ${signal}`;
  if (code !== null && code > 128 && code < 160) return `ended by signal ${code - 128} (exit ${code})`;
  return `exit code ${code}`;
}
