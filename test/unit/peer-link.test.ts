// The peer link on real loopback sockets, with the peer played by a raw UDP
// socket that holds the pair key (it can sign anything a real peer could).
// S1, S4: a lease grant counts only for the request it answers — this
// process's incarnation, that request number, the link it was sent on —
// so an answer to an older incarnation's request (whose numbers repeat) can
// never extend a lease that was never asked for.
import dgram from "node:dgram";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nullLogger } from "../../core/logger.js";
import { PeerLink } from "../../redundancy/peer-link.js";
import { keyFromSecret, open, Sender } from "../../redundancy/wire.js";
import { freePort } from "../helpers/cluster.js";

const KEY = keyFromSecret("unit-test-pair-key-0123456789abcdef0123");
const HB = { state: "active" as const, epoch: 4, level: 255, role: "main" as const, leaseReq: true, candidate: false, leaseMs: 1000, settled: true };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function udp(port: number): Promise<dgram.Socket & { got: Buffer[] }> {
  const s = Object.assign(dgram.createSocket("udp4"), { got: [] as Buffer[] });
  await new Promise<void>((r) => s.bind(port, "127.0.0.1", () => r()));
  s.on("message", (b) => s.got.push(b));
  let open = true;
  s.once("close", () => (open = false));
  cleanups.push(() => (open ? new Promise<void>((r) => s.close(() => r())) : undefined));
  return s;
}

/** node a's link (incarnation `inc`) and two raw sockets standing in for b's lan and plant ports */
async function setup(inc: number) {
  const [aLan, aPlant, bLan, bPlant, aPeer, bPeer] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const peer = { lan: await udp(bLan), plant: await udp(bPlant) };
  const grants: { link: string; sentAt: number; leaseMs: number; epoch: number }[] = [];
  const refused: string[] = [];
  const link = new PeerLink(
    {
      pairId: "it",
      nodeId: "a",
      peerId: "b",
      key: KEY,
      incarnation: inc,
      links: [
        { name: "lan", bind: { host: "127.0.0.1", port: aLan }, peer: { host: "127.0.0.1", port: bLan } },
        { name: "plant", bind: { host: "127.0.0.1", port: aPlant }, peer: { host: "127.0.0.1", port: bPlant } },
      ],
      listen: { host: "127.0.0.1", port: aPeer },
      peerAddress: { host: "127.0.0.1", port: bPeer },
      replayWindow: 64,
      reconnectMs: 100_000,
      log: nullLogger,
    },
    { heartbeat: () => {}, grant: (l, sentAt, leaseMs, epoch) => grants.push({ link: l, sentAt, leaseMs, epoch }), message: () => {}, tcp: () => {}, linkRefused: (l) => refused.push(l) },
  );
  await link.start();
  cleanups.push(() => link.stop());
  const b = new Sender({ pair: "it", from: "b", inc: 77, key: KEY });
  const grant = (via: "lan" | "plant", body: Record<string, unknown>) =>
    new Promise<void>((r) => peer[via].send(b.seal(via, "grant", body).bytes, via === "lan" ? aLan : aPlant, "127.0.0.1", () => r()));
  return { link, peer, grants, grant, refused };
}

/** the heartbeat seq a's link sent on `via`, as the peer received it */
async function lastRequest(peer: dgram.Socket & { got: Buffer[] }): Promise<{ seq: number; inc: number }> {
  await vi.waitFor(() => expect(peer.got.length).toBeGreaterThan(0), { timeout: 2000 });
  const r = open(peer.got.at(-1)!, () => KEY);
  if (!r.ok) throw new Error(r.reason);
  return { seq: r.env.seq, inc: r.env.inc };
}

describe("peer link: grants are bound to the request they answer (S1, S4)", () => {
  it("a grant naming an older incarnation of this node is dropped, even for a request number this process also used", async () => {
    const { link, peer, grants, grant } = await setup(5000);
    link.sendHeartbeat(HB);
    const req = await lastRequest(peer.lan);
    expect(req.inc).toBe(5000);
    // the previous process (incarnation 4999) sent request numbers from 1 too: its grant must not count now
    await grant("lan", { reqSeq: req.seq, reqInc: 4999, leaseMs: 1000, epoch: 4 });
    await grant("lan", { reqSeq: req.seq + 100, reqInc: 5000, leaseMs: 1000, epoch: 4 }); // never asked
    await grant("plant", { reqSeq: req.seq, reqInc: 5000, leaseMs: 1000, epoch: 4 }); // asked on lan, answered on plant
    await grant("lan", { reqSeq: req.seq, reqInc: 5000, leaseMs: 1000, epoch: 4 }); // the real answer
    await vi.waitFor(() => expect(grants.length).toBe(1), { timeout: 2000 });
    expect(grants[0]).toMatchObject({ link: "lan", leaseMs: 1000, epoch: 4 });
    expect(link.counters().rejected_grant_not_ours).toBe(3);
  });

  it("a grant carries the requester's incarnation, not the granter's", async () => {
    const { link, peer } = await setup(6000);
    // a heartbeat from b (incarnation 77, seq 9) asked for a lease; a answers it
    link.sendGrant("lan", 9, 77, 1000, 4);
    await vi.waitFor(() => expect(peer.lan.got.length).toBeGreaterThan(0), { timeout: 2000 });
    const r = peer.lan.got.map((b) => open(b, () => KEY)).find((x) => x.ok && x.env.type === "grant");
    expect(r && r.ok && r.env.body).toMatchObject({ reqSeq: 9, reqInc: 77, leaseMs: 1000, epoch: 4 });
  });
});

describe("peer link: the kernel's word that the peer's process is gone (L1)", () => {
  it("a datagram to a heartbeat port nobody listens on is reported refused, on that link only", async () => {
    const { link, peer, refused } = await setup(7000);
    link.sendHeartbeat(HB);
    await vi.waitFor(() => expect(peer.lan.got.length + peer.plant.got.length).toBe(2), { timeout: 2000 });
    expect(refused).toEqual([]);
    await new Promise<void>((r) => peer.plant.close(() => r())); // the port closes, as when the process dies
    link.sendHeartbeat(HB);
    await vi.waitFor(() => expect(refused).toEqual(["plant"]), { timeout: 2000 });
    expect(link.counters().refused_plant).toBe(1);
    // back to back: the kernel may hand the second answer to the second send
    // itself (the error still pending when it was made): that is a refusal too
    link.sendHeartbeat(HB);
    link.sendHeartbeat(HB);
    // (two answers pending at once are one socket error: at least one more refusal, and never an "error")
    await vi.waitFor(() => expect(refused.length).toBeGreaterThanOrEqual(2), { timeout: 2000 });
    expect(refused.every((l) => l === "plant")).toBe(true);
    expect(link.counters().udp_errors ?? 0).toBe(0);
  });
});
