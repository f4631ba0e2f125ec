// The operator HMI in a real browser (Debian's chromium) against a real pair
// of `tandem start` processes replicating over SQLite: the board follows the
// node's event stream, not a poll; a killed node's page says at once that its
// live feed is lost; on the new active the operator — still logged in, the
// session is replicated — sees the held banner with the process context,
// confirms with two clicks (the button, then "yes" in the question), and the
// board shows active and the audit list names the operator (S3). A page of
// another origin in the same browser, with the operator's session cookie,
// posts a confirm before: it is refused and audited, nothing is confirmed.
// TANDEM_HMI_SCREENSHOTS=DIR writes the normal and the held view there (the
// README's pictures: docs/hmi-active.png, docs/hmi-held.png).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../helpers/cluster.js";
import { shows, startHmiRig } from "../helpers/hmi-browser.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
type Id = "a" | "b";

const extra = () => `replication: { mode: sync, whenPeerAway: refuse, tables: { batch_log: {} } }\n`;
const live = (c: Cluster, id: Id) => c.waitFor(id, (s) => s.replication.role === "leader" && s.replication.peer === "live", 15_000, "replication live");
const shots = process.env.TANDEM_HMI_SCREENSHOTS;

describe("HMI on a pair", () => {
  it("follows the live feed, says when it is lost, and after a kill -9 the operator confirms the held takeover on the new active with two clicks, without logging in again (S3)", async () => {
    const rig = await startHmiRig();
    try {
      const c = await pair.start({ extra });
      const { active, standby } = await c.ready();
      await live(c, active);
      const page = await rig.login("operator", "operator", { width: 1280, height: 800 }, c.nodes[active].url);
      const statusPolls: string[] = [];
      page.on("request", (r) => {
        if (r.url().endsWith("/api/v1/status")) statusPolls.push(r.url());
      });
      await shows(page, "#state", (t) => /active/i.test(t));
      // the board moves with the feed: the peer's age, the lease … without a single GET /status
      const before = await page.locator("#board").innerText();
      await page.waitForTimeout(2500);
      expect(await page.locator("#board").innerText()).not.toBe(before);
      expect(statusPolls).toEqual([]);
      await shows(page, "#updated", (t) => t.endsWith("· live"));
      if (shots) await page.screenshot({ path: join(shots, "hmi-active.png"), fullPage: true });

      c.signal(active, "SIGKILL");
      // the old active's page says at once that it lost its feed
      await shows(page, "#conn-error", (t) => t.includes("Live updates from this node were lost at"), 5000);
      await c.waitFor(standby, (s) => s.state === "active-held", 15_000, "the standby takes over, held");

      await page.goto(c.nodes[standby].url + "/");
      await page.locator("#board").waitFor({ state: "visible" });
      expect(await page.locator("#login-view").isVisible()).toBe(false);
      await page.locator("#held-banner").waitFor({ state: "visible" });
      if (shots) await page.screenshot({ path: join(shots, "hmi-held.png"), fullPage: true });

      // a page of another origin in the same browser (the operator's cookie jar) posts a confirm: refused, nothing confirmed
      const target = c.nodes[standby].url;
      const evil = createServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(`<form id="f" method="POST" action="${target}/api/v1/confirm" enctype="text/plain"><input name="{}" value=""></form>
<script>fetch("${target}/api/v1/confirm", { method: "POST", credentials: "include", mode: "no-cors", headers: { "content-type": "text/plain" }, body: "{}" }).finally(() => document.getElementById("f").submit());</script>`);
      });
      await new Promise<void>((r) => evil.listen(0, "127.0.0.1", r));
      try {
        const attack = await page.context().newPage();
        await attack.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
        await attack.waitForURL(`${target}/api/v1/confirm`, { timeout: 10_000 }).catch(() => undefined);
        expect(await attack.content()).toMatch(/TANDEM_ERR_CROSS_SITE|TANDEM_ERR_UNAUTHORIZED|TANDEM_ERR_UNSUPPORTED|refused/);
        await attack.close();
      } finally {
        evil.close();
      }
      expect((await c.status(standby))?.state).toBe("active-held");
      const refused = await c.api(standby, "GET", "/audit?limit=50");
      const cross = (refused.json.entries as { user: string; action: string; result: string; details?: { tried?: string } }[]).find((e) => e.action === "refused-cross-site");
      expect(cross).toMatchObject({ user: "operator", result: "refused", details: { tried: "POST /api/v1/confirm" } });
      await page.locator("#confirm").click();
      // the first click only asks
      await page.locator("#ask-yes").waitFor({ state: "visible" });
      expect((await c.status(standby))?.state).toBe("active-held");
      await page.locator("#ask-yes").click();
      await c.waitFor(standby, (s) => s.state === "active", 10_000, "confirmed");
      await page.locator("#held-banner").waitFor({ state: "hidden" });
      await shows(page, "#audit-rows", (t) => /operator \(operator\).*Confirm.*ok/is.test(t) || (t.includes("operator (operator)") && /confirm/i.test(t) && t.includes("ok")));
    } finally {
      await rig.stop();
    }
  });
});
