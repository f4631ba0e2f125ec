// The HTTP API on a real fastify listening on 127.0.0.1:0, in front of the fake
// controller: roles, Basic and cookie login, input checking, error mapping.
import http from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { silentLogs, LogManager } from "../../runtime/logging.js";
import { TandemError } from "../../core/errors.js";
import type { Role } from "../../runtime/node-api.js";
import { FakeController } from "../helpers/fake-controller.js";

type Who = "none" | Role;
const RANK: Record<Who, number> = { none: 0, viewer: 1, operator: 2, admin: 3 };
const basic = (u: string, p: string) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const AUTH: Record<Role, string> = { viewer: basic("vera", "v-pass"), operator: basic("otto", "o-pass"), admin: basic("ada", "a-pass") };
const JSON_HDR = { "content-type": "application/json" };

let users: { name: string; role: Role; passwordHash: string }[];
let fake: FakeController;
let server: HttpServer;
let base: string;
const logLines: Record<string, unknown>[] = [];

async function startServer(metricsAuth: boolean, controller: FakeController): Promise<{ server: HttpServer; base: string }> {
  const logs = new LogManager({ level: "info", destination: { write: (s: string) => void logLines.push(JSON.parse(s)) } });
  const s = createHttpServer({
    controller,
    http: { listen: { host: "127.0.0.1", port: 0 }, users, metricsAuth, sessionTtlMs: 60_000 },
    logs,
    pairId: "line1",
    nodeId: "a",
    // the brute-force limits have tests of their own (http-brute-force.test.ts)
    loginLimits: { addressBurst: 1000, accountBurst: 1000 },
  });
  const { host, port } = await s.start();
  return { server: s, base: `http://${host}:${port}` };
}

