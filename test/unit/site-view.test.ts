// The site view's model and view (runtime/site/model.ts, view.ts): a pure
// reducer of the site broker's messages, shown never better than known —
// old news is stale, an offline active is "no active", a held takeover and
// a missing peer are degraded (S5: every message a stranger's, counted and
// ignored when it is not one of ours, fuzzed with fast-check: never a
// throw, a bounded model, and never "good" on old news or without the
// broker). Also mqtt.site's config checks and `tandem site`'s table.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatSite } from "../../runtime/cli-site.js";
import { emptySite, MAX_NODES_PER_PAIR, siteStep, type SiteInput, type SiteModel } from "../../runtime/site/model.js";
import { ownEntry, pairView, type LocalPair, type SiteView } from "../../runtime/site/view.js";
import { parseConfig } from "../../runtime/config/load.js";
import { silentLogs } from "../../runtime/logging.js";
import { NodeSite } from "../../runtime/node-site.js";
import { FakeController } from "../helpers/fake-controller.js";
import { configProblems, minimalConfig } from "../helpers/min-config.js";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const iso = (t: number) => new Date(t).toISOString();
const msg = (topic: string, payload: unknown, now: number, retained = false): SiteInput => ({ type: "message", topic, payload: typeof payload === "string" ? payload : JSON.stringify(payload), retained, now });
const run = (inputs: SiteInput[], m: SiteModel = emptySite(200)) => inputs.reduce(siteStep, m);
const up: SiteInput = { type: "connection", up: true, now: T0 };

/** a healthy pair line2 as its nodes publish it, heard at `now` */
function healthyPair(now: number, retained = false): SiteInput[] {
  return [
    msg("tandem/line2/state", { pairId: "line2", active: "a", epoch: 7, state: "active", held: false, peer: { nodeId: "b", state: "standby" }, serviceLevel: 230, alarms: 0, hmi: "http://10.0.0.1:8080/", at: iso(now) }, now, retained),
    msg("tandem/line2/node/a/status", { nodeId: "a", state: "active", epoch: 7, serviceLevel: 230, alarms: 0, warnings: 0, hmi: "http://10.0.0.1:8080/", at: iso(now) }, now, retained),
    msg("tandem/line2/node/b/status", { nodeId: "b", state: "standby", epoch: 7, serviceLevel: 210, alarms: 0, hmi: "http://10.0.0.2:8080/", at: iso(now) }, now, retained),
  ];
}

const view = (m: SiteModel, now: number, pair = "line2") => pairView(pair, m.pairs.get(pair)!, { now, staleMs: 30_000, connected: m.connected });

