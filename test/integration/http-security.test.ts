// The HTTP API of a real pair (two `tandem start` processes on loopback)
// under the attacks of issue 7: a cross-site switchover with Basic
// credentials, password guessing seen in the metrics, what /health and
// /metrics tell a stranger, and two nodes' sessions in one browser (both
// nodes on 127.0.0.1, as in the demo).
import http from "node:http";
import { describe, expect, it } from "vitest";
import { exited, nodeApi, spawnCli, type Cluster } from "../helpers/cluster.js";
import { sampleValue } from "../helpers/prom-text.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
const basic = (u: string, p = u) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");

/** One request from the source address `from` (127.0.0.x stands for another host). */
function send(url: string, from: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string; setCookie: string[] }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, localAddress: from, method, headers, agent: false, timeout: 10_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, setCookie: res.headers["set-cookie"] ?? [] }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url}`)));
    req.on("error", reject);
    req.end(body);
  });
}

async function scrape(c: Cluster, id: "a" | "b"): Promise<string> {
  const r = await fetch(`${c.nodes[id].url}/api/v1/metrics`, { headers: { authorization: basic("viewer") }, signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
  return r.text();
}

describe("HTTP security of a real pair (issue 7)", () => {
  it("S1: a cross-site switchover with Basic credentials is refused before it runs, and audited; the CLI still switches over", async () => {
    const c = await pair.start();
    const { active, standby } = await c.ready();
    const before = (await c.status(active))!;
    const url = `${c.nodes[active].url}/api/v1/switchover`;
    const attempts: [string, Record<string, string>, string | undefined, number, string][] = [
      // the request of the issue: Basic credentials, no body, a foreign Origin (it ran a switchover)
      ["foreign Origin, no body", { authorization: basic("admin"), origin: "http://evil.example" }, undefined, 403, "TANDEM_ERR_CROSS_SITE"],
      ["foreign Origin, JSON", { authorization: basic("admin"), origin: "http://evil.example", "content-type": "application/json" }, "{}", 403, "TANDEM_ERR_CROSS_SITE"],
      ["Sec-Fetch-Site: cross-site", { authorization: basic("admin"), "sec-fetch-site": "cross-site", "content-type": "application/json" }, "{}", 403, "TANDEM_ERR_CROSS_SITE"],
      ["Origin null (a sandboxed page)", { authorization: basic("admin"), origin: "null", "content-type": "application/json" }, "{}", 403, "TANDEM_ERR_CROSS_SITE"],
      ["no Origin, no content type (a form post)", { authorization: basic("admin") }, undefined, 415, "TANDEM_ERR_CONTENT_TYPE"],
      ["no Origin, text/plain", { authorization: basic("admin"), "content-type": "text/plain" }, "{}", 415, "TANDEM_ERR_CONTENT_TYPE"],
    ];
    for (const [what, headers, body, status, code] of attempts) {
      const r = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
      const json = (await r.json()) as { error: { code: string; message: string } };
      expect(r.status, what).toBe(status);
      expect(json.error.code, what).toBe(code);
    }
    // nothing ran: same active, same epoch, for longer than a switchover takes
    await c.holds(active, (s) => s.state === "active" && s.epoch === before.epoch, 1500, "no switchover after the refused requests");
    await c.holds(standby, (s) => s.state === "standby", 200, "the standby stays standby");
    // the active's audit log says who claimed to be who, from where, what and why
    const audit = (await nodeApi(c.nodes[active].url, "GET", "/audit?limit=50", undefined, "viewer")).json.entries as { action: string; user: string; result: string; from: string; details: Record<string, unknown> }[];
    const refused = audit.filter((e) => e.action === "refused-cross-site");
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]).toMatchObject({ user: "admin", result: "refused", from: "127.0.0.1", details: { tried: "POST /api/v1/switchover", code: "TANDEM_ERR_CROSS_SITE" } });
    expect(audit.some((e) => e.action === "switchover")).toBe(false);
    // the CLI, as an operator runs it, still switches over
    const cli = spawnCli(["switchover", "--node", c.nodes[active].url], { env: { TANDEM_USER: "admin", TANDEM_PASSWORD: "admin" } });
    const done = await exited(cli, 30_000);
    expect(done.code, cli.output()).toBe(0);
    await c.waitFor(standby, (s) => s.state === "active", 10_000, "the switchover by the CLI");
  });

  it("/health tells a stranger only up, serving and level; /metrics needs a login and counts failed and throttled logins", async () => {
    const c = await pair.start();
    const { active, standby } = await c.ready();
    for (const [id, serving] of [[active, true], [standby, false]] as const) {
      const h = await fetch(`${c.nodes[id].url}/api/v1/health`, { signal: AbortSignal.timeout(10_000) });
      expect(h.status).toBe(200);
      const json = (await h.json()) as Record<string, unknown>;
      expect(Object.keys(json).sort()).toEqual(["serviceLevel", "serving", "up"]);
      expect(json).toMatchObject({ up: true, serving });
    }
    const anon = await fetch(`${c.nodes[active].url}/api/v1/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(anon.status).toBe(401);
    expect(await anon.text()).not.toMatch(/tandem_epoch|tandem_uptime/);

    // password guessing from another host: the first failures are checked, then throttled
    const from = "127.0.0.77";
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await send(`${c.nodes[active].url}/api/v1/status`, from, "GET", { authorization: basic("operator", `guess${i}`) })).status);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(1);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    const failed = statuses.filter((s) => s === 401).length;
    const form = await send(`${c.nodes[active].url}/api/v1/login`, from, "POST", { "content-type": "application/json" }, JSON.stringify({ user: "operator", password: "x" }));
    expect(form.status).toBe(429);
    // the same account from an address it never logged in from waits too (the account's budget is spent)
    expect((await send(`${c.nodes[active].url}/api/v1/status`, "127.0.0.78", "GET", { authorization: basic("operator") })).status).toBe(429);
    const text = await scrape(c, active);
    expect(sampleValue(text, "tandem_http_login_failures_total", { method: "basic" })).toBe(failed);
    expect(sampleValue(text, "tandem_http_logins_throttled_total", { limit: "address" })).toBe(14 - failed + 1);
    expect(sampleValue(text, "tandem_http_logins_throttled_total", { limit: "account" })).toBe(1);

  });

  it("two nodes on one host (127.0.0.1, as in the demo) keep their own sessions in one browser", async () => {
    const c = await pair.start();
    await c.ready();
    // one browser, both nodes on 127.0.0.1: cookies ignore the port, so a jar per host
    const jar = new Map<string, string>();
    const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const login = async (id: "a" | "b", user: string) => {
      const r = await send(`${c.nodes[id].url}/api/v1/login`, "127.0.0.1", "POST", { "content-type": "application/json", "x-tandem-client": "hmi", cookie: cookieHeader() }, JSON.stringify({ user, password: user }));
      expect(r.status).toBe(200);
      for (const sc of r.setCookie) {
        const [pairText] = sc.split(";");
        const i = pairText!.indexOf("=");
        jar.set(pairText!.slice(0, i), pairText!.slice(i + 1));
      }
    };
    const whoami = async (id: "a" | "b") => {
      const r = await send(`${c.nodes[id].url}/api/v1/whoami`, "127.0.0.1", "GET", { "x-tandem-client": "hmi", cookie: cookieHeader() });
      return r.status === 200 ? (JSON.parse(r.text) as { user: string; nodeId: string }) : r.status;
    };
    await login("a", "admin");
    await login("b", "viewer");
    expect(jar.size).toBe(2);
    expect([...jar.keys()].sort()).toEqual(["tandem_session_it_a", "tandem_session_it_b"]);
    expect(await whoami("a")).toMatchObject({ user: "admin", nodeId: "a" });
    expect(await whoami("b")).toMatchObject({ user: "viewer", nodeId: "b" });
  });
});
