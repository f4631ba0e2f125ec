// Hostile and broken input (S4, S5): forged, replayed and garbage datagrams
// are dropped and counted and change nothing; a broken config is refused at
// start with the key path and the reason.
import dgram from "node:dgram";
import net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Sender, keyFromSecret } from "../../redundancy/wire.js";
import { exited, spawnCli, waitUntil } from "../helpers/cluster.js";
import { prng, randomBytes } from "../helpers/prng.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

describe("hostile datagrams", () => {
  it("forged, replayed, truncated and garbage datagrams are dropped and counted; the pair is unharmed (S4, S5)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    // capture only what the standby really received (not start-up datagrams sent before it listened)
    const recorded = cluster.relays.udp[standby].lan!.recorded;
    recorded.length = 0;
    await waitUntil("20 of the active's datagrams to the standby captured", () => recorded.length >= 20);
    const before = (await cluster.status(standby))!;
    const rejectedBefore = before.counters.peer_rejected_total ?? 0;
    const target = cluster.ports[standby].lan;
    const sock = dgram.createSocket("udp4");
    let sent = 0;
    // In batches, each taken in by the node before the next: this tests the
    // node's handling, not the kernel's socket buffer. Every hostile datagram
    // is rejected, so the rejected count says how far the node has read.
    const caughtUp = () =>
      cluster.waitFor(standby, (s) => (s.counters.peer_rejected_total ?? 0) >= rejectedBefore + sent, 10_000, `the standby took in all ${sent} hostile datagrams`);
    const send = async (b: Buffer, port = target) => {
      await new Promise<void>((r) => sock.send(b, port, "127.0.0.1", () => r()));
      if (++sent % 50 === 0) await caughtUp();
    };

    // 1. forged: a well-formed heartbeat claiming a huge epoch, signed with the wrong key
    const forger = new Sender({ pair: "it", from: active, inc: 999_999, key: keyFromSecret("not-the-pair-key-not-the-pair-key-xx") });
    for (let i = 0; i < 20; i++)
      await send(forger.seal("lan", "hb", { state: "active", epoch: 1000, level: 255, role: "main", leaseReq: true, candidate: false, leaseMs: 1000 }).bytes);
    // 2. replayed: real datagrams the active sent earlier, captured on the wire
    const captured = recorded.slice(0, 50);
    for (const b of captured) await send(b);
    // 3. a real message sent on the wrong link (captured on lan, sent to plant)
    for (const b of captured.slice(0, 5)) await send(b, cluster.ports[standby].plant);
    // 4. truncated real datagrams and bit flips
    for (const b of captured.slice(0, 10)) {
      await send(b.subarray(0, Math.max(1, b.length - 7)));
      const flipped = Buffer.from(b);
      flipped[flipped.length - 3] ^= 0x40;
      await send(flipped);
    }
    // 5. garbage
    const r = prng(42);
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(r() * 1500);
      const b = randomBytes(r, len);
      if (i % 3 === 0 && len > 4) b.write("TDM1", 0, "latin1");
      await send(b);
    }
    await caughtUp();
    sock.close();

    // 6. the TCP peer port: an oversized frame, a frame of garbage, a forged
    // hello — each connection is closed and counted; the real one stays up
    const peerPort = cluster.ports[standby].peer;
    const junk = [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      Buffer.concat([Buffer.from([0, 0, 0, 40]), Buffer.alloc(40, 7)]),
      (() => {
        const hello = forger.seal("tcp", "hello", {}).bytes;
        const len = Buffer.alloc(4);
        len.writeUInt32BE(hello.length);
        return Buffer.concat([len, hello]);
      })(),
    ];
    for (const bytes of junk) {
      const closed = await new Promise<boolean>((res) => {
        const s = net.connect(peerPort, "127.0.0.1", () => s.write(bytes));
        s.on("error", () => undefined);
        s.on("close", () => res(true));
        setTimeout(() => {
          s.destroy();
          res(false);
        }, 2000);
      });
      expect(closed).toBe(true); // the node hung up on it (and counted why before it did)
    }

    const after = (await cluster.status(standby))!;
    const c = after.counters;
    const was = (name: string) => (c[name] ?? 0) - (before.counters[name] ?? 0);
    // the forged heartbeats, and the forged hello on the TCP port
    expect(was("peer_rejected_bad_mac")).toBeGreaterThanOrEqual(20);
    expect(was("peer_rejected_replay") + was("peer_rejected_old_incarnation")).toBeGreaterThanOrEqual(captured.length);
    expect(was("peer_rejected_wrong_channel")).toBeGreaterThanOrEqual(5);
    // the oversized TCP frame; and each of the three TCP connections was counted
    expect(was("peer_rejected_bad_frame")).toBeGreaterThanOrEqual(1);
    expect(was("peer_rejected_total")).toBeGreaterThanOrEqual(sent + junk.length);
    expect(after.peer.connected).toBe(true);
    // unharmed: same roles, same epoch, the forged epoch never taken
    expect(after.state).toBe("standby");
    expect(after.epoch).toBe(before.epoch);
    expect((await cluster.status(active))!.state).toBe("active");
    expect(after.peer.links.every((l) => l.up)).toBe(true);
  });
});

describe("broken configuration", () => {
  it("tandem start refuses it with exit 2, naming each key path and the reason; check-config agrees (S5)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-badcfg-"));
    try {
      const file = join(dir, "bad.yaml");
      writeFileSync(
        file,
        `pair: { id: line1, key: short }
node: { id: a, role: boss, dataDir: ./d }
peer:
  id: a
  listen: 127.0.0.1:notaport
  address: 127.0.0.1:7411
  links: []
heartbeat: { intervalMs: 100, timeoutMs: 50, colour: blue }
http: { listen: 127.0.0.1:8080 }
`,
      );
      const start = spawnCli(["start", "--config", file]);
      const res = await exited(start);
      expect(res.code).toBe(2);
      const out = start.output();
      expect(out).toContain("pair.key: a key needs at least 32 characters");
      expect(out).toMatch(/node\.role: .*"main"/);
      expect(out).toContain("peer.listen: expected host:port");
      expect(out).toContain("peer.links: at least one heartbeat link is needed");
      expect(out).toContain("heartbeat: unknown key 'colour'");
      expect(out).not.toMatch(/at .*\.js:\d+/); // no stack trace
      const check = spawnCli(["check-config", file]);
      expect((await exited(check)).code).toBe(2);
      expect(check.output()).toContain("pair.key");
      const missing = spawnCli(["start", "--config", join(dir, "nope.yaml")]);
      expect((await exited(missing)).code).toBe(2);
      expect(missing.output()).toContain("cannot read the file");
      // a file the config names that only start opens (the HTTPS certificate) is a config error too
      const noCert = join(dir, "no-cert.yaml");
      writeFileSync(
        noCert,
        `pair: { id: line1, key: "0123456789abcdef0123456789abcdef" }
node: { id: a, role: main, dataDir: ./d }
peer:
  id: b
  listen: 127.0.0.1:9
  address: 127.0.0.1:9
  links: [{ name: lan, bind: "127.0.0.1:9", peer: "127.0.0.1:9" }]
http: { listen: "127.0.0.1:9", tls: { enabled: true, certFile: ./site.pem, keyFile: ./site.key } }
`,
      );
      const certless = spawnCli(["start", "--config", noCert]);
      expect((await exited(certless)).code, certless.output()).toBe(2);
      expect(certless.output()).toMatch(/http\.tls\.certFile: cannot read '.*site\.pem': ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
