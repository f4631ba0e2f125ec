// The audit log: append-only JSON lines, fsync'd, chained by hash and keyed by
// the node's audit key (HMAC), with values stored in a bounded, well-formed form.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLog, GENESIS, sha256, type AuditInput } from "../../runtime/audit-log.js";
import { seal, unseal } from "../../runtime/audit/chain.js";
import { LIMITS, normalise } from "../../runtime/audit/normalise.js";

const KEY = Buffer.from("k".repeat(64));
const entry = (action: string, user = "op"): AuditInput => ({ user, role: "operator", from: "192.0.2.7", action, result: "ok", nodeId: "a", epoch: 3 });

let dir: string;
let file: string;
const open: AuditLog[] = [];

function openLog(key: Buffer = KEY): AuditLog {
  const log = new AuditLog(file, { key });
  log.open();
  open.push(log);
  return log;
}

const lines = () => readFileSync(file, "utf8").split("\n").filter((l, i, a) => i < a.length - 1 || l !== "");

/** An unkeyed line as versions before the keyed chain wrote it. */
function legacyLine(seq: number, prev: string, action: string): string {
  return JSON.stringify({ seq, ts: "2024-05-01T03:00:00.000Z", user: "op", role: "operator", action, result: "ok", nodeId: "a", epoch: 3, details: { from: "192.0.2.7" }, prev });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-audit-"));
  file = join(dir, "sub", "audit.jsonl");
});

