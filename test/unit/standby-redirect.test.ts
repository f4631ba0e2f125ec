// Where a node that is not active sends a client (runtime/active-hint.ts,
// runtime/http/misdirected.ts, the CLI's advice line): pure functions, with
// hostile inputs (no peer address, a path with a query, a path that would
// name another host if resolved as a URL).
import { describe, expect, it } from "vitest";
import { TandemError } from "../../core/errors.js";
import { activeAdvice, activeHint, apiBaseOf, notActiveError, originOf, type WhereNow } from "../../runtime/active-hint.js";
import { hintOf, locationOn, misdirectedAnswer, MisdirectedRepeats, REPEAT_WITHIN_MS } from "../../runtime/http/misdirected.js";

const standbyOfA: WhereNow = { nodeId: "b", state: "standby", peerId: "a", peerState: "active", peerApi: "http://127.0.0.1:8080" };

describe("the active's address from peer.api", () => {
  it("is the API base with or without a trailing slash, and its origin again", () => {
    expect(apiBaseOf("http://127.0.0.1:8080")).toBe("http://127.0.0.1:8080/api/v1");
    expect(apiBaseOf("https://plant-b.example:8443/")).toBe("https://plant-b.example:8443/api/v1");
    expect(apiBaseOf("http://[::1]:8080")).toBe("http://[::1]:8080/api/v1");
    expect(originOf("http://127.0.0.1:8080/api/v1")).toBe("http://127.0.0.1:8080");
  });

  it("is null when missing or not http(s)://host:port", () => {
    for (const bad of [undefined, null, "", "ftp://h:1", "http://h:1/path", "http://user@h:1", "http://h:1?x=1", "http://h:1#f", "http://h 1", "javascript:alert(1)"]) {
      expect(apiBaseOf(bad), String(bad)).toBeNull();
    }
    expect(originOf(null)).toBeNull();
    expect(originOf("http://h:1/other")).toBeNull();
    expect(originOf("http://h:1/x/api/v1")).toBeNull();
  });
});

