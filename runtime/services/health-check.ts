// One health probe of a service, run when the supervisor asks. A probe
// answers in words a plant engineer can act on ("ECONNREFUSED 127.0.0.1:4840",
// "HTTP 503 from …", "exit 1: database locked") and never throws: a check
// that cannot even start is a failed check, not a crash of the supervisor.
// Whatever the outcome, it leaves no socket, timer or child process behind.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { waitGroupGone } from "./proc.js";

export type HealthCheckSpec = { tcp: { host: string; port: number } } | { http: string; expectStatus?: number } | { command: string[] };

export interface HealthCheckOptions {
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

export interface HealthResult {
  ok: boolean;
  detail: string;
  ms: number;
}

type Outcome = { ok: boolean; detail: string };

export async function runHealthCheck(spec: HealthCheckSpec, opts: HealthCheckOptions): Promise<HealthResult> {
  const started = performance.now();
  let out: Outcome;
  try {
    if ("tcp" in spec) out = await tcpCheck(spec.tcp.host, spec.tcp.port, opts.timeoutMs);
    else if ("http" in spec) out = await httpCheck(spec.http, spec.expectStatus, opts.timeoutMs);
    else out = await commandCheck(spec.command, opts);
  } catch (err) {
    out = { ok: false, detail: `check failed: ${errorText(err)}` };
  }
  return { ...out, ms: Math.round(performance.now() - started) };
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? (err instanceof Error ? err.message : String(err));
}

const hostPort = (host: string, port: number): string => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<Outcome> {
  const where = hostPort(host, port);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (out: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    // our own timer: socket.setTimeout measures idleness, not how long the connect takes
    const timer = setTimeout(() => finish({ ok: false, detail: `no answer within ${timeoutMs} ms from ${where}` }), timeoutMs);
    socket.once("connect", () => finish({ ok: true, detail: `connected to ${where}` }));
    socket.once("error", (err) => finish({ ok: false, detail: `${errorText(err)} ${where}` }));
  });
}

async function httpCheck(url: string, expectStatus: number | undefined, timeoutMs: number): Promise<Outcome> {
  // An AbortController and a timer we clear, not AbortSignal.timeout(): that
  // timer would live on after the answer until it fires.
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(url, {
      signal: ac.signal,
      // the status of this URL, not of wherever it redirects to
      redirect: "manual",
      // no pooled keep-alive socket left open between checks
      headers: { connection: "close" },
    });
    await res.body?.cancel();
    const ok = expectStatus === undefined ? res.status >= 200 && res.status < 300 : res.status === expectStatus;
    const want = ok || expectStatus === undefined ? "" : ` (expected ${expectStatus})`;
    return { ok, detail: `HTTP ${res.status} from ${url}${want}` };
  } catch (err) {
    if (ac.signal.aborted) return { ok: false, detail: `no answer within ${timeoutMs} ms from ${url}` };
    // fetch wraps the socket error: "fetch failed", the errno in its cause
    const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
    return { ok: false, detail: `${errorText(cause)} from ${url}` };
  } finally {
    clearTimeout(timer);
  }
}

const TAIL_BYTES = 8192;
const LINE_CHARS = 200;

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const line = lines[lines.length - 1] ?? "";
  return line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS - 1)}…` : line;
}

/** true when the signal went out, false when there was no group left to signal */
function killGroup(child: ChildProcess): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

/** How long to wait for a killed group to be gone before answering anyway. */
const GONE_MS = 1000;

/**
 * Runs the command without a shell in a process group of its own, so that on
 * a timeout (or when it exits leaving a child behind) one signal ends all of
 * it. Output is kept only as a tail: only the last line is reported.
 */
async function commandCheck(argv: string[], opts: HealthCheckOptions): Promise<Outcome> {
  if (argv.length === 0 || !argv[0]) return { ok: false, detail: "no command to run" };
  const { outcome, killedGroup } = await runCommand(argv[0], argv.slice(1), opts);
  // kill() only queues the signal: answer once the group has really ended
  if (killedGroup !== null) await waitGroupGone(killedGroup, GONE_MS);
  return outcome;
}

function runCommand(what: string, args: string[], opts: HealthCheckOptions): Promise<{ outcome: Outcome; killedGroup: number | null }> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(what, args, { cwd: opts.cwd, env: opts.env, uid: opts.uid, gid: opts.gid, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      resolve({ outcome: { ok: false, detail: `could not start ${what}: ${errorText(err)}` }, killedGroup: null });
      return;
    }
    let tail = "";
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);

    let exit: { code: number | null; sig: NodeJS.Signals | null } | null = null;
    let startError: unknown = null;
    let timedOut = false;
    let finished = false;
    let killed = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(grace);
      // a descendant that left the group may still hold the pipes: let go of them
      child.stdout?.destroy();
      child.stderr?.destroy();
      const line = lastLine(tail);
      const killedGroup = killed && child.pid !== undefined ? child.pid : null;
      let outcome: Outcome;
      if (startError !== null) outcome = { ok: false, detail: `could not start ${what}: ${errorText(startError)}` };
      else if (timedOut) outcome = { ok: false, detail: `no answer within ${opts.timeoutMs} ms from ${what} (stopped it)${line ? `; last output: ${line}` : ""}` };
      else {
        const how = exit?.code != null ? `exit ${exit.code}` : `killed by ${exit?.sig ?? "a signal"}`;
        outcome = { ok: exit?.code === 0, detail: line ? `${how}: ${line}` : how };
      }
      resolve({ outcome, killedGroup });
    };
    // 'close' (pipes drained) normally follows 'exit' at once; a short grace covers pipes held open elsewhere
    const finishSoon = (ms: number): void => {
      clearTimeout(grace);
      grace = setTimeout(finish, ms);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killed = killGroup(child); // the leader is not reaped yet, so its group id is still ours
      finishSoon(500);
    }, opts.timeoutMs);

    child.on("error", (err) => {
      // ENOENT, EACCES, EPERM for uid/gid: no process was started (later
      // errors are about a process that did start; its exit tells the rest)
      if (child.pid !== undefined) return;
      startError = err;
      finish();
    });
    child.once("exit", (code, sig) => {
      exit = { code, sig };
      // the leader is reaped: from here on its number may name someone else's group
      clearTimeout(timer);
      // Whatever it left in its group goes with it: a probe leaves nothing
      // running. libuv reaps the leader and emits 'exit' in one callback, so
      // its number cannot have gone to another group in between.
      if (!timedOut) killed = killGroup(child);
      finishSoon(200);
    });
    child.once("close", finish);
  });
}
