// The brute-force limits as pure logic (runtime/http/login-limits.ts), on a
// simulated clock; test/unit/http-brute-force.test.ts sends the attacks
// through a real server.
import { describe, expect, it } from "vitest";
import { LoginLimits } from "../../runtime/http/login-limits.js";
import { RefusalAuditor, type Refusal } from "../../runtime/http/refusal-audit.js";
import type { RefusalRecord } from "../../runtime/node-api.js";

const opts = { addressBurst: 3, addressEveryMs: 1000, accountBurst: 4, accountEveryMs: 10_000, inFlightPerAddress: 2, inFlightUnknown: 3 };

describe("login limits", () => {
  it("parallel attempts from one address take their tokens up front: only the burst is admitted", () => {
    const l = new LoginLimits({ ...opts, inFlightPerAddress: 100, inFlightUnknown: 100 }, ["ada"], () => 0);
    const admitted = Array.from({ length: 30 }, () => l.admit("10.0.0.1", "ada")).filter((a) => a.ok);
    expect(admitted).toHaveLength(3);
    const refused = l.admit("10.0.0.1", "ada");
    expect(refused).toMatchObject({ ok: false, limit: "address", retryAfterS: 1 });
  });

  it("counts attempts in flight per address and in all for unknown addresses", () => {
    const l = new LoginLimits({ ...opts, addressBurst: 100, accountBurst: 100 }, ["ada"], () => 0);
    const a1 = l.admit("10.0.0.1", "ada");
    const a2 = l.admit("10.0.0.1", "ada");
    expect(l.admit("10.0.0.1", "ada")).toMatchObject({ ok: false, limit: "in_flight" });
    const b1 = l.admit("10.0.0.2", "ada");
    expect(l.admit("10.0.0.3", "ada")).toMatchObject({ ok: false, limit: "in_flight" });
    for (const a of [a1, a2, b1]) if (a.ok) l.failed(a.ticket);
    expect(l.admit("10.0.0.3", "ada").ok).toBe(true);
  });

  it("many addresses share one account budget; a known workstation skips it; refills with time", () => {
    let t = 0;
    const l = new LoginLimits(opts, ["ada"], () => t);
    const ok = l.admit("10.0.0.9", "ada");
    expect(ok.ok).toBe(true);
    if (ok.ok) l.succeeded(ok.ticket); // the operator's desk logged in once: known
    for (let i = 0; i < 4; i++) {
      const a = l.admit(`10.0.1.${i}`, "ada");
      expect(a.ok).toBe(true);
      if (a.ok) l.failed(a.ticket);
    }
    expect(l.admit("10.0.2.1", "ada")).toMatchObject({ ok: false, limit: "account", retryAfterS: 10 });
    const op = l.admit("10.0.0.9", "ada");
    expect(op).toMatchObject({ ok: true, known: true });
    t = 10_000;
    expect(l.admit("10.0.2.1", "ada").ok).toBe(true);
  });

  it("a clock stepped back (found by the fault-injection runs: NTP, an operator) neither locks the operator out nor refills an attacker", () => {
    let t = 1_000_000;
    const l = new LoginLimits(opts, ["ada"], () => t);
    for (let i = 0; i < 3; i++) {
      const a = l.admit("10.0.0.9", "ada");
      if (a.ok) l.succeeded(a.ticket);
    }
    // ten minutes back: before, the buckets' refill went negative and every login was refused for those ten minutes
    t -= 600_000;
    for (let i = 0; i < 10; i++) {
      const a = l.admit("10.0.0.9", "ada");
      expect(a, `login ${i} after the step`).toMatchObject({ ok: true });
      if (a.ok) l.succeeded(a.ticket);
    }
    // an attacker's spent tokens do not come back with a step either way
    for (let i = 0; i < 3; i++) {
      const a = l.admit("10.6.6.6", "ada");
      if (a.ok) l.failed(a.ticket);
    }
    expect(l.admit("10.6.6.6", "ada").ok).toBe(false);
    t -= 60_000;
    expect(l.admit("10.6.6.6", "ada").ok).toBe(false);
  });

  it("a success does not wipe the address's failures (no reset by interleaving a valid login)", () => {
    const l = new LoginLimits(opts, ["ada", "vera"], () => 0);
    for (let i = 0; i < 2; i++) {
      const a = l.admit("10.0.0.1", "ada");
      if (a.ok) l.failed(a.ticket);
    }
    const good = l.admit("10.0.0.1", "vera");
    if (good.ok) l.succeeded(good.ticket);
    const third = l.admit("10.0.0.1", "ada");
    expect(third.ok).toBe(true);
    if (third.ok) l.failed(third.ticket);
    expect(l.admit("10.0.0.1", "ada")).toMatchObject({ ok: false, limit: "address" });
  });

  it("trusted networks (config) are known workstations for every account; bad entries are refused", () => {
    const l = new LoginLimits({ ...opts, accountBurst: 1, trusted: ["192.0.2.0/24", "::1"] }, ["ada"], () => 0);
    const a = l.admit("198.51.100.1", "ada");
    if (a.ok) l.failed(a.ticket);
    expect(l.admit("198.51.100.2", "ada")).toMatchObject({ ok: false, limit: "account" });
    expect(l.admit("192.0.2.77", "ada")).toMatchObject({ ok: true, known: true });
    expect(l.admit("::ffff:192.0.2.78", "ada")).toMatchObject({ ok: true, known: true });
    expect(l.isKnown("::1", "ada")).toBe(true);
    expect(() => new LoginLimits({ trusted: ["192.0.2.0/33"] }, [], () => 0)).toThrow(/prefix length/);
    expect(() => new LoginLimits({ trusted: ["plc-room"] }, [], () => 0)).toThrow(/not an IP address/);
  });

  it("names that are no user get buckets of their own, bounded in number", () => {
    const l = new LoginLimits({ ...opts, maxTracked: 50 }, ["ada"], () => 0);
    for (let i = 0; i < 500; i++) {
      const a = l.admit(`10.1.${i >> 8}.${i & 255}`, `guess${i}`);
      if (a.ok) l.failed(a.ticket);
    }
    expect(l.tracked.accounts).toBeLessThanOrEqual(51);
    expect(l.tracked.addresses).toBeLessThanOrEqual(50);
    expect(l.tracked.inFlight).toBe(0);
  });
});

