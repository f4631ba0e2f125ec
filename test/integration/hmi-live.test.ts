// The HMI's live feed (runtime/hmi/live.js) in a real browser (Debian's
// chromium) against the HTTP server with the fake controller: a page whose
// stream the node refuses (it holds as many as it takes, 503) says the feed
// is lost, greys the board, and gets its stream once a place is free — the
// browser's EventSource would not try again by itself. Meanwhile the
// services panel reads its list every 2 s, and stops once the stream is back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceView } from "../../runtime/node-api.js";
import { waitUntil } from "../helpers/cluster.js";
import { shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

let rig: HmiRig;

beforeAll(async () => {
  rig = await startHmiRig({ eventStream: { maxStreams: 1 } });
});

afterAll(async () => {
  await rig?.stop();
});

describe("HMI live feed", () => {
  it("a page refused a stream says so, reads its services meanwhile, and takes a stream when a place is free", async () => {
    const service = (state: ServiceView["state"]): ServiceView => ({
      ...{ name: "historian", instance: "historian", placement: "active", pid: null, node: null, reason: "this node is active (epoch 7)", dependsOn: [], health: "none", healthDetail: "" },
      ...{ startedAt: null, uptimeMs: null, restarts: 0, lastExit: null, cpuPercent: 0, rssBytes: 0, readBytes: 0, writeBytes: 0, eventsPerSec: 0, lastOutputAt: null, stoppedByOperator: null, state },
    });
    rig.fake.serviceList = [service("running")];
    const first = await rig.login("vera", "v-pass");
    await shows(first, "#updated", (t) => t.endsWith("· live"));
    const second = await rig.login("otto", "o-pass");
    await shows(second, "#conn-error", (t) => t.includes("Live updates from this node were lost at"));
    expect(await second.locator("#board").getAttribute("class")).toContain("stale");
    // no stream: the services panel reads the list every 2 s, and so sees a change
    const row = second.locator("#services-table tr.svc-row").first();
    await row.waitFor();
    const reads = rig.fake.servicesReads;
    rig.fake.serviceList = [service("failed")];
    await waitUntil("the failed service shown by a read", async () => ((await row.getAttribute("class")) ?? "").includes("svc-row-failed"), { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 4200));
    expect(rig.fake.servicesReads).toBeGreaterThanOrEqual(reads + 3);
    await first.context().close();
    await shows(second, "#updated", (t) => t.endsWith("· live"), 15_000);
    expect(await second.locator("#conn-error").isVisible()).toBe(false);
    await shows(second, "#notice-text", (t) => t.startsWith("Live updates are back"));
    // the stream back: one read for what changed meanwhile, then the stream alone
    await new Promise((r) => setTimeout(r, 1000));
    const back = rig.fake.servicesReads;
    await new Promise((r) => setTimeout(r, 4500));
    expect(rig.fake.servicesReads).toBe(back);
    rig.fake.serviceList = [service("running")];
    rig.fake.emit({ type: "services", data: rig.fake.services() });
    await waitUntil("the running service shown from the stream", async () => !((await row.getAttribute("class")) ?? "").includes("svc-row-failed"), { timeoutMs: 3000 });
    await second.context().close();
  });
});