describe("site model and view", () => {
  it("a pair heard now: its active, epoch, health good, each node's HMI", () => {
    const m = run([up, ...healthyPair(T0)]);
    const v = view(m, T0 + 1000);
    expect(v).toMatchObject({ pairId: "line2", active: "a", epoch: 7, state: "active", held: false, health: "good", alarms: 0, problems: [], hmi: "http://10.0.0.1:8080/" });
    expect(v.nodes.map((n) => [n.nodeId, n.state, n.hmi, n.stale])).toEqual([
      ["a", "active", "http://10.0.0.1:8080/", false],
      ["b", "standby", "http://10.0.0.2:8080/", false],
    ]);
  });

  it("nothing heard for longer than staleMs: stale, never good; a retained message is as old as its own time", () => {
    expect(view(run([up, ...healthyPair(T0)]), T0 + 31_000).health).toBe("stale");
    // retained on subscribing, written an hour ago: old news at once
    const old = run([up, ...healthyPair(T0 - 3_600_000, true).map((e) => ({ ...e, now: T0 }))]);
    const v = view(old, T0);
    expect(v.health).toBe("stale");
    expect(v.problems[0]).toMatch(/nothing heard from the active a for 60 min/);
    // retained without a time: not heard at all
    const noTime = run([up, msg("tandem/line2/state", { active: "a", epoch: 1, state: "active" }, T0, true)]);
    expect(view(noTime, T0).health).toBe("stale");
  });

  it("the active's last will (offline): no active; a newer active at a higher epoch wins over the old state", () => {
    const m = run([up, ...healthyPair(T0), msg("tandem/line2/node/a/status", { nodeId: "a", state: "offline", at: iso(T0 + 100) }, T0 + 100)]);
    const v = view(m, T0 + 200);
    expect(v.health).toBe("no-active");
    expect(v.problems[0]).toMatch(/the active a is offline/);
    expect(v.nodes[0]).toMatchObject({ nodeId: "a", state: "offline", hmi: "http://10.0.0.1:8080/" }); // the address it said last
    const took = siteStep(m, msg("tandem/line2/node/b/status", { nodeId: "b", state: "active-held", epoch: 8, serviceLevel: 220, at: iso(T0 + 300) }, T0 + 300));
    const w = view(took, T0 + 400);
    expect(w).toMatchObject({ active: "b", epoch: 8, state: "active-held", held: true, health: "degraded" });
    expect(w.problems).toEqual(expect.arrayContaining([expect.stringMatching(/takeover held: an operator confirms or rejects on b/), "a is offline"]));
  });

  it("degraded: a low service level, alarms, the peer not standby", () => {
    const m = run([
      up,
      ...healthyPair(T0),
      msg("tandem/line2/node/a/status", { state: "active", epoch: 7, serviceLevel: 150, alarms: 2, reasons: ["link plant down"], at: iso(T0) }, T0),
      msg("tandem/line2/node/b/status", { state: "maintenance", epoch: 7, at: iso(T0) }, T0),
    ]);
    const v = view(m, T0);
    expect(v.health).toBe("degraded");
    expect(v.alarms).toBe(2);
    expect(v.problems).toEqual(["the active's service level is 150 (link plant down)", "b is maintenance", "2 alarms"]);
  });

  it("the site broker lost: every other pair stale; an empty retained payload clears; the connection back", () => {
    const m = run([up, ...healthyPair(T0), { type: "connection", up: false, now: T0 + 10 }]);
    const v = view(m, T0 + 20);
    expect(v.health).toBe("stale");
    expect(v.problems[0]).toMatch(/not connected to the site broker/);
    expect(v.nodes.every((n) => n.stale)).toBe(true);
    const cleared = run([msg("tandem/line2/state", "", T0), msg("tandem/line2/node/a/status", "", T0), msg("tandem/line2/node/b/status", "", T0)], m);
    expect(cleared.pairs.has("line2")).toBe(false);
    expect(cleared.counters.cleared).toBe(3);
  });

  it("hostile messages are counted and ignored: topics, JSON, shapes, sizes, script links, too many pairs or nodes", () => {
    let m = run([up]);
    const bad: [string, string | Uint8Array][] = [
      ["tandem/line2/tags/x", "{}"],
      ["tandem/../state", "{}"],
      ["tandem/line2/node/a b/status", "{}"],
      ["tandem/line2/state", "{not json"],
      ["tandem/line2/state", new Uint8Array([0xff, 0xfe, 0x7b])],
      ["tandem/line2/state", '{"active":"a","epoch":-1,"state":"active"}'],
      ["tandem/line2/state", '{"active":"a","epoch":1,"state":"king"}'],
      ["tandem/line2/state", '{"pairId":"line9","active":"a","epoch":1,"state":"active"}'],
      ["tandem/line2/node/a/status", '{"nodeId":"b","state":"active"}'],
      ["tandem/line2/state", JSON.stringify({ active: "a", epoch: 1, state: "active", pad: "x".repeat(20_000) })],
    ];
    for (const [topic, payload] of bad) m = siteStep(m, { type: "message", topic, payload, retained: false, now: T0 });
    expect(m.counters).toMatchObject({ messages: 0, badTopic: 3, badJson: 2, badShape: 4, tooLarge: 1 });
    expect(m.pairs.size).toBe(0);
    // a javascript: link is dropped, the rest of the message taken
    m = siteStep(m, msg("tandem/line2/node/a/status", { state: "active", epoch: 1, hmi: "javascript:alert(1)", at: iso(T0) }, T0));
    expect(m.pairs.get("line2")!.nodes.get("a")!.hmi).toBeNull();
    for (let i = 0; i < 10; i++) m = siteStep(m, msg(`tandem/line2/node/n${i}/status`, { state: "standby" }, T0));
    expect(m.pairs.get("line2")!.nodes.size).toBe(MAX_NODES_PER_PAIR);
    let small = run([up], emptySite(3));
    for (let i = 0; i < 5; i++) small = siteStep(small, msg(`tandem/p${i}/state`, { active: "a", epoch: 1, state: "active" }, T0));
    expect(small.pairs.size).toBe(3);
    expect(small.counters.tooMany).toBe(2);
  });

  it("this node's own pair: first hand, with the peer's HMI and alarms from the broker", () => {
    const local: LocalPair = {
      nodeId: "b",
      state: "active-held",
      epoch: 4,
      serviceLevel: 220,
      serviceLevelReasons: [],
      held: true,
      alarms: 0,
      warnings: 1,
      hmi: "http://h2:8081/",
      peer: { nodeId: "a", state: "unknown", epoch: null, serviceLevel: null, lastSeenMs: null, hmi: null },
    };
    const broker = run([up, msg("tandem/line1/node/a/status", { state: "offline", hmi: "http://h1:8080/", at: iso(T0) }, T0)]).pairs.get("line1");
    const v = pairView("line1", ownEntry(local, broker, T0), { now: T0, staleMs: 30_000, connected: true, self: true });
    expect(v).toMatchObject({ self: true, active: "b", epoch: 4, state: "active-held", held: true, health: "degraded" });
    expect(v.nodes.find((n) => n.nodeId === "a")).toMatchObject({ state: "offline", hmi: "http://h1:8080/" });
    const standbyAlone = pairView("line1", ownEntry({ ...local, state: "standby", held: false }, undefined, T0), { now: T0, staleMs: 30_000, connected: true, self: true });
    expect(standbyAlone.health).toBe("no-active");
  });
});

