// Network namespaces that a benchmark creates for itself: "hosts" joined by
// veth cables to bridges ("switches") that live in a namespace of their own,
// so nothing is added to the machine's own network. Addresses come from the
// TEST-NET ranges only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
//
// Every namespace name carries the bench's pid ("tkb<pid>-…"): a run that was
// killed before it could clean up (kill -9 of the bench) leaves namespaces
// whose owner is gone, and the next run removes exactly those. Everything is
// removed on close(), on an exception, on Ctrl-C (SIGINT), SIGTERM and exit.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PREFIX = "tkb";
/** labs made by this process so far: two labs of one process never share a name (one still closing while the next starts) */
let labs = 0;

function ip(args: string[], opts: { quiet?: boolean } = {}): string {
  try {
    return execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
  } catch (err) {
    if (opts.quiet) return "";
    const e = err as { stderr?: Buffer };
    throw new Error(`ip ${args.join(" ")}: ${e.stderr?.toString().trim() || (err as Error).message}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** mount points at or below `dir`, deepest first (/proc/mounts escapes spaces as \040) */
function mountsUnder(dir: string): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/mounts", "utf8");
  } catch {
    return [];
  }
  const points = text.split("\n").map((l) => (l.split(" ")[1] ?? "").replace(/\\040/g, " "));
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

/** Removes namespaces left by a bench run whose process no longer exists (and the processes still inside them). */
export function removeStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const line of ip(["netns", "list"], { quiet: true }).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!m || alive(Number(m[1]))) continue;
    for (const pid of ip(["netns", "pids", name], { quiet: true }).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* gone already */
      }
    }
    ip(["netns", "del", name], { quiet: true });
    removed.push(name);
  }
  return removed;
}

export interface Tracked {
  child: ChildProcess;
  /** the child leads its own process group: a kill reaches every process it forked */
  group: boolean;
}

/**
 * A set of namespaces and the processes started in them. `host(name)` makes
 * a namespace with loopback up; `cable(host, ifname, sw, cidr)` plugs it into
 * switch `sw` (a bridge, created on first use).
 */
export class NetLab {
  readonly tag: string;
  private readonly names: string[] = [];
  private readonly bridges = new Set<string>();
  private readonly procs = new Set<Tracked>();
  private readonly dirs: string[] = [];
  private closed = false;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.closeSync();
    process.stderr.write(`\n${sig}: network namespaces and their processes removed\n`);
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  private readonly onExit = () => this.closeSync();

  constructor(label: string) {
    // short: Linux interface names are at most 15 characters, namespace names are free
    this.tag = `${PREFIX}${process.pid}-${label}${++labs}`;
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
    process.once("exit", this.onExit);
  }

  /** A temporary directory removed with the lab (kept when TANDEM_KEEP_TEST_DIRS is set). */
  tempDir(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  ns(host: string): string {
    return `${this.tag}-${host}`;
  }

  host(host: string): string {
    const name = this.ns(host);
    ip(["netns", "add", name]);
    this.names.push(name);
    ip(["-n", name, "link", "set", "lo", "up"]);
    return name;
  }

  private bridge(sw: string): string {
    const name = this.ns(`sw-${sw}`);
    if (!this.bridges.has(sw)) {
      if (!this.names.includes(name)) this.host(`sw-${sw}`);
      // forward at once: no STP listening delay, no multicast snooping that could hold back VRRP
      ip(["-n", name, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"]);
      ip(["-n", name, "link", "set", "br0", "up"]);
      this.bridges.add(sw);
    }
    return name;
  }

  /** A veth cable from `host`'s interface `ifname` (address `cidr`) to switch `sw`. */
  cable(host: string, ifname: string, sw: string, cidr: string): void {
    const swNs = this.bridge(sw);
    const port = `p${this.names.indexOf(this.ns(host))}${ifname}`.slice(0, 15);
    ip(["-n", this.ns(host), "link", "add", ifname, "type", "veth", "peer", "name", port, "netns", swNs]);
    ip(["-n", swNs, "link", "set", port, "master", "br0", "up"]);
    ip(["-n", this.ns(host), "addr", "add", cidr, "dev", ifname]);
    ip(["-n", this.ns(host), "link", "set", ifname, "up"]);
  }

  /** Sets a sysctl inside a host's namespace. */
  sysctl(host: string, key: string, value: string): void {
    ip(["netns", "exec", this.ns(host), "sysctl", "-q", "-w", `${key}=${value}`]);
  }

  /** Runs a command to completion inside a host's namespace; returns stdout. */
  run(host: string, cmd: string[], quiet = false): string {
    return ip(["netns", "exec", this.ns(host), ...cmd], { quiet });
  }

  /**
   * Starts a long-running command inside a host's namespace. With `group`
   * the command leads its own process group, so kill(…, group) reaches the
   * children it forks (keepalived's VRRP process) as well.
   */
  spawn(host: string, cmd: string[], opts: { group?: boolean; env?: NodeJS.ProcessEnv; cwd?: string; ipc?: boolean } = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.ns(host), ...cmd], {
      stdio: opts.ipc ? ["pipe", "pipe", "pipe", "ipc"] : ["pipe", "pipe", "pipe"],
      detached: opts.group === true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const t: Tracked = { child, group: opts.group === true };
    this.procs.add(t);
    child.on("exit", () => this.procs.delete(t));
    return child;
  }

  /** Sends `sig` to a child started by spawn() (its whole group if it has one). */
  kill(child: ChildProcess, sig: NodeJS.Signals): void {
    const t = [...this.procs].find((p) => p.child === child);
    if (!t || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      if (t.group) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      /* already gone */
    }
  }

  async close(): Promise<void> {
    const waits = [...this.procs].map(
      (t) => new Promise<void>((res) => (t.child.exitCode !== null || t.child.signalCode !== null ? res() : t.child.once("exit", () => res()))),
    );
    for (const t of this.procs) this.kill(t.child, "SIGKILL");
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
    this.closeSync();
  }

  /** Kills every process started here, deletes every namespace and temporary directory (safe to call twice). */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    process.off("exit", this.onExit);
    for (const t of this.procs) this.kill(t.child, "SIGKILL");
    for (const name of this.names.reverse()) {
      // anything still inside (a process a child forked into its own group) goes too
      for (const pid of ip(["netns", "pids", name], { quiet: true }).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          /* gone */
        }
      }
      ip(["netns", "del", name], { quiet: true });
    }
    if (!process.env.TANDEM_KEEP_TEST_DIRS)
      for (const d of this.dirs) {
        // a file system a test mounted inside (a small tmpfs for a disk that fills) goes first, or the directory cannot
        for (const m of mountsUnder(d)) execFileSync("umount", ["-l", m], { stdio: "ignore" });
        rmSync(d, { recursive: true, force: true });
      }
  }
}
