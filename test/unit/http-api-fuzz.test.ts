// The HTTP API fuzzed (fast-check): a real fastify (createHttpServer) on
// 127.0.0.1 in front of the fake controller, reached with real fetch and
// HTTP Basic logins. Bodies: any JSON value, objects biased to each route's
// fields (wrong types, extra and prototype keys, huge strings), fc.anything()
// printed, random bytes, JSON nested too deep or too big, under the right
// content type or a wrong one. Query strings: any text, and parameters of
// the routes' names with any values, repeated keys included. What it proves
// (S5: bad input gets a clear refusal and changes nothing):
//  - no answer is a 5xx; every 4xx is JSON {error: {code, message}};
//  - a body or query the route does not take (by a model of each route's
//    rules written here, independently of the schemas) is refused with a
//    4xx and reaches no controller method: the fake records no call, writes
//    no record, runs no history query;
//  - input the model takes passes the checks and reaches the controller.
import { randomBytes, scryptSync } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LOG_LEVELS } from "../../core/types.js";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { LogManager } from "../../runtime/logging.js";
import type { Role, ServiceView, TagView } from "../../runtime/node-api.js";
import { FakeController } from "../helpers/fake-controller.js";

/**
 * A scrypt hash with tiny parameters: the hash format carries N, r and p, so the
 * logins stay real HTTP Basic checks while thousands of requests take seconds.
 */
function cheapHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N: 16, r: 1, p: 1 });
  return `scrypt$16$1$1$${salt.toString("base64")}$${key.toString("base64")}`;
}
const basic = (u: string, p: string) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const AUTH: Record<Role, string> = { viewer: basic("vera", "v-pass"), operator: basic("otto", "o-pass"), admin: basic("ada", "a-pass") };

const TAG = "line1.level";
const SERVICE = "pump";
const errorLines: string[] = [];
let fake: FakeController;
let server: HttpServer;
let base: string;

