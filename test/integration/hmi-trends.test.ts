// The trend and timeline panels of the operator HMI in a real browser
// (Debian's chromium through playwright-core) against the real HTTP server
// and a fake controller's recorded history and stored events: uPlot, served
// by the node, draws the chosen tag's history on a canvas; a live value
// extends the line; the choice survives a reload; a tag without history says
// so; the timeline shows this node's states and an event's text when its
// marker is tapped; both fit a phone without a horizontal scroll. The page's
// script errors and CSP refusals (console errors) fail every test.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import type { EventView, HistorySample, TagView } from "../../runtime/node-api.js";
import { waitUntil } from "../helpers/cluster.js";
import { problemsOf, shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;

beforeAll(async () => {
  rig = await startHmiRig();
});

afterAll(async () => {
  await rig?.stop();
});

const LEVEL = "line1.tank1.level";
const FLOW = "line1.pump1.flow";
const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
const tag = (name: string, value: unknown, over: Partial<TagView> = {}): TagView => ({ name, driver: "modbus", value, quality: "good", timestamp: ago(1), receivedAt: ago(1), writable: false, ...over });

/** ten minutes of the level: 10 %, 20 %, an uncertain 15 %, a bad read, 20 % again; the last sample a minute ago */
function levelHistory(): HistorySample[] {
  return [
    { value: 10, quality: "good", timestamp: ago(600) },
    { value: 20, quality: "good", timestamp: ago(420) },
    { value: 15, quality: "uncertain", reason: "sensor_warmup", timestamp: ago(300) },
    { value: null, quality: "bad", reason: "comm_lost", timestamp: ago(200) },
    { value: 20, quality: "good", timestamp: ago(60) },
  ];
}

/** In the chart's canvas: how many pixels have the colour, the rightmost column holding one (-1: none) and their mean row there (the line's height at its end; 0 is the top). */
const pixels = (page: Page, rgb: [number, number, number]) =>
  page.evaluate((c) => {
    const canvas = document.querySelector("#trend-plot canvas") as HTMLCanvasElement | null;
    if (!canvas) return { count: 0, right: -1, rightY: -1 };
    const d = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    const hits: [number, number][] = [];
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - c[0]) < 24 && Math.abs(d[i + 1] - c[1]) < 24 && Math.abs(d[i + 2] - c[2]) < 24 && d[i + 3] > 200) hits.push([(i / 4) % canvas.width, Math.floor(i / 4 / canvas.width)]);
    }
    const right = Math.max(-1, ...hits.map((h) => h[0]));
    const there = hits.filter((h) => h[0] === right).map((h) => h[1]);
    return { count: hits.length, right, rightY: there.length ? there.reduce((a, b) => a + b, 0) / there.length : -1 };
  }, rgb);

const LINE_1: [number, number, number] = [0x4f, 0xc3, 0xf7]; // the first tag's colour (trend.js)
const AMBER: [number, number, number] = [0xe0, 0xa1, 0x00]; // an uncertain sample's dot

const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

