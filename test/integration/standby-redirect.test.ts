// Issue 11: an HTTP client goes to the valid server. On a real pair with
// peer.api configured, the standby answers what only the active does
// (confirm, a tag write, a record write, verify, acting on a service placed
// active) with 421, the active's address in the JSON error and a Location
// on the active; the same request sent there gets the active's own answer.
// The CLI prints where to run the command, the HMI says plainly that it is
// the standby and links to the active's HMI. Cut off from the active with no
// witness, the standby says that no active is known and what to do.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exited, freePort, spawnCli, waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";
import { shows, startHmiRig, type HmiRig } from "../helpers/hmi-browser.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-redirect-"));
let sim: ReturnType<typeof spawnCli>;
let modbus: number;
let rig: HmiRig | null = null;

beforeAll(async () => {
  modbus = await freePort();
  sim = spawnCli(["sim", "--modbus-port", String(modbus), "--opcua-port", String(await freePort()), "--data-dir", join(dir, "sim")]);
  await waitUntil("the simulator serving", () => sim.output().includes("plant simulator:"), { timeoutMs: 20_000, seen: () => sim.output() });
});

afterAll(async () => {
  await rig?.stop();
  sim?.kill("SIGTERM");
  if (sim) await exited(sim);
  rmSync(dir, { recursive: true, force: true });
});

const extra = () => `drivers:
  scanMs: 200
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${modbus}"], unitId: 1, timeoutMs: 1000, standby: hot }
  tags:
    - { name: line1.tank1.inletValve, device: plc, address: "hr:8", type: uint16, writable: true }
replication: { mode: sync, tables: { batch_log: {} } }
services:
  job: { command: /bin/sleep, args: ["600"], placement: active, stopTimeoutMs: 2000 }
  local: { command: /bin/sleep, args: ["600"], placement: both, stopTimeoutMs: 2000 }
`;

const basic = (user: string) => `Basic ${Buffer.from(`${user}:${user}`).toString("base64")}`;

/**
 * One POST as curl sends it: once. Not fetch(): the Fetch standard repeats a
 * request answered 421 once on a new connection (browsers and Node's fetch
 * do), which would make every refusal here two.
 */
function post(url: string, body: unknown, user = "admin"): Promise<{ status: number; location: string | null; json: any }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", timeout: 10_000, headers: { authorization: basic(user), "content-type": "application/json", "content-length": Buffer.byteLength(data) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        let json: any = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON: the assertions say so */
        }
        resolve({ status: res.statusCode ?? 0, location: (res.headers.location as string | undefined) ?? null, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`POST ${url}: no answer within 10 s`)));
    req.on("error", reject);
    req.end(data);
  });
}

/** the standby's 421 for `path`: the active named, a Location on it with the same path */
async function misdirected(c: Cluster, ids: { active: "a" | "b"; standby: "a" | "b" }, path: string, body: unknown, what: string, user = "operator") {
  const r = await post(`${c.nodes[ids.standby].url}/api/v1${path}`, body, user);
  expect(r.status, `${what}: ${JSON.stringify(r.json)}`).toBe(421);
  expect(r.location).toBe(`${c.nodes[ids.active].url}/api/v1${path}`);
  expect(r.json.error).toEqual({
    code: "TANDEM_ERR_NOT_ACTIVE",
    message: `${what} refused: node ${ids.standby} is standby, not active; the active is node ${ids.active} at ${c.nodes[ids.active].url}: send the request there`,
    active: `${c.nodes[ids.active].url}/api/v1`,
    activeNode: ids.active,
  });
  return r.location!;
}

