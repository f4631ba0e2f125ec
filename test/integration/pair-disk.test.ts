// The node's data directory on real disks (real processes, loopback):
//  - S1: a standby whose disk is full at the moment it must take over never
//    acts on an epoch it could not persist: it stops acting at once, nothing
//    carrying the new epoch leaves it (a listener on the dead active's own
//    heartbeat ports is the witness of that), and it exits 1;
//  - the documented recovery of a lost data dir (remove it, start the node)
//    brings the node back into the pair at once.
import { execFileSync } from "node:child_process";
import dgram from "node:dgram";
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { keyFromSecret, open } from "../../redundancy/wire.js";
import type { Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

/** Listens on a port a dead node used: what the live one keeps sending there is recorded. */
async function listenOn(port: number): Promise<dgram.Socket & { got: Buffer[] }> {
  const s = Object.assign(dgram.createSocket("udp4"), { got: [] as Buffer[] });
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, "127.0.0.1", () => resolve());
  });
  s.on("message", (b) => s.got.push(b));
  return s;
}

function epochsIn(c: Cluster, datagrams: Buffer[]): number[] {
  const key = keyFromSecret(c.key);
  return datagrams.flatMap((b) => {
    const r = open(b, () => key);
    return r.ok && typeof r.env.body.epoch === "number" ? [r.env.body.epoch] : [];
  });
}

describe("the data directory", () => {
  it("S1: a standby that cannot persist its takeover epoch (disk full) isolates at once, sends nothing with that epoch, exits 1, and rejoins once the disk is fixed", async () => {
    const cluster = await pair.start({ witness: false, direct: true });
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    const dataDir = join(cluster.dir, `data-${standby}`);
    // a full disk under the standby's data dir (as root: a tiny tmpfs, then filled)
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dataDir]);
    const listeners: (dgram.Socket & { got: Buffer[] })[] = [];
    try {
      try {
        writeFileSync(join(dataDir, "filler"), Buffer.alloc(1 << 20));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
      }
      cluster.signal(active, "SIGKILL");
      await cluster.exited(active);
      // everything the standby sends to the dead active's heartbeat ports from now on
      listeners.push(await listenOn(cluster.ports[active].lan), await listenOn(cluster.ports[active].plant));
      const { code } = await cluster.exited(standby, 15_000);
      expect(code).toBe(1);
      const log = cluster.logTail(standby, 200);
      expect(log).toMatch(/cannot go on safely: .*epoch store .*ENOSPC/);
      expect(log).toMatch(/"to":"isolated"/);
      const sent = epochsIn(cluster, listeners.flatMap((l) => l.got));
      expect(sent.length).toBeGreaterThan(0); // it kept talking until it stopped …
      expect(Math.max(...sent)).toBe(epoch); // … but never with an epoch it could not persist
      expect(cluster.transitions(standby).filter((t) => t.to === "active" || t.to === "active-held")).toEqual([]);
    } finally {
      for (const l of listeners) l.close();
      execFileSync("umount", ["-l", dataDir]);
    }
    // the disk is fixed (unmounted: the node's own files are there again); both come back,
    // and the one that takes the role holds the process (both had crashed)
    cluster.startNode(standby);
    cluster.startNode(active);
    await cluster.waitFor(standby, (s) => (s.state === "active-held" && s.peer.state === "standby") || (s.state === "standby" && s.peer.state === "active-held"), 15_000, "the pair back, held");
  });

  it("a node whose data dir was removed (the recovery the error message advises) rejoins the pair at once", async () => {
    const cluster = await pair.start({ witness: false });
    const { active, standby } = await cluster.ready();
    // a node that has run a while and restarted before: the peer knows a later process of it
    for (let i = 0; i < 2; i++) {
      cluster.signal(standby, "SIGTERM");
      expect((await cluster.exited(standby)).code).toBe(0);
      cluster.startNode(standby);
      await cluster.waitFor(standby, (s) => s.pid === cluster.pid(standby) && s.state === "standby" && s.peer.state === "active", 15_000, "the standby back");
    }
    cluster.signal(standby, "SIGTERM");
    expect((await cluster.exited(standby)).code).toBe(0);
    rmSync(join(cluster.dir, `data-${standby}`), { recursive: true, force: true });
    cluster.startNode(standby);
    await cluster.waitFor(standby, (s) => s.state !== "starting", 15_000, "the new process is up");
    // the active hears the new process (its replay guard accepts the new incarnation) …
    const seen = await cluster.waitFor(active, (s) => s.peer.state === "standby" && s.peer.links.every((l) => l.up), 3000, "active sees the wiped standby on every link");
    // … and the standby follows the active's epoch again
    await cluster.waitFor(standby, (s) => s.state === "standby" && s.epoch === seen.epoch && s.peer.state === "active", 5000, "standby follows the active");
    expect(seen.counters.peer_rejected_old_incarnation ?? 0).toBe(0);
  });
});
