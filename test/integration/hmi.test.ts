// The operator HMI in a real browser (Debian's chromium through playwright-core)
// against the real HTTP server and the fake controller.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { silentLogs } from "../../runtime/logging.js";
import { FakeController } from "../helpers/fake-controller.js";
import { LOG_LEVELS } from "../../core/types.js";

const CHROMIUM = "/usr/bin/chromium";

let fake: FakeController;
let server: HttpServer;
let base: string;
let browser: Browser;
let dir: string;
const savedEnv = { XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };

beforeAll(async () => {
  fake = new FakeController();
  const users = [
    { name: "vera", role: "viewer" as const, passwordHash: await hashPassword("v-pass") },
    { name: "otto", role: "operator" as const, passwordHash: await hashPassword("o-pass") },
    { name: "ada", role: "admin" as const, passwordHash: await hashPassword("a-pass") },
  ];
  server = createHttpServer({
    controller: fake,
    http: { listen: { host: "127.0.0.1", port: 0 }, users, metricsAuth: false, sessionTtlMs: 60_000 },
    logs: silentLogs(),
    pairId: "line1",
    nodeId: "a",
  });
  const { port } = await server.start();
  base = `http://127.0.0.1:${port}`;
  dir = mkdtempSync(join(tmpdir(), "tandem-hmi-"));
  process.env.XDG_CONFIG_HOME = join(dir, "config");
  process.env.XDG_CACHE_HOME = join(dir, "cache");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    env: { ...process.env },
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function login(user: string, password: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401/.test(m.text())) problems.push(m.text());
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(base + "/");
  await page.locator("#login-user").fill(user);
  await page.locator("#login-password").fill(password);
  await page.locator("#login-submit").click();
  await page.locator("#board").waitFor({ state: "visible" });
  return page;
}

const problemsOf = (p: Page) => (p as Page & { problems?: string[] }).problems ?? [];

describe("HMI", () => {
  it("refuses a wrong password in plain words", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(base + "/");
    await page.locator("#login-user").fill("otto");
    await page.locator("#login-password").fill("nope");
    await page.locator("#login-submit").click();
    await expect.poll(() => page.locator("#login-error").textContent()).toBe("Wrong user name or password.");
    await ctx.close();
  });

  it("an operator sees the state, confirms a held takeover with a second click", async () => {
    fake.setState("active-held");
    fake.set({
      message: "Took over from a after it stopped answering on every link. The process is held at step 4 (dosing) until an operator confirms.",
      context: { held: true, seq: 1234, heldSince: new Date().toISOString(), autoConfirmAt: null },
      peer: { ...fake.current.peer, state: "unknown", connected: false, lastSeenMs: 8200, links: [{ name: "lan", up: false, lastSeenMs: 8200 }, { name: "direct", up: false, lastSeenMs: 8100 }] },
    });
    const page = await login("otto", "o-pass");
    await expect.poll(() => page.locator("#state").textContent()).toBe("ACTIVE — HELD");
    expect(await page.locator("#who-name").textContent()).toBe("otto");
    expect(await page.locator("#message").textContent()).toContain("held at step 4");
    expect(await page.locator("#held-banner").isVisible()).toBe(true);
    expect(await page.locator("#state-card").getAttribute("class")).toContain("state-active-held");
    await page.screenshot({ path: "/tmp/hmi-held.png", fullPage: true });

    await page.locator("#confirm").click();
    await page.locator("#ask").waitFor({ state: "visible" });
    expect(fake.callsOf("confirm")).toHaveLength(0); // one click is not enough
    await page.screenshot({ path: "/tmp/hmi-confirm-dialog.png" });
    await page.locator("#ask-yes").click();
    await expect.poll(() => fake.callsOf("confirm").length).toBe(1);
    expect(fake.callsOf("confirm")[0].actor).toEqual({ user: "otto", role: "operator", from: "127.0.0.1" });
    await expect.poll(() => page.locator("#state").textContent()).toBe("ACTIVE");
    expect(await page.locator("#held-banner").isVisible()).toBe(false);
    await expect.poll(() => page.locator("#audit-rows").textContent()).toContain("Confirm held takeover");
    await expect.poll(() => page.locator("#notice-text").textContent()).toContain("Confirmed");
    expect(problemsOf(page)).toEqual([]);
    await page.context().close();
  });

  it("shows an API refusal in plain words", async () => {
    fake.setState("active-held");
    const page = await login("otto", "o-pass");
    await page.locator("#held-banner").waitFor({ state: "visible" });
    fake.setState("active"); // someone else confirmed meanwhile
    await page.locator("#reject").click();
    await page.locator("#ask-yes").click();
    await expect.poll(() => page.locator("#notice-text").textContent()).toBe("Reject refused: Nothing to reject: node is active, not active-held");
    await page.context().close();
  });

  it("a viewer gets no working action buttons", async () => {
    fake.setState("active-held");
    const page = await login("vera", "v-pass");
    await page.locator("#held-banner").waitFor({ state: "visible" });
    expect(await page.locator("#confirm").isVisible()).toBe(false);
    expect(await page.locator("#reject").isVisible()).toBe(false);
    expect(await page.locator("#held-viewer").textContent()).toContain("An operator must confirm or reject");
    // and the API refuses anyway, should the buttons be forced visible
    const status = await page.evaluate(() => fetch("/api/v1/confirm", { method: "POST", headers: { "X-Tandem-Client": "hmi", "Content-Type": "application/json" }, body: "{}" }).then((r) => r.status));
    expect(status).toBe(403);
    expect(fake.callsOf("confirm").length).toBe(1); // only the operator's from the earlier test
    await page.context().close();
  });

  it("a standby without active and witness shows the red promote panel; promote posts the fencing confirmation", async () => {
    fake.setState("standby");
    fake.set({
      awaitingOperator: true,
      leaseRemainingMs: 0,
      serviceLevel: 200,
      message: "The active node a is not visible on any link and no witness is configured. Check that a is down before promoting this node.",
      peer: { ...fake.current.peer, state: "unknown", connected: false, lastSeenMs: 12000, links: [{ name: "lan", up: false, lastSeenMs: 12000 }] },
      witness: { configured: false, reachable: false },
    });
    const page = await login("otto", "o-pass", { width: 390, height: 844 });
    await page.locator("#await-panel").waitFor({ state: "visible" });
    expect(await page.locator("#await-panel").textContent()).toContain("no witness");
    await page.screenshot({ path: "/tmp/hmi-awaiting-narrow.png", fullPage: true });
    await page.locator("#promote").click();
    await page.locator("#ask-yes").click();
    await expect.poll(() => fake.callsOf("promote").length).toBe(1);
    await expect.poll(() => page.locator("#state").textContent()).toBe("ACTIVE — HELD");
    expect(await page.locator("#await-panel").isVisible()).toBe(false);
    // logout returns to the form
    await page.locator("#logout").click();
    await page.locator("#login-view").waitFor({ state: "visible" });
    await page.context().close();
  });

  it("an admin switches over after confirming; the active board reads well at 1280×800", async () => {
    fake.current = new FakeController().current;
    const page = await login("ada", "a-pass");
    await expect.poll(() => page.locator("#state").textContent()).toBe("ACTIVE");
    expect(await page.locator("#switchover").textContent()).toBe("Switch over to node b");
    await page.screenshot({ path: "/tmp/hmi-active.png", fullPage: true });
    await page.locator("#switchover").click();
    await page.locator("#ask-no").click(); // changed their mind
    expect(fake.callsOf("switchover")).toHaveLength(0);
    await page.locator("#switchover").click();
    await page.locator("#ask-yes").click();
    await expect.poll(() => fake.callsOf("switchover").length).toBe(1);
    expect(fake.callsOf("switchover")[0].actor.user).toBe("ada");
    await expect.poll(() => page.locator("#state").textContent()).toBe("STANDBY");
    expect(problemsOf(page)).toEqual([]);
    await page.context().close();
  });

  it("an admin sets a log level from the levels the node serves; the change reaches the controller", async () => {
    fake.current = new FakeController().current;
    fake.levels = { default: "info", components: { http: "info", peer: "warn" } };
    const page = await login("ada", "a-pass");
    await expect.poll(() => page.locator("#levels-now").textContent()).toBe("default: info · http: info · peer: warn");
    expect(await page.locator("#levels-level option").allTextContents()).toEqual([...LOG_LEVELS]);
    await page.locator("#levels-component").selectOption("peer");
    expect(await page.locator("#levels-level").inputValue()).toBe("warn");
    await page.locator("#levels-level").selectOption("debug");
    await page.locator("#levels-set").click();
    await expect.poll(() => fake.callsOf("setLogLevel").length).toBe(1);
    expect(fake.callsOf("setLogLevel")[0]).toMatchObject({ actor: { user: "ada", role: "admin" }, args: ["debug", "peer"] });
    await expect.poll(() => page.locator("#levels-now").textContent()).toBe("default: info · http: info · peer: debug");
    await expect.poll(() => page.locator("#notice-text").textContent()).toBe("Log level of peer set to debug.");
    expect(problemsOf(page)).toEqual([]);
    await page.context().close();
    // an operator does not get the card
    const op = await login("otto", "o-pass");
    expect(await op.locator("#levels-card").isVisible()).toBe(false);
    await op.context().close();
  });

  it("shows the plant: every tag with its quality, a bad value never as a number, the devices and why the level is down", async () => {
    fake.current = new FakeController().current;
    fake.set({
      serviceLevel: 195,
      serviceLevelReasons: ["drivers: device plc2 unreachable (10.0.2.10:502: timeout)"],
      devices: [
        { device: "plc1", endpoint: "10.0.1.10:502", connected: true, path: "preferred" },
        { device: "plc2", endpoint: "10.0.2.10:502", connected: false },
      ],
    });
    const now = new Date().toISOString();
    fake.tagList = [
      { name: "line1.tank1.level", driver: "modbus", value: 42.1234, quality: "good", timestamp: now, receivedAt: now, writable: false, units: "%" },
      { name: "line1.pump1.run", driver: "modbus", value: true, quality: "good", timestamp: now, receivedAt: now, writable: true },
      { name: "line2.tank.level", driver: "modbus", value: null, quality: "bad", reason: "comm_lost", timestamp: null, receivedAt: now, writable: false, units: "%" },
    ];
    const page = await login("ada", "a-pass");
    await page.locator("#plant-card").waitFor({ state: "visible" });
    await expect.poll(() => page.locator("#tag-rows tr").count()).toBe(3);
    const rows = await page.locator("#tag-rows tr").allTextContents();
    expect(rows[0]).toContain("42.12 %");
    expect(rows[1]).toContain("on");
    expect(rows[2]).toContain("no value");
    expect(rows[2]).toContain("BAD (comm_lost)");
    expect(rows[2]).not.toMatch(/\d+(\.\d+)? %/);
    expect(await page.locator("#plant-summary").textContent()).toContain("1 not good");
    expect(await page.locator("#devices").textContent()).toContain("PLC plc2 at 10.0.2.10:502: NOT CONNECTED");
    expect(await page.locator("#level-why").textContent()).toContain("device plc2 unreachable");
    await page.screenshot({ path: "/tmp/hmi-plant.png", fullPage: true });
    expect(problemsOf(page)).toEqual([]);
    fake.tagList = [];
    await page.context().close();
  });
});
