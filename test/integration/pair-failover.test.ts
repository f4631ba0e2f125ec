// Real node processes on loopback: unplanned takeover (kill -9) and planned
// handover (SIGTERM). Defends S1 (one active), S3 (held until confirmed) and
// the clean-stop contract of `tandem start`.
import { describe, expect, it } from "vitest";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

describe("takeover and handover between real processes", () => {
  it("kill -9 of the active: the standby becomes active-held with epoch+1, active after confirm; the old active rejoins as standby (S1, S3)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const before = (await cluster.status(active))!;
    expect(before.pid).toBe(cluster.pid(active));
    cluster.startSampling();

    cluster.signal(active, "SIGKILL");
    const held = await cluster.waitFor(standby, (s) => s.state === "active-held", 5000, "active-held");
    expect(held.epoch).toBe(before.epoch + 1);
    expect(held.context.held).toBe(true);
    expect(held.message).toMatch(/HELD/);

    // S3: nothing resumes the process but an operator; a viewer may not confirm
    const viewer = await cluster.api(standby, "POST", "/confirm", {}, "viewer");
    expect(viewer.status).toBe(403);
    await new Promise((r) => setTimeout(r, 500));
    expect((await cluster.status(standby))!.state).toBe("active-held");

    const ok = await cluster.api(standby, "POST", "/confirm", {}, "operator");
    expect(ok.status).toBe(200);
    expect(ok.json.state).toBe("active");
    const audit = await cluster.api(standby, "GET", "/audit?limit=20", undefined, "viewer");
    expect(JSON.stringify(audit.json)).toContain('"action":"confirm"');
    expect(JSON.stringify(audit.json)).toContain('"user":"operator"');

    // the old active comes back (as systemd would restart it): standby, new epoch
    cluster.startNode(active);
    const back = await cluster.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", 10_000, "rejoined as standby");
    expect(back.epoch).toBe(before.epoch + 1);
    cluster.stopSampling();
    expect(cluster.twoActives()).toEqual([]);
  });

  it("SIGTERM of the active hands over cleanly: the peer is active (not held) with epoch+1 and the old process exits 0 leaving nothing open", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    cluster.startSampling();
    // twice, as a Ctrl-C to a process group plus a service manager would: the
    // second signal must not cut the handover short
    cluster.signal(active, "SIGTERM");
    cluster.signal(active, "SIGTERM");
    const exit = await cluster.exited(active);
    // TANDEM_CHECK_HANDLES=1: exit 3 if a timer, socket or handle were left open
    expect(exit.code).toBe(0);
    const now = await cluster.waitFor(standby, (s) => s.state === "active", 5000, "active after handover");
    expect(now.epoch).toBe(epoch + 1);
    expect(now.context.held).toBe(false);
    cluster.stopSampling();
    expect(cluster.twoActives()).toEqual([]);
    const t = cluster.transitions(standby).filter((x) => x.to === "active-held");
    expect(t).toEqual([]);
  });

  it("switchover from the API: the roles swap with nothing held, and back again", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const epoch = (await cluster.status(active))!.epoch;
    cluster.startSampling();
    const r = await cluster.api(active, "POST", "/switchover", {});
    expect(r.status).toBe(200);
    expect(r.json.to).toBe(standby);
    const s = await cluster.waitFor(standby, (x) => x.state === "active", 3000, "active");
    expect(s.epoch).toBe(epoch + 1);
    await cluster.waitFor(active, (x) => x.state === "standby" && x.peer.state === "active", 3000, "standby");
    // asked of the standby: it asks the active to hand over
    const back = await cluster.api(active, "POST", "/switchover", {});
    expect(back.status).toBe(200);
    await cluster.waitFor(active, (x) => x.state === "active" && x.epoch === epoch + 2, 3000, "active again");
    // an operator may not switch over; a held node refuses
    expect((await cluster.api(active, "POST", "/switchover", {}, "operator")).status).toBe(403);
    cluster.stopSampling();
    expect(cluster.twoActives()).toEqual([]);
  });
});
