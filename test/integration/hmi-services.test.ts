// The services panel of the operator HMI in a real browser (Debian's chromium
// through playwright-core) against the real HTTP server and a fake controller:
// every instance with its state and reason, the load figures of balanced
// services, and an operator's start, stop and restart behind a second click.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { TandemError } from "../../core/errors.js";
import type { ServiceView } from "../../runtime/node-api.js";
import { SERVICE_PANEL_WORDS, SERVICE_STOP_STAYS } from "../../runtime/service-words.js";
import { waitUntil } from "../helpers/cluster.js";
import type { FakeController } from "../helpers/fake-controller.js";
import { calledOn, problemsOf, shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;
let fake: FakeController;

beforeAll(async () => {
  rig = await startHmiRig();
  fake = rig.fake;
});

afterAll(async () => {
  await rig?.stop();
});

const login: HmiRig["login"] = (...args) => rig.login(...args);
const called = (n: number) => calledOn(fake, n, "serviceAction");

describe("HMI services panel", () => {
  const MB = 1024 * 1024;
  const at = "2024-05-01T03:00:00.000Z";
  const view = (over: Partial<ServiceView> & Pick<ServiceView, "name" | "state">): ServiceView => ({
    instance: over.name,
    placement: "active",
    pid: over.state === "running" ? 4321 : null,
    node: over.state === "running" ? "a" : null,
    reason: "this node is active (epoch 7)",
    dependsOn: [],
    health: "none",
    healthDetail: "",
    startedAt: over.state === "running" ? at : null,
    uptimeMs: over.state === "running" ? 3_723_000 : null,
    restarts: 0,
    lastExit: null,
    cpuPercent: over.state === "running" ? 2.5 : 0,
    rssBytes: over.state === "running" ? 48 * MB : 0,
    readBytes: 0,
    writeBytes: 0,
    eventsPerSec: 0,
    lastOutputAt: null,
    stoppedByOperator: null,
    ...over,
  });
  const services = (): ServiceView[] => [
    view({ name: "historian", state: "running", health: "ok", healthDetail: "HTTP 200 from /health", restarts: 1, eventsPerSec: 12.5 }),
    view({ name: "pool", instance: "pool#1", placement: "balanced", scheme: "fewest-instances", state: "running", reason: "fewest-instances: a has 1 instance, b has 1", eventsPerSec: 4 }),
    view({
      name: "pool",
      instance: "pool#2",
      placement: "balanced",
      scheme: "fewest-instances",
      state: "stopped",
      node: "b",
      reason: "not running here: assigned to b (runs on b: fewest-instances: a has 1 instance, b has 0)",
    }),
    view({
      name: "mailer",
      placement: "both",
      state: "failed",
      restarts: 5,
      reason: "failed: 6 failed runs in a row (last: exit code 3); not restarted until an operator starts it",
      lastExit: { code: 3, signal: null, at, description: "exit code 3" },
    }),
    view({ name: "reporter", placement: "both", state: "running", health: "failing", healthDetail: "HTTP 503 from /health", reason: "runs on both nodes" }),
    view({ name: "archiver", state: "stopped", reason: `not running here: stopped by otto at ${at}`, stoppedByOperator: { by: "otto", at } }),
  ];
  const figures = {
    own: { nodeId: "a", capacity: 1, freeMemBytes: 3 * 1024 * MB, cpuPercent: 35, eventsPerSec: 40, netBytesPerSec: 0, instances: 1 },
    peer: { nodeId: "b", capacity: 2, freeMemBytes: 512 * MB, cpuPercent: 12, eventsPerSec: 8, netBytesPerSec: 0, instances: 1 },
  };
  const body = (page: Page, name: string) => page.locator(`#services-table tbody[data-service="${name}"]`);
  const button = (page: Page, name: string, action: string) => body(page, name).locator(`button[data-action="${action}"]`);
  const rowsOf = async (page: Page) => (await page.locator("#services-table tr.svc-row").allTextContents()).length;
  const before = () => fake.callsOf("serviceAction").length;

  it("lists every instance with its state, node, figures and reason; failed and failing health stand out; a viewer gets no buttons and sees changes without a reload", async () => {
    fake.serviceList = services();
    fake.serviceFigures = figures;
    const page = await login("vera", "v-pass");
    try {
      await page.locator("#services-card").waitFor({ state: "visible" });
      await waitUntil("six instance rows", async () => (await rowsOf(page)) === 6, { seen: async () => `${await rowsOf(page)} rows` });
      const row = (instance: string) => page.locator("#services-table tr.svc-row", { has: page.locator(".svc-instance", { hasText: new RegExp(`^${instance}$`) }) });
      const cells = async (instance: string) => row(instance).locator("td").allTextContents();
      const P = SERVICE_PANEL_WORDS;
      expect(await page.locator("#services-table thead th").allTextContents()).toEqual(Object.values(P.columns));
      // name, placement, state, node, pid, up, restarts, CPU, memory, events/s, health
      expect(await cells("historian")).toEqual(["historian", "active", "running", "a (this node)", "4321", "1 h 2 min", "1", "2.5 %", "48 MB", "12.5", "ok"]);
      expect(await cells("pool#2")).toEqual(["pool#2", "balanced", "stopped", "b", "–", "–", "0", "–", "–", "–", "no check"]);
      expect(await cells("mailer")).toEqual(["mailer", "both", "failed", "nowhere", "–", "–", "5", "–", "–", "–", "no check"]);
      // the reason under each instance, the scheme's figures for a balanced one; the health check's answer; the last exit
      const text = (await page.locator("#services-table").textContent()) ?? "";
      for (const s of fake.serviceList) expect(text).toContain(s.reason);
      expect(text).toContain("Health failing: HTTP 503 from /health.");
      expect(text).toMatch(/Last exit at \S.*\d\d:\d\d:\d\d.*: exit code 3\./);
      expect(await body(page, "pool").locator(".svc-about").textContent()).toBe("2 instances · balanced by fewest-instances");
      // who stopped it and when, and that it stays stopped
      expect(await body(page, "archiver").locator(".svc-stopped").textContent()).toMatch(new RegExp(`^Stopped by otto at \\S.*\\d\\d:\\d\\d:\\d\\d.*: ${SERVICE_STOP_STAYS}\\.$`));
      // failed and failing health are marked, not only worded
      expect(await row("mailer").getAttribute("class")).toContain("svc-row-failed");
      expect(await row("mailer").locator(".svc-state").getAttribute("class")).toContain("svc-state-failed");
      expect(await row("reporter").getAttribute("class")).toContain("svc-row-unhealthy");
      expect(await row("reporter").locator(".svc-unhealthy").textContent()).toBe("health failing");
      expect(await row("historian").getAttribute("class")).not.toMatch(/failed|unhealthy/);
      expect(await page.locator("#services-summary").textContent()).toBe("· 6 instances · 1 FAILED · 1 health failing");
      expect(await page.locator("#services-figures").textContent()).toBe(
        "Load shared for balanced services: a (this node): instances 1, capacity 1, CPU 35 %, 3.0 GB free, 40 events/s, 0 B/s network · b: instances 1, capacity 2, CPU 12 %, 512 MB free, 8 events/s, 0 B/s network",
      );
      // a viewer: no buttons, and a note why
      expect(await page.locator("#services-table button").count()).toBe(0);
      expect(await page.locator("#services-viewer").isVisible()).toBe(true);
      await page.screenshot({ path: "/tmp/hmi-services-viewer.png", fullPage: true });
      // the panel follows the node's event stream, without a reload and without reading the list again
      const reads = fake.servicesReads;
      fake.serviceList[0]!.state = "failed";
      fake.emit({ type: "services", data: fake.services() });
      await waitUntil("historian shown failed", async () => ((await row("historian").getAttribute("class")) ?? "").includes("svc-row-failed"), { timeoutMs: 3000 });
      await new Promise((r) => setTimeout(r, 2500)); // longer than the poll while there is no stream
      expect(fake.servicesReads).toBe(reads + 1); // the fake.services() above: the page read nothing
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("an operator's Stop asks first, saying it stays stopped on both nodes also after a takeover, then reaches the controller with who asked", async () => {
    fake.serviceList = services();
    const page = await login("otto", "o-pass", { width: 390, height: 844 }); // a phone on the plant floor
    try {
      await button(page, "historian", "stop").waitFor({ state: "visible" });
      await page.screenshot({ path: "/tmp/hmi-services-narrow.png", fullPage: true });
      expect(await page.locator("#services-viewer").isVisible()).toBe(false);
      const n = before();
      await button(page, "historian", "stop").click();
      await page.locator("#ask").waitFor({ state: "visible" });
      expect(await page.locator("#ask-title").textContent()).toBe("Stop historian?");
      expect(await page.locator("#ask-text").textContent()).toContain(SERVICE_STOP_STAYS);
      expect(await page.locator("#ask-text").textContent()).toMatch(/both nodes.*after a takeover/);
      await page.screenshot({ path: "/tmp/hmi-services-stop-ask.png" });
      await page.locator("#ask-no").click(); // changed their mind
      await page.locator("#ask").waitFor({ state: "hidden" });
      await new Promise((r) => setTimeout(r, 300));
      expect(fake.callsOf("serviceAction")).toHaveLength(n);
      await button(page, "historian", "stop").click();
      await page.locator("#ask-yes").click();
      await called(n + 1);
      expect(fake.callsOf("serviceAction")[n]).toMatchObject({ actor: { user: "otto", role: "operator", from: "127.0.0.1" }, args: ["historian", "stop"] });
      await shows(page, "#notice-text", `Service historian stopped (${SERVICE_STOP_STAYS}).`);
      // the panel shows the operator's stop as the node now has it
      await shows(page, '#services-table tbody[data-service="historian"] .svc-stopped', (t) => t.startsWith("Stopped by otto at "));
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("Restart and Start likewise: a second click, then the controller gets the service's name and who asked; the notice names a balanced service's instances", async () => {
    fake.serviceList = services();
    const page = await login("otto", "o-pass");
    try {
      for (const [name, action, notice] of [
        ["pool", "restart", "Service pool restarted: pool#1, pool#2."],
        ["archiver", "start", "Service archiver started."],
      ] as const) {
        const n = before();
        await button(page, name, action).click();
        await page.locator("#ask").waitFor({ state: "visible" });
        expect(await page.locator("#ask-yes").textContent()).toBe(`Yes, ${action} ${name}`);
        expect(fake.callsOf("serviceAction")).toHaveLength(n); // one click is not enough
        await page.locator("#ask-yes").click();
        await called(n + 1);
        expect(fake.callsOf("serviceAction")[n]).toMatchObject({ actor: { user: "otto", role: "operator", from: "127.0.0.1" }, args: [name, action] });
        await shows(page, "#notice-text", notice);
      }
      // the operator's stop is gone from the panel once started
      await waitUntil("archiver's stop no longer shown", async () => (await body(page, "archiver").locator(".svc-stopped").count()) === 0);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("while the node carries out a slow stop, that service says so and waits; the others' buttons still work", async () => {
    fake.serviceList = services();
    fake.serviceActionDelayMs = 3000;
    const page = await login("otto", "o-pass");
    try {
      await button(page, "historian", "stop").click();
      await page.locator("#ask-yes").click();
      await shows(page, '#services-table tbody[data-service="historian"] .svc-pending', (t) => /^Stop asked at \S.*; waiting for the node's answer …$/.test(t));
      expect(await button(page, "historian", "start").isDisabled()).toBe(true);
      expect(await button(page, "historian", "stop").isDisabled()).toBe(true);
      expect(await button(page, "mailer", "restart").isDisabled()).toBe(false);
      await shows(page, "#notice-text", `Service historian stopped (${SERVICE_STOP_STAYS}).`);
      await waitUntil("historian's buttons back", async () => !(await button(page, "historian", "start").isDisabled()));
      expect(await body(page, "historian").locator(".svc-pending").count()).toBe(0);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      fake.serviceActionDelayMs = 0;
      await page.context().close();
    }
  });

  it("shows an API error in words: an action the node refused, and a list it could not read", async () => {
    fake.serviceList = services();
    fake.failNext.set("services", new TandemError("TANDEM_ERR_UNAVAILABLE", ["the supervisor is starting"]));
    const page = await login("otto", "o-pass");
    try {
      await shows(page, "#services-error", "Cannot read the services: The supervisor is starting.");
      expect(await page.locator("#services-viewer").isVisible()).toBe(false); // an operator, even before the first list
      // a failed read is tried again
      await page.locator("#services-error").waitFor({ state: "hidden", timeout: 6000 });
      expect(await page.locator("#services-card").getAttribute("class")).not.toContain("stale");
      // a node that stops answering the read after an action: the list stays, dimmed, with the time it was last read
      fake.failNext.set("services", new TandemError("TANDEM_ERR_UNAVAILABLE", ["the supervisor is stopping"]));
      fake.serviceActionDelayMs = 2000;
      await button(page, "reporter", "restart").click();
      await page.locator("#ask-yes").click();
      await shows(page, "#services-error", (t) => /^Cannot read the services: The supervisor is stopping\. The list shows what was known at \S/.test(t), 6000);
      expect(await page.locator("#services-card").getAttribute("class")).toContain("stale");
      expect(await page.locator("#services-table tr.svc-row").count()).toBe(6);
      await page.locator("#services-error").waitFor({ state: "hidden", timeout: 6000 });
      fake.serviceActionDelayMs = 0;
      await button(page, "mailer", "restart").waitFor({ state: "visible" });
      fake.failNext.set("serviceAction", new TandemError("TANDEM_ERR_AUDIT_UNAVAILABLE", ["disk full"]));
      const n = before();
      await button(page, "mailer", "restart").click();
      await page.locator("#ask-yes").click();
      await shows(page, "#notice-text", (t) => t.startsWith("Restart mailer refused: This action cannot be recorded in the audit log (disk full), so it was not done"));
      expect(fake.callsOf("serviceAction")).toHaveLength(n + 1);
      expect(await page.locator("#notice").getAttribute("class")).toContain("notice-error");
    } finally {
      await page.context().close();
    }
  });
});
