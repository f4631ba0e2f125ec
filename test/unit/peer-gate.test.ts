// The peer port before authentication (S4, S5), on real loopback sockets
// against a real PeerLink: anyone on the plant network can connect, so a
// connection that has not authenticated gets 2 s, a hello-sized first frame
// and a place among a bounded number of others — and the real peer still
// gets in while the port is flooded.
import net from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nullLogger } from "../../core/logger.js";
import { frame } from "../../redundancy/frame-decoder.js";
import { LARGEST_HELLO_BYTES, PREAUTH_DEFAULTS, type PreAuthLimits } from "../../redundancy/peer-gate.js";
import { PeerLink } from "../../redundancy/peer-link.js";
import type { PeerMessage } from "../../redundancy/role-types.js";
import { keyFromSecret, Sender } from "../../redundancy/wire.js";
import { freePort } from "../helpers/cluster.js";

const KEY = keyFromSecret("unit-test-pair-key-0123456789abcdef0123");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Node {
  link: PeerLink;
  tcp: string[];
  messages: PeerMessage[];
  port: number;
}

/** A real PeerLink `id` listening on `port`, connecting out to `peerPort`. */
async function node(id: "a" | "b", port: number, peerPort: number, preAuth?: Partial<PreAuthLimits>): Promise<Node> {
  const tcp: string[] = [];
  const messages: PeerMessage[] = [];
  const [lan, peerLan] = [await freePort(), await freePort()];
  const link = new PeerLink(
    {
      pairId: "it",
      nodeId: id,
      peerId: id === "a" ? "b" : "a",
      key: KEY,
      incarnation: id === "a" ? 11 : 22,
      links: [{ name: "lan", bind: { host: "127.0.0.1", port: lan }, peer: { host: "127.0.0.1", port: peerLan } }],
      listen: { host: "127.0.0.1", port },
      peerAddress: { host: "127.0.0.1", port: peerPort },
      replayWindow: 64,
      reconnectMs: 100,
      log: nullLogger,
      preAuth,
    },
    { heartbeat: () => {}, grant: () => {}, message: (m) => messages.push(m), tcp: (s) => tcp.push(s), linkRefused: () => {} },
  );
  await link.start();
  cleanups.push(() => link.stop());
  return { link, tcp, messages, port };
}

/** A raw TCP client from `from` (any 127/8 address): records when the node closed it. */
function client(port: number, from = "127.0.0.1") {
  const s = net.connect({ host: "127.0.0.1", port, localAddress: from });
  const c = { s, closedAt: 0, connected: false, openedAt: performance.now() };
  s.on("connect", () => (c.connected = true));
  s.on("error", () => undefined);
  s.on("close", () => (c.closedAt = performance.now()));
  cleanups.push(() => void s.destroy());
  return c;
}

const dropped = (n: Node, reason: string) => n.link.counters()[`conn_dropped_${reason}`] ?? 0;