describe("the refusal on a node that is not active", () => {
  it("names the active node and its address when the peer is active", () => {
    const e = notActiveError("confirm", standbyOfA);
    expect(e.code).toBe("TANDEM_ERR_NOT_ACTIVE");
    expect(e.message).toBe("confirm refused: node b is standby, not active; the active is node a at http://127.0.0.1:8080: send the request there");
    expect(e.details).toEqual({ active: "http://127.0.0.1:8080/api/v1", activeNode: "a" });
  });

  it("says a held active must be confirmed there", () => {
    expect(notActiveError("confirm", { ...standbyOfA, peerState: "active-held" }).message).toContain("the active is node a at http://127.0.0.1:8080 (its takeover is held: confirm it there)");
  });

  it("names the active without an address when peer.api is not configured", () => {
    const e = notActiveError("tag write", { ...standbyOfA, peerApi: undefined });
    expect(e.details).toEqual({ active: null, activeNode: "a" });
    expect(e.message).toMatch(/the active is node a, whose HTTP address this node does not know \(set peer\.api/);
  });

  it("says no active is known, and what to do, when the peer is not heard, standby or in maintenance", () => {
    for (const peerState of ["unknown", "standby", "maintenance", "isolated"] as const) {
      const e = notActiveError("record write", { ...standbyOfA, peerState });
      expect(e.details, peerState).toEqual({ active: null, activeNode: null });
      expect(e.message).toMatch(/no active is known/);
      expect(e.message).toMatch(/tandem status --node/);
    }
    expect(notActiveError("x", { ...standbyOfA, peerState: "unknown" }).message).toContain("node a is not heard on any link");
    expect(activeHint({ ...standbyOfA, peerState: "starting" })).toEqual({ active: null, activeNode: null });
  });
});

describe("the HTTP answer", () => {
  it("is 421 with a Location on the active for the same path and query", () => {
    const a = misdirectedAnswer(notActiveError("confirm", standbyOfA), "/api/v1/confirm?x=1&y=%20")!;
    expect(a.status).toBe(421);
    expect(a.location).toBe("http://127.0.0.1:8080/api/v1/confirm?x=1&y=%20");
    expect(a.body).toEqual({
      error: { code: "TANDEM_ERR_NOT_ACTIVE", message: expect.stringContaining("the active is node a at http://127.0.0.1:8080"), active: "http://127.0.0.1:8080/api/v1", activeNode: "a" },
    });
  });

  it("is 409 without a Location when the active's address is not known, 503 when no active is known", () => {
    const noApi = misdirectedAnswer(notActiveError("confirm", { ...standbyOfA, peerApi: null }), "/api/v1/confirm")!;
    expect([noApi.status, noApi.location, noApi.body.error.active, noApi.body.error.activeNode]).toEqual([409, null, null, "a"]);
    const none = misdirectedAnswer(notActiveError("confirm", { ...standbyOfA, peerState: "unknown" }), "/api/v1/confirm")!;
    expect([none.status, none.location, none.body.error.active, none.body.error.activeNode]).toEqual([503, null, null, null]);
  });

  it("never builds a Location that leaves the active or is not an API path", () => {
    const api = "http://127.0.0.1:8080/api/v1";
    expect(locationOn(api, "//evil.example/api/v1/confirm")).toBeNull();
    expect(locationOn(api, "/api/v1/../../x")).toBe("http://127.0.0.1:8080/api/v1/../../x"); // text on the active's origin: cannot leave it
    expect(locationOn(api, "/")).toBeNull();
    expect(locationOn(api, "/api/v1x")).toBeNull();
    expect(locationOn(api, "/api/v1/tags/a\r\nSet-Cookie: x")).toBeNull();
    expect(locationOn(api, "/api/v1/a b")).toBeNull();
    expect(locationOn(api, "/api/v1/a\\b")).toBeNull();
    expect(locationOn(null, "/api/v1/confirm")).toBeNull();
    expect(locationOn("http://evil.example/x", "/api/v1/confirm")).toBeNull();
    // a 421 still names the active when the path is not one to send on
    const a = misdirectedAnswer(notActiveError("confirm", standbyOfA), "//evil.example/api/v1/confirm")!;
    expect([a.status, a.location, a.body.error.active]).toEqual([421, null, "http://127.0.0.1:8080/api/v1"]);
  });

  it("leaves every other error to the usual answer, and trusts no hint of the wrong shape", () => {
    expect(misdirectedAnswer(new TandemError("TANDEM_ERR_NOT_HELD", ["confirm", "active"]), "/api/v1/confirm")).toBeNull();
    // a NOT_ACTIVE from the pair's write gate carries no hint: the catalogue's 409
    expect(misdirectedAnswer(new TandemError("TANDEM_ERR_NOT_ACTIVE", ["write", "node is standby, not active"]), "/api/v1/tags/x")).toBeNull();
    expect(hintOf(new TandemError("TANDEM_ERR_NOT_ACTIVE", ["w", "x"], { active: 42, activeNode: "" }))).toEqual({ active: null, activeNode: null });
    const forged = misdirectedAnswer(new TandemError("TANDEM_ERR_NOT_ACTIVE", ["w", "x"], { active: "http://evil.example/steal", activeNode: "a" }), "/api/v1/confirm")!;
    expect([forged.status, forged.location, forged.body.error.active]).toEqual([409, null, null]);
  });
});

describe("the CLI's advice line", () => {
  it("names the active and the --node to use after a 421, and nothing otherwise", () => {
    expect(activeAdvice("confirm", { status: 421, where: { active: "http://127.0.0.1:8080/api/v1", activeNode: "a" } })).toBe(
      "  the active is node a at http://127.0.0.1:8080: run the command there (tandem confirm … --node http://127.0.0.1:8080)",
    );
    expect(activeAdvice("confirm", { status: 409, where: { active: null, activeNode: "a" } })).toBeNull();
    expect(activeAdvice("confirm", { status: 421, where: { active: "http://h:1/elsewhere", activeNode: "a" } })).toBeNull();
    expect(activeAdvice("confirm", { status: 421 })).toBeNull();
  });
});

describe("the one repeat of a request answered 421 (browsers and fetch send it by themselves)", () => {
  const answer = misdirectedAnswer(notActiveError("confirm", standbyOfA), "/api/v1/confirm")!;
  const key = (body: unknown = {}, user = "otto", from = "127.0.0.1") => MisdirectedRepeats.keyOf(user, from, "POST", "/api/v1/confirm", body);

  it("gets the same answer once, soon after; not a second time, nor late, nor another request", () => {
    let now = 1000;
    const r = new MisdirectedRepeats(REPEAT_WITHIN_MS, () => now);
    expect(answer.status).toBe(421);
    r.remember(key(), answer);
    // another body, user or address is another request
    expect(r.repeat(key({ x: 1 }))).toBeNull();
    expect(r.repeat(key({}, "ada"))).toBeNull();
    expect(r.repeat(key({}, "otto", "127.0.0.2"))).toBeNull();
    now += 50;
    expect(r.repeat(key())).toBe(answer);
    expect(r.repeat(key())).toBeNull(); // an operator sending it again is refused (and audited) again
    r.remember(key(), answer);
    now += REPEAT_WITHIN_MS + 1;
    expect(r.repeat(key())).toBeNull();
  });

  it("remembers only 421s, and only the newest few hundred, whatever a client sends", () => {
    const r = new MisdirectedRepeats();
    r.remember(key(), { ...answer, status: 503 });
    expect(r.repeat(key())).toBeNull();
    for (let i = 0; i < 1000; i++) r.remember(key({ i }), answer);
    expect(r.repeat(key({ i: 0 }))).toBeNull();
    expect(r.repeat(key({ i: 999 }))).toBe(answer);
    expect(r.repeat(key({ i: 1000 - 256 }))).toBe(answer);
    expect(r.repeat(key({ i: 1000 - 257 }))).toBeNull();
  });
});
