// The pair on real network stacks: each node, the witness and the simulator
// on a host of their own (network namespaces the test creates, TEST-NET
// addresses, two pair links and a witness network; test/bench/ns-pair.ts),
// with the kernel's own ICMP, TCP resets and firewall rules:
//  - L1: kill -9 of the active: its host answers "port unreachable" on every
//    pair link and closed the connection, and the standby takes over on that
//    word (and the witness's) without waiting for missed heartbeats;
//  - S1 (issue 6, gap 8): a REJECT rule on the active's host against the
//    standby forges exactly those signals while the active lives; its
//    heartbeats still arrive through them, which proves them false, and it is
//    never displaced (not even when it stalls for a moment: a loaded machine).
import { describe, expect, it } from "vitest";
import { NsPair } from "../bench/ns-pair.js";
import { waitUntil } from "../helpers/cluster.js";

const drivers = (host: string, modbus: number) => ({
  scanMs: 500,
  devices: [{ name: "plc", driver: "modbus", transport: "tcp", endpoints: [`${host}:${modbus}`], unitId: 1, standby: "hot" }],
  tags: [{ name: "line1.tank1.level", device: "plc", address: "hr:0", type: "float32" }],
});

const acting = (s: string | undefined) => s === "active" || s === "active-held";

/**
 * On the active's host: everything from the standby's two addresses is
 * refused (datagrams: ICMP port unreachable; connections: TCP reset); the
 * active's own datagrams (its heartbeats) still go out. The standby's open
 * connections learn of it as they would on their next segment: reset now;
 * every reconnect is then refused by the rule.
 */
