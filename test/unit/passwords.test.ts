// Password hashes (scrypt) and HMI sessions.
import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword, isPasswordHash } from "../../runtime/auth/passwords.js";
import { SessionStore, sessionId } from "../../runtime/auth/sessions.js";
import { configSchema } from "../../runtime/config/schema.js";
import { parseBasic } from "../../runtime/http/auth.js";

// The regex the config schema applies to http.users[].passwordHash.
const SCHEMA_HASH = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;

describe("passwords", () => {
  it("hashes in the scrypt$N$r$p$salt$hash format the config accepts", async () => {
    const h = await hashPassword("correct horse");
    expect(h).toMatch(SCHEMA_HASH);
    const [, n, r, p, salt, key] = h.split("$");
    expect([n, r, p]).toEqual(["16384", "8", "1"]);
    expect(Buffer.from(salt, "base64")).toHaveLength(16);
    expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(isPasswordHash(h)).toBe(true);
    // and the config schema itself takes it
    const user = (configSchema.shape.http.shape.users.unwrap().element as { safeParse(v: unknown): { success: boolean } }).safeParse({
      name: "op",
      role: "operator",
      passwordHash: h,
    });
    expect(user.success).toBe(true);
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const h = await hashPassword("s3cret");
    expect(await verifyPassword("s3cret", h)).toBe(true);
    expect(await verifyPassword("s3cret ", h)).toBe(false);
    expect(await verifyPassword("", h)).toBe(false);
  });

  it("salts: the same password hashes differently each time", async () => {
    const [a, b] = await Promise.all([hashPassword("x"), hashPassword("x")]);
    expect(a).not.toBe(b);
    expect(await verifyPassword("x", b)).toBe(true);
  });

  it("handles unicode passwords", async () => {
    const h = await hashPassword("Störung⚠️");
    expect(await verifyPassword("Störung⚠️", h)).toBe(true);
    expect(await verifyPassword("Storung⚠️", h)).toBe(false);
  });

  it("returns false, never throws, for malformed stored hashes", async () => {
    const good = await hashPassword("pw");
    const [, , , , salt, key] = good.split("$");
    const bad = [
      "",
      "plain-text",
      "scrypt$16384$8$1$onlysalt",
      `bcrypt$16384$8$1$${salt}$${key}`,
      `scrypt$16383$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$1$8$1$${salt}$${key}`,
      `scrypt$1073741824$8$1$${salt}$${key}`, // absurd N: refused, not run
      `scrypt$16384$0$1$${salt}$${key}`,
      `scrypt$16384$8$99$${salt}$${key}`,
      `scrypt$16384$8$1$${salt}$AAAA`, // key too short
      `scrypt$16384$8$1$!!!$${key}`,
      undefined as unknown as string,
      42 as unknown as string,
    ];
    for (const b of bad) expect(await verifyPassword("pw", b), String(b)).toBe(false);
    // a flipped key byte is a wrong password, not an error
    const k = Buffer.from(key, "base64");
    k[0] ^= 1;
    expect(await verifyPassword("pw", good.replace(key, k.toString("base64")))).toBe(false);
  });
});

describe("sessions", () => {
  it("creates random tokens, keeps only their hash, finds them, expires them lazily, destroys them", () => {
    let t = 1000;
    const s = new SessionStore({ ttlMs: 500, now: () => t });
    const a = s.create({ user: "op", role: "operator" });
    const b = s.create({ user: "adm", role: "admin" });
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes base64url
    expect(a.token).not.toBe(b.token);
    expect(a.session.id).toBe(sessionId(a.token));
    expect(JSON.stringify(a.session)).not.toContain(a.token);
    expect(s.get(a.token)?.actor).toEqual({ user: "op", role: "operator" });
    expect(s.get(a.session.id)).toBeUndefined(); // the hash is not a token
    expect(s.get("nope")).toBeUndefined();
    expect(s.get(undefined)).toBeUndefined();
    t += 499;
    expect(s.get(a.token)).toBeDefined();
    t += 1;
    expect(s.get(a.token)).toBeUndefined();
    expect(s.size).toBe(1); // a swept on access, b not yet
    expect(s.destroy(b.token)?.actor.user).toBe("adm");
    expect(s.get(b.token)).toBeUndefined();
    expect(s.destroy(b.token)).toBeUndefined();
  });

  it("stays bounded: expired sessions go first, then the oldest", () => {
    let t = 0;
    const s = new SessionStore({ ttlMs: 100, maxSessions: 3, now: () => t });
    const old = s.create({ user: "u1", role: "viewer" });
    t = 200; // old expired
    const x = s.create({ user: "u2", role: "viewer" });
    const y = s.create({ user: "u3", role: "viewer" });
    const z = s.create({ user: "u4", role: "viewer" }); // full: sweeps old
    expect(s.size).toBe(3);
    expect(s.get(old.token)).toBeUndefined();
    s.create({ user: "u5", role: "viewer" }); // full, none expired: drops x
    expect(s.size).toBe(3);
    expect(s.get(x.token)).toBeUndefined();
    expect(s.get(y.token)).toBeDefined();
    expect(s.get(z.token)).toBeDefined();
  });
});

describe("Basic parsing", () => {
  it("parses Basic credentials", () => {
    const h = (s: string) => "Basic " + Buffer.from(s).toString("base64");
    expect(parseBasic(h("op:pa:ss"))).toEqual({ user: "op", password: "pa:ss" });
    expect(parseBasic(undefined)).toBeNull();
    expect(parseBasic("Bearer x")).toBeNull();
    expect(parseBasic(h("nocolon"))).toBe("malformed");
    expect(parseBasic("Basic ***")).toBe("malformed");
  });
});
