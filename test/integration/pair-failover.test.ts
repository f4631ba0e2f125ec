// Real node processes on loopback: unplanned takeover (kill -9) and planned
// handover (SIGTERM, switchover). Defends S1 (one active), S3 (held until
// confirmed), S4 (roles and audit) and the clean-stop contract of `tandem start`.
import { describe, expect, it } from "vitest";
import { expectOneActive, sampledBoth, useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

describe("takeover and handover between real processes", () => {
  it("kill -9 of the active: the standby becomes active-held with epoch+1, stays held until an operator confirms, and the old active rejoins as standby (S1, S3, S4)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const before = (await cluster.status(active))!;
    expect(before.pid).toBe(cluster.pid(active));
    cluster.startSampling();
    await sampledBoth(cluster); // the samples cover the pair before the kill

    cluster.signal(active, "SIGKILL");
    const held = await cluster.waitFor(standby, (s) => s.state === "active-held", 5000, "active-held");
    expect(held.epoch).toBe(before.epoch + 1);
    expect(held.context.held).toBe(true);
    expect(held.message).toMatch(/HELD/);

    // S3: nothing resumes the process but an operator; S4: a viewer may not confirm
    const viewer = await cluster.api(standby, "POST", "/confirm", {}, "viewer");
    expect(viewer.status).toBe(403);
    await cluster.holds(standby, (s) => s.state === "active-held" && s.context.held, 500, "held while no operator has confirmed");

    const ok = await cluster.api(standby, "POST", "/confirm", {}, "operator");
    expect(ok.status).toBe(200);
    expect(ok.json.state).toBe("active");
    const audit = (await cluster.api(standby, "GET", "/audit?limit=20", undefined, "viewer")).json.entries as { action: string; user: string; result: string }[];
    expect(audit.filter((e) => e.action === "confirm").map((e) => [e.user, e.result])).toEqual([
      ["operator", "requested"],
      ["operator", "ok"],
    ]);

    // the old active comes back (as systemd would restart it): standby, new epoch
    cluster.startNode(active);
    const back = await cluster.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", 10_000, "rejoined as standby");
    expect(back.epoch).toBe(before.epoch + 1);
    await sampledBoth(cluster); // the samples cover the pair after the rejoin
    expectOneActive(cluster, { acted: [active, standby] });
  });

  it("SIGTERM of the active hands over cleanly: the peer is active (not held) with epoch+1 and the old process exits 0 leaving nothing open (S1)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    cluster.startSampling();
    await sampledBoth(cluster);
    // twice, as a Ctrl-C to a process group plus a service manager would: the
    // second signal must not cut the handover short
    const t0 = Date.now();
    cluster.signal(active, "SIGTERM");
    cluster.signal(active, "SIGTERM");
    const exit = await cluster.exited(active);
    // TANDEM_CHECK_HANDLES=1: exit 3 if a timer, socket or handle were left open
    expect(exit.code).toBe(0);
    const now = await cluster.waitFor(standby, (s) => s.state === "active", 5000, "active after handover");
    expect(now.epoch).toBe(epoch + 1);
    expect(now.context.held).toBe(false);
    expectOneActive(cluster, { acted: [active, standby] });
    // from the standby's own log: it went straight to active in the new epoch, never through held
    const moves = cluster.transitions(standby).filter((x) => x.time >= t0);
    expect(moves.map((x) => [x.from, x.to, x.epoch])).toEqual([["standby", "active", epoch + 1]]);
  });

  it("switchover from the API swaps the roles with nothing held, and back again; an operator may not switch over (S1, S4)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    cluster.startSampling();
    await sampledBoth(cluster);
    const r = await cluster.api(active, "POST", "/switchover", {});
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ from: active, to: standby, epoch: epoch + 1 });
    const s = await cluster.waitFor(standby, (x) => x.state === "active", 3000, "active");
    expect(s.epoch).toBe(epoch + 1);
    expect(s.context.held).toBe(false);
    await cluster.waitFor(active, (x) => x.state === "standby" && x.peer.state === "active", 3000, "standby");
    // the S1 sampler has seen this side of the swap (on a loaded machine a quick swap back could fall between its samples)
    await sampledBoth(cluster, 2);
    // asked of the standby: it asks the active to hand over
    const back = await cluster.api(active, "POST", "/switchover", {});
    expect(back.status).toBe(200);
    expect(back.json).toMatchObject({ from: standby, to: active, epoch: epoch + 2 });
    const again = await cluster.waitFor(active, (x) => x.state === "active" && x.epoch === epoch + 2, 3000, "active again");
    expect(again.context.held).toBe(false);
    // S4: switchover needs the admin role; the operator's attempt changes nothing
    const refused = await cluster.api(active, "POST", "/switchover", {}, "operator");
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/needs admin/);
    expect((await cluster.status(active))!.state).toBe("active");
    await sampledBoth(cluster);
    expectOneActive(cluster, { acted: [active, standby] });
    // from the nodes' own logs: each became active by switchover, neither was ever held
    for (const id of [active, standby]) {
      const tos = cluster.transitions(id).map((x) => x.to);
      expect(tos).toContain("active");
      expect(tos).not.toContain("active-held");
    }
  });
});