describe("a standby points clients to the active", () => {
  it("confirm, tag write, record write and verify answer 421 with the active's address; sent there they get the active's answer; the CLI and the HMI say where the active is", async () => {
    const c = await pair.start({ peerApi: true, extra });
    const ids = await c.ready();
    const { active, standby } = ids;

    const confirmAt = await misdirected(c, ids, "/confirm", {}, "confirm");
    // the active has nothing held: its own answer
    const there = await post(confirmAt, {}, "operator");
    expect([there.status, there.json.error.code]).toEqual([409, "TANDEM_ERR_NOT_HELD"]);

    await waitUntil("the active reads the tag", async () => (await c.api(active, "GET", "/tags/line1.tank1.inletValve", undefined, "viewer")).json?.quality === "good", { timeoutMs: 20_000 });
    const tagAt = await misdirected(c, ids, "/tags/line1.tank1.inletValve", { value: 7 }, "tag write");
    const wrote = await post(tagAt, { value: 7 }, "operator");
    expect(wrote.status, JSON.stringify(wrote.json)).toBe(200);
    await waitUntil("the standby reads the value the active wrote", async () => (await c.api(standby, "GET", "/tags/line1.tank1.inletValve", undefined, "viewer")).json?.value === 7, { timeoutMs: 10_000 });

    const recordAt = await misdirected(c, ids, "/records/batch_log", { order: "4711" }, "record write");
    const rec = await post(recordAt, { order: "4711" }, "operator");
    expect(rec.status, JSON.stringify(rec.json)).toBe(201);
    expect((await c.api(standby, "GET", "/records/batch_log", undefined, "viewer")).json.records.map((r: { data: unknown }) => r.data)).toEqual([{ order: "4711" }]);

    const verifyAt = await misdirected(c, ids, "/replication/verify", {}, "verify");
    expect((await post(verifyAt, {}, "operator")).status).toBe(200);

    // a service placed active runs on the active: acting on it is sent there; one placed on both is the node's own
    const jobAt = await misdirected(c, ids, "/services/job/restart", {}, "restart of service job");
    expect((await post(jobAt, {}, "operator")).status).toBe(200);
    expect((await post(`${c.nodes[standby].url}/api/v1/services/local/restart`, {}, "operator")).status).toBe(200);

    // refused, and audited as such on the standby (S4)
    const audit = (await c.api(standby, "GET", "/audit?limit=50", undefined, "viewer")).json.entries as { action: string; result: string; details?: { code?: string } }[];
    expect(audit.filter((e) => e.action === "confirm").map((e) => [e.result, e.details?.code])).toEqual([
      ["requested", undefined],
      ["refused", "TANDEM_ERR_NOT_ACTIVE"],
    ]);
    // fetch (as the HMI and the CLI use it) sends a request answered 421 once more by itself: the standby answers
    // the repeat the same, and audits the refusal once
    const viaFetch = await fetch(`${c.nodes[standby].url}/api/v1/confirm`, { method: "POST", headers: { authorization: basic("operator"), "content-type": "application/json" }, body: "{}" });
    expect([viaFetch.status, viaFetch.headers.get("location")]).toEqual([421, confirmAt]);
    const audit2 = (await c.api(standby, "GET", "/audit?limit=50", undefined, "viewer")).json.entries as { action: string; result: string }[];
    expect(audit2.filter((e) => e.action === "confirm").map((e) => e.result)).toEqual(["requested", "refused", "requested", "refused"]);

    // the CLI: the message and where to run the command instead
    const cli = spawnCli(["confirm", "--node", c.nodes[standby].url], { env: { TANDEM_USER: "operator", TANDEM_PASSWORD: "operator" } });
    expect((await exited(cli)).code).toBe(1);
    expect(cli.output()).toContain(`tandem confirm: confirm refused: node ${standby} is standby, not active; the active is node ${active} at ${c.nodes[active].url}`);
    expect(cli.output()).toContain(`the active is node ${active} at ${c.nodes[active].url}: run the command there (tandem confirm … --node ${c.nodes[active].url})`);

    // the HMI: a plain banner with a link to the active's HMI
    rig = await startHmiRig();
    const page = await rig.login("operator", "operator", undefined, c.nodes[standby].url);
    await shows(page, "#standby-here", `This is the standby (node ${standby}).`);
    await shows(page, "#standby-there", `The active is node ${active}:`);
    expect(await page.locator("#standby-link").getAttribute("href")).toBe(`${c.nodes[active].url}/`);
    expect(await page.locator("#standby-link").isVisible()).toBe(true);
    const onActive = await rig.login("operator", "operator", undefined, c.nodes[active].url);
    await shows(onActive, "#state", (t) => t.length > 1);
    expect(await onActive.locator("#standby-banner").isVisible()).toBe(false);

    // a switchover is not redirected: a standby connected to the active asks it to hand over, as before
    const sw = await post(`${c.nodes[standby].url}/api/v1/switchover`, {}, "admin");
    expect(sw.status, JSON.stringify(sw.json)).toBe(200);
    await c.waitFor(standby, (s) => s.state === "active", 10_000, "the switchover asked from the standby");
  }, 120_000);

  it("cut off from the active, with no witness, the standby knows no active: 503, and the message says what to do", async () => {
    const c = await pair.start({ peerApi: true, witness: false, extra });
    const { active, standby } = await c.ready();
    c.cutPeer(true);
    await c.waitFor(standby, (s) => s.awaitingOperator && s.peer.state === "unknown", 10_000, "awaiting an operator");
    for (const [path, body, what, user] of [
      ["/tags/line1.tank1.inletValve", { value: 1 }, "tag write", "operator"],
      ["/records/batch_log", { order: "1" }, "record write", "operator"],
      ["/reject", {}, "reject", "operator"],
      // no peer connection: the standby cannot ask anyone to hand over
      ["/switchover", {}, "switchover", "admin"],
    ] as const) {
      const r = await post(`${c.nodes[standby].url}/api/v1${path}`, body, user);
      expect(r.status, `${what}: ${JSON.stringify(r.json)}`).toBe(503);
      expect(r.location).toBeNull();
      expect(r.json.error).toMatchObject({ code: "TANDEM_ERR_NOT_ACTIVE", active: null, activeNode: null });
      expect(r.json.error.message).toBe(
        `${what} refused: node ${standby} is standby, not active, and no active is known (node ${active} is not heard on any link): ` +
          `check both nodes (tandem status --node …); if node ${active} is down, this node takes over by itself or waits for an operator to confirm or promote it`,
      );
    }
    c.cutPeer(false);
  }, 120_000);
});
