// Partitions and frozen processes between real nodes: the active that can
// renew its lease through neither the peer nor the witness stops acting
// (S1); a frozen active is taken over only after its lease ran out at the
// witness, and never acts again when it wakes up (S1, S3).
import { describe, expect, it } from "vitest";
import { expectOneActive, sampledBoth, useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

describe("partitions and frozen processes", () => {
  it("witness and peer link lost together: the active becomes isolated, the standby never takes over; healed → one active, in one epoch (S1)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    cluster.startSampling();
    await sampledBoth(cluster);
    await cluster.stopWitness("SIGKILL");
    cluster.cutPeer(true);
    const iso = await cluster.waitFor(active, (s) => s.state === "isolated", 4000, "isolated");
    expect(iso.message).toMatch(/lease lost/);
    // well past lease + timeouts: the standby never acts, the isolated node stays put
    await Promise.all([
      cluster.holds(standby, (s) => s.state === "standby" && s.epoch === epoch, 2500, "the standby does not act without the witness"),
      cluster.holds(active, (s) => s.state === "isolated", 2500, "the isolated node stays isolated"),
    ]);
    cluster.cutPeer(false);
    await cluster.waitFor(active, (s) => s.state === "active" || s.peer.state === "active", 6000, "one active again");
    // both nodes agree: one active, the other standby, the same epoch, never below the one before the split
    // (the standby learns the new epoch when it grants the election, a heartbeat
    // before it hears the peer say active: wait for that word too)
    const both = await cluster.waitFor(standby, (s) => s.peer.state !== "unknown" && s.peer.epoch === s.epoch && (s.state === "active" || s.peer.state === "active"), 3000, "the nodes agree on the epoch");
    expect([both.state, both.peer.state].sort()).toEqual(["active", "standby"]);
    expect(both.epoch).toBeGreaterThanOrEqual(epoch);
    await sampledBoth(cluster);
    expectOneActive(cluster, { acted: [active] });
  });

  it("SIGSTOP of the active: taken over held only after its lease ran out at the witness; on SIGCONT it never acts again (S1, S3)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(standby))!.epoch;
    cluster.startSampling();
    await sampledBoth(cluster);
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
    // the frozen node's last state before the stop was active: it must never
    // have reported acting together with the new active
    await sampledBoth(cluster);
    expectOneActive(cluster, { acted: [active, standby] });
    // from its own log: after the freeze it only ever stepped down
    const after = cluster.transitions(active).filter((x) => x.time > t0);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((x) => x.to === "active" || x.to === "active-held")).toEqual([]);
    expect(after.at(-1)!.to).toBe("standby");
  });

  it("one link of two down is a degradation, not a failure: no takeover, the link shows down, the service level drops and says why, and recovers", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    cluster.cutLink("plant", true);
    const s = await cluster.waitFor(standby, (x) => x.peer.links.some((l) => l.name === "plant" && !l.up), 3000, "plant link down");
    expect(s.peer.links.find((l) => l.name === "lan")!.up).toBe(true);
    const degraded = await cluster.waitFor(active, (x) => x.serviceLevel < 255, 3000, "the active's service level drops");
    expect(degraded.serviceLevelReasons).toContain("link plant down");
    // past the heartbeat timeout and a lease: nothing moves
    await Promise.all([
      cluster.holds(active, (x) => x.state === "active" && x.epoch === epoch, 1500, "the active stays active in its epoch"),
      cluster.holds(standby, (x) => x.state === "standby" && x.epoch === epoch, 1500, "the standby stays standby"),
    ]);
    cluster.cutLink("plant", false);
    await cluster.waitFor(standby, (x) => x.peer.links.every((l) => l.up), 3000, "links up");
    await cluster.waitFor(active, (x) => x.serviceLevel === 255 && x.serviceLevelReasons.length === 0, 3000, "full service level again");
  });
});
