// App messages over a real peer connection between two PeerLinks on
// loopback: small and large ones (a catch-up chunk, written after its length
// prefix without being copied into one buffer with it) arrive whole and in
// the order they were sent.
import { afterEach, describe, expect, it, vi } from "vitest";
import { nullLogger } from "../../core/logger.js";
import { PeerLink } from "../../redundancy/peer-link.js";
import { keyFromSecret } from "../../redundancy/wire.js";
import { freePort } from "../helpers/cluster.js";

const KEY = keyFromSecret("unit-test-pair-key-0123456789abcdef0123");
const links: PeerLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) await l.stop();
});

async function node(id: "a" | "b", ports: Record<string, number>, got: { topic: string; data: Record<string, unknown> }[]): Promise<PeerLink> {
  const other = id === "a" ? "b" : "a";
  const link = new PeerLink(
    {
      pairId: "it",
      nodeId: id,
      peerId: other,
      key: KEY,
      incarnation: id === "a" ? 100 : 200,
      links: [{ name: "lan", bind: { host: "127.0.0.1", port: ports[`${id}Lan`] }, peer: { host: "127.0.0.1", port: ports[`${other}Lan`] } }],
      listen: { host: "127.0.0.1", port: ports[`${id}Peer`] },
      peerAddress: { host: "127.0.0.1", port: ports[`${other}Peer`] },
      replayWindow: 64,
      reconnectMs: 50,
      log: nullLogger,
    },
    { heartbeat: () => {}, grant: () => {}, message: () => {}, tcp: () => {}, linkRefused: () => {}, app: (topic, data) => got.push({ topic, data }) },
  );
  await link.start();
  links.push(link);
  return link;
}

describe("peer connection: app messages", () => {
  it("small and large messages arrive whole and in order", async () => {
    const [aLan, bLan, aPeer, bPeer] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const ports = { aLan, bLan, aPeer, bPeer };
    const atB: { topic: string; data: Record<string, unknown> }[] = [];
    const a = await node("a", ports, []);
    await node("b", ports, atB);
    await vi.waitFor(() => expect(a.sendApp("t", { n: -1 })).toBe(true), { timeout: 5000, interval: 20 });
    const sizes = [10, 300_000, 20, 900_000, 70_000, 5, 65_536];
    sizes.forEach((n, i) => expect(a.sendApp("t", { n: i, pad: "é".repeat(Math.floor(n / 2)) })).toBe(true));
    await vi.waitFor(() => expect(atB.filter((m) => (m.data.n as number) >= 0)).toHaveLength(sizes.length), { timeout: 5000 });
    const got = atB.filter((m) => (m.data.n as number) >= 0);
    expect(got.map((m) => m.data.n)).toEqual(sizes.map((_, i) => i));
    got.forEach((m, i) => expect((m.data.pad as string).length).toBe(Math.floor(sizes[i] / 2)));
  });
});
