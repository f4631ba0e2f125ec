// `tandem restore BACKUP [--to DIR] [--config FILE | --dir BACKUPS] [--in-place]`:
// a backup restored on this host and checked against its manifest (the same
// checks as the restore test). By default into a new folder (DIR, or
// ./BACKUP), which changes nothing of the node. With --in-place (and the
// node's --config) the node's database is replaced by the backup's — only
// while the node is stopped; the database it had is kept beside it, and
// the epoch file stays (a node never goes back to an older epoch).
// Exit codes: 0 restored and checked, 1 failed, 2 usage or config error.
import { createConnection } from "node:net";
import { existsSync, readdirSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../../core/errors.js";
import { loadConfig } from "../config/load.js";
import { BackupStore } from "./backups.js";
import { runSqliteJob } from "./sqlite-copy.js";

const USAGE = `usage: tandem restore BACKUP [--to DIR] [--config FILE | --dir BACKUPS] [--in-place]
  BACKUP       a backup's name (from tandem backup list) or its .tar.gz / .json file
  --to DIR     where to restore it (a new or empty folder; default ./BACKUP): the node is not touched
  --config F   the node's config: its backup folder, and the node whose database --in-place replaces
  --dir D      the backup folder (when not the config's, e.g. the second location)
  --in-place   replace the node's database with the backup's (the node must be stopped; needs --config)`;

type Io = { out: (s: string) => void; err: (s: string) => void };
const stdio: Io = { out: (s) => console.log(s), err: (s) => console.error(s) };

const jobs = { copy: (src: string, dest: string) => runSqliteJob({ op: "copy", src, dest }), inspect: (file: string) => runSqliteJob({ op: "inspect", file }) };

export async function runRestore(argv: string[], io: Io = stdio): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { to: { type: "string" }, config: { type: "string" }, dir: { type: "string" }, "in-place": { type: "boolean", default: false } } }));
  } catch (err) {
    io.err(`tandem restore: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const usage = (why: string) => (io.err(`tandem restore: ${why}\n${USAGE}`), 2);
  if (positionals.length !== 1) return usage(positionals.length ? `unexpected '${positionals[1]}'` : "which BACKUP? (tandem backup list)");
  if (values["in-place"] && !values.config) return usage("--in-place replaces a node's database: give that node's --config FILE");
  if (values["in-place"] && values.to) return usage("--in-place and --to DIR: one or the other");

  let config;
  try {
    config = values.config ? loadConfig(values.config) : null;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.report());
      return 2;
    }
    throw err;
  }
  let arg = positionals[0]!;
  let dir = values.dir ? resolve(values.dir) : config ? (config.backup.dir ?? join(config.node.dataDir, "backups")) : null;
  if (/\.(tar\.gz|json)$/.test(arg)) {
    dir = dirname(resolve(arg));
    arg = basename(arg).replace(/\.(tar\.gz|json)$/, "");
  }
  if (!dir) return usage("where are the backups? give --config FILE or --dir BACKUPS, or the backup's file");
  const store = new BackupStore(dir, jobs);

  if (!values["in-place"]) {
    const to = resolve(values.to ?? arg);
    const r = await store.restore(arg, to);
    report(io, r);
    if (!r.ok) return 1;
    io.out(`restored into ${to}: the database is ${r.dbFile}, the node's files under ${join(to, "files")}`);
    return 0;
  }

  const c = config!;
  const dbFile = join(c.node.dataDir, "tandem.db");
  if (c.database.engine !== "sqlite") return usage(`--in-place restores a SQLite database; this node's is ${c.database.engine}`);
  const running = await nodeRunning(c.http.listen.host, c.http.listen.port, dbFile);
  if (running) {
    io.err(`tandem restore: refused: the node is running (${running}). Stop it first (systemctl stop tandem-${c.pair.id}-${c.node.id}), then run this again`);
    return 1;
  }
  const scratch = join(c.node.dataDir, `.restore-${arg}`);
  rmSync(scratch, { recursive: true, force: true });
  try {
    const r = await store.restore(arg, scratch);
    report(io, r);
    if (!r.ok || !r.dbFile) return 1;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const kept = `${dbFile}.before-restore-${stamp}`;
    if (existsSync(dbFile)) renameSync(dbFile, kept);
    for (const ext of ["-wal", "-shm"]) if (existsSync(dbFile + ext)) renameSync(dbFile + ext, kept + ext);
    // the received-rows log belongs to the database it was written beside
    const received = join(c.node.dataDir, "replication", "received.log");
    if (existsSync(received)) renameSync(received, `${received}.before-restore-${stamp}`);
    renameSync(r.dbFile, dbFile);
    io.out(`the database of node ${c.node.id} is now the backup's (${dbFile}); the one it had is kept as ${basename(kept)}`);
    io.out("the epoch file stays as it was; on start the node catches up from the active (if its peer runs), or runs with the backup's records");
    io.out(`the backup's other files (config, certificates, audit log) are not put back: compare them with the node's in the backup (tandem restore ${arg} --to DIR)`);
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function report(io: Io, r: { ok: boolean; backup: string | null; checks: string[]; problems: string[] }): void {
  io.out(r.ok ? `backup ${r.backup}: checked` : `backup ${r.backup ?? "?"}: FAILED its checks`);
  for (const c of r.checks) io.out(`  ok: ${c}`);
  for (const p of r.problems) io.out(`  problem: ${p}`);
}

/** why the node counts as running (its API answers, or a process holds its database open), or null */
async function nodeRunning(host: string, port: number, dbFile: string): Promise<string | null> {
  const answers = await new Promise<boolean>((res) => {
    const s = createConnection({ host: host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host, port });
    const done = (ok: boolean) => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
  if (answers) return `something listens on its http.listen ${host}:${port}`;
  // Linux: any process with the database open
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  const want = resolve(dbFile);
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target === want || target === `${want}-wal`) return `process ${pid} has ${target} open`;
      } catch {
        // gone meanwhile
      }
    }
  }
  return null;
}
