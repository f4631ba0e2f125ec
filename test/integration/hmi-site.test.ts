// The HMI's site page (runtime/hmi/site.html) in Debian's chromium against
// the real HTTP server with a FakeController (test/helpers/hmi-browser.ts):
// reached from the board's top bar, it shows the view the node gives (here
// a node with the embedded broker: this pair alone, and the page says so),
// fits a phone without scrolling the page sideways, and its Log out goes
// back to the login form.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeStatus } from "../../runtime/node-api.js";
import { parseConfig } from "../../runtime/config/load.js";
import { silentLogs } from "../../runtime/logging.js";
import { NodeSite } from "../../runtime/node-site.js";
import { problemsOf, shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";
import { minimalConfig } from "../helpers/min-config.js";

let rig: HmiRig;

beforeAll(async () => {
  rig = await startHmiRig();
  const config = parseConfig(minimalConfig().replace("http: { listen: 127.0.0.1:8080 }", "http: { listen: 127.0.0.1:8080 }\nmqtt: { listen: 127.0.0.1:1883 }"), { env: {} });
  const site = new NodeSite({ config, logs: silentLogs(), httpAddress: { host: "127.0.0.1", port: 8080 }, status: (): NodeStatus => rig.fake.status() });
  (rig.fake as unknown as { site: NodeSite }).site = site;
});

afterAll(async () => rig?.stop());

const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

describe("HMI: the site page", () => {
  it("from the board's top bar: this pair alone with the embedded broker, saying so; fits a phone", async () => {
    const page = await rig.login("vera", "v-pass", { width: 390, height: 844 });
    await page.locator("#site-link").click();
    await page.locator('tr.pair-main[data-pair="line1"]').waitFor({ timeout: 10_000 });
    await shows(page, "#site-note", (t) => /embedded .* only this pair is shown/.test(t));
    const cells = (await page.locator('tr.pair-main[data-pair="line1"] td').allTextContents()).map((t) => t.trim());
    expect(cells.slice(0, 6)).toEqual(["line1", "a", String(rig.fake.status().epoch), "ACTIVE", "good", "no"]);
    expect(await page.locator('tr.pair-main[data-pair="line1"] a[href="http://127.0.0.1:8080/"]').count()).toBe(1);
    expect(await page.locator("tr.pair-main").count()).toBe(1);
    expect(await noHorizontalScroll(page)).toBe(true);
    expect(await page.locator("#who-name").textContent()).toBe("vera");
    // Log out on the site page: back to its login form
    await page.locator("#logout").click();
    await page.locator("#login-view").waitFor({ state: "visible" });
    expect(problemsOf(page)).toEqual([]);
  });
});
