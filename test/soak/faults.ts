// The faults the fault-injection runs inject (issue 13), each on the real
// network stacks, processes, disks and clocks of the site (site.ts): a fault
// starts, and its start() returns how to end it. iptables rules go into the
// faulty host's own namespace (nothing outside it changes); `tc netem` is not
// in this kernel, so loss is iptables' `statistic` match and delay an NFQUEUE
// that test/helpers/delay-queue.py holds packets in (the kernel's own
// packets, addresses and ports: only their time changes).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../helpers/cluster.js";
import { writeClock, type FaultSite, type Id } from "./site.js";

export interface FaultContext {
  site: FaultSite;
  /** who was active and standby when the fault started */
  active: Id;
  standby: Id;
  rnd: () => number;
  /** a detail of this fault for the run's log (which link, which offset …) */
  note: (detail: string) => void;
}

export interface FaultKind {
  name: string;
  /** how often it is drawn, relative to the others */
  weight: number;
  /** the fault is meant to move the role: its RTO is measured */
  takeover: boolean;
  /** how long the fault lasts before it ends (ms), drawn in this range */
  holdMs: [number, number];
  /** starts the fault; the answer ends it */
  start(ctx: FaultContext): Promise<() => Promise<void>> | (() => Promise<void>);
}

const other = (id: Id): Id => (id === "a" ? "b" : "a");
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** iptables rules on one host, removed again by the answer (in reverse, -D for each -A/-I) */
function rules(site: FaultSite, host: Id, added: string[][]): () => Promise<void> {
  for (const r of added) site.ns.iptables(host, r);
  return async () => {
    for (const r of [...added].reverse()) {
      try {
        site.ns.iptables(host, ["-D", ...r.slice(1)]);
      } catch {
        /* gone already (a flap's own toggle) */
      }
    }
  };
}

/** both directions between `host` and these addresses dropped */
const dropBoth = (addrs: string[]) => addrs.flatMap((a) => [["-A", "INPUT", "-s", a, "-j", "DROP"], ["-A", "OUTPUT", "-d", a, "-j", "DROP"]]);

const restart = (site: FaultSite, id: Id) => async () => {
  await site.ns.exited(id).catch(() => undefined);
  site.ns.startNode(id);
};

/** the pid of the `active` service's process (beat.mjs) a node runs, if any */
function beatPid(site: FaultSite): number | null {
  try {
    const out = execFileSync("pgrep", ["-f", site.files.beats], { encoding: "utf8" }).trim();
    const pids = out.split("\n").map(Number).filter((n) => n > 0);
    return pids[0] ?? null;
  } catch {
    return null;
  }
}

/** the whole disk under `dir` as "major:minor" (a partition's parent: blkio throttles whole disks) */
function diskOf(dir: string): string {
  const mm = execFileSync("findmnt", ["-no", "MAJ:MIN", "-T", dir], { encoding: "utf8" }).trim();
  const sys = `/sys/dev/block/${mm}`;
  return existsSync(join(sys, "partition")) ? readFileSync(join(sys, "..", "dev"), "utf8").trim() : mm;
}

/** cgroup v1 blkio throttle: the process's writes to the disk under `dir` limited to `iops` per second */
function slowDisk(pid: number, dir: string, iops: number): () => Promise<void> {
  const group = "/sys/fs/cgroup/blkio/tandem-soak-slow";
  mkdirSync(group, { recursive: true });
  writeFileSync(join(group, "blkio.throttle.write_iops_device"), `${diskOf(dir)} ${iops}\n`);
  writeFileSync(join(group, "cgroup.procs"), `${pid}\n`);
  return async () => {
    try {
      writeFileSync("/sys/fs/cgroup/blkio/cgroup.procs", `${pid}\n`);
    } catch {
      /* the process is gone */
    }
    try {
      rmdirSync(group);
    } catch {
      /* still in use (the process's children follow it slowly): the next fault takes it again */
    }
  };
}

/** the delay handler, beside the sources (tsc does not copy it into dist/) */
const DELAY_QUEUE = fileURLToPath(new URL(existsSync(new URL("../helpers/delay-queue.py", import.meta.url)) ? "../helpers/delay-queue.py" : "../../../test/helpers/delay-queue.py", import.meta.url));
/** the NFQUEUE the delay uses (queues are per namespace: one number serves every host) */
const DELAY_QUEUE_NUM = 7;

/**
 * Packets between `host` and these addresses, both ways, held `ms` (+ up to
 * `jitterMs`) each way by delay-queue.py in the host's namespace. The handler
 * is bound before the rules send anything to it (a queue without a reader
 * drops); at the end the rules go first, then the handler releases what it
 * still holds.
 */
