// The pair's audit in the replicated store, on a real pair of `tandem start`
// processes replicating over SQLite: the active's audit lines reach `_audit` on
// both databases exactly as in its file (chain fields included); a line the
// standby records itself stays in its own file; after a kill -9 the new
// active's lines join the same table, the old active's still there; each
// node's file chain still passes `tandem audit verify`; GET /audit?source=pair
// serves the table. The databases are read with better-sqlite3 on the files.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { exited, spawnCli, waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
type Id = "a" | "b";

const extra = () => `replication: { mode: sync }\n`;

/** the `_audit` rows' bodies in a node's database, in the pair's order */
function auditRows(c: Cluster, id: Id): string[] {
  const db = new Database(join(c.dir, `data-${id}`, "tandem.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT body FROM tandem_rows WHERE tbl = '_audit' AND kind = 'ins' ORDER BY seq").all() as { body: string }[]).map((r) => r.body);
  } finally {
    db.close();
  }
}

const fileLines = (c: Cluster, id: Id) =>
  readFileSync(join(c.dir, `data-${id}`, "audit.log"), "utf8")
    .split("\n")
    .filter((l) => l !== "");

const linesOf = (c: Cluster, id: Id, action: string) => fileLines(c, id).filter((l) => (JSON.parse(l) as { action: string }).action === action);

async function verifyCli(c: Cluster, id: Id): Promise<{ code: number | null; out: string }> {
  const child = spawnCli(["audit", "verify", "--config", c.nodes[id].config], { cwd: c.dir, env: c.env() });
  const { code } = await exited(child, 15_000);
  return { code, out: child.output() };
}

describe("the pair's audit in the replicated store", () => {
  it("the active's lines are on both databases as in its file; the standby's own stay in its file; both chains verify", async () => {
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();

    // an audited action on the active (requested, then ok), one refused on the standby
    expect((await c.api(active, "POST", "/replication/verify", {}, "admin")).status).toBe(200);
    expect((await c.api(standby, "POST", "/confirm", {}, "operator")).status).toBeGreaterThanOrEqual(400);
    const verifyLines = linesOf(c, active, "replication-verify");
    expect(verifyLines.map((l) => (JSON.parse(l) as { result: string }).result)).toEqual(["requested", "ok"]);
    const refused = linesOf(c, standby, "confirm").filter((l) => (JSON.parse(l) as { result: string }).result === "refused");
    expect(refused.length).toBeGreaterThan(0);

    for (const id of [active, standby]) {
      await waitUntil(`the active's verify lines in node ${id}'s _audit`, () => verifyLines.every((l) => auditRows(c, id).includes(l)), { timeoutMs: 10_000, seen: () => auditRows(c, id).join("\n") });
      const rows = auditRows(c, id);
      for (const r of refused) expect(rows, `node ${id}'s _audit holds a line the standby recorded`).not.toContain(r);
      // every row is a line of the active's file, chain fields and all
      const activeFile = new Set(fileLines(c, active));
      for (const r of rows) expect(activeFile.has(r), `a row not in the active's file: ${r}`).toBe(true);
      expect(JSON.parse(rows[rows.length - 1])).toHaveProperty("mac");
    }
    // the same, as the API serves it from the standby's copy
    const served = await c.api(standby, "GET", "/audit?source=pair&limit=1000", undefined, "viewer");
    expect(served.json.source).toBe("pair");
    const ok = (served.json.entries as { action: string; result: string; nodeId: string; row: { seq: number } }[]).find((e) => e.action === "replication-verify" && e.result === "ok");
    expect(ok).toMatchObject({ nodeId: active });
    expect(ok!.row.seq).toBeGreaterThan(0);

    // the active dies; the new active's lines join the table, the old active's stay
    const before = auditRows(c, standby).length;
    c.signal(active, "SIGKILL");
    await c.exited(active);
    const held = await c.waitFor(standby, (s) => s.state === "active" || s.state === "active-held", 15_000, "the standby takes over");
    if (held.state === "active-held") expect((await c.api(standby, "POST", "/confirm", {}, "operator")).status).toBe(200);
    // with its peer away the verify is refused or fails: audited all the same (requested, then its result)
    await c.api(standby, "POST", "/replication/verify", {}, "admin");
    const mine = linesOf(c, standby, "replication-verify");
    expect(mine.length).toBe(2);
    await waitUntil("the new active's lines in its _audit", () => mine.every((l) => auditRows(c, standby).includes(l)), { timeoutMs: 10_000 });
    const after = auditRows(c, standby);
    expect(after.slice(0, before)).toEqual(auditRows(c, active).slice(0, before));
    expect(after.some((l) => (JSON.parse(l) as { nodeId: string }).nodeId === active)).toBe(true);

    // each node's own chain still holds
    for (const id of [active, standby]) {
      const v = await verifyCli(c, id);
      expect(v.code, v.out).toBe(0);
    }
    c.startNode(active);
    await c.waitFor(active, (s) => s.state === "standby", 30_000, "the old active back as standby");
  });
});