// ---- fuzz ----

const ids = fc.constantFrom("line1", "line2", "p3", "a", "b", "c", "constructor", "__proto__", "x/y", "", "+", "#", "a".repeat(70));
const topicArb = fc.oneof(
  fc.tuple(ids).map(([p]) => `tandem/${p}/state`),
  fc.tuple(ids, ids).map(([p, n]) => `tandem/${p}/node/${n}/status`),
  fc.string({ maxLength: 40 }),
  fc.constant("tandem/line2/state/extra"),
);
const stateLike = fc.record(
  {
    pairId: fc.oneof(ids, fc.anything()),
    active: fc.oneof(ids, fc.anything()),
    epoch: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
    state: fc.oneof(fc.constantFrom("active", "active-held", "standby", "offline", "isolated", "king"), fc.anything()),
    held: fc.oneof(fc.boolean(), fc.anything()),
    peer: fc.anything(),
    serviceLevel: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.anything()),
    alarms: fc.oneof(fc.nat(10), fc.anything()),
    hmi: fc.oneof(fc.constantFrom("http://h:1/", "javascript:alert(1)", "https://x/\"><script>", "data:text/html,x", "http://u:p@h/"), fc.anything()),
    at: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()),
  },
  { requiredKeys: [] },
);
const payloadArb = fc.oneof(
  stateLike.map((o) => JSON.stringify(o) ?? ""),
  fc.json(),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
  fc.constant(""),
);
const inputArb: fc.Arbitrary<SiteInput> = fc.oneof(
  { weight: 9, arbitrary: fc.record({ type: fc.constant("message" as const), topic: topicArb, payload: payloadArb, retained: fc.boolean(), now: fc.integer({ min: T0, max: T0 + 120_000 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("connection" as const), up: fc.boolean(), now: fc.integer({ min: T0, max: T0 + 120_000 }) }) },
);

describe("site model fuzz (fast-check)", () => {
  it("never throws, stays bounded, counts every message once, and shows nothing good it has not heard lately", () => {
    fc.assert(
      fc.property(fc.array(inputArb, { maxLength: 60 }), fc.integer({ min: 0, max: 200_000 }), (inputs, later) => {
        const m = run(inputs, emptySite(3));
        const c = m.counters;
        const messages = inputs.filter((e) => e.type === "message").length;
        expect(c.messages + c.cleared + c.badTopic + c.badJson + c.badShape + c.tooLarge + c.tooMany).toBe(messages);
        expect(m.pairs.size).toBeLessThanOrEqual(3);
        const now = T0 + later;
        for (const [id, e] of m.pairs) {
          expect(e.nodes.size).toBeLessThanOrEqual(MAX_NODES_PER_PAIR);
          const v = pairView(id, e, { now, staleMs: 30_000, connected: m.connected });
          for (const n of v.nodes) if (n.hmi !== null) expect(n.hmi).toMatch(/^https?:\/\/[^\s"'<>`\\]+$/);
          if (v.health === "good") {
            expect(m.connected).toBe(true);
            expect(v.heardMsAgo).not.toBeNull();
            expect(v.heardMsAgo!).toBeLessThanOrEqual(30_000);
            expect(v.problems).toEqual([]);
          }
          if (!m.connected) expect(["stale", "unknown"]).toContain(v.health);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe("mqtt.site config", () => {
  const external = (site: string) => minimalConfig().replace("http: { listen: 127.0.0.1:8080 }", `http: { listen: 127.0.0.1:8080 }\nmqtt:\n  broker: external\n  url: mqtt://127.0.0.1:1883\n${site}`);
  it("takes the defaults and refuses what does not fit, naming the path", () => {
    expect(configProblems(external("  site: {}"))).toEqual([]);
    expect(configProblems(external("  site: { hmiUrl: 'https://line1-a.plant:8080/', staleMs: 20000, refreshMs: 5000 }"))).toEqual([]);
    expect(configProblems(external("  site: { staleMs: 5000, refreshMs: 5000 }"))).toEqual([expect.stringMatching(/^mqtt\.site\.staleMs: must be at least twice refreshMs/)]);
    expect(configProblems(external("  site: { hmiUrl: 'javascript:alert(1)' }"))).toEqual([expect.stringMatching(/^mqtt\.site\.hmiUrl: expected http:\/\/host:port\//)]);
    expect(configProblems(external("  site: { colour: red }"))[0]).toMatch(/^mqtt\.site/);
    const embedded = minimalConfig().replace("http: { listen: 127.0.0.1:8080 }", "http: { listen: 127.0.0.1:8080 }\nmqtt: { listen: 127.0.0.1:1883, site: {} }");
    expect(configProblems(embedded)).toEqual([expect.stringMatching(/^mqtt\.site: only for broker: external/)]);
  });
});

describe("tandem site's table", () => {
  it("one row per pair, the problems and each node's HMI under it; a stranger's text stays on its line", () => {
    const m = run([up, ...healthyPair(T0), msg("tandem/ev\u001bil/state", "{}", T0)]);
    const v: SiteView = {
      pairId: "line1",
      nodeId: "a",
      at: iso(T0),
      source: "site-broker",
      broker: { url: "mqtt://127.0.0.1:1883", connected: true, changedAt: iso(T0) },
      note: "every pair on the site broker",
      staleMs: 30_000,
      pairs: [view(m, T0 + 500), { ...view(m, T0 + 500), pairId: "bad\nname", health: "stale", problems: ["line\none"] }],
      counters: m.counters,
    };
    const out = formatSite(v);
    expect(out[2]).toMatch(/^PAIR\s+ACTIVE\s+EPOCH\s+STATE\s+HEALTH\s+HELD\s+ALARMS\s+HEARD$/);
    expect(out[3]).toMatch(/^line2\s+a\s+7\s+active\s+good\s+no\s+0\s+500 ms$/);
    expect(out.every((l) => !l.includes("\n"))).toBe(true);
    expect(out).toContain("  line2/b: standby, epoch 7, level 210, HMI http://10.0.0.2:8080/");
    expect(out.at(-1)).toMatch(/1 message from the site broker ignored \(badTopic 1\)/);
  });
});

describe("NodeSite (runtime/node-site.ts) without a site broker", () => {
  const host = (mqtt: string) => {
    const config = parseConfig(minimalConfig().replace("http: { listen: 127.0.0.1:8080 }", `http: { listen: 127.0.0.1:8080 }\n${mqtt}`), { env: {} });
    const fake = new FakeController();
    return { config, logs: silentLogs(), httpAddress: { host: "127.0.0.1", port: 8080 }, status: () => fake.status() };
  };
  it("with the embedded broker: this pair alone, and says so; its state and status carry the HMI address and alarm counts", async () => {
    const site = new NodeSite(host("mqtt: { listen: 127.0.0.1:1883 }"));
    site.start();
    const v = site.view();
    expect(v.source).toBe("own-pair-only");
    expect(v.note).toMatch(/embedded .* only this pair is shown/);
    expect(v.pairs.map((p) => p.pairId)).toEqual(["line1"]);
    expect(v.pairs[0]).toMatchObject({ self: true, active: "a", health: "good" });
    const f = site.mqttHooks().fields();
    expect(f.status).toMatchObject({ hmi: "http://127.0.0.1:8080/", alarms: 0, warnings: 0, health: "good" });
    expect(f.state).toMatchObject({ hmi: "http://127.0.0.1:8080/", serviceLevel: 230, health: "good" });
    await site.stop();
  });
  it("without an mqtt section: this pair alone", () => {
    const v = new NodeSite(host("")).view();
    expect([v.source, v.pairs.length, v.broker.url]).toEqual(["own-pair-only", 1, null]);
    expect(v.note).toMatch(/no mqtt section/);
  });
});
