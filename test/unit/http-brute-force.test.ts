// Password guessing against a real HTTP server (fastify on 127.0.0.1, the
// fake controller behind it), sent by a real HTTP client from several
// loopback source addresses (127.0.0.x stands for many attackers' hosts).
// Issue 7, point 3: before, 30 parallel attempts from one address made 7
// guesses/s and fresh addresses 35–52/s, with no limit on attempts in flight.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { silentLogs } from "../../runtime/logging.js";
import type { Role } from "../../runtime/node-api.js";
import { FakeController } from "../helpers/fake-controller.js";

const basic = (u: string, p: string) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const LIMITS = { addressBurst: 3, addressEveryMs: 60_000, accountBurst: 4, accountEveryMs: 60_000, inFlightPerAddress: 2, inFlightUnknown: 4 };
const FIRST_PER_INTERVAL = 5;

let fake: FakeController;
let server: HttpServer;
let port: number;

beforeAll(async () => {
  const users: { name: string; role: Role; passwordHash: string }[] = [
    { name: "vera", role: "viewer", passwordHash: await hashPassword("v-pass") },
    { name: "ada", role: "admin", passwordHash: await hashPassword("a-pass") },
  ];
  fake = new FakeController();
  server = createHttpServer({
    controller: fake,
    http: { listen: { host: "127.0.0.1", port: 0 }, users, metricsAuth: true, sessionTtlMs: 60_000, trustedAddresses: ["127.0.0.3"] },
    logs: silentLogs(),
    pairId: "line1",
    nodeId: "a",
    loginLimits: LIMITS,
    refusalAudit: { firstPerInterval: FIRST_PER_INTERVAL, intervalMs: 600_000 },
  });
  ({ port } = await server.start());
});

afterAll(async () => {
  await server?.stop();
});

interface Answer {
  status: number;
  retryAfter: string | undefined;
  json: any;
}

