// GET /tags/:name/history and GET /events/history on the real HTTP server
// (the controller is the fake one: what reaches it, and what a bad query
// gets), and `tandem tags history` / `tandem events` against that server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { runClientCommand, type ClientCommand } from "../../runtime/cli-client.js";
import { timeArg } from "../../runtime/cli-history.js";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { silentLogs } from "../../runtime/logging.js";
import { FakeController } from "../helpers/fake-controller.js";

let fake: FakeController;
let server: HttpServer;
let url: string;

const T0 = Date.parse("2026-11-30T05:00:00.000Z");

beforeAll(async () => {
  fake = new FakeController();
  fake.history = {
    "line1.tank.level": [
      { value: 40.5, quality: "good", timestamp: new Date(T0).toISOString() },
      { value: 41.5, quality: "good", timestamp: new Date(T0 + 60_000).toISOString() },
      { value: 41.5, quality: "bad", reason: "comm_lost", timestamp: new Date(T0 + 120_000).toISOString() },
    ],
  };
  fake.storedEvents = [
    { seq: 5, type: "takeover-started", severity: "warning", text: "the active a is not visible on any link; asking the witness", node: "b", at: new Date(T0).toISOString() },
    { seq: 9, type: "takeover", severity: "alarm", text: "took over from a", node: "b", at: new Date(T0 + 800).toISOString() },
  ];
  server = createHttpServer({
    controller: fake,
    http: { listen: { host: "127.0.0.1", port: 0 }, users: [{ name: "vera", role: "viewer", passwordHash: await hashPassword("v-pass") }], metricsAuth: false, sessionTtlMs: 60_000 },
    logs: silentLogs(),
    pairId: "line1",
    nodeId: "a",
  });
  url = `http://127.0.0.1:${(await server.start()).port}`;
});

afterAll(async () => {
  await server?.stop();
});

async function get(path: string, login = true): Promise<{ status: number; json: any }> {
  const r = await fetch(`${url}/api/v1${path}`, { headers: login ? { authorization: `Basic ${Buffer.from("vera:v-pass").toString("base64")}` } : {} });
  return { status: r.status, json: await r.json() };
}

