// STYLE.md §4: one error catalogue. Every code is unique, documented in
// docs/errors.md, and renders a message without leftover placeholders.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, ERRORS, TandemError, type ErrorCode } from "../../core/errors.js";

const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
const documented = [...doc.matchAll(/^\| `(TANDEM_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]) }));

describe("error catalogue", () => {
  it("documents every code with its HTTP status, and nothing that does not exist", () => {
    const codes = Object.keys(ERRORS) as ErrorCode[];
    expect(new Set(documented.map((d) => d.code)).size).toBe(documented.length);
    for (const c of codes) expect(documented.find((d) => d.code === c), `${c} in docs/errors.md`).toEqual({ code: c, status: ERRORS[c].status });
    for (const d of documented) expect(codes).toContain(d.code);
  });

  it("formats messages and JSON bodies", () => {
    const e = new TandemError("TANDEM_ERR_FORBIDDEN", ["viewer", "confirm", "operator"]);
    expect(e.message).toBe("role viewer may not confirm (needs operator)");
    expect(e.status).toBe(403);
    expect(e.toJSON()).toEqual({ error: { code: "TANDEM_ERR_FORBIDDEN", message: e.message } });
    const c = new ConfigError([{ path: "peer.links[0].bind", message: "expected host:port" }], "a.yaml");
    expect(c.report()).toBe("config error: a.yaml: peer.links[0].bind: expected host:port");
  });
});