describe("the peer port before authentication (S4, S5)", () => {
  it("the tiny first-frame limit sits just above the largest hello a real node sends", () => {
    const id = "x".repeat(64); // the longest pair and node ids the config allows
    const s = new Sender({ pair: id, from: id, inc: Number.MAX_SAFE_INTEGER, key: KEY, wallClock: () => Number.MAX_SAFE_INTEGER });
    (s as unknown as { seq: number }).seq = Number.MAX_SAFE_INTEGER - 1;
    const hello = s.seal("tcp", "hello", {}).bytes;
    expect(hello.length).toBe(LARGEST_HELLO_BYTES);
    expect(PREAUTH_DEFAULTS.maxFrame).toBeGreaterThanOrEqual(hello.length);
    expect(PREAUTH_DEFAULTS.maxFrame - hello.length).toBeLessThanOrEqual(32);
  });

  it("a silent connection is closed after the 2 s pre-auth limit, counted", async () => {
    const a = await node("a", await freePort(), await freePort());
    const c = client(a.port);
    await vi.waitFor(() => expect(c.connected).toBe(true), { timeout: 2000 });
    await vi.waitFor(() => expect(c.closedAt).toBeGreaterThan(0), { timeout: 5000, interval: 50 });
    const heldMs = c.closedAt - c.openedAt;
    expect(heldMs).toBeGreaterThanOrEqual(PREAUTH_DEFAULTS.timeoutMs - 100);
    expect(heldMs).toBeLessThan(PREAUTH_DEFAULTS.timeoutMs + 1500);
    expect(dropped(a, "preauth_timeout")).toBe(1);
  });

  it("a byte dribble that never completes a frame is closed at the same limit", async () => {
    const a = await node("a", await freePort(), await freePort());
    const c = client(a.port);
    await vi.waitFor(() => expect(c.connected).toBe(true), { timeout: 2000 });
    c.s.write(Buffer.from([0, 0, 1, 0])); // a 256-byte frame, within the first-frame limit…
    const dribble = setInterval(() => c.closedAt || c.s.write(Buffer.from([7])), 100); // …one byte every 100 ms
    cleanups.push(() => clearInterval(dribble));
    await vi.waitFor(() => expect(c.closedAt).toBeGreaterThan(0), { timeout: 5000, interval: 50 });
    expect(c.closedAt - c.openedAt).toBeLessThan(PREAUTH_DEFAULTS.timeoutMs + 1500);
    expect(dropped(a, "preauth_timeout")).toBe(1);
  });

  it("an unauthenticated frame header announcing 1 MiB closes the connection at once, before any payload is read", async () => {
    const a = await node("a", await freePort(), await freePort());
    const c = client(a.port);
    await vi.waitFor(() => expect(c.connected).toBe(true), { timeout: 2000 });
    const sentAt = performance.now();
    c.s.write(Buffer.from([0x00, 0x10, 0x00, 0x00])); // the header alone: nothing to buffer
    await vi.waitFor(() => expect(c.closedAt).toBeGreaterThan(0), { timeout: 1500, interval: 10 });
    expect(c.closedAt - sentAt).toBeLessThan(1000); // not the 2 s timer
    expect(dropped(a, "preauth_frame_too_large")).toBe(1);
    expect(a.link.counters().rejected_bad_frame).toBe(1);
  });

  it("one byte over the first-frame limit is refused; a junk frame within it is read and refused for its MAC", async () => {
    const a = await node("a", await freePort(), await freePort());
    const over = client(a.port);
    over.s.write(frame(Buffer.alloc(PREAUTH_DEFAULTS.maxFrame + 1, 1)));
    const junk = client(a.port);
    junk.s.write(frame(Buffer.alloc(PREAUTH_DEFAULTS.maxFrame, 1)));
    await vi.waitFor(() => expect(over.closedAt * junk.closedAt).toBeGreaterThan(0), { timeout: 1500, interval: 10 });
    expect(dropped(a, "preauth_frame_too_large")).toBe(1);
    expect(dropped(a, "preauth_not_authenticated")).toBe(1);
  });

  it("once the hello authenticated, a large frame in the same write is read (the limit rises after authentication)", async () => {
    const a = await node("a", await freePort(), await freePort());
    const b = new Sender({ pair: "it", from: "b", inc: 5, key: KEY });
    const c = client(a.port);
    const big = b.seal("tcp", "switchover-offer", { epoch: 3, reason: "test", pad: "y".repeat(50_000) }).bytes;
    c.s.write(Buffer.concat([frame(b.seal("tcp", "hello", {}).bytes), frame(big)]));
    await vi.waitFor(() => expect(a.messages).toEqual([{ type: "switchover-offer", epoch: 3, reason: "test" }]), { timeout: 2000 });
    expect(a.tcp).toContain("up");
    // and an authenticated connection is not subject to the pre-auth timer
    await new Promise((r) => setTimeout(r, PREAUTH_DEFAULTS.timeoutMs + 300));
    expect(c.closedAt).toBe(0);
    expect(dropped(a, "preauth_timeout")).toBe(0);
  });

  it("one address gets 4 unauthenticated connections; more are closed at accept, and the real peer still connects", async () => {
    const [aPort, bPort] = [await freePort(), await freePort()];
    // a long timer, so every flood connection is still held when the peer comes
    const a = await node("a", aPort, await freePort(), { timeoutMs: 20_000 });
    const flood = Array.from({ length: 12 }, () => client(aPort, "127.0.0.9"));
    await vi.waitFor(() => expect(dropped(a, "preauth_too_many_from_address")).toBe(8), { timeout: 3000 });
    await vi.waitFor(() => expect(flood.filter((c) => c.closedAt > 0)).toHaveLength(8), { timeout: 3000 });
    // the real peer connects from its own address (a's outbound goes nowhere:
    // only b's connection into the flooded port can bring a's link up)
    await node("b", bPort, aPort);
    await vi.waitFor(() => expect(a.tcp).toContain("up"), { timeout: 3000 });
    expect(flood.filter((c) => c.closedAt === 0)).toHaveLength(4);
  });

  it("at most 64 unauthenticated connections at once from any number of addresses; the peer's own address keeps its share", async () => {
    const [aPort, bPort] = [await freePort(), await freePort()];
    const a = await node("a", aPort, await freePort(), { timeoutMs: 20_000 });
    const flood: ReturnType<typeof client>[] = [];
    for (let i = 0; i < 20; i++) for (let k = 0; k < 4; k++) flood.push(client(aPort, `127.0.0.${10 + i}`));
    await vi.waitFor(() => expect(dropped(a, "preauth_too_many")).toBe(80 - PREAUTH_DEFAULTS.maxConns), { timeout: 5000 });
    await vi.waitFor(() => expect(flood.filter((c) => c.closedAt > 0)).toHaveLength(80 - PREAUTH_DEFAULTS.maxConns), { timeout: 3000 });
    await node("b", bPort, aPort);
    await vi.waitFor(() => expect(a.tcp).toContain("up"), { timeout: 3000 });
    expect(flood.filter((c) => c.closedAt === 0)).toHaveLength(PREAUTH_DEFAULTS.maxConns);
  });
});
