// The site view (issue 14) with real parts: Debian's mosquitto as the site
// broker, a real pair (`tandem start` from dist, mqtt.broker: external) and a
// second pair's retained state and statuses published by the test with
// mosquitto_pub, as its nodes would — together with hostile messages on the
// same topics. Checked: the pair's retained state and status carry the new
// fields (HMI address, health, alarms); GET /api/v1/site on both nodes;
// `tandem site` (table and --json, as a viewer); the HMI's site page in
// Debian's chromium (playwright-core), live: a confirm on the other pair
// reaches the page without a reload, a pair that falls silent turns stale,
// an offline will turns "no active", and a stranger's text never becomes
// markup (S5).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteView } from "../../runtime/site/view.js";
import { CLI, waitUntil } from "../helpers/cluster.js";
import { mosquittoSub, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { useCluster } from "../helpers/use-cluster.js";

const run = promisify(execFile);
const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-site-"));
let broker: Mosquitto;
let port = 0;
let browser: Browser | null = null;

beforeAll(async () => {
  broker = await startMosquitto(dir);
  port = broker.port;
});

afterAll(async () => {
  await browser?.close();
  broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sub = (args: string[], waitS?: number) => mosquittoSub(port, args, waitS);

/** one message to the site broker, as mosquitto_pub sends it (retained unless said) */
async function pub(topic: string, payload: string | object, retain = true): Promise<void> {
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-V", "5", "-t", topic, "-m", text, ...(retain ? ["-r"] : [])]);
}

/** pair line2 as its nodes publish it: b took over (epoch 5), held, a offline or standby */
async function publishLine2(o: { held: boolean; aState?: string; reasons?: string[]; level?: number }): Promise<void> {
  const at = new Date().toISOString();
  const state = o.held ? "active-held" : "active";
  await pub("tandem/line2/state", { pairId: "line2", active: "b", epoch: 5, state, held: o.held, peer: { nodeId: "a", state: o.aState ?? "standby" }, serviceLevel: o.level ?? 220, alarms: 1, warnings: 0, health: "degraded", hmi: "http://127.0.0.1:9/line2-b", at });
  await pub("tandem/line2/node/b/status", { nodeId: "b", state, epoch: 5, serviceLevel: o.level ?? 220, alarms: 1, warnings: 0, reasons: o.reasons ?? [], hmi: "http://127.0.0.1:9/line2-b", at });
  await pub("tandem/line2/node/a/status", { nodeId: "a", state: o.aState ?? "standby", epoch: 5, serviceLevel: 210, alarms: 0, hmi: "javascript:alert(1)", at });
}

const extra = () => `mqtt:
  broker: external
  url: mqtt://127.0.0.1:${port}
  reconnectMs: 200
  site: { staleMs: 4000, refreshMs: 1000 }
`;

const viewer = { TANDEM_USER: "viewer", TANDEM_PASSWORD: "viewer" };

describe("the site view with a real site broker", () => {
  it("every pair with its active, epoch, health, held takeover and alarms: the API, tandem site and the HMI's site page, live; hostile messages counted and ignored (S5)", async () => {
    const c = await pair.start({ extra, peerApi: true });
    const { active, standby } = await c.ready();
    const url = c.nodes[active].url;

    // the pair's own retained state and status carry what the other pairs' views need
    await waitUntil(
      "the pair's state with its HMI address and health on the site broker",
      async () => {
        const r = await sub(["-t", "tandem/it/#", "--retained-only", "-v", "-W", "2"], 2);
        const lines = Object.fromEntries(r.out.trim().split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf(" ")), JSON.parse(l.slice(l.indexOf(" ") + 1))]));
        const s = lines["tandem/it/state"];
        const st = lines[`tandem/it/node/${standby}/status`];
        return s?.active === active && s.hmi === `${url}/` && typeof s.alarms === "number" && s.health && st?.hmi === `${c.nodes[standby].url}/` ? true : null;
      },
      { timeoutMs: 15_000 },
    );

    await publishLine2({ held: true });
    // strangers on the same topics: not JSON, the wrong shape, too big, a topic that is not a pair's
    await pub("tandem/evil/state", "{not json");
    await pub("tandem/evil2/state", { active: "a", epoch: -3, state: "emperor" });
    await pub("tandem/line2/node/a/status", "x".repeat(20_000), false);
    await pub("tandem/evil3/node/a/status/extra", "{}");

    // the API, on both nodes
    const site = async (id: "a" | "b") => (await c.api(id, "GET", "/site", undefined, "viewer")).json as SiteView;
    const v = await waitUntil("line2 and the hostile messages in the site view", async () => {
      const s = await site(active);
      return s.pairs.length === 2 && s.counters.badJson >= 1 && s.counters.badShape >= 1 && s.counters.tooLarge >= 1 ? s : null;
    }, { timeoutMs: 10_000 });
    expect(v).toMatchObject({ pairId: "it", nodeId: active, source: "site-broker", broker: { url: `mqtt://127.0.0.1:${port}`, connected: true } });
    expect(v.pairs[0]).toMatchObject({ pairId: "it", self: true, active, state: "active", held: false, health: "good" });
    expect(v.pairs[0]!.nodes.map((n) => [n.nodeId, n.hmi])).toEqual(
      (["a", "b"] as const).map((id) => [id, `${c.nodes[id].url}/`]),
    );
    expect(v.pairs[1]).toMatchObject({ pairId: "line2", self: false, active: "b", epoch: 5, state: "active-held", held: true, health: "degraded", alarms: 1 });
    expect(v.pairs[1]!.problems).toEqual(expect.arrayContaining(["takeover held: an operator confirms or rejects on b", "1 alarm"]));
    expect(v.pairs[1]!.nodes.find((n) => n.nodeId === "a")!.hmi).toBeNull(); // its javascript: link dropped
    expect((await site(standby)).pairs.map((p) => [p.pairId, p.active])).toEqual([
      ["it", active],
      ["line2", "b"],
    ]);
    expect((await c.api(active, "GET", "/site", undefined, "nobody")).status).toBe(401);

    // tandem site, as a viewer: the table, and --json
    const cli = async (...args: string[]) => run(process.execPath, [CLI, "site", "--node", url, ...args], { env: { ...process.env, ...viewer }, timeout: 20_000 });
    const table = (await cli()).stdout.split("\n");
    expect(table[2]).toMatch(/^PAIR\s+ACTIVE\s+EPOCH\s+STATE\s+HEALTH\s+HELD\s+ALARMS\s+HEARD$/);
    expect(table.find((l) => l.startsWith("it *"))).toMatch(new RegExp(`^it \\*\\s+${active}\\s+\\d+\\s+active\\s+good\\s+no\\s+0\\s+now$`));
    expect(table.find((l) => l.startsWith("line2"))).toMatch(/^line2\s+b\s+5\s+active-held\s+degraded\s+HELD\s+1\s+/);
    expect(table).toContain("  line2: takeover held: an operator confirms or rejects on b");
    expect(table.find((l) => l.startsWith(`  it/${standby}: `))).toMatch(new RegExp(`^  it/${standby}: standby, epoch \\d+, level \\d+, HMI ${c.nodes[standby].url}/$`));
    const json = JSON.parse((await cli("--json")).stdout) as SiteView;
    expect(json.pairs.map((p) => p.pairId)).toEqual(["it", "line2"]);

    // the HMI's site page in a real browser
    const profile = join(dir, "browser");
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      env: { ...process.env, XDG_CONFIG_HOME: join(profile, "config"), XDG_CACHE_HOME: join(profile, "cache") },
    });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(`${url}/site.html`);
    await page.locator("#login-user").fill("viewer");
    await page.locator("#login-password").fill("viewer");
    await page.locator("#login-submit").click();
    const row = (p: string) => page.locator(`tr.pair-main[data-pair="${p}"]`);
    const cells = async (p: string) => (await row(p).locator("td").allTextContents()).map((t) => t.trim());
    await row("line2").waitFor({ timeout: 10_000 });
    expect((await cells("it")).slice(0, 7)).toEqual(["it", active, String(v.pairs[0]!.epoch), "ACTIVE", "good", "no", "0"]);
    expect((await cells("line2")).slice(0, 7)).toEqual(["line2", "b", "5", "ACTIVE — HELD", "degraded", "HELD", "1"]);
    expect(await page.locator(`tr.pair-main[data-pair="it"] a[href="${c.nodes[standby].url}/"]`).count()).toBe(1);
    expect(await row("line2").locator("a").count()).toBe(1); // b's link; a's javascript: address made no link
    expect(await page.locator("#site-ignored").textContent()).toMatch(/messages? from the site broker ignored/);

    // live: line2's operator confirms, and a stranger's reason text arrives; no reload
    await publishLine2({ held: false, level: 150, reasons: ['<img src=x onerror="window.__pwned=1">'] });
    await waitUntil("the page showing line2 confirmed", async () => ((await cells("line2"))[5] === "no" ? true : null), { timeoutMs: 10_000 });
    expect(await page.locator('tr.pair-problems[data-pair="line2"]').textContent()).toContain('<img src=x onerror="window.__pwned=1">');
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    // line2 falls silent: stale after staleMs, never good
    await waitUntil("line2 stale", async () => ((await cells("line2"))[4] === "stale" ? true : null), { timeoutMs: 10_000 });
    // its active's will: no active
    await publishLine2({ held: false });
    await pub("tandem/line2/node/b/status", { nodeId: "b", state: "offline", at: new Date().toISOString() });
    await waitUntil("line2 without an active", async () => ((await cells("line2"))[4] === "no active" ? true : null), { timeoutMs: 10_000 });
    expect(await page.locator('tr.pair-problems[data-pair="line2"]').textContent()).toContain("the active b is offline");
    // this node's own pair stays good all along
    expect((await cells("it"))[4]).toBe("good");
    expect(problems).toEqual([]);
  });
});