async function cli(cmd: ClientCommand, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runClientCommand(cmd, [...argv, "--node", url], { out: (s) => out.push(s), err: (s) => err.push(s), env: { TANDEM_USER: "vera", TANDEM_PASSWORD: "v-pass" } });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("GET /api/v1/tags/:name/history", () => {
  it("passes the range on as milliseconds (ISO or ms), defaults to the last hour, oldest first, 1000 at most", async () => {
    fake.historyQueries.length = 0;
    const r = await get(`/tags/line1.tank.level/history?from=2026-11-30T05:00:00Z&to=${T0 + 60_000}&limit=5&order=desc`);
    expect(r.status).toBe(200);
    expect(fake.historyQueries[0]).toEqual({ name: "line1.tank.level", q: { from: T0, to: T0 + 60_000, limit: 5, order: "desc" } });
    expect(r.json.samples.map((s: { value: number }) => s.value)).toEqual([41.5, 40.5]);
    const before = Date.now();
    await get("/tags/line1.tank.level/history");
    const q = fake.historyQueries[1]!.q;
    expect(q.to).toBeGreaterThanOrEqual(before);
    expect(q.to - q.from).toBe(3_600_000);
    expect(q).toMatchObject({ limit: 1000, order: "asc" });
  });

  it("a bad query is 400 naming the parameter; an unknown tag 404; no login 401", async () => {
    const cases: [string, RegExp][] = [
      ["from=yesterday", /querystring\.from: expected an ISO 8601 time/],
      ["to=2026-13-45T99:00:00Z", /querystring\.to/],
      [`from=${T0 + 1}&to=${T0}`, /querystring\.from: .* is after 'to'/],
      ["limit=0", /querystring\.limit: expected a whole number 1–10000, got 0/],
      ["limit=10001", /1–10000/],
      ["limit=-1", /limit/],
      ["order=up", /order/],
      ["since=10m", /since/],
    ];
    for (const [q, msg] of cases) {
      const r = await get(`/tags/line1.tank.level/history?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.error.code, q).toBe("TANDEM_ERR_BAD_REQUEST");
      expect(r.json.error.message, q).toMatch(msg);
    }
    expect((await get("/tags/no.such/history")).status).toBe(404);
    expect((await get("/tags/line1.tank.level/history", false)).status).toBe(401);
  });
});

describe("GET /api/v1/events/history", () => {
  it("pages by sequence number; a bad page is 400", async () => {
    expect((await get("/events/history")).json.events.map((e: { seq: number }) => e.seq)).toEqual([5, 9]);
    expect(await get("/events/history?after=5&limit=1")).toMatchObject({ status: 200, json: { events: [{ seq: 9, type: "takeover" }], next: 9 } });
    for (const q of ["limit=0", "limit=1001", "after=-1", "after=x"]) expect((await get(`/events/history?${q}`)).status, q).toBe(400);
  });
});

describe("tandem tags history / tandem events", () => {
  it("--since is a time back from now or an ISO time; the samples print one a line with their quality", async () => {
    const now = Date.now();
    expect(timeArg("since", "10m", now)).toBe(now - 600_000);
    expect(timeArg("since", "2h", now)).toBe(now - 7_200_000);
    expect(timeArg("since", "2026-11-30T05:00:00Z", now)).toBe(T0);
    expect(timeArg("since", "10 minutes", now)).toMatch(/--since: expected a time back from now/);
    fake.historyQueries.length = 0;
    const r = await cli("tags", ["history", "line1.tank.level", "--since", "2026-11-30T05:00:00Z", "--until", "2026-11-30T06:00:00Z", "--limit", "2"]);
    expect(r.code, r.err).toBe(0);
    expect(fake.historyQueries[0]!.q).toEqual({ from: T0, to: T0 + 3_600_000, limit: 2, order: "asc" });
    expect(r.out).toMatch(/^2026-11-30T05:00:00\.000Z +40\.5 +good$/m);
    expect(r.out).toMatch(/more in this range/);
    const all = await cli("tags", ["history", "line1.tank.level", "--since", "2026-11-30T05:00:00Z"]);
    expect(all.out).toMatch(/^2026-11-30T05:02:00\.000Z +41\.5 +bad \(comm_lost\)$/m);
  });

  it("usage problems exit 2 before asking the node", async () => {
    for (const argv of [["history"], ["history", "x", "--since", "soon"], ["history", "x", "--since", "1m", "--until", "2h"], ["list", "--since", "1m"], ["trend", "x"], ["history", "x", "--limit", "0"]]) {
      const r = await cli("tags", argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err).toMatch(/usage: tandem tags/);
    }
  });

  it("tandem tags lists every tag now: value with units, quality with its reason, source time", async () => {
    fake.tagList = [
      { name: "line1.tank.level", driver: "modbus", value: 41.5, quality: "good", timestamp: new Date(T0).toISOString(), receivedAt: null, writable: false, units: "%" },
      { name: "line1.pump.run", driver: "opcua", value: true, quality: "bad", reason: "comm_lost", timestamp: null, receivedAt: null, writable: true },
    ];
    const r = await cli("tags", []);
    expect(r.code, r.err).toBe(0);
    expect(r.out.split("\n")).toEqual([
      "TAG               VALUE   QUALITY          SOURCE TIME",
      "line1.tank.level  41.5 %  good             2026-11-30T05:00:00.000Z",
      "line1.pump.run    true    bad (comm_lost)  -",
    ]);
  });

  it("tandem events lists the stored events with their severity", async () => {
    const r = await cli("events", []);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^9 +2026-11-30T05:00:00\.800Z +b +ALARM +takeover +took over from a$/m);
    expect(r.out).toMatch(/^5 .* WARNING +takeover-started +the active a is not visible/m);
  });
});
