// Starts one service instance so that it cannot outlive the node's right to
// run it. Node has no parent-death signal, so every instance runs under a
// small bash launcher that leads its own process group (spawned detached:
// setsid) and holds the read end of a pipe from the node:
//   - the node dies (kill -9, a crash): the kernel closes the pipe, `read`
//     sees end-of-file, the launcher kills its whole group at once;
//   - the node freezes (SIGSTOP, a stalled event loop) while it runs an
//     `active` service: the node writes the time left on its lease after
//     every renewal; `read -t` runs out when no renewal came, and the group
//     is killed before the lease (less its safety margin) ends — before the
//     peer may take over and start its own copy.
// The service is started first, with the signal handling the launcher got;
// then the launcher and its watchdog ignore SIGTERM, so that a graceful stop
// — SIGTERM to the whole group — reaches the service while the watchdog
// keeps watching. The launcher reports the service's pid on fd 3 once it
// ignores SIGTERM (the node sends none before), and exits with the service's
// status (128+n for signal n). Should the node die before the watchdog runs,
// the watchdog finds the pipe closed when it starts.
//
// On Windows there is no bash: the service runs directly, in the job object
// libuv puts every child in (it dies with the node), without the lease
// watchdog; docs/services.md says so.
import { spawn, type ChildProcess } from "node:child_process";
import { getPriority } from "node:os";
import { createInterface } from "node:readline";

export const LAUNCHER_SCRIPT = `inc=$1; shift
if [ "$inc" -gt 0 ]; then set -- nice -n "$inc" "$@"; fi
( exec 3>&-; exec "$@" ) </dev/null &
svc=$!
trap '' TERM INT HUP
( exec 3>&-; t=
  while :; do
    if [ -n "$t" ]; then read -r -t "$t" line || break; else read -r line || break; fi
    case $line in -) t= ;; *) t=$line ;; esac
  done
  kill -s KILL -- -$$ ) <&0 &
wd=$!
echo "$svc" >&3
exec 3>&- 2>/dev/null
wait "$svc"; rc=$?
kill -s KILL "$wd"
exit "$rc"`;

export interface LaunchSpec {
  /** shown as the launcher's argv[0] in ps: "tandem-svc:job-agent#1" */
  label: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
}

export interface LaunchHandlers {
  line: (stream: "stdout" | "stderr", line: string) => void;
  /** the service's own pid, once the launcher reports it */
  pid: (pid: number) => void;
  /** the launcher ended: the service's status (code 128+n when signal n ended it), or the launcher's own signal */
  exit: (code: number | null, signal: NodeJS.Signals | null) => void;
  /** the launcher could not be started at all */
  error: (err: Error) => void;
}

const MAX_LINE = 4096;

/**
 * The node runs ahead of the server's other programs for the CPU (the units
 * start it at Nice=-10: heartbeats must stay on time under load); its
 * services are the server's other programs and run at the usual 0. The
 * launcher keeps the node's priority: it must act on time when the lease ends.
 */
function niceIncrement(): number {
  try {
    return Math.max(0, -getPriority());
  } catch {
    return 0;
  }
}

export class Launched {
  /** the launcher's pid, which is also the process group id of everything it started */
  readonly pgid: number;
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    this.pgid = child.pid ?? -1;
  }

  static start(spec: LaunchSpec, on: LaunchHandlers): Launched {
    const win = process.platform === "win32";
    const child = win
      ? spawn(spec.command, spec.args, { env: spec.env, cwd: spec.cwd, stdio: ["ignore", "pipe", "pipe"], windowsHide: true })
      : spawn("/bin/bash", ["--norc", "--noprofile", "-c", LAUNCHER_SCRIPT, spec.label, String(niceIncrement()), spec.command, ...spec.args], {
          env: spec.env,
          cwd: spec.cwd,
          detached: true,
          stdio: ["pipe", "pipe", "pipe", "pipe"],
          ...(spec.uid === undefined ? {} : { uid: spec.uid }),
          ...(spec.gid === undefined ? {} : { gid: spec.gid }),
        });
    const l = new Launched(child);
    child.on("error", (err) => {
      if (l.exited) return;
      l.exited = true;
      on.error(err);
    });
    child.on("exit", (code, signal) => {
      l.exited = true;
      on.exit(code, signal);
    });
    // a closed pipe (the launcher gone) must not throw in the node
    child.stdin?.on("error", () => {});
    for (const stream of ["stdout", "stderr"] as const) {
      const src = child[stream];
      if (!src) continue;
      const rl = createInterface({ input: src, crlfDelay: Infinity });
      rl.on("line", (line) => on.line(stream, line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}… (${line.length} characters, cut)` : line));
    }
    if (win) {
      if (child.pid !== undefined) queueMicrotask(() => on.pid(child.pid!));
    } else {
      const status = child.stdio[3];
      if (status && "on" in status) {
        let text = "";
        status.on("data", (d: Buffer) => {
          text += d.toString("utf8");
          const m = /^(\d+)\n/.exec(text);
          if (m) on.pid(Number(m[1]));
        });
        status.on("error", () => {});
      }
    }
    return l;
  }

  get running(): boolean {
    return !this.exited && this.pgid > 0;
  }

  /**
   * How long the service may go on without a word from the node: the time
   * left on the lease, less its safety margin; null = no deadline.
   */
  setDeadline(ms: number | null): void {
    if (!this.running || !this.child.stdin || this.child.stdin.destroyed) return;
    // `read -t 0` would not wait at all: the shortest deadline is a millisecond
    this.child.stdin.write(ms === null ? "-\n" : `${(Math.max(1, ms) / 1000).toFixed(3)}\n`);
  }

  /** A signal to every process of the instance (the whole group). False when none is left. */
  signal(sig: NodeJS.Signals): boolean {
    if (this.pgid <= 0) return false;
    try {
      if (process.platform === "win32") return this.child.kill(sig);
      process.kill(-this.pgid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** Detaches the node's ends of the pipes (the launcher reads end-of-file and kills its group). */
  close(): void {
    this.child.stdin?.destroy();
  }
}
