// HMI sessions across a takeover, on a real pair of `tandem start` processes
// replicating over SQLite: a login on the active (the HMI's login form
// endpoint) is written to `_sessions` on both databases under the token's
// hash; after a kill -9 of the active the new active takes the cookie the old
// one issued; a logout there ends it on both nodes, the killed one too once it
// is back. With whenPeerAway: refuse and the peer away a login still works
// (the session row is Tandem's own write). A login on the standby is its own.
// The databases are read with better-sqlite3 on the files, not Tandem's adapter.
// In a real browser (Debian's chromium): the operator logged in on the
// active's HMI opens the new active's HMI after the kill and is still logged
// in (both nodes on one host, as one host name for the pair would be).
import { createHash } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { waitUntil, type Cluster } from "../helpers/cluster.js";
import { shows, startHmiRig } from "../helpers/hmi-browser.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

const extra = () => `replication: { mode: sync, whenPeerAway: refuse, tables: { batch_log: {} } }\n`;

type Id = "a" | "b";

/** the live `_sessions` rows of a node's database: key → kind and body */
function sessionRows(c: Cluster, id: Id): Map<string, { kind: string; body: string | null }> {
  const db = new Database(join(c.dir, `data-${id}`, "tandem.db"), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT key, kind, body FROM tandem_rows WHERE tbl = '_sessions' AND key IS NOT NULL ORDER BY seq").all() as { key: string; kind: string; body: string | null }[];
    return new Map(rows.map((r) => [r.key, { kind: r.kind, body: r.body }]));
  } finally {
    db.close();
  }
}

/**
 * Replication live: a login is then answered once both databases hold it. (Just
 * after start-up the active may still be resuming the standby: a login is then
 * on the active's database and reaches the standby with the catch-up.)
 */
const live = (c: Cluster, id: Id) => c.waitFor(id, (s) => s.replication.role === "leader" && s.replication.peer === "live", 15_000, "replication live");

const hashOf = (token: string) => createHash("sha256").update(token).digest("base64url");