function rejectTheStandby(site: NsPair, active: "a" | "b", standby: "a" | "b"): void {
  for (const peer of site.addresses(standby)) {
    site.iptables(active, ["-A", "INPUT", "-s", peer, "-p", "udp", "-j", "REJECT"]);
    site.iptables(active, ["-A", "INPUT", "-s", peer, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"]);
  }
  site.resetConnections(standby, site.addresses(active)[0]!);
}

/** a site in namespaces takes up to a minute to be ready on a loaded machine (NsPair.ready), then the test runs */
const NETNS_TEST_MS = 150_000;

describe("the pair on real network stacks (network namespaces)", () => {
  it("L1: kill -9 of the active: the standby takes over, held, one epoch up, and the kernel's word (the connection closed, refused datagrams on every link) reaches it", async () => {
    const site = await NsPair.start(drivers);
    try {
      const { active, standby } = await site.ready();
      const before = (await site.status(active))!;
      site.signal(active, "SIGKILL");
      const held = await site.waitFor(standby, (s) => s.state === "active-held", 10_000, "the standby took over");
      expect(held.epoch).toBe(before.epoch + 1);
      // How fast is the bench's to measure (docs/benchmarks.md: kill -9 → serving
      // p99 ≤ 150 ms over 30 trials on an idle machine). Here, with other test
      // files running beside it, the signals can fall outside the fast path's
      // window; then the slow path (three missed heartbeats, the witness)
      // decides, which is right. Either way the takeover names its reason.
      // (the log is written asynchronously: the API may say active-held before the line is in the file)
      const pairLines = () => site.logLines(standby).filter((l) => /"component":"pair"/.test(l) && !/"level":"debug"/.test(l));
      await waitUntil("the takeover's reason in the standby's log", () => pairLines().some((l) => /the active \w+'s process is gone|took over from \w+: it was not visible on any link/.test(l)), {
        timeoutMs: 5000,
        seen: () => pairLines().slice(-15).join("\n"),
      });
      expect(site.logLines(standby).some((l) => l.includes("peer connection lost")), "the standby saw the peer connection close").toBe(true);
      expect(held.counters.peer_refused_lan ?? 0).toBeGreaterThan(0);
      expect(held.counters.peer_refused_plant ?? 0).toBeGreaterThan(0);
    } finally {
      await site.stop();
    }
  }, NETNS_TEST_MS);

  it("S1: a REJECT firewall rule on the active's host against the standby forges a dead process; the live active, still heard, is never displaced", async () => {
    const site = await NsPair.start(drivers);
    try {
      const { active, standby } = await site.ready();
      const epoch = (await site.status(active))!.epoch;
      rejectTheStandby(site, active, standby);
      const seen: string[] = [];
      const t0 = Date.now();
      const watch = async (ms: number) => {
        const until = Date.now() + ms;
        while (Date.now() < until) {
          const [a, b] = await Promise.all([site.status(active), site.status(standby)]);
          seen.push(`${a?.state}/${b?.state}`);
          expect(acting(b?.state), `the standby ${b?.state} while the active lives (${b?.message})`).toBe(false);
          if (a?.state !== "active") {
            const pair = (id: "a" | "b") => site.logLines(id).filter((l) => /"component":"(pair|witness)"/.test(l)).slice(-20).join("\n");
            expect.fail(`the active is ${a?.state} (${a?.message}) under the rule after ${Date.now() - t0} ms; seen ${seen.join(" ")}\nactive's log:\n${pair(active)}\nstandby's log:\n${pair(standby)}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await watch(3000);
      // the active stalls behind the rule (SIGSTOP for 300 ms: a loaded
      // machine, a long garbage collection); its heartbeats and renewals stop
      // while the refusals go on. Its heartbeats through the rule proved them
      // false, so the stall is not taken for a death (without that the
      // witness, not hearing it for 120 ms, granted the standby the role).
      site.signal(active, "SIGSTOP");
      await new Promise((r) => setTimeout(r, 300));
      site.signal(active, "SIGCONT");
      await watch(3000);
      const b = (await site.status(standby))!;
      // the forged signals did reach the standby …
      expect((b.counters.peer_refused_lan ?? 0) + (b.counters.peer_refused_plant ?? 0)).toBeGreaterThan(0);
      const tcp = (b.counters.peer_tcp_econnrefused ?? 0) + (b.counters.peer_tcp_econnreset ?? 0);
      expect(tcp, JSON.stringify(b.counters)).toBeGreaterThan(0);
      // … it saw them proved false by the heartbeats still coming through the rule …
      expect(b.counters.peer_refusals_disproved ?? 0, JSON.stringify(b.counters)).toBeGreaterThan(0);
      expect(site.logLines(standby).some((l) => l.includes("they are not taken as proof that its process is gone"))).toBe(true);
      // … and it never took over
      expect(b.state).toBe("standby");
      expect(b.epoch).toBe(epoch);
      expect(seen.length).toBeGreaterThan(20);
    } finally {
      await site.stop();
    }
  }, NETNS_TEST_MS);

  it("S1: the same rule while the active is also cut from the witness: the standby takes the role only once the active stopped acting", async () => {
    const site = await NsPair.start(drivers);
    try {
      const { active, standby } = await site.ready();
      site.iptables(active, ["-A", "OUTPUT", "-d", site.witnessAddress(), "-j", "DROP"]);
      rejectTheStandby(site, active, standby);
      const both: string[] = [];
      const t0 = Date.now();
      let b: Awaited<ReturnType<typeof site.status>> = null;
      while (Date.now() - t0 < 6000) {
        const [x, y] = await Promise.all([site.status(active), site.status(standby)]);
        if (acting(x?.state) && acting(y?.state)) both.push(`${Date.now() - t0} ms: ${x?.state} e${x?.epoch} / ${y?.state} e${y?.epoch}`);
        b = y;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(both).toEqual([]);
      // the active lost its lease (no grant from the standby, no witness) and said so; the standby then took over
      expect((await site.status(active))!.state).toBe("isolated");
      expect(b?.state).toBe("active-held");
      expect(site.logLines(standby).some((l) => /said it was isolated/.test(l))).toBe(true);
    } finally {
      await site.stop();
    }
  }, NETNS_TEST_MS);
});