describe("refusal audit: bounded rate", () => {
  const refusal = (from: string, kind: Refusal["kind"] = "login-failed"): Refusal => ({ kind, user: "ada", from, tried: "GET /api/v1/status", code: "TANDEM_ERR_UNAUTHORIZED", reason: "wrong user name or password" });

  it("a flood from many addresses writes at most firstPerInterval entries and one summary per interval", () => {
    const written: RefusalRecord[] = [];
    const a = new RefusalAuditor((r) => written.push(r), { intervalMs: 60_000, firstPerInterval: 5, maxKeys: 100, topAddresses: 3 });
    for (let i = 0; i < 10_000; i++) a.record(refusal(`127.0.${(i >> 8) & 255}.${i & 255}`));
    expect(written).toHaveLength(5);
    expect(written[0]).toMatchObject({ action: "refused-login-failed", user: "ada", from: "127.0.0.0", details: { code: "TANDEM_ERR_UNAUTHORIZED" } });
    a.close();
    expect(written).toHaveLength(6);
    const sum = written[5]!;
    expect(sum.action).toBe("refused-summary");
    expect(sum.details.count).toBe(9_995);
    expect(Object.keys(sum.details.top as object)).toHaveLength(3);
    expect(sum.details.otherAddresses).toBe(9_995 - 100);
    // a new interval starts afresh
    a.record(refusal("127.0.0.1"));
    expect(written).toHaveLength(7);
    a.close();
  });

  it("repeats from one address are counted, each kind written once", () => {
    const written: RefusalRecord[] = [];
    const a = new RefusalAuditor((r) => written.push(r));
    for (let i = 0; i < 50; i++) a.record(refusal("127.0.0.5"));
    a.record(refusal("127.0.0.5", "forbidden"));
    expect(written.map((w) => w.action)).toEqual(["refused-login-failed", "refused-forbidden"]);
    a.close();
    expect(written[2]).toMatchObject({ action: "refused-summary", from: "127.0.0.5", details: { count: 49, kinds: { "login-failed": 49 } } });
  });
});