/** the HMI's login form: the session cookie's name and token */
async function login(c: Cluster, id: Id, user: string): Promise<{ name: string; token: string }> {
  const r = await fetch(`${c.nodes[id].url}/api/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-tandem-client": "hmi" },
    body: JSON.stringify({ user, password: user }),
    signal: AbortSignal.timeout(10_000),
  });
  expect(r.status, `login on ${id}: ${await r.clone().text()}`).toBe(200);
  const m = /^(tandem_session_[^=]+)=([^;]+)/.exec(r.headers.get("set-cookie") ?? "");
  expect(m, "a session cookie").not.toBeNull();
  return { name: m![1], token: m![2] };
}

/** a request as the HMI sends it, with one cookie */
async function withCookie(c: Cluster, id: Id, cookie: { name: string; token: string }, method: string, path: string): Promise<{ status: number; json: any }> {
  const r = await fetch(`${c.nodes[id].url}/api/v1${path}`, {
    method,
    headers: { cookie: `${cookie.name}=${cookie.token}`, ...(method === "GET" ? {} : { "content-type": "application/json", "x-tandem-client": "hmi" }) },
    body: method === "GET" ? undefined : "{}",
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

describe("HMI sessions in the replicated store", () => {
  it("a login on the active holds on the new active after a kill -9; a logout there ends it on both", async () => {
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();
    await live(c, active);

    const cookie = await login(c, active, "operator");
    expect(cookie.name).toBe(`tandem_session_it_${active}`);
    expect((await withCookie(c, active, cookie, "GET", "/status")).status).toBe(200);
    // sync: the login was answered once both databases held the session, under the token's hash only
    for (const id of [active, standby]) {
      const rows = sessionRows(c, id);
      const row = rows.get(hashOf(cookie.token));
      expect(row?.kind, `node ${id}'s _sessions`).toBe("put");
      expect(JSON.parse(row!.body!)).toMatchObject({ user: "operator", role: "operator" });
      expect([...rows.keys()].join() + [...rows.values()].map((r) => r.body).join()).not.toContain(cookie.token);
    }
    // the standby takes it too (the peer's cookie: one host name for the pair)
    expect((await withCookie(c, standby, cookie, "GET", "/whoami")).json).toMatchObject({ user: "operator", via: "cookie", nodeId: standby });

    // a login on the standby is its own: nothing written, the active does not take it
    const local = await login(c, standby, "viewer");
    expect((await withCookie(c, standby, local, "GET", "/status")).status).toBe(200);
    expect((await withCookie(c, active, local, "GET", "/status")).status).toBe(401);
    expect(sessionRows(c, active).has(hashOf(local.token))).toBe(false);

    c.signal(active, "SIGKILL");
    await c.exited(active);
    await c.waitFor(standby, (s) => s.state === "active" || s.state === "active-held", 15_000, "the standby takes over");

    // the cookie the old active issued: logged in on the new one, with the operator's role
    const who = await withCookie(c, standby, cookie, "GET", "/whoami");
    expect(who.status).toBe(200);
    expect(who.json).toMatchObject({ user: "operator", role: "operator", via: "cookie", nodeId: standby });
    expect((await withCookie(c, standby, cookie, "GET", "/status")).status).toBe(200);
    if ((await c.status(standby))?.state === "active-held") expect((await withCookie(c, standby, cookie, "POST", "/confirm")).status).toBe(200);
    await c.waitFor(standby, (s) => s.state === "active", 10_000, "the new active running");

    // whenPeerAway: refuse with the peer away: a record is refused, a login is not
    const rec = await c.api(standby, "POST", "/records/batch_log", { n: 1 }, "operator");
    expect(rec.status, JSON.stringify(rec.json)).toBe(503);
    const second = await login(c, standby, "admin");
    expect(sessionRows(c, standby).get(hashOf(second.token))?.kind).toBe("put");

    // the logout on the new active ends the session
    expect((await withCookie(c, standby, cookie, "POST", "/logout")).status).toBe(200);
    expect((await withCookie(c, standby, cookie, "GET", "/status")).status).toBe(401);
    expect(sessionRows(c, standby).has(hashOf(cookie.token)) && sessionRows(c, standby).get(hashOf(cookie.token))!.kind).toBe("del");

    // the killed node comes back as standby: the logout reached it, the session written while it was away too
    c.startNode(active);
    await c.waitFor(active, (s) => s.state === "standby" && s.replication.role === "follower" && s.replication.catchUp === null, 30_000, "the old active back as standby, caught up");
    await waitUntil("the logout on the returned node's database", () => sessionRows(c, active).get(hashOf(cookie.token))?.kind === "del", { timeoutMs: 10_000 });
    expect((await withCookie(c, active, cookie, "GET", "/status")).status).toBe(401);
    expect((await withCookie(c, active, second, "GET", "/whoami")).json).toMatchObject({ user: "admin", role: "admin", nodeId: active });
  });

  it("in a browser: logged in on the active's HMI, still logged in on the new active's after a kill -9; logged out there, logged out on both", async () => {
    const rig = await startHmiRig();
    try {
      const c = await pair.start({ extra });
      const { active, standby } = await c.ready();
      await live(c, active);
      const page = await rig.login("operator", "operator", undefined, c.nodes[active].url);
      await shows(page, "#who-name", "operator");
      c.signal(active, "SIGKILL");
      await c.exited(active);
      await c.waitFor(standby, (s) => s.state === "active" || s.state === "active-held", 15_000, "the standby takes over");

      // the same browser opens the new active's HMI: no login form, the operator's name and role
      await page.goto(c.nodes[standby].url + "/");
      await page.locator("#board").waitFor({ state: "visible" });
      expect(await page.locator("#login-view").isVisible()).toBe(false);
      await shows(page, "#who-name", "operator");
      await shows(page, "#who-role", "operator");
      const jar = await page.context().cookies();
      expect(jar.map((k) => k.name)).toEqual([`tandem_session_it_${active}`]); // the old active's cookie, nothing new
      const token = jar[0].value;

      // log out on the new active's HMI: the session is gone from its database, and from the old one's once it is back
      await page.locator("#logout").click();
      await page.locator("#login-view").waitFor({ state: "visible" });
      expect(await page.context().cookies()).toEqual([]);
      expect(sessionRows(c, standby).get(hashOf(token))?.kind).toBe("del");
      c.startNode(active);
      await c.waitFor(active, (s) => s.state === "standby", 30_000, "the old active back as standby");
      await waitUntil("the logout on the returned node's database", () => sessionRows(c, active).get(hashOf(token))?.kind === "del", { timeoutMs: 10_000 });
      expect((await withCookie(c, active, { name: `tandem_session_it_${active}`, token }, "GET", "/status")).status).toBe(401);
    } finally {
      await rig.stop();
    }
  });
});
