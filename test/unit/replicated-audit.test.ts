// The pair's audit in the replicated store, the pure parts: which lines go to
// `_audit` (the active's, exactly as in the file), lines that wait for
// replication to lead after a takeover, and reading them back in the pair's
// order. The real pair: test/integration/audit-pair.test.ts.
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AUDIT_TABLE, auditOfRow, auditRow, ReplicatedAudit, type AuditStorePort } from "../../runtime/audit/replicated-audit.js";
import type { Row, RowWrite } from "../../redundancy/storage.js";
import type { Logger } from "../../core/logger.js";

const warnings: string[] = [];
const log = { warn: (_o: unknown, m: string) => warnings.push(m), info: () => undefined } as unknown as Logger;
const line = (seq: number) => `{"seq":${seq},"ts":"2026-01-01T00:00:00.000Z","user":"otto","role":"operator","from":"10.0.0.1","action":"confirm","result":"ok","nodeId":"a","epoch":2,"prev":"${"0".repeat(64)}","mac":"${"f".repeat(64)}"}`;

function fakeStore() {
  const rows: Row[] = [];
  const s = { active: true, leads: true, fail: null as Error | null, rows };
  const port: AuditStorePort = {
    active: () => s.active,
    leads: () => s.leads,
    async write(writes: RowWrite[]) {
      if (s.fail) throw s.fail;
      rows.push(...writes.map((w, i) => ({ ...w, seq: rows.length + i + 1, epoch: 2, at: 0 })));
    },
    async read(table, opts) {
      return rows.filter((r) => r.table === table && r.seq > (opts.afterSeq ?? 0)).slice(0, opts.limit);
    },
  };
  return { s, port };
}

afterEach(() => {
  vi.useRealTimers();
  warnings.length = 0;
});

describe("the pair's audit", () => {
  it("an appended row per line of the active, its body the line exactly; read back with the row's place", async () => {
    const { s, port } = fakeStore();
    const a = new ReplicatedAudit(port, log);
    a.line(line(1));
    a.line(line(2));
    await Promise.resolve();
    expect(s.rows.map((r) => [r.table, r.kind, r.key, r.body])).toEqual([
      [AUDIT_TABLE, "ins", null, line(1)],
      [AUDIT_TABLE, "ins", null, line(2)],
    ]);
    const page = await a.list(0, 1);
    expect(page.entries).toEqual([{ ...JSON.parse(line(1)), row: { seq: 1, epoch: 2 } }]);
    expect(page.next).toBe(1);
    expect((await a.list(1, 10)).entries.map((e) => e.seq)).toEqual([2]);
    expect(auditOfRow({ ...auditRow("{torn")!, seq: 9, epoch: 2, at: 0 })).toBeNull();
  });

  it("a line longer than a row may be goes without its details, with the whole line's size and hash", () => {
    const long = line(5).replace('"epoch":2,', `"epoch":2,"details":{"value":"${"x".repeat(500)}"},`);
    expect(auditRow(long, 10_000)!.body).toBe(long);
    const cut = JSON.parse(auditRow(long, 400)!.body!);
    expect(cut).toEqual({ ...JSON.parse(line(5)), cut: { bytes: Buffer.byteLength(long), sha256: createHash("sha256").update(long).digest("hex") } });
    expect(Buffer.byteLength(auditRow(long, 400)!.body!)).toBeLessThanOrEqual(400);
    expect(auditRow(long, 100)).toBeNull();
  });

  it("a standby's lines stay in its file", async () => {
    const { s, port } = fakeStore();
    s.active = false;
    s.leads = false;
    new ReplicatedAudit(port, log).line(line(1));
    await Promise.resolve();
    expect(s.rows).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("lines written as the node becomes active wait for replication to lead, in order; past the wait they are left to the file", async () => {
    vi.useFakeTimers();
    const { s, port } = fakeStore();
    s.leads = false;
    const a = new ReplicatedAudit(port, log, () => Date.now());
    a.line(line(1));
    a.line(line(2));
    await vi.advanceTimersByTimeAsync(200);
    expect(s.rows).toEqual([]);
    s.leads = true;
    await vi.advanceTimersByTimeAsync(60);
    expect(s.rows.map((r) => r.body)).toEqual([line(1), line(2)]);

    s.leads = false;
    a.line(line(3));
    await vi.advanceTimersByTimeAsync(6_000);
    expect(s.rows).toHaveLength(2);
    expect(a.missed).toBe(1);
    expect(warnings[0]).toContain("in this node's audit log only");
    a.stop();
  });

  it("after the database closed (the node's last lines) nothing is written and nothing waits", async () => {
    vi.useFakeTimers();
    const { s, port } = fakeStore();
    s.leads = false;
    const a = new ReplicatedAudit(port, log);
    a.stop();
    a.line(line(1));
    expect(vi.getTimerCount()).toBe(0);
    s.leads = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(s.rows).toEqual([]);
  });

  it("a refused write is counted and logged, not thrown", async () => {
    const { s, port } = fakeStore();
    s.fail = new Error("TANDEM_ERR_LEASE");
    const a = new ReplicatedAudit(port, log);
    a.line(line(1));
    await new Promise((r) => setImmediate(r));
    expect(a.missed).toBe(1);
    expect(warnings[0]).toContain("TANDEM_ERR_LEASE");
  });
});