describe("HMI trend and timeline", () => {
  it("draws a chosen tag's history with uPlot, marks an uncertain value, moves the line with a live value and keeps the choice", async () => {
    rig.fake.tagList = [tag(LEVEL, 20, { units: "%" }), tag(FLOW, 3.5), tag("line1.valve.name", "V-101")];
    rig.fake.history = { [LEVEL]: levelHistory(), [FLOW]: [] };
    const page = await rig.login("vera", "v-pass");
    try {
      await page.locator("#trend-card").waitFor({ state: "visible" });
      // only numeric tags are offered
      await waitUntil("two tag checkboxes", async () => (await page.locator("#trend-tags input").count()) === 2);
      expect(await page.locator("#trend-tags input").evaluateAll((xs) => xs.map((x) => (x as HTMLInputElement).value))).toEqual([FLOW, LEVEL]);
      expect(await page.locator("#trend-range option").allTextContents()).toEqual(["15 min", "1 h", "8 h", "24 h"]);
      await page.locator(`#trend-tags input[value="${LEVEL}"]`).check();
      await page.locator("#trend-plot canvas").waitFor();
      await shows(page, "#trend-legend", `${LEVEL}: 20`);
      await waitUntil("the line is drawn", async () => (await pixels(page, LINE_1)).count > 50);
      expect((await pixels(page, AMBER)).count).toBeGreaterThan(10); // the uncertain 15 %
      expect(await page.locator("#trend-quality").textContent()).toContain("A gap in a line: no good value there");
      // the history was asked for the range, the newest first, at most the API's limit
      const q = rig.fake.historyQueries.filter((h) => h.name === LEVEL).at(-1)!.q;
      expect(q.to - q.from).toBe(15 * 60_000);
      expect(q.order).toBe("desc");
      expect(q.limit).toBe(10_000);
      await page.locator("#trend-card").screenshot({ path: "/tmp/hmi-trend.png" });

      // the value is still 20 (the tag list says so): the line runs on to now, at the top of the scale (10–20)
      const before = await pixels(page, LINE_1);
      const width = await page.locator("#trend-plot canvas").evaluate((c) => (c as HTMLCanvasElement).width);
      expect(before.right).toBeGreaterThan(width * 0.9);
      // a live value below the range: the line's end drops to the bottom of the new scale
      rig.fake.emit({ type: "tag", data: tag(LEVEL, 5, { timestamp: ago(0), receivedAt: ago(0) }) });
      await shows(page, "#trend-legend", `${LEVEL}: 5`);
      await waitUntil("the line's end drops to 5", async () => (await pixels(page, LINE_1)).rightY > before.rightY + 100, { seen: async () => `its end at row ${(await pixels(page, LINE_1)).rightY}, before ${before.rightY}` });

      // a tag without recorded samples says so
      await page.locator(`#trend-tags input[value="${FLOW}"]`).check();
      await shows(page, "#trend-notes", `${FLOW}: no recorded history (history.enabled?)`);

      // the choice and the range survive a reload
      await page.locator("#trend-range").selectOption({ label: "1 h" });
      await waitUntil("an hour asked for", () => rig.fake.historyQueries.some((h) => h.q.to - h.q.from === 3_600_000));
      await page.reload();
      await page.locator("#trend-plot canvas").waitFor();
      expect(await page.locator("#trend-tags input:checked").evaluateAll((xs) => xs.map((x) => (x as HTMLInputElement).value))).toEqual([FLOW, LEVEL]);
      expect(await page.locator("#trend-range").inputValue()).toBe(String(3_600_000));
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("the timeline shows this node's states and the peer's, and a marker's text when tapped", async () => {
    rig.fake.tagList = [];
    const events: EventView[] = [
      { seq: 3, type: "state", severity: "info", text: "starting → standby (epoch 1): the peer is active", node: "a", at: ago(3 * 3600) },
      // b's change to active is the last stored of b's: b is a standby now (the fake's status), a change it did not store
      { seq: 9, type: "state", severity: "info", text: "standby → active (epoch 1): elected active", node: "b", at: ago(700) },
      { seq: 10, type: "takeover", severity: "alarm", text: "took over from b: b not seen on any link for 600 ms", node: "a", at: ago(600) },
      { seq: 11, type: "state", severity: "info", text: "standby → active-held (epoch 2): takeover", node: "a", at: ago(600) },
      { seq: 14, type: "confirm", severity: "info", text: "takeover confirmed by otto: the process resumes from its context", node: "a", at: ago(300) },
      { seq: 15, type: "state", severity: "info", text: "active-held → active (epoch 2): confirmed", node: "a", at: ago(300) },
    ];
    rig.fake.storedEvents = events;
    const reads: { after: number; limit: number }[] = [];
    const stored = rig.fake.eventHistory.bind(rig.fake);
    rig.fake.eventHistory = (after, limit) => {
      reads.push({ after, limit });
      return stored(after, limit);
    };
    const page = await rig.login("vera", "v-pass", { width: 390, height: 844 }); // a phone on the plant floor
    try {
      const segs = '#timeline-strips [data-node="a"] .tl-seg';
      await waitUntil("three states of node a", async () => (await page.locator(segs).count()) === 3, { seen: async () => `${await page.locator(segs).count()}` });
      expect(await page.locator(segs).evaluateAll((xs) => xs.map((x) => (x as HTMLElement).dataset.state))).toEqual(["standby", "active-held", "active"]);
      expect(await page.locator(`${segs}.state-active-held`).count()).toBe(1); // coloured like the state card
      // the peer: its last stored state is not its state now, and the strip says so
      const peer = page.locator('#timeline-strips [data-node="b"] .tl-seg');
      expect(await peer.evaluateAll((xs) => xs.map((x) => (x as HTMLElement).dataset.state))).toEqual(["standby", "active"]);
      expect(await peer.last().getAttribute("class")).toContain("tl-stale");
      expect(await peer.last().getAttribute("title")).toContain("STANDBY now: a change in between was not stored");
      expect(await page.locator(segs).last().getAttribute("class")).not.toContain("tl-stale");
      await page.locator('.tl-mark[data-type="takeover"]').click();
      await shows(page, "#timeline-detail", (t) => t.includes("took over from b: b not seen on any link for 600 ms") && t.includes("alarm"));
      await page.locator('.tl-mark[data-type="confirm"]').click();
      await shows(page, "#timeline-detail", (t) => t.includes("takeover confirmed by otto"));
      expect(await page.locator("#timeline-summary").textContent()).toBe("2 events in this range");
      // the range's first event was found by bisecting on `after` (pages of one); the read starts at the last event before it
      expect(reads.find((r) => r.limit > 1)?.after).toBe(2);
      expect(reads.filter((r) => r.limit === 1).length).toBeLessThan(10);
      expect(await noHorizontalScroll(page)).toBe(true);
      await page.screenshot({ path: "/tmp/hmi-timeline-phone.png", fullPage: true });

      // an event recorded now: the live feed says so, the panel reads what came after
      rig.fake.storedEvents = [...events, { seq: 20, type: "witness-unreachable", severity: "warning", text: "the witness at 10.0.0.9:7400 does not answer", node: "a", at: ago(0) }];
      rig.fake.emit({ type: "event", data: { type: "witness-unreachable", severity: "warning", text: "the witness at 10.0.0.9:7400 does not answer", node: "a", at: Date.now() } });
      await page.locator('.tl-mark[data-type="witness-unreachable"]').waitFor();
      expect(problemsOf(page)).toEqual([]);
    } finally {
      rig.fake.eventHistory = stored;
      rig.fake.storedEvents = [];
      await page.context().close();
    }
  });

  it("on a phone and at 1280×800 the trend fits without a horizontal scroll and follows the window's width; a range with more samples than the API's limit says it was cut", async () => {
    rig.fake.tagList = [tag(LEVEL, 20)];
    // more samples than one request brings (10,000): one each 50 ms for the last 9 minutes
    const start = Date.now() - 9 * 60_000;
    rig.fake.history = { [LEVEL]: Array.from({ length: 10_800 }, (_, i) => ({ value: 10 + (i % 100) / 10, quality: "good" as const, timestamp: new Date(start + i * 50).toISOString() })) };
    const page = await rig.login("vera", "v-pass", { width: 390, height: 844 });
    try {
      await page.locator(`#trend-tags input[value="${LEVEL}"]`).check();
      await page.locator("#trend-plot canvas").waitFor();
      await waitUntil("the line is drawn", async () => (await pixels(page, LINE_1)).count > 20);
      // the range was cut: the newest 10,000 are drawn, and the panel says from when
      await shows(page, "#trend-notes", (t) => t.startsWith(`${LEVEL}: this range holds more than 10000 samples; only the newest 10000 are drawn (from `));
      expect(await noHorizontalScroll(page)).toBe(true);
      const narrow = await page.locator("#trend-plot .uplot").evaluate((e) => e.getBoundingClientRect().width);
      expect(narrow).toBeLessThanOrEqual(390);
      await page.screenshot({ path: "/tmp/hmi-trend-phone.png", fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
      await waitUntil("the chart widens with the window", async () => (await page.locator("#trend-plot .uplot").evaluate((e) => e.getBoundingClientRect().width)) > 1000);
      expect(await noHorizontalScroll(page)).toBe(true);
      expect(problemsOf(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
