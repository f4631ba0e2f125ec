// The node's backups: on the `backup` section's schedules, on the node the
// section names (the standby by default), and on demand (`tandem backup
// now`, `tandem restore-test`). Each result is an event of the pair, a log
// line and a metric; a failed backup or restore test is an alarm, and so is
// none that succeeded for `maxAgeHours` on the node that makes them.
import { mkdirSync, readFileSync } from "node:fs";
import { writePrivateFile } from "../private-files.js";
import { join } from "node:path";
import { schedule, type ScheduledTask } from "node-cron";
import { Gauge, type Registry } from "prom-client";
import type { Logger } from "../../core/logger.js";
import { TandemError } from "../../core/errors.js";
import { BackupStore, type BackupListing, type BackupSidecar, type NodeFiles, type RestoreTestResult } from "./backups.js";
import type { BackupConfig } from "./config-schema.js";
import { runSqliteJob } from "./sqlite-copy.js";
import { copyPostgres, inspectPostgresDump, type PgTarget } from "./postgres-copy.js";
import { tandemVersion } from "../version.js";

export interface BackupPorts {
  pair: string;
  node: string;
  dataDir: string;
  state(): string;
  epoch(): number;
  /** the live database: its engine and file (SQLite) or where it is (PostgreSQL, without the password) */
  database(): { engine: "sqlite" | "postgres"; where: string } | null;
  /** PostgreSQL: how to reach it (the node's database.url and schema) */
  postgres?: PgTarget;
  files(): NodeFiles;
  event(type: string, severity: "info" | "warning" | "alarm", text: string): void;
  log: Logger;
  registry: Registry;
  now(): number;
  /** runs the database jobs; a worker thread by default */
  jobs?: ConstructorParameters<typeof BackupStore>[1];
}

export interface LastBackup {
  name: string | null;
  ok: boolean;
  at: string;
  durationMs: number;
  /** why it failed */
  error?: string;
  /** the copy to copyTo, when configured: null ok, else why not */
  copyError?: string | null;
  by: string;
}

export interface BackupsView {
  dir: string;
  copyTo: string | null;
  schedule: string;
  restoreTestSchedule: string;
  runOn: BackupConfig["runOn"];
  /** whether the scheduled jobs run on this node now (its state and runOn) */
  makesBackups: boolean;
  running: "backup" | "restore-test" | null;
  last: LastBackup | null;
  lastRestoreTest: RestoreTestResult | null;
  /** alarms now: a failed or missing backup or restore test */
  alarms: string[];
  backups: BackupListing[];
  copies: BackupListing[];
}

const TESTS_FILE = "restore-test.json";
const CHECK_MS = 60_000;
const LIST_MS = 5000;
const ACTIVE = new Set(["active", "active-held"]);