export async function delayPackets(site: FaultSite, host: Id, addrs: string[], ms: number, jitterMs: number): Promise<() => Promise<void>> {
  const q = site.ns.spawnOn(host, ["/usr/bin/python3", DELAY_QUEUE, "--queue", String(DELAY_QUEUE_NUM), "--delay-ms", String(ms), "--jitter-ms", String(jitterMs), "--max-seconds", "120"]);
  const t0 = Date.now();
  while (!q.output().includes("ready")) {
    if (q.exitCode !== null || Date.now() - t0 > 10_000) {
      q.kill("SIGKILL");
      throw new Error(`delay-queue.py did not start on ${host}: ${q.output().trim() || `exit ${q.exitCode}`}`);
    }
    await sleep(10);
  }
  const nfq = ["-j", "NFQUEUE", "--queue-num", String(DELAY_QUEUE_NUM)];
  const end = rules(site, host, addrs.flatMap((a) => [["-A", "INPUT", "-s", a, ...nfq], ["-A", "OUTPUT", "-d", a, ...nfq]]));
  return async () => {
    await end();
    const gone = new Promise<void>((res) => (q.exitCode !== null ? res() : q.once("exit", () => res())));
    q.kill("SIGTERM");
    await Promise.race([gone, sleep(3000)]);
    if (q.exitCode === null) q.kill("SIGKILL");
  };
}

/** delay on both pair links, both ways, of one of `choices` ms (+ up to a quarter of it), between the active and the standby */
function delayFault(name: string, holdMs: [number, number], choices: number[]): FaultKind {
  return {
    name,
    weight: 1,
    takeover: false,
    holdMs,
    start: ({ site, active, standby, rnd, note }) => {
      const ms = pick(rnd, choices);
      note(`${ms} ms + up to ${ms / 4} ms each way`);
      return delayPackets(site, active, site.ns.addresses(standby), ms, ms / 4);
    },
  };
}

