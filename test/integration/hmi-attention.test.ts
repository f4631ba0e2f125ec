// The HMI's card of what on this node needs an eye, in a real browser
// against the real HTTP server and a fake controller: its alarms and
// warnings (host, silences, its log, backups), alarms first, and where its
// backups stand; a config mismatch as a banner.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { problemsOf, shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;
beforeAll(async () => {
  rig = await startHmiRig();
});
afterAll(async () => {
  await rig?.stop();
});

describe("HMI: this node's monitoring and backups", () => {
  it("lists what needs attention, alarms first, with its backups' state; all well says so", async () => {
    rig.fake.set({
      attention: {
        alarms: [
          { source: "backup", level: "alarm", text: "restore test of tandem-line1-a-20261130-020000 FAILED: the archive has changed since it was made" },
          { source: "host", level: "warn", text: "87.0% of the disk holding /var/lib/tandem used, 3.1 GiB free" },
        ],
        backups: { makesBackups: true, last: { name: "tandem-line1-a-20261130-020000", ok: true, at: "2026-11-30T02:00:00.000Z" }, restoreTest: { ok: false, at: "2026-11-30T02:30:00.000Z", backup: "tandem-line1-a-20261130-020000" }, count: 7 },
      },
      config: { tandem: "0.1.0", peerTandem: "0.1.0", version: "1111111111111111", peerVersion: "2222222222222222", match: false, differs: ["services"], onDisk: null },
    });
    const page = await rig.login("vera", "v-pass");
    try {
      await page.locator("#attention-card").waitFor({ state: "visible" });
      const items = page.locator("#attention-list li");
      await shows(page, "#attention-list li:first-child", (t) => t.startsWith("ALARM (backup): restore test of tandem-line1-a-20261130-020000 FAILED"));
      expect(await items.nth(1).textContent()).toBe("Warning (host): 87.0% of the disk holding /var/lib/tandem used, 3.1 GiB free");
      expect(await items.nth(0).getAttribute("class")).toBe("bad-text");
      expect(await page.locator("#backup-line").textContent()).toMatch(/^Backups: 7 kept, last backup .*; restore test FAILED .*\.$/);
      await shows(page, "#config-detail", (t) => t.includes("runs 1111111111111111") && t.includes("runs 2222222222222222: services differ"));
      // all well
      rig.fake.set({ attention: { alarms: [], backups: { makesBackups: false, last: null, restoreTest: null, count: 0 } }, config: undefined });
      await shows(page, "#attention-list li", "Nothing needs attention on this node.");
      expect(await page.locator("#backup-line").textContent()).toBe("Backups: 0 kept, no backup yet; no restore test yet. This node makes no scheduled backups now (the other node does).");
      expect(await page.locator("#config-banner").isVisible()).toBe(false);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