beforeAll(async () => {
  const users = [
    { name: "vera", role: "viewer" as const, passwordHash: cheapHash("v-pass") },
    { name: "otto", role: "operator" as const, passwordHash: cheapHash("o-pass") },
    { name: "ada", role: "admin" as const, passwordHash: cheapHash("a-pass") },
  ];
  const logs = new LogManager({ level: "error", destination: { write: (s: string) => void errorLines.push(s) } });
  fake = new FakeController();
  server = createHttpServer({
    controller: fake,
    http: { listen: { host: "127.0.0.1", port: 0 }, users, metricsAuth: false, sessionTtlMs: 60_000 },
    logs,
    pairId: "line1",
    nodeId: "a",
    loginLimits: { addressBurst: 1_000_000, accountBurst: 1_000_000 },
  });
  const { host, port } = await server.start();
  base = `http://${host}:${port}`;
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(() => {
  fake.calls.length = 0;
  fake.historyQueries.length = 0;
  fake.recordTables.batch_log = [];
  fake.history[TAG] = [];
  fake.serviceList = [{ name: SERVICE, instance: SERVICE, state: "running", restarts: 0, stoppedByOperator: null } as unknown as ServiceView];
  errorLines.length = 0;
});

/** what the node did for a request: calls recorded, records written, history queries run */
const effects = () => fake.calls.length + fake.recordTables.batch_log.length + fake.historyQueries.length;

async function send(method: string, path: string, who: Role, body?: string | Uint8Array, contentType?: string) {
  const headers: Record<string, string> = { authorization: AUTH[who] };
  if (contentType !== undefined) headers["content-type"] = contentType;
  const res = await fetch(base + path, { method, headers, body: body instanceof Uint8Array ? new Uint8Array(body) : body });
  const text = await res.text();
  let json: { error?: { code?: unknown; message?: unknown } } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** every answer: never a 5xx, and a 4xx says what is wrong in the API's error shape */
function expectAnswerShape(r: { status: number; text: string; json?: { error?: { code?: unknown; message?: unknown } } }, what: string): void {
  expect(r.status, `${what} → ${r.status} ${r.text.slice(0, 300)} ${errorLines.join("\n").slice(0, 500)}`).toBeLessThan(500);
  if (r.status >= 400) {
    expect(typeof r.json?.error?.code, `${what} → ${r.text.slice(0, 200)}`).toBe("string");
    expect(r.json!.error!.code as string).toMatch(/^TANDEM_ERR_[A-Z_]+$/);
    expect(typeof r.json?.error?.message).toBe("string");
  }
}

// ---- a model of what each route takes, kept here apart from the server's schemas: a change to either shows as a failure ----

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const onlyKeys = (o: Record<string, unknown>, allowed: string[]) => Object.keys(o).every((k) => allowed.includes(k));
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TAG_NAME = /^[A-Za-z0-9_./:-]{1,200}$/;
const TABLE = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;
const COMPONENT = /^[A-Za-z0-9_.-]{1,64}$/;

/** JSON containers nested inside one another, the body itself counting 1 */
function depth(v: unknown): number {
  if (typeof v !== "object" || v === null) return 0;
  let d = 0;
  for (const x of Object.values(v)) d = Math.max(d, depth(x));
  return 1 + d;
}

/** a key fastify's JSON parser refuses (prototype poisoning): __proto__, or constructor.prototype */
function poisoned(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  for (const [k, x] of Object.entries(v)) {
    if (k === "__proto__") return true;
    if (k === "constructor" && typeof x === "object" && x !== null && Object.prototype.hasOwnProperty.call(x, "prototype")) return true;
    if (poisoned(x)) return true;
  }
  return false;
}

/** the body as the API reads it, or undefined when no route can take it */
function bodyOf(raw: string | Uint8Array | undefined, contentType: string | undefined): { value: unknown } | undefined {
  if (contentType?.split(";")[0]?.trim().toLowerCase() !== "application/json") return undefined;
  const bytes = raw === undefined ? Buffer.alloc(0) : Buffer.from(raw);
  if (bytes.length > 64 * 1024) return undefined;
  if (bytes.length === 0) return { value: {} };
  let value: unknown;
  try {
    // a leading byte order mark is allowed (RFC 8259 §8.1: a parser may ignore it; fastify's does)
    value = JSON.parse(bytes.toString("utf8").replace(/^\uFEFF/, ""));
  } catch {
    return undefined;
  }
  if (depth(value) > 32 || poisoned(value)) return undefined;
  return { value };
}

interface Route {
  method: string;
  path: (param: string) => string;
  who: Role;
  fields: string[];
  /** whether the route takes this body (and path parameter) */
  takes: (body: unknown, param: string) => boolean;
  /** bodies it takes, to start the near misses from */
  valid: fc.Arbitrary<Record<string, unknown>>;
}

const ROUTES: Record<string, Route> = {
  confirm: { method: "POST", path: () => "/api/v1/confirm", who: "operator", fields: [], takes: (b) => isObject(b) && Object.keys(b).length === 0, valid: fc.constant({}) },
  switchover: {
    method: "POST",
    path: () => "/api/v1/switchover",
    who: "admin",
    fields: ["to", "acceptConfig"],
    takes: (b) => isObject(b) && onlyKeys(b, ["to", "acceptConfig"]) && (b.to === undefined || (typeof b.to === "string" && ID.test(b.to))) && (b.acceptConfig === undefined || typeof b.acceptConfig === "boolean"),
    valid: fc.record({ to: fc.constantFrom("b", "a", "node-2.x_y"), acceptConfig: fc.boolean() }, { requiredKeys: [] }),
  },
  maintenance: {
    method: "POST",
    path: () => "/api/v1/maintenance",
    who: "admin",
    fields: ["enter", "force"],
    takes: (b) => isObject(b) && onlyKeys(b, ["enter", "force"]) && typeof b.enter === "boolean" && (b.force === undefined || typeof b.force === "boolean"),
    valid: fc.record({ enter: fc.boolean(), force: fc.boolean() }, { requiredKeys: ["enter"] }),
  },
  logLevel: {
    method: "PUT",
    path: () => "/api/v1/log-level",
    who: "admin",
    fields: ["level", "component"],
    takes: (b) => isObject(b) && onlyKeys(b, ["level", "component"]) && (LOG_LEVELS as readonly unknown[]).includes(b.level) && (b.component === undefined || (typeof b.component === "string" && COMPONENT.test(b.component))),
    valid: fc.record({ level: fc.constantFrom(...LOG_LEVELS), component: fc.constantFrom("peer", "http", "x.y_z-1") }, { requiredKeys: ["level"] }),
  },
  writeTag: {
    method: "POST",
    path: (p) => `/api/v1/tags/${encodeURIComponent(p)}`,
    who: "operator",
    fields: ["value"],
    takes: (b, p) => TAG_NAME.test(p) && isObject(b) && onlyKeys(b, ["value"]) && "value" in b,
    valid: fc.record({ value: fc.jsonValue({ maxDepth: 3 }) }),
  },
  writeRecord: { method: "POST", path: (p) => `/api/v1/records/${encodeURIComponent(p)}`, who: "operator", fields: ["n", "text"], takes: (b, p) => TABLE.test(p) && isObject(b), valid: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) },
  stopService: { method: "POST", path: (p) => `/api/v1/services/${encodeURIComponent(p)}/stop`, who: "operator", fields: [], takes: (b, p) => SERVICE_NAME.test(p) && isObject(b) && Object.keys(b).length === 0, valid: fc.constant({}) },
};

// ---- generators ----

const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(...LOG_LEVELS, "loud", "b", "no such/node", "", "x".repeat(300), 0, -1, 1.5, 1e308, true, false, null, [], {}, { prototype: {} }),
);
/** an object with keys from the route's fields, prototype keys and anything */
const objectFor = (fields: string[]) =>
  fc.dictionary(fc.oneof({ arbitrary: fc.constantFrom(...fields, "__proto__", "constructor", "force", "value"), weight: 3 }, fc.string({ maxLength: 6 })), hostileValue, { maxKeys: 4 });

/** a body as text or bytes and a content type */
const bodyFor = (route: Route) =>
  fc.tuple(
    fc.oneof(
      { arbitrary: route.valid.map((o) => JSON.stringify(o)), weight: 2 },
      // a body the route takes with one key added or replaced
      { arbitrary: fc.tuple(route.valid, objectFor(route.fields)).map(([o, noise]) => JSON.stringify({ ...o, ...Object.fromEntries(Object.entries(noise).slice(0, 1)) })), weight: 3 },
      { arbitrary: objectFor(route.fields).map((o) => JSON.stringify(o)), weight: 2 },
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.anything({ maxDepth: 3 }).map((v) => {
        try {
          return JSON.stringify(v) ?? String(v);
        } catch {
          return String(v);
        }
      }),
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom("", " ", "{", "}", "{}", "[]", "null", '"x"', "1", '{"a":1', "\uFEFF{}", '{"__proto__":{"x":1}}', '{"\\u005f_proto__":{}}', '{"constructor":{"prototype":{}}}'),
      fc.oneof(fc.integer({ min: 1, max: 25 }), fc.integer({ min: 40, max: 5000 })).map((n) => `{"value":${"[".repeat(n)}${"]".repeat(n)}}`),
      fc.constant(JSON.stringify({ value: "x".repeat(70 * 1024) })),
    ),
    fc.oneof(
      { arbitrary: fc.constant("application/json"), weight: 6 },
      fc.constantFrom("application/json; charset=utf-8", "Application/JSON", undefined, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json-patch+json", "", "*/*"),
    ),
  );

const paramFor = (good: string) => fc.oneof({ arbitrary: fc.constant(good), weight: 3 }, fc.constantFrom("toString", "constructor", "__proto__", "hasOwnProperty"), fc.string({ maxLength: 20 }).filter((s) => !/^\.*$/.test(s)), fc.string({ unit: "grapheme", maxLength: 10 }).filter((s) => !/^\.*$/.test(s)), fc.constant("x".repeat(250)));

describe("HTTP API: hostile bodies", () => {
  for (const [name, route] of Object.entries(ROUTES)) {
    it(`${route.method} ${route.path(":p")}: a refused body is a 4xx JSON error and reaches no controller method; a body the route takes reaches it`, async () => {
      const param = name === "writeTag" ? paramFor(TAG) : name === "writeRecord" ? paramFor("batch_log") : name === "stopService" ? paramFor(SERVICE) : fc.constant("");
      await fc.assert(
        fc.asyncProperty(param, bodyFor(route), async (p, [raw, contentType]) => {
          // a maintenance or log-level change taken by an earlier run must not change what this one meets
          fake.current = new FakeController().current;
          fake.calls.length = 0;
          fake.recordTables.batch_log = [];
          fake.tagList = [{ name: TAG, value: 0, quality: "good", writable: true } as unknown as TagView];
          const r = await send(route.method, route.path(p), route.who, raw, contentType);
          const what = `${route.method} ${route.path(p)} ${contentType} ${typeof raw === "string" ? raw.slice(0, 200) : `bytes ${Buffer.from(raw).toString("hex").slice(0, 100)}`}`;
          expectAnswerShape(r, what);
          const body = bodyOf(raw, contentType);
          const taken = body !== undefined && route.takes(body.value, p);
          if (!taken) {
            expect(r.status, what).toBeGreaterThanOrEqual(400);
            expect(effects(), what).toBe(0);
          } else {
            // past every check: the controller was asked (it may still say no, e.g. 409 nothing to confirm)
            expect([400, 413, 415], `${what} → ${r.text}`).not.toContain(r.status);
            // an unknown table or service is refused by the controller (the fake writes nothing for it)
            if ([TAG, "batch_log", SERVICE, ""].includes(p)) expect(effects(), what).toBe(1);
          }
        }),
        { numRuns: 120 },
      );
    });
  }
});

// ---- query strings ----

const queryValue = fc.oneof(
  fc.constantFrom("0", "1", "5", "100", "1000", "1001", "10000", "10001", "999999999", "9999999999999999", "-1", "1.5", "1e3", "0x10", " 1", "", "asc", "desc", "node", "pair", "x"),
  fc.constantFrom("2026-11-30T05:00:00Z", "2026-11-30", "2026-13-45", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1700000000000", "x".repeat(41)),
  fc.string({ maxLength: 12 }),
);
const queryPairs = (keys: string[]) => fc.array(fc.tuple(fc.oneof({ arbitrary: fc.constantFrom(...keys), weight: 5 }, fc.constantFrom("x", "__proto__", "constructor", "")), queryValue), { maxLength: 4 });
const encodeQuery = (pairs: [string, string][]) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");

const digits = (s: string, n: number) => new RegExp(`^[0-9]{1,${n}}$`).test(s);
const inRange = (s: string, lo: number, hi: number) => Number(s) >= lo && Number(s) <= hi;

function timeOf(s: string): number {
  return /^[0-9]{1,15}$/.test(s) ? Number(s) : /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : NaN;
}

interface QueryRoute {
  path: string;
  keys: string[];
  takes: (q: Record<string, string>) => boolean;
}

const QUERY_ROUTES: QueryRoute[] = [
  {
    path: "/api/v1/audit",
    keys: ["limit", "since", "source"],
    takes: (q) => (q.limit === undefined || (digits(q.limit, 9) && inRange(q.limit, 1, 1000))) && (q.since === undefined || digits(q.since, 15)) && (q.source === undefined || ["node", "pair"].includes(q.source)),
  },
  {
    path: `/api/v1/tags/${TAG}/history`,
    keys: ["from", "to", "limit", "order"],
    takes: (q) => {
      for (const k of ["from", "to"]) if (q[k] !== undefined && (q[k]!.length < 1 || q[k]!.length > 40 || !Number.isFinite(timeOf(q[k]!)))) return false;
      const to = q.to === undefined ? Date.now() : timeOf(q.to);
      const from = q.from === undefined ? to - 3_600_000 : timeOf(q.from);
      if (from > to) return false;
      return (q.limit === undefined || (digits(q.limit, 6) && inRange(q.limit, 1, 10_000))) && (q.order === undefined || ["asc", "desc"].includes(q.order));
    },
  },
  { path: "/api/v1/events/history", keys: ["after", "limit"], takes: (q) => (q.after === undefined || digits(q.after, 15)) && (q.limit === undefined || (digits(q.limit, 4) && inRange(q.limit, 1, 1000))) },
  { path: "/api/v1/records/batch_log", keys: ["after", "limit"], takes: (q) => (q.after === undefined || digits(q.after, 15)) && (q.limit === undefined || (digits(q.limit, 4) && inRange(q.limit, 1, 1000))) },
];

describe("HTTP API: hostile query strings", () => {
  for (const route of QUERY_ROUTES) {
    it(`GET ${route.path}: parameters of any value, repeated or unknown → 200 exactly when the route takes them, else a 400 JSON error that runs no query`, async () => {
      await fc.assert(
        fc.asyncProperty(queryPairs(route.keys), async (pairs) => {
          fake.historyQueries.length = 0;
          const qs = encodeQuery(pairs);
          const r = await send("GET", `${route.path}?${qs}`, "viewer");
          expectAnswerShape(r, `GET ${route.path}?${qs}`);
          const keys = pairs.map(([k]) => k);
          const q = Object.fromEntries(pairs) as Record<string, string>;
          const taken = new Set(keys).size === keys.length && keys.every((k) => route.keys.includes(k)) && route.takes(q);
          expect(r.status, `GET ${route.path}?${qs} → ${r.text.slice(0, 200)}`).toBe(taken ? 200 : 400);
          if (!taken) expect(fake.historyQueries).toHaveLength(0);
        }),
        { numRuns: 150 },
      );
    });
  }

  it("any text as the query string of any of these routes: 200 or a 400 JSON error, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...QUERY_ROUTES.map((r) => r.path)), fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom("%", "%zz", "a=%", "a[b]=1", "limit[]=1", "limit=1&limit=2", "&&&", "=", "limit", "__proto__[x]=1")), async (path, qs) => {
        const r = await send("GET", `${path}?${qs}`, "viewer");
        expectAnswerShape(r, `GET ${path}?${qs}`);
        expect([200, 400], `GET ${path}?${qs} → ${r.text.slice(0, 200)}`).toContain(r.status);
      }),
      { numRuns: 150 },
    );
  });
});