export const FAULTS: FaultKind[] = [
  {
    name: "kill -9 of the active",
    weight: 3,
    takeover: true,
    holdMs: [200, 800],
    start: ({ site, active }) => {
      site.ns.signal(active, "SIGKILL");
      return restart(site, active);
    },
  },
  {
    name: "kill -9 of the standby",
    weight: 1,
    takeover: false,
    holdMs: [200, 800],
    start: ({ site, standby }) => {
      site.ns.signal(standby, "SIGKILL");
      return restart(site, standby);
    },
  },
  {
    name: "SIGSTOP of the active beyond its lease",
    weight: 2,
    takeover: true,
    holdMs: [2000, 3000],
    start: ({ site, active }) => {
      site.ns.signal(active, "SIGSTOP");
      return async () => site.ns.signal(active, "SIGCONT");
    },
  },
  {
    name: "SIGSTOP of the active within its lease",
    weight: 1,
    takeover: false,
    holdMs: [150, 400],
    start: ({ site, active }) => {
      site.ns.signal(active, "SIGSTOP");
      return async () => site.ns.signal(active, "SIGCONT");
    },
  },
  {
    name: "one pair link down",
    weight: 2,
    takeover: false,
    holdMs: [500, 2000],
    start: ({ site, active, standby, rnd, note }) => {
      const addr = pick(rnd, site.ns.addresses(standby));
      note(`to ${addr}`);
      return rules(site, active, dropBoth([addr]));
    },
  },
  {
    name: "both pair links down",
    weight: 1,
    takeover: false,
    holdMs: [500, 2000],
    start: ({ site, active, standby }) => rules(site, active, dropBoth(site.ns.addresses(standby))),
  },
  {
    name: "the witness network of one node down",
    weight: 1,
    takeover: false,
    holdMs: [500, 2000],
    start: ({ site, rnd, note }) => {
      const id = pick(rnd, ["a", "b"] as const);
      note(`node ${id}`);
      return rules(site, id, dropBoth([site.ns.witnessAddress()]));
    },
  },
  {
    name: "one direction only: the active's datagrams and segments to the standby dropped",
    weight: 1,
    takeover: false,
    holdMs: [500, 2000],
    start: ({ site, active, standby }) => rules(site, active, site.ns.addresses(standby).map((a) => ["-A", "OUTPUT", "-d", a, "-j", "DROP"])),
  },
  {
    name: "random loss of 30 % on both links, both ways",
    weight: 2,
    takeover: false,
    holdMs: [1000, 3000],
    start: ({ site, active, standby }) => {
      const loss = (from: string[]) => from.map((a) => ["-A", "INPUT", "-s", a, "-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP"]);
      const endA = rules(site, active, loss(site.ns.addresses(standby)));
      const endB = rules(site, standby, loss(site.ns.addresses(active)));
      return async () => {
        await endA();
        await endB();
      };
    },
  },
  // heartbeats every 50 ms, timeout 500 ms: late, never missing
  delayFault("delay on both pair links, below the heartbeat timeout", [1000, 3000], [20, 100, 200, 300]),
  // each node hears the other over half a second late: the standby suspects the active, the witness decides
  delayFault("delay on both pair links, beyond the heartbeat timeout", [1500, 3000], [600, 800, 1200]),
  {
    name: "a REJECT rule on the active's host against the standby",
    weight: 1,
    takeover: false,
    holdMs: [500, 2000],
    start: ({ site, active, standby }) => {
      const end = rules(
        site,
        active,
        site.ns.addresses(standby).flatMap((a) => [
          ["-A", "INPUT", "-s", a, "-p", "udp", "-j", "REJECT"],
          ["-A", "INPUT", "-s", a, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
        ]),
      );
      site.ns.resetConnections(standby, site.ns.addresses(active)[0]!);
      return end;
    },
  },
  {
    name: "a flapping pair link",
    weight: 1,
    takeover: false,
    holdMs: [0, 0],
    start: async ({ site, active, standby, rnd }) => {
      const addr = pick(rnd, site.ns.addresses(standby));
      for (let i = 0; i < 8; i++) {
        const end = rules(site, active, dropBoth([addr]));
        await sleep(100 + Math.floor(rnd() * 200));
        await end();
        await sleep(100 + Math.floor(rnd() * 200));
      }
      return async () => undefined;
    },
  },
  {
    name: "kill -9 of the witness",
    weight: 1,
    takeover: false,
    holdMs: [300, 1500],
    start: ({ site }) => {
      site.ns.witness?.kill("SIGKILL");
      return async () => site.ns.startWitness();
    },
  },
  {
    name: "kill -9 of the active service",
    weight: 1,
    takeover: false,
    holdMs: [0, 0],
    start: ({ site }) => {
      const pid = beatPid(site);
      if (pid) process.kill(pid, "SIGKILL");
      return async () => undefined;
    },
  },
  {
    name: "node b's disk full",
    weight: 1,
    takeover: false,
    holdMs: [500, 2000],
    start: ({ site }) => {
      const dir = site.ns.dataDir("b");
      const st = statfsSync(dir);
      const free = st.bavail * st.bsize;
      const fill = join(dir, "fill");
      try {
        execFileSync("fallocate", ["-l", String(free), fill], { stdio: "ignore" });
      } catch {
        /* as full as it gets */
      }
      return async () => rmSync(fill, { force: true });
    },
  },
  {
    // node b's data directory is a tmpfs (the disk-full fault): node a's is on the machine's disk
    name: "a slow disk under node a (20 writes/s)",
    weight: 1,
    takeover: false,
    holdMs: [1000, 2500],
    start: ({ site }) => {
      const pid = site.ns.pid("a");
      return pid ? slowDisk(pid, site.ns.dataDir("a"), 20) : async () => undefined;
    },
  },
  {
    name: "a planned switchover",
    weight: 1,
    takeover: true,
    holdMs: [0, 0],
    start: async ({ site, active }) => {
      await site.ns.api(active, "POST", "/switchover", {}, "admin").catch(() => undefined);
      return async () => undefined;
    },
  },
  {
    name: "the standby restarted with its data directory wiped",
    weight: 1,
    takeover: false,
    holdMs: [200, 500],
    start: async ({ site, standby }) => {
      site.ns.signal(standby, "SIGKILL");
      await site.ns.exited(standby).catch(() => undefined);
      const dir = site.ns.dataDir(standby);
      for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
      return async () => site.ns.startNode(standby);
    },
  },
  {
    name: "node b's wall clock stepped (libfaketime)",
    weight: 1,
    takeover: false,
    holdMs: [1000, 3000],
    start: ({ site, rnd, note }) => {
      const step = pick(rnd, ["+30s", "-30s", "+600s", "-5s"]);
      note(step);
      writeClock(site.files.clockB, step);
      return async () => writeClock(site.files.clockB, "+0");
    },
  },
];

export const byName = (name: string): FaultKind => {
  const f = FAULTS.find((k) => k.name === name);
  if (!f) throw new Error(`no fault "${name}"; there are: ${FAULTS.map((k) => k.name).join("; ")}`);
  return f;
};

/** a fault drawn by weight */
export function drawFault(rnd: () => number, kinds = FAULTS): FaultKind {
  const total = kinds.reduce((n, k) => n + k.weight, 0);
  let x = rnd() * total;
  for (const k of kinds) if ((x -= k.weight) < 0) return k;
  return kinds[kinds.length - 1]!;
}

export { other };
