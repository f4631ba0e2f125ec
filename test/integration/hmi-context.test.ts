// The process panel of the operator HMI in a real browser (Debian's chromium
// through playwright-core) against the real HTTP server and a fake
// controller: the running batch's step, and on a held node what a confirm
// resumes, beside the confirm and reject buttons; a failed module's error;
// no panel on a node without process modules.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessView } from "../../runtime/processes/host.js";
import { waitUntil } from "../helpers/cluster.js";
import { problemsOf, shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;

beforeAll(async () => {
  rig = await startHmiRig();
});

afterAll(async () => {
  await rig?.stop();
});

const writtenAt = "2026-11-30T02:59:55.000Z";
/** the batch in its heat step; the heat timer is due 30 s after the node's now (writtenAt + ageMs), whatever the browser's clock says */
const heating = (over: Partial<ProcessView> = {}): ProcessView => ({
  name: "batch",
  state: "running",
  error: null,
  step: "heat",
  content: { batch: 3, step: "heat", heatTo: 70 },
  timers: { heat: new Date(Date.parse(writtenAt) + 2000 + 30_000).toISOString() },
  seq: 1230,
  epoch: 7,
  writtenAt,
  ageMs: 2000,
  resumedFrom: 1200,
  ...over,
});

const card = "#context-card [data-process=batch]";

describe("HMI process panel", () => {
  it("shows the running batch's step, its context, the time left on its timer and its last write", async () => {
    rig.fake.contextProcesses = [heating()];
    const page = await rig.login("vera", "v-pass");
    try {
      await shows(page, `${card} .ctx-step-value`, "heat");
      expect(await page.locator("#context-card h3").textContent()).toBe("Process");
      expect(await page.locator(`${card} .ctx-name`).textContent()).toBe("batch");
      expect(await page.locator(`${card} .ctx-state`).textContent()).toBe("running");
      expect(await page.locator(`${card} .ctx-meaning`).textContent()).toBe("runs on this node");
      expect(await page.locator(`${card} .ctx-row-content dd`).textContent()).toBe("batch: 3 · heatTo: 70");
      expect(await page.locator(`${card} .ctx-row-timers dd`).textContent()).toMatch(/^heat: (2\d|30) s left$/);
      expect(await page.locator(`${card} .ctx-row-seq dd`).textContent()).toBe("1230");
      expect(await page.locator(`${card} .ctx-row-written dd`).textContent()).toMatch(/^\d+ s ago in epoch 7$/);
      expect(await page.locator(`${card} .ctx-row-resumed dd`).textContent()).toBe("context sequence 1200");
      expect(await page.locator("#held-banner").isVisible()).toBe(false);
      await page.screenshot({ path: "/tmp/hmi-context-running.png", fullPage: true });

      // the timer counts down between fetches, by the node's clock
      const first = await page.locator(`${card} .ctx-row-timers dd`).textContent();
      await shows(page, `${card} .ctx-row-timers dd`, (t) => t !== first && /^heat: \d+ s left$/.test(t));

      // the step moves on: the panel follows without a reload
      rig.fake.contextProcesses = [heating({ step: "mix", content: { batch: 3, step: "mix" }, timers: {}, seq: 1231 })];
      rig.fake.set({ context: { ...rig.fake.current.context, seq: 1231 } });
      await shows(page, `${card} .ctx-step-value`, "mix");
      expect(await page.locator(`${card} .ctx-row-timers`).count()).toBe(0);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      rig.fake.set({ context: { ...rig.fake.current.context, seq: 1234 } });
      await page.context().close();
    }
  });

  it("on a held node, the held banner names the step and context a confirm resumes, beside confirm and reject", async () => {
    rig.fake.setState("active-held");
    rig.fake.contextProcesses = [heating({ state: "held", ageMs: 12_000, resumedFrom: null })];
    const page = await rig.login("otto", "o-pass");
    try {
      await page.locator("#held-banner").waitFor({ state: "visible" });
      const line = "#held-context-lines li";
      await shows(page, line, (t) => /^batch: held at step heat, context sequence 1230, written 1\d s ago in epoch 7$/.test(t));
      expect(await page.locator("#held-context h3").textContent()).toBe("What confirm resumes");
      // inside the banner, above the buttons
      expect(await page.locator("#held-banner #held-context").isVisible()).toBe(true);
      const held = (await page.locator("#held-context").boundingBox())!;
      const confirm = (await page.locator("#confirm").boundingBox())!;
      expect(confirm.y).toBeGreaterThan(held.y);
      expect(confirm.y - (held.y + held.height)).toBeLessThan(150);
      expect(await page.locator(`${card} .ctx-state`).textContent()).toBe("held");
      expect(await page.locator(`${card} .ctx-meaning`).textContent()).toBe("held after the takeover: confirm resumes it at this step, reject restarts it from the beginning");
      await page.locator("#held-banner").screenshot({ path: "/tmp/hmi-context-held.png", animations: "disabled" });

      // confirmed: the banner and its held context go, the batch runs on
      await page.locator("#confirm").click();
      await page.locator("#ask-yes").click();
      rig.fake.contextProcesses = [heating({ resumedFrom: 1230 })];
      await page.locator("#held-banner").waitFor({ state: "hidden" });
      await shows(page, `${card} .ctx-row-resumed dd`, "context sequence 1230");
      expect(await page.locator("#held-context").isVisible()).toBe(false);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      rig.fake.setState("active");
      await page.context().close();
    }
  });

  it("a failed module shows its error, in the panel and in the held banner; idle on the standby says the batch runs on the active", async () => {
    rig.fake.setState("active-held");
    const error = "it threw: Error: valve line1.tank1.inletValve did not open";
    rig.fake.contextProcesses = [heating({ state: "failed", error }), { ...heating({ state: "held" }), name: "cip", step: "rinse", seq: 1100 }];
    const page = await rig.login("vera", "v-pass", { width: 390, height: 844 }); // a phone on the plant floor
    try {
      await shows(page, `${card} .ctx-error`, error);
      expect(await page.locator(`${card} .ctx-state`).textContent()).toBe("failed");
      expect(await page.locator(`${card} .ctx-meaning`).textContent()).toBe("stopped by an error: see the node's log");
      const lines = page.locator("#held-context-lines li");
      await waitUntil("two held lines", async () => (await lines.count()) === 2);
      expect(await lines.nth(0).textContent()).toBe("batch: failed: stopped by an error: see the node's log");
      expect(await lines.nth(1).textContent()).toMatch(/^cip: held at step rinse, context sequence 1100, written \d+ s ago in epoch 7$/);
      await page.screenshot({ path: "/tmp/hmi-context-failed.png", fullPage: true, animations: "disabled" });

      rig.fake.setState("standby");
      rig.fake.contextProcesses = [heating({ state: "idle", resumedFrom: null })];
      await shows(page, `${card} .ctx-meaning`, "runs on the active");
      expect(await page.locator(`${card} .ctx-step-value`).textContent()).toBe("heat");
      expect(await page.locator(`${card} .ctx-error`).count()).toBe(0);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      rig.fake.setState("active");
      await page.context().close();
    }
  });

  it("no panel on a node without process modules", async () => {
    rig.fake.contextProcesses = [];
    const page = await rig.login("vera", "v-pass");
    try {
      await shows(page, "#updated", (t) => t.length > 0);
      // a few polls: the context is fetched, and there is nothing to show
      await new Promise((r) => setTimeout(r, 2500));
      expect(await page.locator("#context-card").isVisible()).toBe(false);
      rig.fake.setState("active-held");
      await page.locator("#held-banner").waitFor({ state: "visible" });
      await new Promise((r) => setTimeout(r, 1500));
      expect(await page.locator("#held-context").isVisible()).toBe(false);
      expect(await page.locator("#context-card").isVisible()).toBe(false);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      rig.fake.setState("active");
      await page.context().close();
    }
  });
});
