// HMI sessions in the replicated store, the pure parts: a session's row (no
// token in it), what applied rows do to the sessions in memory, and the
// hooks a login and a logout run, over a fake pair of nodes that applies each
// write on both in order (the real pair: test/integration/sessions-pair.test.ts).
import { describe, expect, it } from "vitest";
import { applySessionRows, ReplicatedSessions, SESSIONS_TABLE, sessionDel, sessionOfRow, sessionPurge, sessionPut, type SessionStorePort } from "../../runtime/auth/replicated-sessions.js";
import { SessionStore, sessionId } from "../../runtime/auth/sessions.js";
import { Authenticator, type HttpUser } from "../../runtime/http/auth.js";
import type { Row, RowWrite } from "../../redundancy/storage.js";
import type { Logger } from "../../core/logger.js";

const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
const users: HttpUser[] = [
  { name: "op", role: "operator", passwordHash: "scrypt$1$1$1$c2FsdA==$aGFzaA==" },
  { name: "adm", role: "admin", passwordHash: "scrypt$1$1$1$c2FsdDI=$aGFzaDI=" },
];

/** two nodes' stores, one database order: a write on the leader is applied on both, as replication does */
function fakePair(t: () => number) {
  let seq = 0;
  let leader: "a" | "b" = "a";
  const rows: Row[] = [];
  const hooks: Record<"a" | "b", ((rows: readonly Row[]) => void)[]> = { a: [], b: [] };
  let failWrites: Error | null = null;
  const port = (id: "a" | "b"): SessionStorePort => ({
    leads: () => leader === id,
    async write(writes: RowWrite[]) {
      if (leader !== id) throw new Error("not active");
      if (failWrites) throw failWrites;
      const stamped = writes.map((w) => ({ ...w, seq: ++seq, epoch: 1, at: t() }));
      rows.push(...stamped);
      for (const f of [...hooks.a, ...hooks.b]) f(stamped);
      return stamped;
    },
    async read(table) {
      return rows.filter((r) => r.table === table && r.kind === "put");
    },
    onApplied: (fn) => hooks[id].push(fn),
  });
  const node = async (id: "a" | "b") => {
    const store = new SessionStore({ ttlMs: 1000, now: t });
    const rs = new ReplicatedSessions(store, port(id), quiet, t);
    await rs.open();
    rs.stop();
    return { store, rs, auth: new Authenticator({ users, sessionTtlMs: 1000, now: t, sessions: store, hooks: rs }) };
  };
  return {
    rows,
    node,
    lead: (id: "a" | "b") => (leader = id),
    failWrites: (e: Error | null) => (failWrites = e),
  };
}

describe("a session's row", () => {
  it("holds user, role, times and a password fingerprint under the token's hash, never the token", () => {
    const store = new SessionStore({ ttlMs: 1000, now: () => 5000 });
    const { token, session } = store.create({ user: "op", role: "operator", from: "10.0.0.9" }, "pwtag");
    const w = sessionPut(session);
    expect(w).toMatchObject({ table: SESSIONS_TABLE, kind: "put", key: sessionId(token) });
    expect(w.body).not.toContain(token);
    expect(JSON.parse(w.body!)).toEqual({ user: "op", role: "operator", createdAt: 5000, expiresAt: 6000, pw: "pwtag" });
    const back = sessionOfRow({ ...w, seq: 1, epoch: 1, at: 5000 });
    expect(back).toEqual({ ...session, stored: true });
    expect(sessionDel(session.id)).toEqual({ table: SESSIONS_TABLE, kind: "del", key: session.id, body: null });
    expect(JSON.parse(sessionPurge(10_000, 1000).body!)).toEqual({ before: 9000 });
  });

  it("is refused when it is not a session this build can read", () => {
    const row = (body: string | null, extra: Partial<Row> = {}): Row => ({ seq: 1, epoch: 1, at: 0, table: SESSIONS_TABLE, kind: "put", key: "k", body, ...extra });
    const good = JSON.stringify({ user: "op", role: "operator", createdAt: 1, expiresAt: 2, pw: "x" });
    expect(sessionOfRow(row(good))).not.toBeNull();
    expect(sessionOfRow(row(good, { table: "_context" }))).toBeNull();
    expect(sessionOfRow(row(good, { key: null }))).toBeNull();
    expect(sessionOfRow(row(null, { kind: "del" }))).toBeNull();
    expect(sessionOfRow(row("{not json"))).toBeNull();
    expect(sessionOfRow(row(JSON.stringify({ user: "op", role: "root", createdAt: 1, expiresAt: 2, pw: "x" })))).toBeNull();
    expect(sessionOfRow(row(JSON.stringify({ user: "op", role: "operator", createdAt: 1, expiresAt: "later", pw: "x" })))).toBeNull();
    expect(sessionOfRow(row("null"))).toBeNull();
  });

  it("applied: a put adds (unless expired), a delete removes, other tables pass by", () => {
    const store = new SessionStore({ ttlMs: 1000, now: () => 100 });
    const put = (key: string, expiresAt: number, seq: number): Row => ({ seq, epoch: 1, at: 0, table: SESSIONS_TABLE, kind: "put", key, body: JSON.stringify({ user: "op", role: "operator", createdAt: 0, expiresAt, pw: "" }) });
    applySessionRows(store, [put("live", 500, 1), put("gone", 50, 2), { ...put("ctx", 500, 3), table: "_context" }], 100);
    expect(store.size).toBe(1);
    applySessionRows(store, [{ seq: 4, epoch: 1, at: 0, table: SESSIONS_TABLE, kind: "del", key: "live", body: null }], 100);
    expect(store.size).toBe(0);
  });
});

