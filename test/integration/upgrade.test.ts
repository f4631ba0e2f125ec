// A rolling upgrade of a real pair from one build to another, then a
// rollback: each node's Tandem is installed under an install root
// (ROOT/versions/<version>, ROOT/current), `tandem upgrade` installs the
// new build and makes it current, the standby is restarted from it, the
// plant switches over, the other node follows; `tandem rollback` returns
// both the same way. Records are written all along: none acknowledged is
// lost, and the process context carries on (its counter never goes back).
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { waitUntil, type Cluster } from "../helpers/cluster.js";
import { runCli } from "../helpers/spawned.js";
import { useCluster } from "../helpers/use-cluster.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const pair = useCluster();
const work = mkdtempSync(join(tmpdir(), "tandem-upgrade-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** a build of this checkout calling itself `version` (dist, the HMI, package.json; node_modules linked) */
function build(version: string): string {
  const dir = join(work, `build-${version}`);
  mkdirSync(join(dir, "runtime"), { recursive: true });
  cpSync(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
  cpSync(join(ROOT, "runtime", "hmi"), join(dir, "runtime", "hmi"), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ ...pkg, version }, null, 2));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** a password hash as `tandem hash-password` writes it (of "x") */
const HASH = "scrypt$16384$8$1$bYyWdL9FETWxnKh1c2CisA==$uev/FgCMmigem2zBmGLJrTWb55oALAoqQzvJ/gMgAik=";
const cliOf = (root: string) => join(root, "current", "dist", "runtime", "cli.js");

describe("rolling upgrade", () => {
  it("a pair upgraded one node at a time around a switchover, then rolled back: every acknowledged record kept, the context intact", async () => {
    const roots = { a: join(work, "root-a"), b: join(work, "root-b") };
    const v1 = build("0.1.0-it.1");
    const v2 = build("0.1.0-it.2");
    for (const r of Object.values(roots)) {
      const first = await runCli(["upgrade", v1, "--root", r], process.env);
      expect(first.err).toBe("");
      expect(first.code).toBe(0);
    }
    writeFileSync(join(work, "counter.js"), `export async function start(ctx) { for (;;) { await ctx.update("n", (n) => (n ?? 0) + 1); await ctx.sleep(100); } }\n`);
    const c = await pair.start({
      cli: (id) => cliOf(roots[id]),
      extra: () => `database: { engine: sqlite }
replication: { mode: sync, tables: { batch_log: {} } }
processes:
  counter: { module: ${JSON.stringify(join(work, "counter.js"))} }`,
    });
    let { active, standby } = await c.ready();
    const tandemOf = async (id: "a" | "b") => (await c.status(id))?.config?.tandem;
    expect(await tandemOf(active)).toBe("0.1.0-it.1");

    // records all along; each acknowledged one is remembered
    const acked = new Set<string>();
    let stop = false;
    let n = 0;
    const writer = (async () => {
      for (let i = 0; i < 20_000 && !stop; i++) {
        for (const id of [active, standby]) {
          const r = await c.api(id, "POST", "/records/batch_log", { i: n }, "operator").catch(() => null);
          if (r?.status === 201) {
            acked.add(r.json.id as string);
            break;
          }
        }
        n++;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const counter = async (id: "a" | "b") => ((await c.api(id, "GET", "/context", undefined, "viewer")).json.processes as { name: string; content: { n?: number } }[]).find((p) => p.name === "counter")?.content.n ?? 0;
    const counts: number[] = [await counter(active)];

    /** `version` made current on node `id`, which is restarted from it and is standby again */
    const move = async (id: "a" | "b", how: string[]) => {
      const r = await runCli([...how, "--root", roots[id]], process.env);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      c.signal(id, "SIGTERM");
      await c.exited(id);
      c.startNode(id);
      await c.waitFor(id, (s) => s.state === "standby", 30_000, `${id} standby again`);
      await c.waitFor(id === active ? standby : active, (s) => s.replication.peer === "live" && s.replication.lagRecords === 0, 30_000, "in sync");
    };
    const switchover = async () => {
      const r = await runCli(["switchover", "--node", c.nodes[active].url], { ...process.env, ...c.env(), TANDEM_USER: "admin", TANDEM_PASSWORD: "admin" });
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      [active, standby] = [standby, active];
      await c.waitFor(active, (s) => s.state === "active", 10_000, "the new active");
      counts.push(await counter(active));
    };

    // upgrade: the standby, switch over, the other
    await move(standby, ["upgrade", v2]);
    await waitUntil("the active sees the new version on its peer", async () => (await c.status(active))?.config?.peerTandem === "0.1.0-it.2", { timeoutMs: 10_000 });
    await switchover();
    expect(await tandemOf(active)).toBe("0.1.0-it.2");
    await move(standby, ["upgrade", v2]);
    expect(await tandemOf(standby)).toBe("0.1.0-it.2");
    await waitUntil("the active sees its peer upgraded too", async () => (await c.status(active))?.config?.peerTandem === "0.1.0-it.2", { timeoutMs: 10_000 });

    // rollback the same way
    await move(standby, ["rollback"]);
    await switchover();
    await move(standby, ["rollback"]);
    expect(await tandemOf(active)).toBe("0.1.0-it.1");
    expect(await tandemOf(standby)).toBe("0.1.0-it.1");
    counts.push(await counter(active));

    stop = true;
    await writer;
    await c.waitFor(active, (s) => s.replication.peer === "live" && s.replication.lagRecords === 0, 30_000, "in sync at the end");
    // every acknowledged record on both nodes' disks, read by our own reader
    for (const id of ["a", "b"] as const) {
      const db = new Database(join(c.dir, `data-${id}`, "tandem.db"), { readonly: true });
      // a record's id is its epoch and sequence number
      const have = new Set((db.prepare("SELECT epoch, seq FROM tandem_rows WHERE tbl = 'batch_log'").all() as { epoch: number; seq: number }[]).map((r) => `${r.epoch}-${r.seq}`));
      db.close();
      const lost = [...acked].filter((i) => !have.has(i));
      expect(lost, `node ${id}`).toEqual([]);
    }
    expect(acked.size).toBeGreaterThan(20);
    // the context carried on through every switchover
    for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeGreaterThanOrEqual(counts[i - 1]!);
    expect(counts.at(-1)!).toBeGreaterThan(counts[0]!);
  });

  it("a node installed as a service from an install root runs through ROOT/current: after an upgrade the unit starts the new version", async () => {
    const root = join(work, "root-svc");
    const v = build("0.1.0-it.9");
    expect((await runCli(["upgrade", v, "--root", root], process.env)).code).toBe(0);
    const example = join(ROOT, "config", "two-hosts", "a.yaml");
    // `tandem service install` run by the installed tandem (through ROOT/current)
    const fromRoot = await new Promise<{ code: number; out: string; err: string }>((res) => {
      // the example's secrets, as its env file would give them
      const env = { ...process.env, TANDEM_PAIR_KEY: "k".repeat(40), TANDEM_WITNESS_KEY: "w".repeat(40), TANDEM_VIEWER_HASH: HASH, TANDEM_OPERATOR_HASH: HASH, TANDEM_ADMIN_HASH: HASH };
      const child = spawn(process.execPath, [cliOf(root), "service", "install", "--config", example, "--dry-run", "--out", join(work, "unit-root")], { env, stdio: ["ignore", "pipe", "pipe"] });
      let o = "";
      let e = "";
      child.stdout!.on("data", (d: Buffer) => (o += d));
      child.stderr!.on("data", (d: Buffer) => (e += d));
      child.on("close", (code) => res({ code: code ?? -1, out: o, err: e }));
    });
    expect(fromRoot.err).toBe("");
    expect(fromRoot.code).toBe(0);
    const unit = readFileSync(join(work, "unit-root", "tandem-line1-a.service"), "utf8");
    expect(unit).toContain(`ExecStart=${process.execPath} ${join(root, "current", "dist", "runtime", "cli.js")} start --config ${example}`);
  });
});