beforeAll(async () => {
  users = [
    { name: "vera", role: "viewer", passwordHash: await hashPassword("v-pass") },
    { name: "otto", role: "operator", passwordHash: await hashPassword("o-pass") },
    { name: "ada", role: "admin", passwordHash: await hashPassword("a-pass") },
  ];
  fake = new FakeController();
  ({ server, base } = await startServer(false, fake));
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(() => {
  fake.current = new FakeController().current;
  fake.calls.length = 0;
  fake.failNext.clear();
});

async function call(method: string, path: string, opts: { who?: Who; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.who && opts.who !== "none") headers.authorization = AUTH[opts.who];
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// Every route, the least role it needs and a body it accepts.
const ROUTES: { method: string; path: string; need: Who; body?: unknown; calls?: string }[] = [
  { method: "GET", path: "/api/v1/health", need: "none" },
  { method: "GET", path: "/api/v1/metrics", need: "none" },
  { method: "GET", path: "/api/v1/status", need: "viewer" },
  { method: "GET", path: "/api/v1/audit?limit=5", need: "viewer" },
  { method: "GET", path: "/api/v1/log-level", need: "viewer" },
  { method: "GET", path: "/api/v1/whoami", need: "viewer" },
  { method: "POST", path: "/api/v1/confirm", need: "operator", body: {}, calls: "confirm" },
  { method: "POST", path: "/api/v1/reject", need: "operator", body: {}, calls: "reject" },
  { method: "POST", path: "/api/v1/promote", need: "operator", body: { confirmActiveIsDown: true }, calls: "promote" },
  { method: "POST", path: "/api/v1/switchover", need: "admin", body: { to: "b" }, calls: "switchover" },
  { method: "POST", path: "/api/v1/maintenance", need: "admin", body: { enter: true }, calls: "maintenance" },
  { method: "PUT", path: "/api/v1/log-level", need: "admin", body: { level: "debug", component: "peer" }, calls: "setLogLevel" },
];

describe("role matrix", () => {
  for (const r of ROUTES) {
    for (const who of ["none", "viewer", "operator", "admin"] as const) {
      const allowed = RANK[who] >= RANK[r.need];
      it(`${r.method} ${r.path.split("?")[0]} as ${who} → ${allowed ? "allowed" : who === "none" ? "401" : "403"}`, async () => {
        fake.setState("active-held");
        const res = await call(r.method, r.path, { who, body: r.body });
        if (allowed) {
          expect(res.status, res.text).toBe(200);
          if (r.calls) {
            const c = fake.calls.at(-1)!;
            expect(c.method).toBe(r.calls);
            expect(c.actor).toEqual({ user: { viewer: "vera", operator: "otto", admin: "ada" }[who as Role], role: who, from: "127.0.0.1" });
          }
        } else if (who === "none") {
          expect(res.status).toBe(401);
          expect(res.json.error.code).toBe("TANDEM_ERR_UNAUTHORIZED");
          expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="tandem"/);
          expect(fake.calls).toHaveLength(0);
        } else {
          expect(res.status).toBe(403);
          expect(res.json.error.code).toBe("TANDEM_ERR_FORBIDDEN");
          expect(res.json.error.message).toContain(`role ${who} may not`);
          expect(res.json.error.message).toContain(`needs ${r.need}`);
          expect(fake.calls).toHaveLength(0);
        }
      });
    }
  }
});

describe("routes", () => {
  it("/health needs no login and says only what a load balancer needs: up, serving, service level", async () => {
    const res = await call("GET", "/api/v1/health");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ up: true, serving: true, serviceLevel: 230 });
    fake.setState("standby");
    expect((await call("GET", "/api/v1/health", { who: "admin" })).json).toEqual({ up: true, serving: false, serviceLevel: 230 });
    fake.setState("active-held");
    expect((await call("GET", "/api/v1/health")).json.serving).toBe(true);
  });

  it("/status returns the controller's status", async () => {
    const res = await call("GET", "/api/v1/status", { who: "viewer" });
    expect(res.json).toEqual(fake.current);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("/metrics returns Prometheus text", async () => {
    const res = await call("GET", "/api/v1/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toBe(fake.metricsText);
  });

  it("/metrics needs a viewer login when metricsAuth is on", async () => {
    const other = await startServer(true, new FakeController());
    try {
      const anon = await fetch(other.base + "/api/v1/metrics");
      expect(anon.status).toBe(401);
      await anon.text();
      const ok = await fetch(other.base + "/api/v1/metrics", { headers: { authorization: AUTH.viewer } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("tandem_epoch 7");
    } finally {
      await other.server.stop();
    }
  });

  it("/audit passes limit, since and source and wraps the entries", async () => {
    fake.setState("active-held");
    await call("POST", "/api/v1/confirm", { who: "operator", body: {} });
    const res = await call("GET", "/api/v1/audit?limit=1&since=0", { who: "viewer" });
    expect(res.status).toBe(200);
    expect(res.json.entries).toHaveLength(1);
    expect(res.json.entries[0]).toMatchObject({ user: "otto", action: "confirm" });
    const bad = await call("GET", "/api/v1/audit?limit=5000", { who: "viewer" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain("querystring.limit");
    // source=pair: the pair's audit (the replicated _audit table); node, the default: this node's file
    fake.pairAuditEntries = [{ seq: 7, ts: "2026-01-01T00:00:00.000Z", user: "otto", role: "operator", from: "10.0.0.1", action: "confirm", result: "ok", nodeId: "b", epoch: 3, prev: "0".repeat(64) }];
    expect((await call("GET", "/api/v1/audit?source=pair&limit=10", { who: "viewer" })).json).toMatchObject({ source: "pair", next: null, entries: [{ seq: 7, nodeId: "b" }] });
    expect((await call("GET", "/api/v1/audit", { who: "viewer" })).json.source).toBe("node");
    expect((await call("GET", "/api/v1/audit?source=everything", { who: "viewer" })).status).toBe(400);
  });

  it("/records and /divergence read whole numbers from the query string and the path (the server coerces no types)", async () => {
    fake.recordTables.batch_log = [1, 2, 3].map((seq) => ({ seq, data: { n: seq } }));
    const r = await call("GET", "/api/v1/records/batch_log?after=1&limit=1", { who: "viewer" });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ table: "batch_log", records: [{ seq: 2, data: { n: 2 } }], next: 2 });
    const all = await call("GET", "/api/v1/records/batch_log", { who: "viewer" });
    expect(all.json.records.map((x: { seq: number }) => x.seq)).toEqual([1, 2, 3]);
    const row = { table: "batch_log", kind: "ins", key: null, seq: 1, epoch: 6, at: "2024-05-01T03:00:00.000Z", foundAt: "2024-05-01T03:00:01.000Z", activeEpoch: 7, data: {} };
    fake.divergent = [4, 9].map((id) => ({ ...row, id }));
    expect((await call("GET", "/api/v1/divergence?after=4&limit=10", { who: "viewer" })).json).toEqual({ records: [{ ...row, id: 9 }], next: null });
    expect((await call("GET", "/api/v1/divergence", { who: "viewer" })).json.records).toHaveLength(2);
    for (const q of ["limit=0", "limit=1001", "after=-1", "after=x"]) expect((await call("GET", `/api/v1/divergence?${q}`, { who: "viewer" })).status, q).toBe(400);
    const d = await call("POST", "/api/v1/divergence/9/discard", { who: "operator", body: {} });
    expect(d.json).toEqual({ id: 9, discarded: true });
    expect((await call("POST", "/api/v1/divergence/0/discard", { who: "operator", body: {} })).status).toBe(400);
    fake.recordTables.batch_log = [];
    fake.divergent = [];
  });

  it("/switchover passes the target node; /maintenance passes enter and force", async () => {
    const s = await call("POST", "/api/v1/switchover", { who: "admin", body: { to: "b" } });
    expect(s.json).toMatchObject({ from: "a", to: "b" });
    await call("POST", "/api/v1/maintenance", { who: "admin", body: { enter: true, force: true } });
    expect(fake.calls.map((c) => [c.method, c.args])).toEqual([
      ["switchover", ["b"]],
      ["maintenance", [true, true]],
    ]);
  });

  it("/promote refuses without confirmActiveIsDown: true and says why", async () => {
    for (const body of [{}, { confirmActiveIsDown: false }]) {
      const res = await call("POST", "/api/v1/promote", { who: "operator", body });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("TANDEM_ERR_BAD_REQUEST");
      expect(res.json.error.message).toMatch(/confirmActiveIsDown.*two actives/);
    }
    expect(fake.callsOf("promote")).toHaveLength(0);
  });

  it("/log-level reads and sets levels", async () => {
    const put = await call("PUT", "/api/v1/log-level", { who: "admin", body: { level: "debug" } });
    expect(put.json.default).toBe("debug");
    const get = await call("GET", "/api/v1/log-level", { who: "viewer" });
    expect(get.json.default).toBe("debug");
    const bad = await call("PUT", "/api/v1/log-level", { who: "admin", body: { level: "loud" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/body\.level: expected one of "fatal".*got the string 'loud'/);
  });

  it("serves the HMI at / with a CSP that forbids inline script", async () => {
    const res = await call("GET", "/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.text).toContain('<script src="/app.js"');
    expect(res.text).not.toMatch(/<script>(?!<)/); // no inline script
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const js = await call("GET", "/app.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    // every script the page loads is served, as JavaScript (a missing route answers JSON, which the browser refuses to run)
    const scripts = [...res.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual(["/words.js", "/api.js", "/app.js", "/session.js", "/board.js", "/tags.js", "/audit.js", "/actions.js", "/live.js", "/services.js", "/replication.js", "/context.js", "/vendor/uPlot.iife.min.js", "/plot-data.js", "/trend.js", "/timeline.js"]);
    for (const src of scripts) {
      const r = await call("GET", src);
      expect(r.status, src).toBe(200);
      expect(r.headers.get("content-type"), src).toMatch(/^text\/javascript/);
    }
    const css = await call("GET", "/style.css");
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
  });
});

describe("login", () => {
  it("Basic: a wrong password is 401, counted and logged; an unknown name too", async () => {
    const before = server.counters().loginFailures;
    const r1 = await call("GET", "/api/v1/status", { headers: { authorization: basic("otto", "wrong") } });
    const r2 = await call("GET", "/api/v1/status", { headers: { authorization: basic("nobody", "wrong") } });
    expect(r1.status).toBe(401);
    expect(r1.json.error.message).toContain("wrong user name or password");
    expect(r2.status).toBe(401);
    expect(server.counters().loginFailures).toBe(before + 2);
    expect(logLines.some((l) => l.component === "http" && l.level === "warn" && /failed login for 'nobody'/.test(String(l.msg)))).toBe(true);
    await call("POST", "/api/v1/login", { body: { user: "otto", password: "nope" } });
    const warns = logLines.filter((l) => l.component === "http" && l.level === "warn");
    expect(warns.at(-1)).toMatchObject({ user: "otto", how: "form", from: "127.0.0.1" });
    expect((await call("GET", "/api/v1/status", { who: "viewer" })).status).toBe(200);
  });

  it("a malformed Authorization header is 401", async () => {
    const res = await call("GET", "/api/v1/status", { headers: { authorization: "Basic !!!" } });
    expect(res.status).toBe(401);
    expect(res.json.error.message).toContain("not valid HTTP Basic");
  });

  it("cookie: login sets an httpOnly SameSite=Strict session, used by the HMI; logout ends it", async () => {
    const login = await call("POST", "/api/v1/login", { body: { user: "otto", password: "o-pass" } });
    expect(login.status).toBe(200);
    expect(login.json).toEqual({ user: "otto", role: "operator" });
    const setCookie = login.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^tandem_session_line1_a=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = setCookie.split(";")[0];
    const hmi = { cookie, "x-tandem-client": "hmi" };

    const who = await call("GET", "/api/v1/whoami", { headers: hmi });
    expect(who.json).toMatchObject({ user: "otto", role: "operator", via: "cookie" });

    fake.setState("active-held");
    const ok = await call("POST", "/api/v1/confirm", { headers: hmi, body: {} });
    expect(ok.status).toBe(200);
    expect(fake.callsOf("confirm")[0].actor).toEqual({ user: "otto", role: "operator", from: "127.0.0.1" });

    // a cookie-signed action without the HMI header (e.g. a cross-site form) is refused
    fake.setState("active-held");
    const csrf = await call("POST", "/api/v1/confirm", { headers: { cookie }, body: {} });
    expect(csrf.status).toBe(403);
    expect(csrf.json.error.code).toBe("TANDEM_ERR_CROSS_SITE");

    // role still applies to a cookie session
    const sw = await call("POST", "/api/v1/switchover", { headers: hmi, body: {} });
    expect(sw.status).toBe(403);

    const out = await call("POST", "/api/v1/logout", { headers: hmi, body: {} });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/tandem_session_line1_a=;/);

    // the HMI gets a 401 without a Basic challenge (no browser dialog)...
    const after = await call("GET", "/api/v1/status", { headers: hmi });
    expect(after.status).toBe(401);
    expect(after.json.error.message).toContain("session has ended");
    expect(after.headers.get("www-authenticate")).toBeNull();
    // ...anyone else gets the challenge
    const plain = await call("GET", "/api/v1/status", { headers: { cookie } });
    expect(plain.headers.get("www-authenticate")).toMatch(/^Basic/);
  });

  it("a failed form login is 401 JSON without a Basic challenge for the HMI", async () => {
    const res = await call("POST", "/api/v1/login", { body: { user: "otto", password: "bad" }, headers: { "x-tandem-client": "hmi" } });
    expect(res.status).toBe(401);
    expect(res.json.error.message).toContain("wrong user name or password");
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect(res.headers.get("set-cookie")).toBeNull();
    await call("GET", "/api/v1/status", { who: "viewer" }); // clear the slow-down
  });
});

describe("bad input", () => {
  const post = (raw: string | undefined, headers: Record<string, string> = JSON_HDR, path = "/api/v1/maintenance") =>
    call("POST", path, { who: "admin", raw, headers });

  it("malformed JSON → 400 with a clear message", async () => {
    const res = await post('{"enter": tru');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: { code: "TANDEM_ERR_BAD_REQUEST", message: expect.stringContaining("not valid JSON") } });
  });

  it("unknown field → 400 naming it and the allowed ones", async () => {
    const res = await post('{"enter": true, "forse": true}');
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe("request: body: unknown field 'forse' (allowed: enter, force)");
  });

  it("wrong type → 400 naming the field, the expected type and what came", async () => {
    const res = await post('{"enter": "yes"}');
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe("request: body.enter: expected boolean, got the string 'yes'");
    const num = await post('{"enter": 1}');
    expect(num.json.error.message).toBe("request: body.enter: expected boolean, got number 1");
  });

  it("missing field, wrong body shape → 400", async () => {
    expect((await post("{}")).json.error.message).toBe("request: body: missing field 'enter'");
    expect((await post("[]")).json.error.message).toBe("request: body: expected object, got an array");
    expect((await post("null")).json.error.message).toBe("request: body: expected object, got null");
    expect((await post('{"to": 5}', JSON_HDR, "/api/v1/switchover")).json.error.message).toBe("request: body.to: expected string, got number 5");
    expect((await post('{"to": "no such/node"}', JSON_HDR, "/api/v1/switchover")).json.error.message).toMatch(/body\.to: expected a node id/);
  });

  it("a field on a route that takes none → 400", async () => {
    const res = await post('{"force": true}', JSON_HDR, "/api/v1/confirm");
    expect(res.json.error.message).toBe("request: body: unknown field 'force' (this request takes no fields)");
  });

  it("wrong content type → 415, before any login is checked", async () => {
    const res = await post("enter=true", { "content-type": "application/x-www-form-urlencoded" });
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe("TANDEM_ERR_CONTENT_TYPE");
    expect(res.json.error.message).toContain("Content-Type: application/json");
    const text = await post('{"enter":true}', { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    expect(fake.calls).toHaveLength(0);
  });

  it("a JSON content type with an empty body is checked as {}; no content type at all → 415", async () => {
    expect((await post("")).json.error.message).toBe("request: body: missing field 'enter'");
    fake.setState("active-held");
    const res = await call("POST", "/api/v1/confirm", { who: "operator", headers: JSON_HDR });
    expect(res.status).toBe(200);
    fake.setState("active-held");
    const bare = await call("POST", "/api/v1/confirm", { who: "operator" });
    expect(bare.status).toBe(415);
    expect(fake.callsOf("confirm")).toHaveLength(1);
  });

  it("a body over 64 KiB → 413 JSON", async () => {
    const res = await post(JSON.stringify({ enter: true, pad: "x".repeat(70 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("TANDEM_ERR_TOO_LARGE");
    expect(res.json.error.message).toContain("64 KiB");
    expect(fake.calls).toHaveLength(0);
  });

  it("unknown routes → 404 JSON", async () => {
    for (const [m, p] of [
      ["GET", "/api/v1/nope"],
      ["DELETE", "/api/v1/status"],
      ["GET", "/etc/passwd"],
    ]) {
      const res = await call(m, p, { who: "admin" });
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("TANDEM_ERR_NOT_FOUND");
      expect(res.json.error.message).toContain(p);
    }
  });
});

describe("origin check on every change, whatever the login (issue 7, point 1)", () => {
  const sw = (headers: Record<string, string>, body: string | undefined = "{}") => call("POST", "/api/v1/switchover", { who: "admin", raw: body, headers });
  it("passes a same-origin Origin, Sec-Fetch-Site same-origin or none, the client header, and no Origin at all (scripts)", async () => {
    const passing: Record<string, string>[] = [{ origin: base }, { "sec-fetch-site": "same-origin" }, { "sec-fetch-site": "none" }, { "x-tandem-client": "cli" }, {}];
    for (const h of passing) {
      fake.calls.length = 0;
      const res = await sw({ ...JSON_HDR, ...h });
      expect(res.status, JSON.stringify(h)).toBe(200);
      expect(fake.callsOf("switchover")).toHaveLength(1);
    }
  });

  it("refuses another site's Origin, Sec-Fetch-Site same-site/cross-site, and a login form posted from another site", async () => {
    const refused: Record<string, string>[] = [{ origin: "http://evil.example" }, { origin: base.replace("127.0.0.1", "localhost") }, { "sec-fetch-site": "same-site" }, { "sec-fetch-site": "cross-site" }];
    for (const h of refused) {
      const res = await sw({ ...JSON_HDR, ...h });
      expect(res.status, JSON.stringify(h)).toBe(403);
      expect(res.json.error.code).toBe("TANDEM_ERR_CROSS_SITE");
    }
    const login = await call("POST", "/api/v1/login", { body: { user: "otto", password: "o-pass" }, headers: { origin: "http://evil.example" } });
    expect(login.status).toBe(403);
    expect(login.headers.get("set-cookie")).toBeNull();
    expect(fake.calls).toHaveLength(0);
  });
});

describe("controller errors", () => {
  it("a TandemError keeps its status and code", async () => {
    const res = await call("POST", "/api/v1/confirm", { who: "operator", body: {} }); // fake is active: not held
    expect(res.status).toBe(409);
    expect(res.json).toEqual({ error: { code: "TANDEM_ERR_NOT_HELD", message: "nothing to confirm: node is active, not active-held" } });
    fake.failNext.set("switchover", new TandemError("TANDEM_ERR_SWITCHOVER_TIMEOUT", [3000, "peer did not answer"]));
    const sw = await call("POST", "/api/v1/switchover", { who: "admin", body: {} });
    expect(sw.status).toBe(504);
    expect(sw.json.error.code).toBe("TANDEM_ERR_SWITCHOVER_TIMEOUT");
  });

  it("a plain Error is a 500, logged with its stack, and the server keeps answering", async () => {
    const before = server.counters().internalErrors;
    fake.failNext.set("status", new Error("kaboom in status"));
    const res = await call("GET", "/api/v1/status", { who: "viewer" });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe("TANDEM_ERR_INTERNAL");
    expect(res.json.error.message).not.toContain("kaboom"); // details stay in the log
    expect(server.counters().internalErrors).toBe(before + 1);
    const line = logLines.find((l) => l.level === "error" && String(l.msg).includes("kaboom in status")) as { err?: { stack?: string } };
    expect(line?.err?.stack).toContain("kaboom in status");
    expect((await call("GET", "/api/v1/status", { who: "viewer" })).status).toBe(200);
    expect((await call("GET", "/api/v1/health")).status).toBe(200);
  });

  it("logs one line per state-changing request, none per GET", async () => {
    logLines.length = 0;
    await call("GET", "/api/v1/status", { who: "viewer" });
    await call("GET", "/api/v1/health");
    await call("POST", "/api/v1/maintenance", { who: "admin", body: { enter: false } });
    const http = logLines.filter((l) => l.component === "http");
    expect(http).toHaveLength(1);
    expect(http[0]).toMatchObject({ level: "info", method: "POST", url: "/api/v1/maintenance", status: 200, user: "ada", from: "127.0.0.1" });
  });
});

describe("stopping", () => {
  it("a keep-alive connection busy when the stop begins does not hold it up; the request in flight still gets its answer", async () => {
    const own = new FakeController();
    own.switchoverDelayMs = 300;
    const { server: s, base: b } = await startServer(false, own);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, method = "GET", body?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(b + "/api/v1" + path, { method, agent, headers: { authorization: AUTH.admin, ...(body ? JSON_HDR : {}) } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.end(body);
      });
    try {
      expect(await get("/status")).toBe(200); // the connection is now a keep-alive one
      const inFlight = get("/switchover", "POST", "{}");
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await s.stop();
      expect(Date.now() - t0).toBeLessThan(3_500); // the grace (2 s) at most, never the keep-alive timeout
      expect(await inFlight).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});
