// Mutual TLS on the peer connection (S4), real PeerLinks on loopback with
// certificates made by openssl: a pair with certificates from the site CA
// connects and talks; a peer whose certificate comes from another CA, or
// carries the wrong name, or does not speak TLS, is refused with a log line
// that says why, and counted. The pre-auth gate bounds the handshake too.
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { nullLogger, type Logger } from "../../core/logger.js";
import { frame } from "../../redundancy/frame-decoder.js";
import { PeerLink } from "../../redundancy/peer-link.js";
import type { PeerTlsOptions } from "../../redundancy/peer-tls.js";
import type { PeerMessage } from "../../redundancy/role-types.js";
import { keyFromSecret, Sender } from "../../redundancy/wire.js";
import { freePort } from "../helpers/cluster.js";
import { makeCa, makeCert, pem, type CertFiles } from "../helpers/test-certs.js";

const KEY = keyFromSecret("unit-test-pair-key-0123456789abcdef0123");
let dir = "";
let site: CertFiles;
const certs: Record<string, CertFiles> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-tls-"));
  site = makeCa(dir, "site-ca");
  const other = makeCa(dir, "other-ca");
  certs.a = makeCert(dir, "a", "node-a", site);
  certs.b = makeCert(dir, "b", "node-b", site);
  certs.stranger = makeCert(dir, "stranger", "node-b", other);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** a logger that keeps warn lines */
function capture(lines: string[]): Logger {
  const keep = (a: unknown, b?: string) => void lines.push(typeof a === "string" ? a : (b ?? ""));
  const l: Logger = { ...nullLogger, warn: keep as Logger["warn"], child: () => l };
  return l;
}

function tlsFor(who: string, peerName?: string, ca = site.cert): PeerTlsOptions {
  return { ca: pem(ca), cert: pem(certs[who]!.cert), key: pem(certs[who]!.key), ...(peerName ? { peerName } : {}) };
}

async function node(id: "a" | "b", port: number, peerPort: number, tls: PeerTlsOptions | undefined, timeoutMs = 2000) {
  const tcp: string[] = [];
  const messages: PeerMessage[] = [];
  const warnings: string[] = [];
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
      log: capture(warnings),
      preAuth: { timeoutMs },
      tls,
    },
    { heartbeat: () => {}, grant: () => {}, message: (m) => messages.push(m), tcp: (s) => tcp.push(s), linkRefused: () => {} },
  );
  await link.start();
  cleanups.push(() => link.stop());
  return { link, tcp, messages, warnings };
}

const count = (n: { link: PeerLink }, name: string) => n.link.counters()[name] ?? 0;

describe("peer link over mutual TLS (S4)", () => {
  it("two nodes with certificates from the site CA connect, and messages pass (the HMAC still checked)", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await node("a", pa, pb, tlsFor("a", "node-b"));
    const b = await node("b", pb, pa, tlsFor("b", "node-a"));
    await vi.waitFor(() => expect(a.tcp).toContain("up"), { timeout: 5000 });
    await vi.waitFor(() => expect(b.tcp).toContain("up"), { timeout: 5000 });
    expect(a.link.sendTcp({ type: "switchover-offer", epoch: 2, reason: "over tls" })).not.toBe(false);
    await vi.waitFor(() => expect(b.messages).toEqual([{ type: "switchover-offer", epoch: 2, reason: "over tls" }]), { timeout: 3000 });
    expect(count(a, "conn_dropped_tls_refused") + count(b, "conn_dropped_tls_refused")).toBe(0);
  });

  it("a peer whose certificate comes from another CA is refused, with a log line saying so; the link never comes up", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await node("a", pa, await freePort(), tlsFor("a"));
    // the stranger holds the pair key (the HMAC would pass): only TLS stops it
    const b = await node("b", pb, pa, { ...tlsFor("stranger"), ca: pem(site.cert) });
    await vi.waitFor(() => expect(count(a, "conn_dropped_tls_refused")).toBeGreaterThan(0), { timeout: 5000 });
    const line = a.warnings.find((w) => w.includes("TLS refused it"));
    expect(line).toMatch(/closed a peer connection from 127\.0\.0\.1:\d+ before it authenticated: TLS refused it: its certificate was not issued by the site CA \(peer\.tls\.ca\) \[UNABLE_TO_VERIFY_LEAF_SIGNATURE\]/);
    await new Promise((r) => setTimeout(r, 500));
    expect(a.tcp).not.toContain("up");
    expect(b.tcp).not.toContain("up");
  });

  it("a certificate from the site CA for another name is refused when peerName is set", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await node("a", pa, await freePort(), tlsFor("a", "node-c"));
    await node("b", pb, pa, tlsFor("b"));
    await vi.waitFor(() => expect(a.warnings.some((w) => w.includes("its certificate is not for 'node-c' (peer.tls.peerName)"))).toBe(true), { timeout: 5000 });
    expect(a.tcp).not.toContain("up");
  });

  it("this node refuses a listener whose certificate comes from another CA when it connects out", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    await node("b", pb, await freePort(), { ...tlsFor("stranger"), ca: pem(site.cert) });
    const a = await node("a", pa, pb, tlsFor("a"));
    await vi.waitFor(() => expect(a.warnings.some((w) => w.includes("this node connecting to the peer") && w.includes("site CA"))).toBe(true), { timeout: 5000 });
    expect(a.tcp).not.toContain("up");
  });

  it("a plaintext hello on the TLS port is refused and counted, never read as a frame", async () => {
    const pa = await freePort();
    const a = await node("a", pa, await freePort(), tlsFor("a"));
    const s = net.connect(pa, "127.0.0.1");
    s.on("error", () => undefined);
    cleanups.push(() => void s.destroy());
    const closed = new Promise<void>((r) => s.on("close", () => r()));
    s.write(frame(new Sender({ pair: "it", from: "b", inc: 5, key: KEY }).seal("tcp", "hello", {}).bytes));
    await closed;
    expect(count(a, "conn_dropped_tls_refused")).toBe(1);
    expect(a.tcp).not.toContain("up");
  });

  it("a connection that never starts its handshake is closed by the pre-auth time limit", async () => {
    const pa = await freePort();
    const a = await node("a", pa, await freePort(), tlsFor("a"), 500);
    const s = net.connect(pa, "127.0.0.1");
    s.on("error", () => undefined);
    cleanups.push(() => void s.destroy());
    const t0 = performance.now();
    await new Promise<void>((r) => s.on("close", () => r()));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    expect(count(a, "conn_dropped_preauth_timeout")).toBe(1);
  });
});
