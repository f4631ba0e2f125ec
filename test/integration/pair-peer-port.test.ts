// The peer port under attack from the plant network (S4, S5), against real
// node processes: unauthenticated connections cost the node almost nothing,
// are closed and counted with the remote address logged, and the pair
// neither notices nor changes.
import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { waitUntil } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

/** resident memory of process `pid`, bytes */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

interface Attacker {
  s: net.Socket;
  closed: boolean;
}

function connectFrom(port: number, from: string): Attacker {
  const s = net.connect({ host: "127.0.0.1", port, localAddress: from });
  const a = { s, closed: false };
  s.on("error", () => undefined);
  s.on("close", () => (a.closed = true));
  return a;
}

const MiB = 1 << 20;

describe("the peer port before authentication", () => {
  it("the issue's attack — 25 connections each announcing a 1 MiB frame, then sending it slowly — barely moves the node's memory; each is closed and counted; the pair is unharmed (S4, S5)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const before = (await cluster.status(standby))!;
    const pid = cluster.pid(standby);
    // the node's resident memory at rest, over a second, once its start-up work is done (its first
    // reports, samples and timers: a node still grows for a few seconds after it is ready)
    await new Promise((r) => setTimeout(r, 3000));
    let base = 0;
    for (let i = 0; i < 5; i++) {
      base = Math.max(base, rss(pid));
      await new Promise((r) => setTimeout(r, 200));
    }

    // 25 connections from 25 addresses (so no per-address cap is what stops them)
    const port = cluster.ports[standby].peer;
    const attackers = Array.from({ length: 25 }, (_, i) => connectFrom(port, `127.0.0.${40 + i}`));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MiB);
    for (const a of attackers) a.s.write(header);
    // then the frame's bytes, 64 KiB per connection every 50 ms, up to 1 byte short of the frame
    let peak = base;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    for (let sent = 0; sent + chunk.length < MiB; sent += chunk.length) {
      for (const a of attackers) if (!a.closed) a.s.write(chunk);
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, rss(pid));
    }
    // and held there a moment, as the attack would
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, rss(pid));
    }
    const grewMiB = (peak - base) / MiB;
    // 25 buffered frames would be 25 MiB; a closed connection holds nothing
    expect(grewMiB, `RSS ${(base / MiB).toFixed(1)} → ${(peak / MiB).toFixed(1)} MiB`).toBeLessThan(6);
    await waitUntil("every attacking connection closed by the node", () => attackers.every((a) => a.closed), { timeoutMs: 5000 });

    const after = await cluster.waitFor(standby, (s) => (s.counters.peer_conn_dropped_preauth_frame_too_large ?? 0) >= 25, 5000, "25 connections counted");
    // the log says who it was
    expect(cluster.logLines(standby).some((l) => l.includes("closed a peer connection from 127.0.0.") && l.includes("before it authenticated"))).toBe(true);
    // unharmed: same roles, same epoch, the peer connection up
    expect(after.state).toBe("standby");
    expect(after.epoch).toBe(before.epoch);
    expect(after.peer.connected).toBe(true);
    expect((await cluster.status(active))!.state).toBe("active");
  });

  it("a flood of silent connections: the caps hold, the real peer reconnects through it, every flood connection is gone after the 2 s limit, and the pair is unharmed (S4, S5)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    const before = (await cluster.status(standby))!;
    const port = cluster.ports[standby].peer;
    // 20 addresses × 6 connections: 2 over each address's share, and 120 − 40 = 80 over the total of 64
    const flood: Attacker[] = [];
    for (let i = 0; i < 20; i++) for (let k = 0; k < 6; k++) flood.push(connectFrom(port, `127.0.0.${70 + i}`));
    const s1 = await cluster.waitFor(
      standby,
      (s) => (s.counters.peer_conn_dropped_preauth_too_many_from_address ?? 0) + (s.counters.peer_conn_dropped_preauth_too_many ?? 0) >= 120 - 64,
      5000,
      "the connections over the caps closed at accept",
    );
    const atAccept = (s1.counters.peer_conn_dropped_preauth_too_many ?? 0) + (s1.counters.peer_conn_dropped_preauth_too_many_from_address ?? 0);
    expect(s1.counters.peer_conn_dropped_preauth_too_many ?? 0).toBeGreaterThan(0);
    expect(s1.counters.peer_conn_dropped_preauth_too_many_from_address ?? 0).toBeGreaterThan(0);
    // the node counts a close before this process has seen it: wait until it
    // has seen as many as the node counted (well before the 2 s limit closes the rest)
    await waitUntil("the closes at accept seen by the flooding side", () => flood.filter((a) => a.closed).length >= atAccept, { timeoutMs: 1500 });
    expect(flood.filter((a) => !a.closed).length).toBeLessThanOrEqual(120 - atAccept);
    // the real peer connections are reset (both directions) and come back while the flood is held
    cluster.relays.tcp[standby].cut = true;
    cluster.relays.tcp[active].cut = true;
    cluster.relays.tcp[standby].cut = false;
    cluster.relays.tcp[active].cut = false;
    await cluster.waitFor(standby, (s) => s.peer.connected, 5000, "the peer connection back");
    // the silent ones are all closed by the pre-auth limit
    await waitUntil("every flood connection closed by the node", () => flood.every((a) => a.closed), { timeoutMs: 6000 });
    const after = await cluster.waitFor(standby, (s) => (s.counters.peer_conn_dropped_preauth_timeout ?? 0) >= 1, 3000, "timeouts counted");
    expect(after.counters.peer_conn_dropped_preauth_timeout).toBeLessThanOrEqual(64);
    expect(after.state).toBe("standby");
    expect(after.epoch).toBe(before.epoch);
    expect(after.peer.connected).toBe(true);
    expect(after.peer.links.every((l) => l.up)).toBe(true);
    expect((await cluster.status(active))!.state).toBe("active");
  });
});
