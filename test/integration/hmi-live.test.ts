// The HMI's live feed (runtime/hmi/live.js) in a real browser (Debian's
// chromium) against the HTTP server with the fake controller: a page whose
// stream the node refuses (it holds as many as it takes, 503) says the feed
// is lost, greys the board, and gets its stream once a place is free — the
// browser's EventSource would not try again by itself.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;

beforeAll(async () => {
  rig = await startHmiRig({ eventStream: { maxStreams: 1 } });
});

afterAll(async () => {
  await rig?.stop();
});

describe("HMI live feed", () => {
  it("a page refused a stream says so, and takes one when a place is free", async () => {
    const first = await rig.login("vera", "v-pass");
    await shows(first, "#updated", (t) => t.endsWith("· live"));
    const second = await rig.login("otto", "o-pass");
    await shows(second, "#conn-error", (t) => t.includes("Live updates from this node were lost at"));
    expect(await second.locator("#board").getAttribute("class")).toContain("stale");
    await first.context().close();
    await shows(second, "#updated", (t) => t.endsWith("· live"), 15_000);
    expect(await second.locator("#conn-error").isVisible()).toBe(false);
    await shows(second, "#notice-text", (t) => t.startsWith("Live updates are back"));
    await second.context().close();
  });
});
