// `tandem support-bundle`, the real command against a real pair: the archive
// (opened with the system's tar, not ours) holds what the node's API said,
// the end of its log, its config without secrets, the versions and a listing
// of its data dir; with the node down it is still made and says what is
// missing.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { useCluster } from "../helpers/use-cluster.js";
import { freePort, type Cluster } from "../helpers/cluster.js";
import { runCli } from "../helpers/spawned.js";

const pair = useCluster();
const work = mkdtempSync(join(tmpdir(), "tandem-bundle-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function bundle(c: Cluster, config: string, out: string, login = true): Promise<{ code: number; out: string; err: string; files: Map<string, string> }> {
  const env = { ...process.env, ...c.env(), ...(login ? { TANDEM_USER: "viewer", TANDEM_PASSWORD: "viewer" } : { TANDEM_USER: "", TANDEM_PASSWORD: "" }) };
  // not spawnSync: the pair's relays run in this process
  const r = await runCli(["support-bundle", "--config", config, "--out", out], env);
  const files = new Map<string, string>();
  if (existsSync(out)) {
    const dir = mkdtempSync(join(work, "x-"));
    execFileSync("tar", ["-xzf", out, "-C", dir]);
    const walk = (d: string, rel: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
        else files.set(`${rel}${e.name}`, readFileSync(join(d, e.name), "utf8"));
      }
    };
    walk(join(dir, "tandem-support"), "");
  }
  return { code: r.code, out: r.out, err: r.err, files };
}

describe("tandem support-bundle", () => {
  it("holds the node's own account of itself, its log, its config without secrets, versions and its data dir's listing", async () => {
    const c = await pair.start();
    await c.ready();
    const out = join(work, "a.tar.gz");
    const r = await bundle(c, c.nodes.a.config, out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wrote .*a\.tar\.gz \(\d+ files\)$/m);
    const f = r.files;
    expect([...f.keys()].sort()).toEqual(
      ["README.txt", "api/audit.json", "api/context.json", "api/events.json", "api/replication.json", "api/services.json", "api/status.json", "api/tags.json", "config.yaml", "data-dir.txt", "data/epoch.json", "logs/node.log", "versions.json"].sort(),
    );
    expect(JSON.parse(f.get("api/status.json")!)).toMatchObject({ nodeId: "a" });
    expect(Array.isArray(JSON.parse(f.get("api/events.json")!).events)).toBe(true);
    // the config: the password hashes gone, the ${VARIABLE} reference kept, the rest as written
    const cfg = f.get("config.yaml")!;
    expect(cfg).not.toMatch(/scrypt\$/);
    expect(cfg).toMatch(/passwordHash: "?«removed»/);
    expect(cfg).toContain("${TANDEM_PAIR_KEY}");
    expect(cfg).toMatch(/listen: 127\.0\.0\.1:\d+/);
    expect(f.get("logs/node.log")).toMatch(/"msg":/);
    expect(f.get("data-dir.txt")).toMatch(/^epoch\.json {2}\d+ bytes/m);
    expect(JSON.parse(f.get("data/epoch.json")!)).toMatchObject({ nodeId: "a", pairId: "it" });
    expect(JSON.parse(f.get("versions.json")!)).toMatchObject({ node: process.version });
    expect(f.get("README.txt")).toMatch(/node a of pair it/);
    // nothing secret anywhere in it
    for (const [name, text] of f) expect(text.includes(c.key), name).toBe(false);
  });

  it("with the node down, is still made and says what is missing", async () => {
    const c = await pair.start();
    await c.ready();
    // node b's config with its API on a port nothing listens on: the node as the bundle finds it when it is down
    const down = join(c.dir, "b-down.yaml");
    writeFileSync(down, readFileSync(c.nodes.b.config, "utf8").replace(/(http:\n {2}listen: 127\.0\.0\.1:)\d+/, `$1${await freePort()}`));
    const r = await bundle(c, down, join(work, "b.tar.gz"));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.files.get("api/not-answered.txt")).toMatch(/^status: .*cannot reach node at http:\/\/127\.0\.0\.1:\d+/m);
    expect(r.files.get("README.txt")).toMatch(/some API answers are missing: see api\/not-answered\.txt/);
    expect(r.files.has("logs/node.log")).toBe(true);
    expect(r.files.has("config.yaml")).toBe(true);
  });

  it("refuses to run without a config (exit 2)", async () => {
    const r = await runCli(["support-bundle"], process.env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--config FILE/);
    const bad = join(work, "bad.yaml");
    writeFileSync(bad, "pair: {}\n");
    const r2 = await runCli(["support-bundle", "--config", bad, "--out", join(work, "bad.tar.gz")], process.env);
    expect(r2.code).toBe(2);
    expect(existsSync(join(work, "bad.tar.gz"))).toBe(false);
  });
});
