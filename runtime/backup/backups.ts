// A node's backups in one folder (and a copy of each in a second one): made,
// listed, pruned, restored and restore-tested. Each backup is two files:
//   NAME.tar.gz  the database copy, the node's files and manifest.json
//   NAME.json    the manifest again and the archive's size and SHA-256,
//                so a list reads no archive and a test sees any changed byte
// The manifest says what the database held (rows per table, where the rows
// end, a checksum of every row) so that a restore is checked against it, not
// only opened.
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { syncFile, writePrivateFile } from "../private-files.js";
import { ArchiveError, extractArchive, fileSha256, writeArchive, type ArchiveEntry, type WrittenEntry } from "./archive.js";
import type { DatabaseFacts, InspectResult } from "./sqlite-copy.js";

export const MANIFEST_FORMAT = "tandem-backup/1";
export const DB_ENTRY = "db/tandem.db";
export const PG_ENTRY = "db/tandem.pgdump";
const NAME = /^tandem-[A-Za-z0-9_-]{1,64}-\d{8}-\d{6}(-\d{1,3})?$/;

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  pair: string;
  node: string;
  createdAt: string;
  tandemVersion: string;
  /** the node's state and epoch when it was made */
  nodeState: string;
  epoch: number;
  database: DatabaseFacts & { entry: string };
  /** every entry but manifest.json, with where it came from */
  files: (WrittenEntry & { source?: string })[];
  /** files asked for that could not be read */
  skipped: { source: string; why: string }[];
}

export interface BackupSidecar {
  manifest: BackupManifest;
  archive: { file: string; bytes: number; sha256: string };
}

export interface BackupListing {
  name: string;
  createdAt: string | null;
  bytes: number | null;
  sha256: string | null;
  lastSeq: number | null;
  rows: number | null;
  /** null: its manifest reads; else why not (the backup cannot be used) */
  problem: string | null;
}

export interface RestoreTestResult {
  ok: boolean;
  backup: string | null;
  /** where it was restored from (the folder) */
  location: string;
  at: string;
  durationMs: number;
  /** what was checked and held */
  checks: string[];
  /** what did not; empty when ok */
  problems: string[];
}

export interface NodeFiles {
  /** the config file, the process modules, certificates, the audit log, `backup.files` (files or folders) */
  paths: string[];
}

export interface MakeOptions {
  pair: string;
  node: string;
  nodeState: string;
  epoch: number;
  tandemVersion: string;
  /** the live database: a SQLite file, or a PostgreSQL database (dumped with pg_dump) */
  database: { engine: "sqlite"; file: string } | { engine: "postgres"; where: string };
  files: NodeFiles;
  now: Date;
}

/** copies the live database (a worker thread in the node) and says what the copy holds */
export type CopyDb = (src: string, dest: string) => Promise<InspectResult>;
export type InspectDb = (file: string) => Promise<InspectResult>;

export interface BackupJobs {
  copy: CopyDb;
  inspect: InspectDb;
  /** PostgreSQL: the node's database dumped to dest, and restored somewhere throwaway to be read (postgres-copy.ts) */
  dumpPg?: (dest: string) => Promise<InspectResult>;
  inspectPg?: (dump: string) => Promise<InspectResult>;
}

const MAX_FILES = 10_000;

function stamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}`;
}

/** the files under the given paths (folders walked), each once, at most MAX_FILES; unreadable ones are skipped with why */
function collectFiles(paths: string[]): { files: string[]; skipped: { source: string; why: string }[] } {
  const files: string[] = [];
  const skipped: { source: string; why: string }[] = [];
  const seen = new Set<string>();
  const walk = (p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      skipped.push({ source: p, why: (err as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (err as Error).message });
      return;
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) walk(join(p, e));
    } else if (st.isFile()) {
      if (files.length >= MAX_FILES) skipped.push({ source: p, why: `more than ${MAX_FILES} files` });
      else files.push(p);
    }
  };
  for (const p of paths) walk(resolve(p));
  return { files, skipped };
}

/** the archive name of a file: under files/, its absolute path without the root (C: becomes C) */
export function fileEntryName(source: string): string {
  return `files/${resolve(source).replace(/^([A-Za-z]):/, "$1").replace(/\\/g, "/").replace(/^\/+/, "")}`;
}

export class BackupStore {
  constructor(
    /** the folder of this store */
    readonly dir: string,
    private readonly jobs: BackupJobs,
    /** "tandem-PAIR-NODE-": the backups this node made (a shared folder holds both nodes'); pruned and tested by default. Absent: all. */
    private readonly own: string | null = null,
  ) {}

  private mine(name: string): boolean {
    return this.own === null || name.startsWith(this.own);
  }

  /** the newest usable backup this node made, or null */
  newest(): string | null {
    return this.list().find((b) => b.problem === null && this.mine(b.name))?.name ?? null;
  }

  private archive(name: string): string {
    return join(this.dir, `${name}.tar.gz`);
  }

  private sidecar(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  /** Makes one backup; returns its sidecar. Throws with the reason when it cannot. */
  async make(o: MakeOptions): Promise<BackupSidecar> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let name = `tandem-${o.pair}-${o.node}-${stamp(o.now)}`;
    for (let i = 2; existsSync(this.sidecar(name)) || existsSync(this.archive(name)); i++) name = `tandem-${o.pair}-${o.node}-${stamp(o.now)}-${i}`;
    const work = join(this.dir, `.partial-${name}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true, mode: 0o700 });
    try {
      const pgDb = o.database.engine === "postgres";
      const dbCopy = join(work, pgDb ? "tandem.pgdump" : "tandem.db");
      const from = o.database.engine === "sqlite" ? o.database.file : o.database.where;
      if (pgDb && !this.jobs.dumpPg) throw new Error("no way to dump a PostgreSQL database was given");
      const copied = pgDb ? await this.jobs.dumpPg!(dbCopy) : await this.jobs.copy(from, dbCopy);
      if (copied.integrity !== "ok" || !copied.facts) throw new Error(`the copy of the database ${from} does not check: ${copied.error ?? copied.integrity}`);
      const { files, skipped } = collectFiles(o.files.paths);
      const dbEntry = pgDb ? PG_ENTRY : DB_ENTRY;
      const entries: (ArchiveEntry & { source?: string })[] = [{ name: dbEntry, file: dbCopy }, ...files.map((f) => ({ name: fileEntryName(f), file: f, source: f }))];
      const manifest: BackupManifest = {
        format: MANIFEST_FORMAT,
        name,
        pair: o.pair,
        node: o.node,
        createdAt: o.now.toISOString(),
        tandemVersion: o.tandemVersion,
        nodeState: o.nodeState,
        epoch: o.epoch,
        database: { ...copied.facts, entry: dbEntry },
        files: [],
        skipped,
      };
      const partial = join(work, `${name}.tar.gz`);
      const sources = new Map(entries.map((e) => [e.name, e.source]));
      // manifest.json last: it carries the others' sizes and hashes
      const written = await writeArchive(partial, entries, o.now, (w) => {
        manifest.files = w.map((e) => (sources.get(e.name) ? { ...e, source: sources.get(e.name) } : e));
        return { name: "manifest.json", text: JSON.stringify(manifest, null, 2) + "\n" };
      });
      syncFile(partial);
      renameSync(partial, this.archive(name));
      const side: BackupSidecar = { manifest, archive: { file: basename(this.archive(name)), bytes: written.bytes, sha256: written.sha256 } };
      writePrivateFile(this.sidecar(name), JSON.stringify(side, null, 2) + "\n", { durable: true });
      return side;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** Copies a backup of `from` here (the second location), checking the copy's SHA-256. */
  async copyFrom(from: BackupStore, name: string): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const side = from.read(name);
    const tmp = `${this.archive(name)}.partial`;
    copyFileSync(from.archive(name), tmp);
    syncFile(tmp);
    const h = await fileSha256(tmp);
    if (h.sha256 !== side.archive.sha256 || h.bytes !== side.archive.bytes) {
      rmSync(tmp, { force: true });
      throw new Error(`the copy of ${name} in ${this.dir} differs from the original (${h.bytes} bytes, sha256 ${h.sha256.slice(0, 12)}…)`);
    }
    renameSync(tmp, this.archive(name));
    writePrivateFile(this.sidecar(name), JSON.stringify(side, null, 2) + "\n", { durable: true });
  }

  /** A backup's sidecar, checked for shape; throws with why it cannot be used. */
  read(name: string): BackupSidecar {
    if (!NAME.test(name)) throw new Error(`'${name.slice(0, 100)}' is not a backup name (tandem-PAIR-NODE-YYYYMMDD-HHMMSS)`);
    let text: string;
    try {
      text = readFileSync(this.sidecar(name), "utf8");
    } catch (err) {
      throw new Error(`${name}: no manifest (${this.sidecar(name)}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let side: BackupSidecar;
    try {
      side = JSON.parse(text) as BackupSidecar;
    } catch {
      throw new Error(`${name}: its manifest ${this.sidecar(name)} is not JSON`);
    }
    const m = side?.manifest;
    if (!m || m.format !== MANIFEST_FORMAT || m.name !== name || !m.database || typeof m.database.checksum !== "string" || !Array.isArray(m.files) || typeof side.archive?.sha256 !== "string" || !Number.isSafeInteger(side.archive?.bytes))
      throw new Error(`${name}: its manifest ${this.sidecar(name)} is not a ${MANIFEST_FORMAT} manifest`);
    return side;
  }

  /** The backups here, newest first; one whose manifest does not read is listed with why. */
  list(): BackupListing[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const found = new Set<string>();
    for (const f of names) {
      const m = /^(.*)\.(json|tar\.gz)$/.exec(f);
      if (m && NAME.test(m[1]!)) found.add(m[1]!);
    }
    const out: BackupListing[] = [];
    for (const name of found) {
      try {
        const s = this.read(name);
        const problem = existsSync(this.archive(name)) ? null : `the archive ${this.archive(name)} is missing`;
        out.push({ name, createdAt: s.manifest.createdAt, bytes: s.archive.bytes, sha256: s.archive.sha256, lastSeq: s.manifest.database.lastSeq, rows: s.manifest.database.rows, problem });
      } catch (err) {
        out.push({ name, createdAt: null, bytes: null, sha256: null, lastSeq: null, rows: null, problem: (err as Error).message });
      }
    }
    // the name carries the time: newest first
    return out.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  }

  /**
   * Removes this node's backups beyond `count` and those older than `days`;
   * the newest good one always stays. Returns the names removed.
   */
  prune(keep: { count: number; days: number }, now: number): string[] {
    // only this node's: a shared folder holds the peer's too
    const all = this.list().filter((b) => this.mine(b.name));
    const newestGood = all.find((b) => b.problem === null)?.name;
    const removed: string[] = [];
    all.forEach((b, i) => {
      if (b.name === newestGood) return;
      const age = b.createdAt ? now - Date.parse(b.createdAt) : 0;
      if (i < keep.count && age <= keep.days * 86_400_000) return;
      rmSync(this.archive(b.name), { force: true });
      rmSync(this.sidecar(b.name), { force: true });
      removed.push(b.name);
    });
    return removed;
  }

  /**
   * Restores a backup (the newest when no name is given) into `into` (which
   * must not hold anything yet) and checks it against its manifest: the
   * archive's SHA-256, every entry's, the database's integrity, schema,
   * where its rows end, its rows per table and the checksum of every row.
   */
  async restore(name: string | null, into: string): Promise<RestoreTestResult & { dbFile: string | null }> {
    const started = Date.now();
    const checks: string[] = [];
    const problems: string[] = [];
    const pick = name ?? this.newest();
    const result = (dbFile: string | null) => ({ ok: problems.length === 0 && pick !== null, backup: pick, location: this.dir, at: new Date().toISOString(), durationMs: Date.now() - started, checks, problems, dbFile });
    if (pick === null) {
      problems.push(`no backup to restore in ${this.dir}`);
      return result(null);
    }
    let side: BackupSidecar;
    try {
      side = this.read(pick);
    } catch (err) {
      problems.push((err as Error).message);
      return result(null);
    }
    const archive = this.archive(pick);
    if (!existsSync(archive)) {
      problems.push(`the archive ${archive} is missing`);
      return result(null);
    }
    const h = await fileSha256(archive);
    if (h.sha256 !== side.archive.sha256 || h.bytes !== side.archive.bytes) {
      problems.push(`the archive ${archive} has changed since it was made: ${h.bytes} bytes, sha256 ${h.sha256.slice(0, 16)}…, the manifest says ${side.archive.bytes} bytes, ${side.archive.sha256.slice(0, 16)}…`);
      return result(null);
    }
    checks.push(`archive sha256 ${h.sha256.slice(0, 16)}… (${h.bytes} bytes) as recorded`);
    if (existsSync(into) && readdirSync(into).length) {
      problems.push(`${into} is not empty: a restore goes into a new or empty folder`);
      return result(null);
    }
    mkdirSync(into, { recursive: true, mode: 0o700 });
    const expect = new Map(side.manifest.files.map((f) => [f.name, { bytes: f.bytes, sha256: f.sha256 }]));
    try {
      await extractArchive(archive, into, expect);
    } catch (err) {
      if (err instanceof ArchiveError) problems.push(...err.problems);
      else problems.push(`the archive does not read: ${(err as Error).message}`);
      return result(null);
    }
    checks.push(`${expect.size} files extracted, each of the size and sha256 recorded`);
    let inner: unknown;
    try {
      inner = JSON.parse(readFileSync(join(into, "manifest.json"), "utf8"));
    } catch {
      problems.push("the archive has no readable manifest.json");
      return result(null);
    }
    if (JSON.stringify(inner) !== JSON.stringify(side.manifest)) problems.push("the manifest inside the archive differs from the one beside it");
    const dbFile = join(into, side.manifest.database.entry);
    const pgDump = side.manifest.database.engine === "postgres";
    if (pgDump && !this.jobs.inspectPg) {
      // a PostgreSQL dump needs a server to be restored into: a node's restore test has one
      checks.push(`a PostgreSQL dump (${side.manifest.database.entry}): its rows are checked by a node's restore test; restore it with pg_restore --dbname=… ${dbFile}`);
      return result(dbFile);
    }
    const got = pgDump ? await this.jobs.inspectPg!(dbFile) : await this.jobs.inspect(dbFile);
    if (got.integrity !== "ok") problems.push(pgDump ? `the dump does not restore: ${got.integrity}` : `the restored database fails PRAGMA integrity_check: ${got.integrity}`);
    else if (!got.facts) problems.push(`the restored database does not read: ${got.error ?? "unknown"}`);
    else {
      checks.push(pgDump ? "pg_restore into a throwaway database: ok" : "PRAGMA integrity_check: ok");
      problems.push(...compareFacts(side.manifest.database, got.facts));
      if (!problems.length) checks.push(`${got.facts.rows} rows up to seq ${got.facts.lastSeq}, ${Object.keys(got.facts.tables).length} tables with the row counts and the checksum recorded`);
    }
    return result(dbFile);
  }

  /** A restore into a scratch folder here, checked, then removed. */
  async restoreTest(name: string | null = null): Promise<RestoreTestResult> {
    const scratch = join(this.dir, `.restore-test-${randomBytes(4).toString("hex")}`);
    try {
      const { dbFile: _db, ...r } = await this.restore(name, scratch);
      return r;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

/** What differs between the manifest's database facts and a restored database's, as sentences. */
export function compareFacts(want: DatabaseFacts, got: DatabaseFacts): string[] {
  const out: string[] = [];
  if (want.schemaVersion !== got.schemaVersion) out.push(`schema version ${got.schemaVersion}, the manifest says ${want.schemaVersion}`);
  if (want.lastSeq !== got.lastSeq || want.lastEpoch !== got.lastEpoch) out.push(`rows end at seq ${got.lastSeq} (epoch ${got.lastEpoch}), the manifest says ${want.lastSeq} (epoch ${want.lastEpoch})`);
  if (want.rows !== got.rows) out.push(`${got.rows} rows, the manifest says ${want.rows}`);
  for (const t of new Set([...Object.keys(want.tables), ...Object.keys(got.tables)])) {
    if ((want.tables[t] ?? 0) !== (got.tables[t] ?? 0)) out.push(`table ${t}: ${got.tables[t] ?? 0} rows, the manifest says ${want.tables[t] ?? 0}`);
  }
  if (want.divergent !== got.divergent) out.push(`${got.divergent} divergent rows, the manifest says ${want.divergent}`);
  if (want.checksum !== got.checksum) out.push(`the rows' checksum ${got.checksum.slice(0, 16)}… differs from the manifest's ${want.checksum.slice(0, 16)}…`);
  return out;
}
