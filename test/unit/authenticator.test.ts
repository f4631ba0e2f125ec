// The Authenticator (runtime/http/auth.ts) runs scrypt once for the same
// credentials checked at once: a hundred MQTT clients of one login landing on
// a new active must not queue a hundred password checks (DESIGN.md: 100
// clients on the new active within 1 s of a takeover).
import { describe, expect, it } from "vitest";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { Authenticator } from "../../runtime/http/auth.js";

describe("Authenticator", () => {
  it("checks the same credentials arriving together once, right or wrong, and remembers only the right ones", async () => {
    const auth = new Authenticator({ users: [{ name: "viewer", role: "viewer", passwordHash: await hashPassword("viewer") }], sessionTtlMs: 60_000 });
    expect(auth.pending("viewer", "viewer")).toBe(false);
    const first = auth.check("viewer", "viewer", "10.0.0.100");
    // while it runs, the same credentials are pending (the MQTT broker lets those skip the brute-force limits); others are not
    expect(auth.pending("viewer", "viewer")).toBe(true);
    expect(auth.pending("viewer", "other")).toBe(false);
    expect(auth.pending("nobody", "viewer")).toBe(false);
    const ok = await Promise.all([first, ...Array.from({ length: 30 }, (_, i) => auth.check("viewer", "viewer", `10.0.0.${i}`))]);
    expect(auth.pending("viewer", "viewer")).toBe(false);
    expect(ok.every((a) => a?.user === "viewer" && a.role === "viewer")).toBe(true);
    expect(ok.map((a) => a?.from)).toContain("10.0.0.29");
    expect(auth.passwordChecks).toBe(1);
    const bad = await Promise.all(Array.from({ length: 30 }, () => auth.check("viewer", "wrong", "10.0.0.1")));
    expect(bad.every((a) => a === null)).toBe(true);
    expect(auth.passwordChecks).toBe(2);
    // a wrong password is not remembered: the next try runs scrypt again
    expect(await auth.check("viewer", "wrong", "10.0.0.1")).toBeNull();
    expect(auth.passwordChecks).toBe(3);
    expect(auth.remembered("viewer", "viewer", "x")).toMatchObject({ user: "viewer" });
    expect(auth.remembered("viewer", "wrong", "x")).toBeNull();
  });

  it("remembers keys primed from elsewhere (the active's MQTT logins) for as long as told, bounded; junk keys are ignored", async () => {
    let now = 1_000_000;
    const auth = new Authenticator({ users: [{ name: "otto", role: "operator", passwordHash: await hashPassword("o-pass") }], sessionTtlMs: 60_000, now: () => now });
    const key = auth.keyOf("otto", "o-pass")!;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(auth.keyOf("nobody", "x")).toBeNull();
    expect(auth.prime([key, "not a key", 42, "A".repeat(64)], 60_000)).toBe(1);
    // the right password is taken without scrypt; a wrong one is not remembered
    expect(auth.remembered("otto", "o-pass", "10.0.0.9")).toMatchObject({ user: "otto", role: "operator" });
    expect(await auth.check("otto", "o-pass", "10.0.0.9")).toMatchObject({ user: "otto" });
    expect(auth.passwordChecks).toBe(0);
    expect(auth.remembered("otto", "wrong", "x")).toBeNull();
    now += 60_001;
    expect(auth.remembered("otto", "o-pass", "x")).toBeNull();
    // no more than ten minutes, whatever the sender asks
    auth.prime([key], 86_400_000);
    now += 600_001;
    expect(auth.remembered("otto", "o-pass", "x")).toBeNull();
  });
});

