// Partitions and frozen processes between real nodes: the active that can
// renew its lease through neither the peer nor the witness stops acting
// (S1); a frozen active is taken over only after its lease ran out at the
// witness, and never acts again when it wakes up.
import { describe, expect, it } from "vitest";
import { sleep } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

describe("partitions and frozen processes", () => {
  it("witness and peer link lost together: the active becomes isolated, the standby never takes over; healed → one active (S1)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    cluster.startSampling();
    await cluster.stopWitness("SIGKILL");
    cluster.cutPeer(true);
    const iso = await cluster.waitFor(active, (s) => s.state === "isolated", 4000, "isolated");
    expect(iso.message).toMatch(/lease lost/);
    // well past lease + timeouts: the standby must still not act
    await sleep(2500);
    expect((await cluster.status(standby))!.state).toBe("standby");
    expect((await cluster.status(active))!.state).toBe("isolated");
    cluster.cutPeer(false);
    const a = await cluster.waitFor(active, (s) => s.state === "active" || s.peer.state === "active", 6000, "one active again");
    expect(a.state === "active" || a.peer.state === "active").toBe(true);
    cluster.stopSampling();
    expect(cluster.twoActives()).toEqual([]);
  });

  it("SIGSTOP of the active: taken over only after its lease ran out at the witness; on SIGCONT it never acts again (S1)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(standby))!.epoch;
    cluster.startSampling();
    const t0 = Date.now();
    cluster.signal(active, "SIGSTOP");
    const held = await cluster.waitFor(standby, (s) => s.state === "active-held", 5000, "active-held");
    const took = Date.now() - t0;
    expect(held.epoch).toBe(epoch + 1);
    // the lease is 1000 ms: the witness may not grant before it runs out
    expect(took).toBeGreaterThanOrEqual(900);
    cluster.signal(active, "SIGCONT");
    const resumed = await cluster.waitFor(active, (s) => s.state === "standby" && s.epoch === epoch + 1, 5000, "standby after resume");
    expect(resumed.peer.state).toBe("active-held");
    cluster.stopSampling();
    // the frozen node's last state before the stop was active: it must never
    // have reported acting together with the new active
    expect(cluster.twoActives()).toEqual([]);
    const after = cluster.transitions(active).filter((x) => x.time > t0);
    expect(after.every((x) => x.to !== "active" && x.to !== "active-held")).toBe(true);
  });

  it("one link of two down is a degradation, not a failure: no takeover, the link shows down, service level drops", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    cluster.cutLink("plant", true);
    const s = await cluster.waitFor(standby, (x) => x.peer.links.some((l) => l.name === "plant" && !l.up), 3000, "plant link down");
    expect(s.peer.links.find((l) => l.name === "lan")!.up).toBe(true);
    await sleep(1500);
    const a = (await cluster.status(active))!;
    expect(a.state).toBe("active");
    expect(a.epoch).toBe(epoch);
    expect(a.serviceLevel).toBeLessThan(255);
    expect((await cluster.status(standby))!.state).toBe("standby");
    cluster.cutLink("plant", false);
    await cluster.waitFor(standby, (x) => x.peer.links.every((l) => l.up), 3000, "links up");
  });
});
