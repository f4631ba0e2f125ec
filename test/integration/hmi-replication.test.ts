// The replication panel of the operator HMI in a real browser (Debian's
// chromium through playwright-core) against the real HTTP server and a fake
// controller: what a write's acknowledgement means now, the peer, the lag and
// the journal, and a catch-up's progress, following the status it polls.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ackText } from "../../runtime/replication-words.js";
import { waitUntil } from "../helpers/cluster.js";
import { replicationStatus } from "../helpers/fake-controller.js";
import { problemsOf, shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;

beforeAll(async () => {
  rig = await startHmiRig();
});

afterAll(async () => {
  await rig?.stop();
});

const live = replicationStatus({ lastSeq: 50_000, peerSeq: 50_000, database: "/var/lib/tandem/a/records.db" });

describe("HMI replication panel", () => {
  it("says what an acknowledgement means in sync live, then shows a catch-up's progress as the status changes, without a reload", async () => {
    rig.fake.set({ replication: live });
    const page = await rig.login("vera", "v-pass");
    try {
      await page.locator("#replication-card").waitFor({ state: "visible" });
      await shows(page, "#replication-ack", "sync: a write is acknowledged once both databases hold it");
      expect(await page.locator("#replication-ack").getAttribute("class")).toContain("repl-ack-both");
      expect(await page.locator("#replication-card h3").textContent()).toBe("Replication");
      expect(await page.locator("#replication-mode").textContent()).toBe("sync (when the peer is away: accept)");
      expect(await page.locator("#replication-peer").textContent()).toMatch(/^live \(/);
      expect(await page.locator("#replication-lag").textContent()).toBe("0 records, 0 ms");
      expect(await page.locator("#replication-seq").textContent()).toBe("last seq 50,000, the peer's 50,000");
      expect(await page.locator("#replication-journal").textContent()).toBe("0 records not yet on the peer");
      expect(await page.locator("#replication-catchup").textContent()).toBe("none running");
      expect(await page.locator("#replication-progress").isVisible()).toBe(false);
      expect(await page.locator("#replication-database").textContent()).toBe("sqlite at /var/lib/tandem/a/records.db");
      expect(await page.locator("#replication-row-setaside").isVisible()).toBe(false);
      await page.screenshot({ path: "/tmp/hmi-replication-live.png", fullPage: true });

      // the peer restarted and is being caught up: writes are acknowledged here only meanwhile
      const catchingUp = { ...live, peer: "catching-up", acknowledging: "local", peerSeq: 12_345, lagRecords: 37_655, lagMs: 4200, journalRecords: 37_655, catchUp: { records: 12_345, total: 50_000, percent: 24, snapshot: false } } as const;
      rig.fake.set({ replication: catchingUp });
      await shows(page, "#replication-catchup", "catching up: 12,345 of 50,000 records (24%)");
      expect(await page.locator("#replication-progress").isVisible()).toBe(true);
      expect(await page.locator("#replication-progress").evaluate((e: HTMLProgressElement) => [e.value, e.max])).toEqual([12_345, 50_000]);
      expect(await page.locator("#replication-ack").textContent()).toBe(ackText(catchingUp));
      expect(await page.locator("#replication-ack").textContent()).toMatch(/^peer catching up: writes are acknowledged on this node only/);
      expect(await page.locator("#replication-ack").getAttribute("class")).toContain("repl-ack-local");
      expect(await page.locator("#replication-lag").textContent()).toBe("37,655 records, 4,200 ms");
      expect(await page.locator("#replication-journal").textContent()).toBe("37,655 records not yet on the peer");
      await page.locator("#replication-card").screenshot({ path: "/tmp/hmi-replication-catching-up.png" });

      // the peer caught up: back to both databases, no progress bar
      rig.fake.set({ replication: live });
      await shows(page, "#replication-ack", (t) => t.includes("both databases"));
      await waitUntil("the progress bar hidden", async () => !(await page.locator("#replication-progress").isVisible()));
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("on the standby: applied seq and a snapshot's progress, no lag or journal; writes refused on an active say so", async () => {
    rig.fake.set({ state: "standby", replication: { ...live, role: "follower", peer: "n/a", acknowledging: "n/a", lastSeq: 900, peerSeq: null, catchUp: { records: 900, total: 4000, percent: 22, snapshot: true }, divergentSetAside: 3 } });
    const page = await rig.login("vera", "v-pass", { width: 390, height: 844 }); // a phone on the plant floor
    try {
      await shows(page, "#replication-catchup", "catching up from a snapshot: 900 of 4,000 records (22%)");
      expect(await page.locator("#replication-ack").textContent()).toBe("standby: this node applies the active's writes and takes none of its own");
      expect(await page.locator("#replication-seq").textContent()).toBe("applied up to seq 900");
      for (const row of ["peer", "lag", "journal"]) expect(await page.locator(`#replication-row-${row}`).isVisible(), row).toBe(false);
      expect(await page.locator("#replication-setaside").textContent()).toBe("3 divergent records (tandem divergence list)");
      await page.locator("#replication-card").screenshot({ path: "/tmp/hmi-replication-standby.png" });

      rig.fake.set({ state: "active", replication: { ...live, peer: "away", acknowledging: "refusing", whenPeerAway: "refuse", peerSeq: null, lagRecords: 12 } });
      await shows(page, "#replication-ack", "refusing writes: the peer is away and whenPeerAway is refuse");
      expect(await page.locator("#replication-ack").getAttribute("class")).toContain("repl-ack-refusing");
      expect(await page.locator("#replication-seq").textContent()).toBe("last seq 50,000, the peer's –");
      expect(problemsOf(page)).toEqual([]);
    } finally {
      rig.fake.set({ state: "active", replication: live });
      await page.context().close();
    }
  });
});
