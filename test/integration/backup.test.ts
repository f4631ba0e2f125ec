// Backups on a real pair: the standby backs itself up on its schedule (the
// active does not), copies each backup to a second place and keeps `keep`
// of them; `tandem restore-test` passes and says so in the metrics; a
// backup with a changed byte fails it with an alarm in the pair's events;
// `tandem restore` gives back the rows the manifest counted, read by
// Python's sqlite3 (a reader Tandem did not write).
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { useCluster } from "../helpers/use-cluster.js";
import { startPostgres } from "../helpers/postgres.js";
import { waitUntil, type Cluster } from "../helpers/cluster.js";
import { runCli } from "../helpers/spawned.js";
import type { BackupsView } from "../../runtime/backup/node-backups.js";

const pair = useCluster();
const work = mkdtempSync(join(tmpdir(), "tandem-backup-it-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// not spawnSync: the pair's relays run in this process
const cli = (c: Cluster, args: string[], user = "operator") => runCli(args, { ...process.env, ...c.env(), TANDEM_USER: user, TANDEM_PASSWORD: user }, 120_000);

/** live rows per table, counted by Python's sqlite3 */
function pythonCounts(file: string): Record<string, number> {
  const py = `import sqlite3, json, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(json.dumps(dict(db.execute("SELECT tbl, count(*) FROM tandem_rows WHERE kind IN ('ins','put') GROUP BY tbl").fetchall())))`;
  return JSON.parse(execFileSync("python3", ["-c", py, file], { encoding: "utf8" })) as Record<string, number>;
}

describe("backups on a pair", () => {
  it("the standby backs up on schedule and keeps `keep`; restore tests pass, a changed byte fails one with an alarm; a restore gives the rows back", async () => {
    const share = join(work, "share");
    const c = await pair.start({
      extra: () => `database: { engine: sqlite }
replication:
  mode: sync
  tables: { batch_log: {} }
backup:
  schedule: "*/2 * * * * *"
  copyTo: ${share}
  keep: { count: 2, days: 30 }
  restoreTest: { schedule: "off" }`,
    });
    const { active, standby } = await c.ready();
    for (let i = 0; i < 120; i++) expect((await c.api(active, "POST", "/records/batch_log", { batch: i, step: "fill" }, "operator")).status).toBe(201);
    const view = async (id: "a" | "b") => (await c.api(id, "GET", "/backups", undefined, "viewer")).json as BackupsView;

    // scheduled backups on the standby, holding the records; three made, two kept here and in the share
    const names = new Set<string>();
    await waitUntil(
      "three scheduled backups on the standby holding the records",
      async () => {
        const v = await view(standby);
        if (v.last?.ok && v.last.by === "schedule") names.add(v.last.name!);
        return names.size >= 3 && v.backups.length === 2 && (v.backups[0]!.rows ?? 0) >= 120;
      },
      { timeoutMs: 30_000, everyMs: 300 },
    );
    const sv = await view(standby);
    expect(sv.makesBackups).toBe(true);
    // (the share may also hold one the other node made while it was a standby for a moment at start)
    expect(sv.copies.map((b) => b.name).filter((n) => n.startsWith(`tandem-it-${standby}-`))).toEqual(sv.backups.map((b) => b.name));
    expect(sv.alarms).toEqual([]);
    const av = await view(active);
    expect(av.makesBackups).toBe(false);
    const made = av.backups.length;
    await new Promise((res) => setTimeout(res, 2500));
    expect((await view(active)).backups.length).toBe(made);

    // a restore test on demand: passes, and the metrics say so
    const t = await cli(c, ["restore-test", "--node", c.nodes[standby].url]);
    expect(t.err).toBe("");
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/^restore test of tandem-it-\w-\d{8}-\d{6}\S* passed/);
    expect(t.out).toMatch(/ok: PRAGMA integrity_check: ok/);
    expect(t.out).toMatch(/ok: copy: archive sha256/);
    const metrics = (await fetch(`${c.nodes[standby].url}/api/v1/metrics`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` } }).then((r) => r.text()));
    expect(metrics).toMatch(/^tandem_backup_restore_test_ok\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^tandem_backup_count\{[^}]*\} 2$/m);

    // a restore from the share into a new folder: the rows the manifest counted, read by another reader
    const newest = (await view(standby)).backups[0]!.name;
    const to = join(work, "restored");
    const r = await cli(c, ["restore", newest, "--dir", share, "--to", to]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/checked/);
    const counts = pythonCounts(join(to, "db", "tandem.db"));
    expect(counts.batch_log).toBe(120);
    expect(r.out).toContain(`restored into ${to}`);

    // a switchover: the new standby takes over the backups, the old one (now active) makes none
    const sw = await c.api(active, "POST", "/switchover", {}, "admin");
    expect(sw.status).toBe(200);
    const [newActive, newStandby] = [standby, active];
    await c.waitFor(newActive, (s) => s.state === "active", 15_000, "the old standby active");
    await waitUntil("the new standby backs up", async () => (await view(newStandby)).backups.length > 0, { timeoutMs: 15_000 });
    const before = (await view(newActive)).backups.map((b) => b.name);
    await new Promise((res) => setTimeout(res, 2500));
    expect((await view(newActive)).backups.map((b) => b.name)).toEqual(before);
    // the share holds both nodes' backups; each keeps its own two
    await waitUntil("both nodes' backups in the share, two each", async () => {
      const names = (await view(newStandby)).copies.map((b) => b.name);
      return names.filter((n) => n.startsWith(`tandem-it-${newStandby}-`)).length === 2 && names.filter((n) => n.startsWith(`tandem-it-${newActive}-`)).length === 2;
    });

    // one changed byte in a backup of the standby: its restore test fails, names why, exits 1, and the
    // alarm reaches the pair's events through the active (the standby writes none itself)
    const pick = (await view(newStandby)).backups.at(-1)!.name;
    const archive = join(c.dir, `data-${newStandby}`, "backups", `${pick}.tar.gz`);
    const fd = openSync(archive, "r+");
    writeSync(fd, Buffer.from([0x00, 0xff, 0x00]), 0, 3, Math.floor(statSync(archive).size / 2));
    closeSync(fd);
    const bad = await cli(c, ["restore-test", pick, "--node", c.nodes[newStandby].url]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(new RegExp(`^restore test of ${pick} FAILED`));
    expect(bad.out).toMatch(/has changed since it was made/);
    expect(bad.err).toMatch(/the restore test FAILED/);
    const v2 = await view(newStandby);
    expect(v2.lastRestoreTest?.ok).toBe(false);
    expect(v2.alarms.join("\n")).toMatch(/restore test of .* FAILED/);
    await waitUntil(
      "the standby's alarm in the pair's events",
      async () => ((await c.api(newActive, "GET", "/events/history?limit=1000", undefined, "viewer")).json.events as { type: string; severity: string; node: string }[]).some((e) => e.type === "restore-test" && e.severity === "alarm" && e.node === newStandby),
      { timeoutMs: 10_000 },
    );
  });
});

describe("restore in place", () => {
  it("refuses while the node runs; stopped, its database becomes the backup's, and on start it catches up with what the active wrote since", async () => {
    const c = await pair.start({
      extra: () => `database: { engine: sqlite }
replication:
  mode: sync
  tables: { batch_log: {} }
backup:
  schedule: "off"
  restoreTest: { schedule: "off" }`,
    });
    const { active, standby } = await c.ready();
    const write = async (from: number, n: number) => {
      for (let i = from; i < from + n; i++) expect((await c.api(active, "POST", "/records/batch_log", { batch: i }, "operator")).status).toBe(201);
    };
    await write(0, 50);
    // a backup made while the active goes on writing: the copy is one consistent point of the order
    const writing = write(50, 100);
    const [made] = await Promise.all([cli(c, ["backup", "now", "--node", c.nodes[standby].url]), writing]);
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    const name = /^backup (\S+) made/.exec(made.out)![1]!;
    const t = await cli(c, ["restore-test", name, "--node", c.nodes[standby].url]);
    expect(t.code).toBe(0);

    const config = c.nodes[standby].config;
    const refused = await cli(c, ["restore", name, "--config", config, "--in-place"]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused: the node is running \(something listens on its http\.listen/);

    c.signal(standby, "SIGTERM");
    await c.exited(standby);
    await write(150, 30);
    const r = await cli(c, ["restore", name, "--config", config, "--in-place"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/the one it had is kept as tandem\.db\.before-restore-/);
    const restoredCounts = pythonCounts(join(c.dir, `data-${standby}`, "tandem.db"));
    expect(restoredCounts.batch_log).toBeGreaterThanOrEqual(50);
    expect(restoredCounts.batch_log).toBeLessThanOrEqual(150);

    // back in the pair: every acknowledged record, the backup's and the rest caught up
    c.startNode(standby);
    await c.waitFor(standby, (s) => s.state === "standby", 30_000, "the restored node standby again");
    await c.waitFor(active, (s) => s.replication.peer === "live" && s.replication.lagRecords === 0, 30_000, "the restored standby caught up");
    await waitUntil("every record on the restored standby's disk", () => pythonCounts(join(c.dir, `data-${standby}`, "tandem.db")).batch_log === 180, { timeoutMs: 10_000 });
  });
});

describe("backups of a PostgreSQL node", () => {
  // stopped after the pair (useCluster's afterEach stops the nodes first): a node that loses its database stops
  let pgc: Awaited<ReturnType<typeof startPostgres>> | null = null;
  afterAll(async () => {
    await pgc?.stop();
  });

  it("tandem backup now dumps the node's own database, and tandem restore-test restores it into a throwaway one", async () => {
    pgc = await startPostgres();
    const urls = { a: await pgc.createDatabase("node_a"), b: await pgc.createDatabase("node_b") };
    const c = await pair.start({
      extra: (id) => `database: { engine: postgres, url: "${urls[id]}", poolSize: 2 }
replication: { mode: sync, tables: { batch_log: {} } }
backup: { schedule: "off", restoreTest: { schedule: "off" } }`,
    });
    const { active, standby } = await c.ready();
    for (let i = 0; i < 30; i++) expect((await c.api(active, "POST", "/records/batch_log", { i }, "operator")).status).toBe(201);
    await c.waitFor(active, (s) => s.replication.peer === "live" && s.replication.lagRecords === 0, 10_000, "in sync");
    const made = await cli(c, ["backup", "now", "--node", c.nodes[standby].url]);
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/^backup tandem-it-\w-\d{8}-\d{6} made: \d+ rows/);
    const v = (await c.api(standby, "GET", "/backups", undefined, "viewer")).json as BackupsView;
    expect(v.backups).toHaveLength(1);
    const t = await cli(c, ["restore-test", "--node", c.nodes[standby].url]);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/ok: pg_restore into a throwaway database: ok/);
  });
});