describe("sessions shared by a pair", () => {
  it("a login on the active reaches the standby; a logout on the new active ends it on both", async () => {
    let t = 10_000;
    const pair = fakePair(() => t);
    const a = await pair.node("a");
    const b = await pair.node("b");
    const token = await a.auth.login({ user: "op", role: "operator" });
    expect(pair.rows.map((r) => r.kind)).toEqual(["put"]);
    expect(pair.rows[0].key).toBe(sessionId(token));
    expect(b.auth.session(token)).toEqual({ user: "op", role: "operator" });
    // a node started later loads it from its database
    const late = await pair.node("b");
    expect(late.auth.session(token)).toEqual({ user: "op", role: "operator" });

    // takeover: b leads; the logout there is a delete both apply
    pair.lead("b");
    t += 10;
    // answered once the delete is written
    expect((await b.auth.logout(token))?.actor.user).toBe("op");
    expect(pair.rows.map((r) => r.kind)).toEqual(["put", "del"]);
    expect(a.auth.session(token)).toBeNull();
    expect(b.auth.session(token)).toBeNull();
  });

  it("a login on the standby stays its own; a refused write leaves the login working on this node", async () => {
    const t = 10_000;
    const pair = fakePair(() => t);
    const a = await pair.node("a");
    const b = await pair.node("b");
    const onStandby = await b.auth.login({ user: "op", role: "operator" });
    expect(pair.rows).toEqual([]);
    expect(b.auth.session(onStandby)?.user).toBe("op");
    expect(a.auth.session(onStandby)).toBeNull();
    // its logout writes nothing either
    await b.auth.logout(onStandby);
    expect(pair.rows).toEqual([]);

    pair.failWrites(new Error("TANDEM_ERR_LEASE"));
    const local = await a.auth.login({ user: "adm", role: "admin" });
    expect(a.auth.session(local)?.user).toBe("adm");
    expect(b.auth.session(local)).toBeNull();
    expect(a.store.local().map((s) => s.actor.user)).toEqual(["adm"]);
  });

  it("a removed user or a changed password ends the session on both; the role is the user list's, now", async () => {
    const t = 10_000;
    const pair = fakePair(() => t);
    const a = await pair.node("a");
    const b = await pair.node("b");
    const opToken = await a.auth.login({ user: "op", role: "operator" });
    const admToken = await a.auth.login({ user: "adm", role: "admin" });
    // a restarted with op demoted and adm's password changed, op's unchanged
    const changed: HttpUser[] = [{ ...users[0], role: "viewer" }, { ...users[1], passwordHash: "scrypt$1$1$1$bmV3$bmV3" }];
    const a2 = new Authenticator({ users: changed, sessionTtlMs: 1000, now: () => t, sessions: a.store, hooks: a.rs });
    expect(a2.session(opToken)).toEqual({ user: "op", role: "viewer" });
    expect(a2.session(admToken)).toBeNull();
    await Promise.resolve();
    expect(pair.rows.map((r) => r.kind)).toEqual(["put", "put", "del"]);
    expect(b.auth.session(admToken)).toBeNull();
    const gone = new Authenticator({ users: [users[1]], sessionTtlMs: 1000, now: () => t, sessions: b.store, hooks: b.rs });
    expect(gone.session(opToken)).toBeNull(); // b is not active: its view only, nothing written
    expect(pair.rows).toHaveLength(3);
  });

  it("sessions expire on both; the active purges their rows", async () => {
    let t = 10_000;
    const pair = fakePair(() => t);
    const a = await pair.node("a");
    const b = await pair.node("b");
    const token = await a.auth.login({ user: "op", role: "operator" });
    t += 1000;
    expect(a.auth.session(token)).toBeNull();
    expect(b.auth.session(token)).toBeNull();
    await b.rs.purge(); // the standby writes nothing
    expect(pair.rows).toHaveLength(1);
    await a.rs.purge();
    expect(pair.rows[1]).toMatchObject({ table: SESSIONS_TABLE, kind: "purge", body: JSON.stringify({ before: 10_000 }) });
  });
});