export class NodeBackups {
  readonly store: BackupStore;
  readonly copies: BackupStore | null;
  private tasks: ScheduledTask[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: { what: "backup" | "restore-test"; done: Promise<unknown> } | null = null;
  private last: LastBackup | null = null;
  private lastTest: RestoreTestResult | null = null;
  /** since when this node makes the scheduled backups (ages count from here, not from before it did) */
  private dutySince: number | null = null;
  private readonly raised = new Map<string, string>();
  private readonly started: number;
  private listed: { at: number; backups: BackupListing[]; copies: BackupListing[] } | null = null;

  constructor(
    private readonly c: BackupConfig,
    private readonly p: BackupPorts,
  ) {
    const pgJobs = p.postgres ? { dumpPg: (dest: string) => copyPostgres(p.postgres!, dest), inspectPg: (dump: string) => inspectPostgresDump(p.postgres!, dump) } : {};
    const jobs = p.jobs ?? { copy: (src, dest) => runSqliteJob({ op: "copy", src, dest }), inspect: (file) => runSqliteJob({ op: "inspect", file }), ...pgJobs };
    const own = `tandem-${p.pair}-${p.node}-`;
    this.store = new BackupStore(c.dir ?? join(p.dataDir, "backups"), jobs, own);
    this.copies = c.copyTo ? new BackupStore(c.copyTo, jobs, own) : null;
    this.started = p.now();
    try {
      this.lastTest = JSON.parse(readFileSync(join(this.store.dir, TESTS_FILE), "utf8")) as RestoreTestResult;
    } catch {
      // none yet
    }
    this.metrics();
  }

  start(): void {
    const opts = { name: `tandem-${this.p.node}`, noOverlap: true };
    if (this.c.schedule !== "off") this.tasks.push(schedule(this.c.schedule, () => this.scheduled("backup"), { ...opts, name: `${opts.name}-backup` }));
    if (this.c.restoreTest.schedule !== "off") this.tasks.push(schedule(this.c.restoreTest.schedule, () => this.scheduled("restore-test"), { ...opts, name: `${opts.name}-restore-test` }));
    this.timer = setInterval(() => this.checkAges(), CHECK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const tasks = this.tasks;
    this.tasks = [];
    for (const t of tasks) await t.destroy();
    await this.running?.done.catch(() => undefined);
  }

  /** Whether the scheduled jobs run here now. */
  makesBackups(): boolean {
    const s = this.p.state();
    if (this.c.runOn === "any") return s !== "maintenance" && s !== "stopping";
    return this.c.runOn === "active" ? ACTIVE.has(s) : s === "standby";
  }

  private async scheduled(what: "backup" | "restore-test"): Promise<void> {
    if (!this.makesBackups()) {
      this.p.log.debug(`scheduled ${what} skipped: this node is ${this.p.state()}, backups run on the ${this.c.runOn}`);
      return;
    }
    try {
      if (what === "backup") await this.backupNow("schedule");
      else await this.restoreTest("schedule");
    } catch (err) {
      // already reported as an event; a job already running is not an error here
      this.p.log.debug(`scheduled ${what}: ${(err as Error).message}`);
    }
  }

  private exclusive<T>(what: "backup" | "restore-test", run: () => Promise<T>): Promise<T> {
    if (this.running) throw new TandemError("TANDEM_ERR_BUSY", [`a ${this.running.what} is running; try again once it is done`]);
    const done = run().finally(() => {
      this.running = null;
      this.listed = null;
    });
    this.running = { what, done };
    return done;
  }

  /** Makes a backup now (and its copy, and prunes); resolves with it, or throws why it failed (also an alarm). */
  backupNow(by: string): Promise<BackupSidecar> {
    return this.exclusive("backup", async () => {
      const started = this.p.now();
      const db = this.p.database();
      try {
        if (!db) throw new Error("the database is not open");
        const side = await this.store.make({
          pair: this.p.pair,
          node: this.p.node,
          nodeState: this.p.state(),
          epoch: this.p.epoch(),
          tandemVersion: tandemVersion(),
          database: db.engine === "sqlite" ? { engine: "sqlite", file: db.where } : { engine: "postgres", where: db.where },
          files: this.p.files(),
          now: new Date(started),
        });
        let copyError: string | null = null;
        if (this.copies) {
          try {
            await this.copies.copyFrom(this.store, side.manifest.name);
            this.copies.prune(this.c.keep, this.p.now());
          } catch (err) {
            copyError = (err as Error).message;
          }
        }
        const removed = this.store.prune(this.c.keep, this.p.now());
        const ms = this.p.now() - started;
        this.last = { name: side.manifest.name, ok: true, at: new Date(started).toISOString(), durationMs: ms, copyError, by };
        const d = side.manifest.database;
        const text = `backup ${side.manifest.name} made in ${(ms / 1000).toFixed(1)} s: ${d.rows} rows up to seq ${d.lastSeq}, ${side.manifest.files.length} files, ${mb(side.archive.bytes)}${this.copies && !copyError ? `, copied to ${this.copies.dir}` : ""}${removed.length ? `; ${removed.length} older removed (keep ${this.c.keep.count}, ${this.c.keep.days} days)` : ""}`;
        this.p.log.info({ backup: side.manifest.name, by, durationMs: ms, bytes: side.archive.bytes, removed }, text);
        this.p.event("backup", "info", text);
        if (copyError) this.raise("backup-copy", `backup ${side.manifest.name} could not be copied to ${this.copies!.dir}: ${copyError}. Check that the share is mounted and writable`);
        else this.clear("backup-copy", `backups are copied to ${this.copies?.dir} again`);
        this.clear("backup", "backups succeed again");
        return side;
      } catch (err) {
        const ms = this.p.now() - started;
        const why = (err as Error).message;
        this.last = { name: null, ok: false, at: new Date(started).toISOString(), durationMs: ms, error: why, by };
        this.raise("backup", `backup failed: ${why}. Check the disk of ${this.store.dir} and the node's log; the previous backups are kept`);
        throw new TandemError("TANDEM_ERR_BACKUP", [why]);
      }
    });
  }

  /** Restores a backup (the newest by default) and its copy into a scratch folder and checks them; the result is also an event. */
  restoreTest(by: string, name: string | null = null): Promise<RestoreTestResult> {
    return this.exclusive("restore-test", async () => {
      const r = await this.store.restoreTest(name);
      let copy: RestoreTestResult | null = null;
      if (this.copies && r.backup) copy = await this.copies.restoreTest(r.backup);
      const result: RestoreTestResult = copy
        ? { ...r, ok: r.ok && copy.ok, checks: [...r.checks, ...copy.checks.map((c) => `copy: ${c}`)], problems: [...r.problems, ...copy.problems.map((p) => `the copy in ${copy!.location}: ${p}`)], durationMs: r.durationMs + copy.durationMs }
        : r;
      this.lastTest = result;
      try {
        mkdirSync(this.store.dir, { recursive: true, mode: 0o700 });
        writePrivateFile(join(this.store.dir, TESTS_FILE), JSON.stringify(result, null, 2) + "\n");
      } catch (err) {
        this.p.log.warn(`restore test: its result could not be kept in ${this.store.dir}: ${(err as Error).message}`);
      }
      if (result.ok) {
        const text = `restore test of ${result.backup} passed in ${(result.durationMs / 1000).toFixed(1)} s: ${result.checks.join("; ")}`;
        this.p.log.info({ backup: result.backup, by }, text);
        this.p.event("restore-test", "info", text);
        this.clear("restore-test", "restore tests pass again");
      } else {
        this.raise("restore-test", `restore test of ${result.backup ?? "the newest backup"} FAILED: ${result.problems.join("; ")}. That backup cannot be trusted: make a new one (tandem backup now) and test it (tandem restore-test)`);
      }
      return result;
    });
  }

  /** An alarm (an event, once until cleared) */
  private raise(key: string, text: string): void {
    this.p.log.error({ alarm: key }, text);
    if (this.raised.get(key) === text) return;
    this.raised.set(key, text);
    this.p.event(key, "alarm", text);
  }

  private clear(key: string, text: string): void {
    if (!this.raised.delete(key)) return;
    this.p.log.info({ alarm: key }, `back to normal: ${text}`);
    this.p.event(key, "info", `back to normal: ${text}`);
  }

  /** On the node that makes them: none good for maxAgeHours is an alarm (counted from when this node took the duty). */
  checkAges(): void {
    const now = this.p.now();
    if (!this.makesBackups()) {
      this.dutySince = null;
      for (const k of ["backup-stale", "restore-test-stale"]) this.clear(k, "this node no longer makes the backups");
      return;
    }
    this.dutySince ??= now;
    const limit = this.c.maxAgeHours * 3_600_000;
    const since = Math.max(this.dutySince, this.started);
    const newestName = this.store.newest();
    const newest = this.store.list().find((b) => b.name === newestName);
    const lastOk = newest?.createdAt ? Date.parse(newest.createdAt) : 0;
    if (now - Math.max(lastOk, since) > limit)
      this.raise("backup-stale", `no backup for ${this.c.maxAgeHours} h on ${this.p.node} (the newest: ${newest?.name ?? "none"}). Check the schedule (backup.schedule: ${this.c.schedule}) and the node's log, or run tandem backup now`);
    else this.clear("backup-stale", "a recent backup exists");
    if (this.c.restoreTest.schedule === "off") return;
    const tested = this.lastTest?.ok ? Date.parse(this.lastTest.at) : 0;
    if (now - Math.max(tested, since) > limit) this.raise("restore-test-stale", `no passed restore test for ${this.c.maxAgeHours} h on ${this.p.node}. Run tandem restore-test`);
    else this.clear("restore-test-stale", "a recent restore test passed");
  }

  /** the backups here and in copyTo, read at most every LIST_MS (the status asks each second) */
  private listing(): { backups: BackupListing[]; copies: BackupListing[] } {
    const now = this.p.now();
    if (!this.listed || now - this.listed.at > LIST_MS || now < this.listed.at) this.listed = { at: now, backups: this.store.list(), copies: this.copies?.list() ?? [] };
    return this.listed;
  }

  view(): BackupsView {
    const l = this.listing();
    return {
      dir: this.store.dir,
      copyTo: this.copies?.dir ?? null,
      schedule: this.c.schedule,
      restoreTestSchedule: this.c.restoreTest.schedule,
      runOn: this.c.runOn,
      makesBackups: this.makesBackups(),
      running: this.running?.what ?? null,
      last: this.last,
      lastRestoreTest: this.lastTest,
      alarms: [...this.raised.values()],
      backups: l.backups,
      copies: l.copies,
    };
  }

  private metrics(): void {
    const r = this.p.registry;
    const refresh = () => {
      const list = this.store.list().filter((b) => b.problem === null && b.name.startsWith(`tandem-${this.p.pair}-${this.p.node}-`));
      count.set(list.length);
      const newest = list[0];
      lastTime.set(newest?.createdAt ? Date.parse(newest.createdAt) / 1000 : 0);
      lastBytes.set(newest?.bytes ?? 0);
      testOk.set(this.lastTest ? (this.lastTest.ok ? 1 : 0) : -1);
      testTime.set(this.lastTest ? Date.parse(this.lastTest.at) / 1000 : 0);
      alarms.set(this.raised.size);
    };
    const count = new Gauge({ name: "tandem_backup_count", help: "Backups in the backup folder whose manifest reads", registers: [r], collect: refresh });
    const lastTime = new Gauge({ name: "tandem_backup_last_timestamp_seconds", help: "When the newest backup was made (0: none)", registers: [r] });
    const lastBytes = new Gauge({ name: "tandem_backup_last_bytes", help: "Size of the newest backup's archive", registers: [r] });
    const testOk = new Gauge({ name: "tandem_backup_restore_test_ok", help: "The last restore test: 1 passed, 0 failed, -1 none yet", registers: [r] });
    const testTime = new Gauge({ name: "tandem_backup_restore_test_timestamp_seconds", help: "When the last restore test ran (0: never)", registers: [r] });
    const alarms = new Gauge({ name: "tandem_backup_alarms", help: "Backup alarms raised now (a failed backup, copy or restore test; none for maxAgeHours)", registers: [r] });
  }
}

function mb(bytes: number): string {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