afterEach(() => {
  for (const l of open.splice(0)) l.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("AuditLog", () => {
  it("writes one JSON line per entry, with the source address, chained by sha256 of the previous line and sealed by a mac", async () => {
    const log = openLog();
    const a = log.append(entry("confirm"));
    const b = log.append({ ...entry("switchover", "adm"), role: "admin", details: { to: "b" }, ts: "2024-05-01T03:00:00.000Z" });
    expect(a.seq).toBe(1);
    expect(a.prev).toBe(GENESIS);
    expect(a.from).toBe("192.0.2.7");
    expect(b.seq).toBe(2);
    expect(b.ts).toBe("2024-05-01T03:00:00.000Z");
    const ls = lines();
    expect(ls).toHaveLength(2);
    expect(JSON.parse(ls[0]!)).toEqual(a);
    expect(JSON.parse(ls[1]!)).toEqual(b);
    expect(b.prev).toBe(sha256(ls[0]!));
    expect(a.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 2, lines: 2, keyedFrom: 1, unkeyedLines: 0 });
  });

  it("continues seq and the chain after a reopen", async () => {
    const log = openLog();
    log.append(entry("one"));
    log.append(entry("two"));
    log.close();
    const again = openLog();
    const c = again.append(entry("three"));
    expect(c.seq).toBe(3);
    expect(c.prev).toBe(sha256(lines()[1]!));
    expect((await again.verify()).ok).toBe(true);
    expect(again.list({}).map((e) => e.action)).toEqual(["one", "two", "three"]);
  });

  it("lists the newest entries, or pages forward from a seq", () => {
    const log = openLog();
    for (let i = 1; i <= 12; i++) log.append(entry(`a${i}`));
    expect(log.list({ limit: 3 }).map((e) => e.seq)).toEqual([10, 11, 12]);
    expect(log.list({ since: 4, limit: 2 }).map((e) => e.seq)).toEqual([5, 6]);
    expect(log.list({ since: 12 })).toEqual([]);
    log.close();
    // after a reopen the same answers come from what was read back
    const again = openLog();
    expect(again.list({ limit: 3 }).map((e) => e.seq)).toEqual([10, 11, 12]);
  });

  it("detects an edited line: its own mac no longer matches", async () => {
    const log = openLog();
    for (const a of ["one", "two", "three", "four"]) log.append(entry(a));
    log.close();
    const ls = lines();
    ls[1] = ls[1]!.replace('"user":"op"', '"user":"someone-else"');
    writeFileSync(file, ls.join("\n") + "\n");
    const r = await openLog().verify();
    expect(r.ok).toBe(false);
    expect(r.badLine).toBe(2);
    expect(r.reason).toMatch(/mac does not match/);
  });

  it("detects a removed line", async () => {
    const log = openLog();
    for (const a of ["one", "two", "three"]) log.append(entry(a));
    log.close();
    const ls = lines();
    writeFileSync(file, [ls[0], ls[2]].join("\n") + "\n");
    expect(await openLog().verify()).toMatchObject({ ok: false, badLine: 2 });
  });

  it("detects a whole file rewritten without the key (every hash recomputed, every mac made with a guessed key)", async () => {
    const log = openLog();
    for (const a of ["one", "two", "three"]) log.append(entry(a));
    log.close();
    // the attacker keeps the format and the hash chain perfect, but does not have the node's key
    const forged: string[] = [];
    let prev = GENESIS;
    for (const l of lines()) {
      const e = JSON.parse(unseal(l)!.body) as Record<string, unknown>;
      e.user = "nobody";
      e.prev = prev;
      const line = seal(JSON.stringify(e), Buffer.from("guessed".repeat(10)));
      forged.push(line);
      prev = sha256(line);
    }
    writeFileSync(file, forged.join("\n") + "\n");
    const r = await openLog().verify();
    expect(r).toMatchObject({ ok: false, badLine: 1 });
    expect(r.reason).toMatch(/mac does not match/);
    // the hash-only chain of earlier versions passed exactly this file: prove the forgery is chain-perfect
    expect(JSON.parse(forged[2]!).prev).toBe(sha256(forged[1]!));
  });

  it("a node upgraded in place: the unkeyed lines before the keyed chain verify by hash, and the answer says so", async () => {
    const l1 = legacyLine(1, GENESIS, "one");
    const l2 = legacyLine(2, sha256(l1), "two");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(dir, "sub"));
    writeFileSync(file, `${l1}\n${l2}\n`);
    const log = openLog();
    const e = log.append(entry("three"));
    expect(e.seq).toBe(3);
    expect(e.prev).toBe(sha256(l2));
    const r = await log.verify();
    expect(r).toMatchObject({ ok: true, lines: 3, keyedFrom: 3, unkeyedLines: 2 });
    expect(r.summary).toMatch(/Lines 1–2 were written before the keyed chain began .* checked by hash only; the keyed chain starts at line 3/);
    // an unkeyed line slipped in after the keyed chain began is an error
    log.append(entry("four"));
    log.close();
    const ls = lines();
    const sneaked = legacyLine(5, sha256(ls[3]!), "five");
    appendFileSync(file, sneaked + "\n");
    const bad = await openLog().verify();
    expect(bad).toMatchObject({ ok: false, badLine: 5 });
    expect(bad.reason).toMatch(/no mac, but the keyed chain began at line 3/);
  });

  it("a log checked with another key fails on its first keyed line", async () => {
    const log = openLog();
    log.append(entry("one"));
    log.close();
    expect(await openLog(Buffer.from("x".repeat(64))).verify()).toMatchObject({ ok: false, badLine: 1 });
  });

  it("tolerates a torn last line: reported by verify, new entries continue after it", async () => {
    const log = openLog();
    log.append(entry("one"));
    log.append(entry("two"));
    log.close();
    // a crash in the middle of writing entry 3
    appendFileSync(file, '{"seq":3,"ts":"2024-05-01T03:00:00.000Z","user":"op","ro');
    const again = openLog();
    expect(again.seq).toBe(2);
    const next = again.append(entry("three"));
    expect(next.seq).toBe(3);
    const ls = lines();
    expect(ls).toHaveLength(4);
    expect(ls[2]).toMatch(/"ro$/); // the torn text is kept as it was
    expect(JSON.parse(ls[3]!).action).toBe("three");
    expect(next.prev).toBe(sha256(ls[2]!));
    const r = await again.verify();
    expect(r).toMatchObject({ ok: false, badLine: 3, entries: 3 });
    expect(r.reason).toMatch(/torn/);
    // and the entries around it are still listed
    expect(again.list({}).map((e) => e.action)).toEqual(["one", "two", "three"]);
  });

  it("refuses to append when not open, with the audit error (503)", () => {
    const log = new AuditLog(file, { key: KEY });
    expect(() => log.append(entry("x"))).toThrow(expect.objectContaining({ code: "TANDEM_ERR_AUDIT_UNAVAILABLE", status: 503 }));
  });
});

describe("values in the audit log", () => {
  const deep = (n: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < n; i++) v = [v];
    return v;
  };

  it("hostile values (lone surrogates, 1000 and 10,000-deep arrays, huge strings, non-finite numbers) are stored bounded and readable by jq and Debian's python3", () => {
    const log = openLog();
    const hostile = {
      lone: "a\ud800b\udc00c",
      pair: "ok \ud83d\ude00",
      deep1000: deep(1000),
      wide: Array.from({ length: 5000 }, (_, i) => i),
      long: "x".repeat(100_000),
      inf: Infinity,
    };
    log.append({ ...entry("write-tag"), user: "evil\udfff", details: { tag: "t", value: hostile } });
    log.append({ ...entry("write-tag"), details: { tag: "t", value: deep(10_000) } });
    log.close();
    const text = readFileSync(file, "utf8");
    expect(text.length).toBeLessThan(20_000);
    // jq reads every line (it refuses nesting over 256 and lone-surrogate escapes become garbage)
    const viaJq = execFileSync("jq", ["-c", "."], { input: text, encoding: "utf8" }).trim().split("\n");
    expect(viaJq).toHaveLength(2);
    // Debian's python3 (not a pyenv one): its json module recurses once per level
    const py = "import json,sys\nfor l in open(sys.argv[1], encoding='utf-8', errors='strict'):\n    e=json.loads(l)\n    json.dumps(e, ensure_ascii=False).encode('utf-8')\nprint('ok')";
    expect(execFileSync("/usr/bin/python3", ["-c", py, file], { encoding: "utf8" }).trim()).toBe("ok");
    const [a, b] = viaJq.map((l) => JSON.parse(l) as { user: string; details: { value: Record<string, unknown> } });
    expect(a!.user).toBe("evil\ufffd");
    const v = a!.details.value;
    expect(v.lone).toBe("a\ufffdb\ufffdc");
    expect(v.pair).toBe("ok \ud83d\ude00");
    expect(v.inf).toBe("Infinity");
    expect((v.long as string).length).toBeLessThan(LIMITS.string + 40);
    expect(v.long).toMatch(/more characters\)$/);
    expect((v.wide as unknown[]).length).toBe(LIMITS.width + 1);
    expect(JSON.stringify(v.deep1000)).toMatch(/cut: an array of 1 nested/);
    expect(JSON.stringify(b!.details.value)).toMatch(/cut: an array of 1 nested/);
  });

  it("normalise keeps small plain values as they are", () => {
    const v = { a: 1, b: "x", c: [true, null, { d: -2.5 }] };
    expect(normalise(v)).toEqual(v);
    expect(normalise(NaN)).toBe("NaN");
  });
});
