// A real, throwaway PostgreSQL for tests: initdb in a fresh temporary
// directory, started on a free loopback port with its unix socket in the same
// directory, stopped with `pg_ctl stop -m immediate` and removed. Debian's
// server binaries (the `postgresql` package, scripts/test-deps.txt) run as the
// `postgres` user when the test runs as root (PostgreSQL refuses to run as
// root), directly otherwise. fsync stays on: the storage tests are about
// durability (only initdb's own final flush is skipped: the cluster is
// thrown away anyway).
import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface PgCluster {
  /** the loopback port it listens on */
  readonly port: number;
  /** the cluster's data directory (PGDATA), inside a temporary directory that also holds the log and the unix socket */
  readonly dataDir: string;
  /** the server's log */
  readonly logFile: string;
  /** the directory of the unix socket (`postgres://test@/db?host=<socketDir>&port=<port>`) */
  readonly socketDir: string;
  /** a URL for database `db` as the superuser `test` (no password: trust) */
  url(db: string): string;
  /** creates database `name` and returns its URL */
  createDatabase(name: string): Promise<string>;
  /** drops database `name`, ending any session still on it */
  dropDatabase(name: string): Promise<void>;
  /** stops the server at once (immediate mode) and removes the directory; safe to call twice */
  stop(): Promise<void>;
}

const PG_ROOT = "/usr/lib/postgresql";
const START_ATTEMPTS = 5;

/** the newest version's bin directory under /usr/lib/postgresql */
export function postgresBinDir(): string {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(PG_ROOT, v, "bin", "initdb")) && existsSync(join(PG_ROOT, v, "bin", "pg_ctl")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(`PostgreSQL server binaries not found (no ${PG_ROOT}/<version>/bin/initdb): run \`bash scripts/ensure-test-deps.sh\` (it installs Debian's postgresql)`);
  }
  return join(PG_ROOT, versions[0], "bin");
}

const asRoot = () => process.getuid?.() === 0;

/** uid and gid a server's directories must belong to: the postgres user's when we are root, null (ours) otherwise */
export function postgresOwner(): { uid: number; gid: number } | null {
  return asRoot() ? postgresUser() : null;
}

/** uid and gid of the postgres user, from /etc/passwd */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("no `postgres` user to run the server as (tests run as root): run `bash scripts/ensure-test-deps.sh` (it installs Debian's postgresql, which creates it)");
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** runs a server binary (as postgres when we are root); rejects with its output on failure */
export function runPgBinary(bin: string, args: string[]): Promise<string> {
  const [cmd, argv] = asRoot() ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  // PG* variables of the caller's environment must not steer the tools
  const env: NodeJS.ProcessEnv = { LANG: "C", LC_ALL: "C" };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PG") && !k.startsWith("LC_") && k !== "LANG") env[k] = v;
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin.split("/").pop()} ${args.join(" ")}: ${err.message.trim()}\n${stdout}${stderr}`.trim()));
      else resolve(stdout + stderr);
    });
  });
}

/** a port nothing listens on now: the kernel's pick for port 0 */
export function freePgPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** the last lines of a server log, for an error message */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const shq = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/**
 * The server is not a child of the test process (pg_ctl starts it in the
 * background): a test process killed before its afterAll would leave it
 * running. A watchdog in its own session stops it and removes the directory
 * once this process is gone; it ends by itself once stop() has removed the
 * directory. Started through a shell that returns at once, so the test holds
 * no handle on it.
 */
function watchdog(bin: string, dir: string, data: string): Promise<void> {
  const ctl = `${shq(join(bin, "pg_ctl"))} -D ${shq(data)} -m immediate -w -t 30 stop`;
  const stop = asRoot() ? `runuser -u postgres -- ${ctl}` : ctl;
  const loop = `while kill -0 ${process.pid} 2>/dev/null && [ -d ${shq(data)} ]; do sleep 1; done; if [ -d ${shq(data)} ]; then ${stop}; rm -rf ${shq(dir)}; fi`;
  return new Promise((resolve, reject) => {
    execFile("sh", ["-c", `setsid sh -c ${shq(loop)} </dev/null >/dev/null 2>&1 &`], (err) => (err ? reject(err) : resolve()));
  });
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

export async function startPostgres(): Promise<PgCluster> {
  const bin = postgresBinDir();
  const owner = postgresOwner();
  const dir = mkdtempSync(join(tmpdir(), "tandem-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "postgres.log");
  let started = false;
  const stopServer = async () => {
    await runPgBinary(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]).catch(() => undefined);
  };
  try {
    if (owner) chownSync(dir, owner.uid, owner.gid);
    chmodSync(dir, 0o700);
    await runPgBinary(join(bin, "initdb"), ["-D", data, "-U", "test", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePgPort();
      try {
        // -w: returns once the server accepts connections
        await runPgBinary(join(bin, "pg_ctl"), ["-D", data, "-l", log, "-w", "-t", "30", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on`, "start"]);
        started = true;
        break;
      } catch (err) {
        // the port was taken between the probe and the bind, most likely: try another
        await stopServer();
        if (attempt >= START_ATTEMPTS) throw new Error(`${(err as Error).message}\nserver log:\n${logTail(log)}`);
      }
    }
    await watchdog(bin, dir, data);
    return cluster(bin, dir, data, port);
  } catch (err) {
    if (started) await stopServer();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** databases kept created ahead: CREATE DATABASE copies template1 (≈0.1–0.3 s), a rename is ≈1 ms */
const SPARES = 2;

function cluster(bin: string, dir: string, data: string, port: number): PgCluster {
  const url = (db: string) => `postgres://test@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: url("postgres") });
    // the server going away (stop() while a spare is being made) is an error of the query, not of the process
    c.on("error", () => undefined);
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  let stopping: Promise<void> | null = null;
  // fresh databases made in the background once the first is asked for: each
  // one made from template1 like any other, handed out under its new name
  const spares: Promise<string | null>[] = [];
  let spareSeq = 0;
  const refill = () => {
    while (!stopping && spares.length < SPARES) {
      const name = `tandem_spare_${++spareSeq}`;
      spares.push(admin(`CREATE DATABASE ${quoteIdent(name)}`).then(
        () => name,
        () => null,
      ));
    }
  };
  return {
    port,
    dataDir: data,
    logFile: join(dir, "postgres.log"),
    socketDir: dir,
    url,
    async createDatabase(name) {
      const spare = spares.shift();
      refill();
      const ready = spare ? await spare : null;
      if (ready) await admin(`ALTER DATABASE ${quoteIdent(ready)} RENAME TO ${quoteIdent(name)}`);
      else await admin(`CREATE DATABASE ${quoteIdent(name)}`);
      return url(name);
    },
    async dropDatabase(name) {
      await admin(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
    stop() {
      stopping ??= (async () => {
        try {
          await runPgBinary(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
        } catch {
          /* already stopped (or the directory is gone): nothing to stop */
        } finally {
          // spares still being made fail with the server gone: wait for their connections to close
          await Promise.allSettled(spares.splice(0));
          rmSync(dir, { recursive: true, force: true });
        }
      })();
      return stopping;
    },
  };
}
