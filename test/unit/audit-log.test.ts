// The audit log: append-only JSON lines, fsync'd, hash-chained.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLog, GENESIS, sha256, type AuditInput } from "../../runtime/audit-log.js";

const entry = (action: string, user = "op"): AuditInput => ({ user, role: "operator", action, result: "ok", nodeId: "a", epoch: 3 });

let dir: string;
let file: string;
const open: AuditLog[] = [];

function openLog(): AuditLog {
  const log = new AuditLog(file);
  log.open();
  open.push(log);
  return log;
}

const lines = () => readFileSync(file, "utf8").split("\n").filter((l, i, a) => i < a.length - 1 || l !== "");

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-audit-"));
  file = join(dir, "sub", "audit.jsonl");
});

afterEach(() => {
  for (const l of open.splice(0)) l.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("AuditLog", () => {
  it("writes one JSON line per entry, chained by sha256 of the previous line", () => {
    const log = openLog();
    const a = log.append(entry("confirm"));
    const b = log.append({ ...entry("switchover", "adm"), role: "admin", details: { to: "b" }, ts: "2024-05-01T03:00:00.000Z" });
    expect(a.seq).toBe(1);
    expect(a.prev).toBe(GENESIS);
    expect(b.seq).toBe(2);
    expect(b.ts).toBe("2024-05-01T03:00:00.000Z");
    const ls = lines();
    expect(ls).toHaveLength(2);
    expect(JSON.parse(ls[0])).toEqual(a);
    expect(JSON.parse(ls[1])).toEqual(b);
    expect(b.prev).toBe(sha256(ls[0]));
    expect(log.verify()).toEqual({ ok: true, entries: 2 });
  });

  it("continues seq and the chain after a reopen", () => {
    const log = openLog();
    log.append(entry("one"));
    log.append(entry("two"));
    log.close();
    const again = openLog();
    const c = again.append(entry("three"));
    expect(c.seq).toBe(3);
    expect(c.prev).toBe(sha256(lines()[1]));
    expect(again.verify().ok).toBe(true);
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

  it("detects an edited line", () => {
    const log = openLog();
    for (const a of ["one", "two", "three", "four"]) log.append(entry(a));
    log.close();
    const ls = lines();
    ls[1] = ls[1].replace('"user":"op"', '"user":"someone-else"');
    writeFileSync(file, ls.join("\n") + "\n");
    const r = openLog().verify();
    expect(r.ok).toBe(false);
    expect(r.badLine).toBe(3); // line 3's prev no longer matches line 2
    expect(r.reason).toMatch(/prev/);
  });

  it("detects a removed line", () => {
    const log = openLog();
    for (const a of ["one", "two", "three"]) log.append(entry(a));
    log.close();
    const ls = lines();
    writeFileSync(file, [ls[0], ls[2]].join("\n") + "\n");
    expect(openLog().verify()).toMatchObject({ ok: false, badLine: 2 });
  });

  it("tolerates a torn last line: reported by verify, new entries continue after it", () => {
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
    expect(JSON.parse(ls[3]).action).toBe("three");
    expect(next.prev).toBe(sha256(ls[2]));
    const r = again.verify();
    expect(r).toMatchObject({ ok: false, badLine: 3, entries: 3 });
    expect(r.reason).toMatch(/torn/);
    // and the entries around it are still listed
    expect(again.list({}).map((e) => e.action)).toEqual(["one", "two", "three"]);
  });

  it("refuses to append when not open", () => {
    const log = new AuditLog(file);
    expect(() => log.append(entry("x"))).toThrow(/not open/);
  });
});
