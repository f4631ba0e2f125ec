// The operator HMI in a real browser (Debian's chromium through playwright-core):
// against a real pair of nodes, where the words an operator reads (state,
// what happened and what to do, the held takeover and its confirm) must be
// the node's; and against the real HTTP server with a fake controller for
// every other screen.
import { TandemError } from "../../core/errors.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { FakeController } from "../helpers/fake-controller.js";
import { LOG_LEVELS } from "../../core/types.js";
import { STATE_WORDS, stateLabel } from "../../runtime/words.js";
import { exited, spawnCli, waitUntil } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";
import { calledOn, problemsOf, shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;
let fake: FakeController;
let base: string;
let browser: Browser;

beforeAll(async () => {
  rig = await startHmiRig();
  ({ fake, base, browser } = rig);
});

afterAll(async () => {
  await rig?.stop();
});

const login: HmiRig["login"] = (...args) => rig.login(...args);
const called = (n: number, method: Parameters<FakeController["callsOf"]>[0]) => calledOn(fake, n, method);

const pair = useCluster();

describe("HMI against a real node", () => {
  it("the state, what happened and what to do, the held context and the confirm an operator reads come from the node, in the CLI's words (S3, S4)", async () => {
    const cluster = await pair.start();
    const { active, standby } = await cluster.ready();
    // the epoch the active acts in, from the active itself, just before it dies
    const before = (await cluster.status(active))!;
    expect(before.state).toBe("active");
    cluster.signal(active, "SIGKILL");
    await cluster.waitFor(standby, (s) => s.state === "active-held", 10_000, "held takeover");
    const url = cluster.nodes[standby].url;

    const page = await login("operator", "operator", undefined, url);
    // the node's own status, as the API gives it and as the CLI prints it
    const held = (await cluster.status(standby))!;
    expect(held.message).toMatch(/^Took over: .*HELD.*Confirm to resume it or Reject to restart it/);
    const cli = spawnCli(["status", "--node", url], { env: { TANDEM_USER: "viewer", TANDEM_PASSWORD: "viewer" } });
    expect((await exited(cli)).code).toBe(0);
    const words = STATE_WORDS["active-held"];
    expect(cli.output()).toContain(`of pair it: ${words.label} (${words.meaning})`);
    expect(cli.output()).toContain(held.message);

    // the page shows what the node said, in the same words
    await shows(page, "#state", words.label);
    await shows(page, "#message", held.message);
    // one takeover, one epoch more (DESIGN.md); if not, the standby's log says which epochs it offered and why
    expect(held.epoch, cluster.logLines(standby).filter((l) => /epoch|witness|took over|takeover/i.test(l)).slice(-25).join("\n")).toBe(before.epoch + 1);
    await shows(page, "#epoch", String(before.epoch + 1));
    await shows(page, "#peer-state", stateLabel(held.peer.state));
    expect(await page.locator("#node-label").textContent()).toBe(`Node ${standby} · preferred ${held.role} · pair it`);
    expect(await page.locator("#held-banner").isVisible()).toBe(true);
    await shows(page, "#held-detail", (t) => t.startsWith(`Process context held at sequence ${held.context.seq}`));
    expect(await page.title()).toBe(`${words.label} · ${standby} · Tandem`);

    // S3: the confirm needs a second click; the node stays held until then
    await page.locator("#confirm").click();
    await page.locator("#ask").waitFor({ state: "visible" });
    expect((await cluster.status(standby))!.state).toBe("active-held");
    await page.locator("#ask-yes").click();
    // the notice is built from the node's answer to the confirm
    await shows(page, "#notice-text", `Confirmed. This node is now active (epoch ${before.epoch + 1}).`);
    const now = await cluster.waitFor(standby, (s) => s.state === "active", 5000, "active after the HMI's confirm");
    await shows(page, "#state", STATE_WORDS.active.label);
    expect(now.message).toMatch(/^Active: driving the plant/);
    await waitUntil("the page shows the node's message as the node has it now", async () => (await page.locator("#message").textContent()) === (await cluster.status(standby))!.message);
    expect(await page.locator("#held-banner").isVisible()).toBe(false);
    // S4: the node audited the operator's confirm, and the page lists it in words
    const audit = (await cluster.api(standby, "GET", "/audit?limit=20", undefined, "viewer")).json.entries as { action: string; user: string; result: string }[];
    // recorded before it ran, and its outcome after
    expect(audit.filter((e) => e.action === "confirm").map((e) => [e.user, e.result])).toEqual([
      ["operator", "requested"],
      ["operator", "ok"],
    ]);
    await shows(page, "#audit-rows", (t) => t.includes("operator (operator) from 127.0.0.1Confirm held takeover"));
    expect(problemsOf(page)).toEqual([]);
    await page.context().close();
  }, 90_000);
});

describe("HMI screens (real HTTP server, fake controller)", () => {
  it("refuses a wrong password in plain words (S4)", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(base + "/");
    await page.locator("#login-user").fill("otto");
    await page.locator("#login-password").fill("nope");
    await page.locator("#login-submit").click();
    await shows(page, "#login-error", "Wrong user name or password.");
    await ctx.close();
  });

  it("an operator sees the state, confirms a held takeover with a second click; the controller gets who confirmed (S3, S4)", async () => {
    fake.setState("active-held");
    fake.set({
      message: "Took over from a after it stopped answering on every link. The process is held at step 4 (dosing) until an operator confirms.",
      context: { held: true, seq: 1234, heldSince: new Date().toISOString(), autoConfirmAt: null },
      peer: { ...fake.current.peer, state: "unknown", connected: false, lastSeenMs: 8200, links: [{ name: "lan", up: false, lastSeenMs: 8200 }, { name: "direct", up: false, lastSeenMs: 8100 }] },
    });
    const page = await login("otto", "o-pass");
    await shows(page, "#state", "ACTIVE — HELD");
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
    await called(1, "confirm");
    expect(fake.callsOf("confirm")[0].actor).toEqual({ user: "otto", role: "operator", from: "127.0.0.1" });
    await shows(page, "#state", "ACTIVE");
    expect(await page.locator("#held-banner").isVisible()).toBe(false);
    await shows(page, "#audit-rows", (t) => t.includes("Confirm held takeover"));
    await shows(page, "#notice-text", (t) => t.includes("Confirmed"));
    expect(problemsOf(page)).toEqual([]);
    await page.context().close();
  });

  it("shows an API refusal in plain words", async () => {
    fake.setState("active-held");
    const page = await login("otto", "o-pass");
    await page.locator("#held-banner").waitFor({ state: "visible" });
    // someone else confirmed meanwhile, and the page has not heard yet (the live feed would hide the button at once)
    fake.failNext.set("reject", new TandemError("TANDEM_ERR_NOT_HELD", ["reject", "active"]));
    await page.locator("#reject").click();
    await page.locator("#ask-yes").click();
    await shows(page, "#notice-text", "Reject refused: Nothing to reject: node is active, not active-held");
    await page.context().close();
  });

  it("a viewer gets no working action buttons, and the API refuses the viewer anyway (S4)", async () => {
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

  it("a standby without active and witness shows the red promote panel; promote posts the fencing confirmation (S1)", async () => {
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
    await called(1, "promote");
    await shows(page, "#state", "ACTIVE — HELD");
    expect(await page.locator("#await-panel").isVisible()).toBe(false);
    // logout returns to the form
    await page.locator("#logout").click();
    await page.locator("#login-view").waitFor({ state: "visible" });
    await page.context().close();
  });

  it("an admin switches over after confirming; the active board reads well at 1280×800", async () => {
    fake.current = new FakeController().current;
    const page = await login("ada", "a-pass");
    await shows(page, "#state", "ACTIVE");
    expect(await page.locator("#switchover").textContent()).toBe("Switch over to node b");
    await page.screenshot({ path: "/tmp/hmi-active.png", fullPage: true });
    await page.locator("#switchover").click();
    await page.locator("#ask-no").click(); // changed their mind
    expect(fake.callsOf("switchover")).toHaveLength(0);
    await page.locator("#switchover").click();
    await page.locator("#ask-yes").click();
    await called(1, "switchover");
    expect(fake.callsOf("switchover")[0].actor.user).toBe("ada");
    await shows(page, "#state", "STANDBY");
    expect(problemsOf(page)).toEqual([]);
    await page.context().close();
  });

  it("an admin sets a log level from the levels the node serves; the change reaches the controller", async () => {
    fake.current = new FakeController().current;
    fake.levels = { default: "info", components: { http: "info", peer: "warn" } };
    const page = await login("ada", "a-pass");
    await shows(page, "#levels-now", "default: info · http: info · peer: warn");
    expect(await page.locator("#levels-level option").allTextContents()).toEqual([...LOG_LEVELS]);
    await page.locator("#levels-component").selectOption("peer");
    expect(await page.locator("#levels-level").inputValue()).toBe("warn");
    await page.locator("#levels-level").selectOption("debug");
    await page.locator("#levels-set").click();
    await called(1, "setLogLevel");
    expect(fake.callsOf("setLogLevel")[0]).toMatchObject({ actor: { user: "ada", role: "admin" }, args: ["debug", "peer"] });
    await shows(page, "#levels-now", "default: info · http: info · peer: debug");
    await shows(page, "#notice-text", "Log level of peer set to debug.");
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
    // a steady value: changed 26 s ago, confirmed by the read 300 ms ago: the row shows the read's age
    const changed = new Date(Date.now() - 26_000).toISOString();
    fake.tagList = [
      { name: "line1.tank1.level", driver: "modbus", value: 42.1234, quality: "good", timestamp: changed, receivedAt: changed, confirmedAt: now, ageMs: 300, writable: false, units: "%" },
      { name: "line1.pump1.run", driver: "modbus", value: true, quality: "good", timestamp: now, receivedAt: now, writable: true },
      { name: "line2.tank.level", driver: "modbus", value: null, quality: "bad", reason: "comm_lost", timestamp: null, receivedAt: now, writable: false, units: "%" },
    ];
    const page = await login("ada", "a-pass");
    await page.locator("#plant-card").waitFor({ state: "visible" });
    await waitUntil("three tag rows", async () => (await page.locator("#tag-rows tr").count()) === 3);
    const rows = await page.locator("#tag-rows tr").allTextContents();
    expect(rows[0]).toContain("42.12 %");
    expect(rows[0]).toContain("300 ms ago");
    expect(rows[0]).not.toContain("26.0 s ago");
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