/** One request from the source address `from`, on its own connection. */
function send(from: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, localAddress: from, method, path, headers, agent: false, timeout: 20_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from the server to ${from}`)));
    req.on("error", reject);
    req.end(body);
  });
}

const basicTry = (from: string, user: string, password: string) => send(from, "GET", "/api/v1/status", { authorization: basic(user, password) });
const formTry = (from: string, user: string, password: string) =>
  send(from, "POST", "/api/v1/login", { "content-type": "application/json", "x-tandem-client": "hmi" }, JSON.stringify({ user, password }));
const checks = () => server.counters().passwordChecks!;

describe("brute force (issue 7, point 3)", () => {
  it("30 parallel guesses from one address get at most the address budget of password checks; the rest are 429 before scrypt", async () => {
    const before = checks();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => basicTry("127.0.0.20", "vera", `guess-${i}`)));
    const wrong = answers.filter((a) => a.status === 401).length;
    const throttled = answers.filter((a) => a.status === 429);
    expect(wrong + throttled.length).toBe(30);
    expect(wrong).toBeGreaterThanOrEqual(1);
    expect(wrong).toBeLessThanOrEqual(LIMITS.addressBurst);
    for (const a of throttled) {
      expect(a.json.error.code).toBe("TANDEM_ERR_LOGIN_THROTTLED");
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // a bounded sequential loop after the burst: all refused, none checked
    for (let i = 0; i < 10; i++) await basicTry("127.0.0.20", "vera", `later-${i}`);
    const last = await basicTry("127.0.0.20", "vera", "v-pass"); // even the right password waits: no oracle
    expect(last.status).toBe(429);
    expect(last.json.error.message).toMatch(/too many failed logins from 127\.0\.0\.20; try again in \d+ s/);
    expect(Number(last.retryAfter)).toBeGreaterThan(1);
    // scrypt ran once per admitted attempt, never for a throttled one
    expect(checks() - before).toBeLessThanOrEqual(LIMITS.addressBurst);
    // the form login shares the address's budget
    expect((await formTry("127.0.0.20", "vera", "v-pass")).status).toBe(429);
    expect(checks() - before).toBeLessThanOrEqual(LIMITS.addressBurst);
  });

  it("fresh addresses share the account's budget; the operator at a known or trusted workstation logs in during the attack", async () => {
    // the operator's desk logged in before (a shift ago): known for 'ada'
    expect((await formTry("127.0.0.2", "ada", "a-pass")).status).toBe(200);
    const before = checks();
    const t0 = performance.now();
    // 30 attacker addresses, 3 parallel guesses each, in two bounded rounds,
    // while the operator logs in by Basic and by form
    const attack = async (round: number) =>
      Promise.all(Array.from({ length: 30 }, (_, h) => Promise.all([0, 1, 2].map((k) => basicTry(`127.0.0.${30 + h}`, "ada", `r${round}-${h}-${k}`)))));
    const [r1, op1, op2] = await Promise.all([attack(1), basicTry("127.0.0.2", "ada", "a-pass"), formTry("127.0.0.2", "ada", "a-pass")]);
    const [r2, op3] = await Promise.all([attack(2), basicTry("127.0.0.3", "ada", "a-pass")]);
    const elapsedS = (performance.now() - t0) / 1000;
    const guesses = [...r1, ...r2].flat();
    const checked = guesses.filter((a) => a.status === 401).length;
    expect(guesses.filter((a) => a.status === 429).length).toBe(guesses.length - checked);
    // 180 guesses from 30 addresses: only the account's budget reached scrypt
    expect(checked, `${checked} of ${guesses.length} guesses checked in ${elapsedS.toFixed(1)} s`).toBeLessThanOrEqual(LIMITS.accountBurst);
    expect(op1.status).toBe(200);
    expect(op2.status).toBe(200);
    expect(op3.status, "a trusted address (http.trustedAddresses) never logged in before").toBe(200);
    // the attack's answers are cheap: scrypt ran for the admitted guesses and the operator only
    expect(checks() - before).toBeLessThanOrEqual(LIMITS.accountBurst + 3);
    // an address that never logged in as 'ada' waits, even with the right password
    const fresh = await basicTry("127.0.0.99", "ada", "a-pass");
    expect(fresh.status).toBe(429);
    expect(fresh.json.error.message).toContain("too many failed logins for 'ada' from addresses it never logged in from");
    // the known desk still gets in
    expect((await basicTry("127.0.0.2", "ada", "a-pass")).status).toBe(200);
  });

  it("a script's parallel requests with the right credentials keep working (remembered credentials run no scrypt)", async () => {
    expect((await basicTry("127.0.0.6", "vera", "v-pass")).status).toBe(200);
    const before = checks();
    const answers = await Promise.all(Array.from({ length: 12 }, () => basicTry("127.0.0.6", "vera", "v-pass")));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(checks() - before).toBe(0);
  });

  it("refusals before the controller are audited with who, from where, what and why, at a bounded rate", async () => {
    // role too low, and a cross-site request, on top of the failed and throttled logins above
    expect((await send("127.0.0.4", "POST", "/api/v1/switchover", { authorization: basic("vera", "v-pass"), "content-type": "application/json" }, "{}")).status).toBe(403);
    expect((await send("127.0.0.5", "POST", "/api/v1/switchover", { authorization: basic("ada", "a-pass"), origin: "http://evil.example" })).status).toBe(403);
    const r = fake.refusals;
    // hundreds of refusals so far: at most FIRST_PER_INTERVAL entries of each of the four kinds
    expect(r.length).toBeLessThanOrEqual(4 * FIRST_PER_INTERVAL);
    expect(r).toContainEqual({ action: "refused-login-failed", user: "vera", from: "127.0.0.20", details: { tried: "GET /api/v1/status", code: "TANDEM_ERR_UNAUTHORIZED", reason: "wrong user name or password" } });
    expect(r).toContainEqual(expect.objectContaining({ action: "refused-login-throttled", user: "vera", from: "127.0.0.20" }));
    expect(r).toContainEqual(expect.objectContaining({ action: "refused-login-failed", user: "ada", from: expect.stringMatching(/^127\.0\.0\.[345]\d$/) }));
    expect(r).toContainEqual({ action: "refused-forbidden", user: "vera", role: "viewer", from: "127.0.0.4", details: { tried: "switch over", code: "TANDEM_ERR_FORBIDDEN", reason: "role viewer, needs admin" } });
    expect(r).toContainEqual(expect.objectContaining({ action: "refused-cross-site", user: "ada", from: "127.0.0.5", details: expect.objectContaining({ tried: "POST /api/v1/switchover", code: "TANDEM_ERR_CROSS_SITE" }) }));
    expect(fake.callsOf("switchover")).toHaveLength(0);
    // the rest is one summary entry when the interval ends (here: the server stops)
    await server.stop();
    const summary = fake.refusals.at(-1)!;
    expect(summary.action).toBe("refused-summary");
    expect(summary.details.count as number).toBeGreaterThan(150);
    expect(summary.details.kinds).toMatchObject({ "login-throttled": expect.any(Number) });
    expect(fake.refusals.length).toBeLessThanOrEqual(4 * FIRST_PER_INTERVAL + 1);
  });
});
