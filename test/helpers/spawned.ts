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
