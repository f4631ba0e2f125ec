// Processes a test starts, and the afterEach that ends them all: a detached
// one by its whole group (its children go too), the others by pid.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

export class Spawned {
  private kids: { child: ChildProcess; detached: boolean }[] = [];

  /** stdio ignored, so the test holds no pipe to it */
  run(cmd: string, args: string[], opts: { detached?: boolean } = {}): ChildProcess {
    const detached = opts.detached ?? false;
    const child = spawn(cmd, args, { detached, stdio: "ignore" });
    this.kids.push({ child, detached });
    return child;
  }

  async killAll(): Promise<void> {
    for (const { child, detached } of this.kids.splice(0)) {
      const running = child.exitCode === null && child.signalCode === null;
      if (child.pid !== undefined && (running || detached)) {
        try {
          // a group that outlived its leader (an orphan test) still needs ending
          process.kill(detached ? -child.pid : child.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      if (running) await once(child, "exit");
    }
  }
}

export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
}

/** Polls cond every 10 ms until it holds or ms pass; returns its last value. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/**
 * The `tandem` CLI (dist) run to its end without blocking this process: a
 * test's relays and fake PLCs live in this process, and a spawnSync would
 * stop the pair's heartbeats for as long as the command runs.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  const cli = new URL("../../dist/runtime/cli.js", import.meta.url).pathname;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}
