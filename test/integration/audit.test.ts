// The audit log of real nodes (real processes, loopback, a real tmpfs):
//  - an operator action that cannot be recorded is refused and not done (S5:
//    every operator action lands in the audit log; a full disk under the data dir);
//  - every entry carries the source address, and hostile values are stored in
//    a form that jq and Debian's python3 read, from the file and from GET /audit;
//  - the keyed chain: `tandem audit verify` and GET /api/v1/audit/verify find a
//    whole file rewritten without the node's key, and say which lines an
//    upgraded node wrote before the keyed chain began;
//  - a copy of each line reaches a syslog server (a UDP listener on loopback);
//  - the node's files are private (0700/0600) even when started with umask 0.
import { execFileSync } from "node:child_process";
import dgram from "node:dgram";
import { readdirSync, readFileSync, rmSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { GENESIS, seal, sha256, unseal } from "../../runtime/audit/chain.js";
import { freePort, spawnCli, exited, waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();

const basic = (user: string) => `Basic ${Buffer.from(`${user}:${user}`).toString("base64")}`;

/** A request with a raw JSON body (escapes JSON.stringify would not write, nesting it would not survive). */
async function rawPost(c: Cluster, id: "a" | "b", path: string, body: string, user = "operator"): Promise<{ status: number; text: string }> {
  const r = await fetch(`${c.nodes[id].url}/api/v1${path}`, {
    method: "POST",
    headers: { authorization: basic(user), "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, text: await r.text() };
}

async function rawGet(c: Cluster, id: "a" | "b", path: string, user = "viewer"): Promise<string> {
  const r = await fetch(`${c.nodes[id].url}/api/v1${path}`, { headers: { authorization: basic(user) }, signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
  return r.text();
}

const auditFile = (c: Cluster, id: "a" | "b") => join(c.dir, `data-${id}`, "audit.log");
const fileLines = (file: string) => readFileSync(file, "utf8").split("\n").filter((l) => l !== "");

/** jq and Debian's python3 both read `text` (JSON lines or one document); returns what jq printed. */
function readableByJqAndPython(text: string): string {
  const viaJq = execFileSync("jq", ["-c", "."], { input: text, encoding: "utf8" });
  const py = "import json,sys\nfor l in sys.stdin.read().splitlines():\n    json.dumps(json.loads(l), ensure_ascii=False).encode('utf-8')\nprint('ok')";
  expect(execFileSync("/usr/bin/python3", ["-c", py], { input: text, encoding: "utf8" }).trim()).toBe("ok");
  return viaJq;
}

async function verifyCli(c: Cluster, id: "a" | "b"): Promise<{ code: number | null; out: string }> {
  const child = spawnCli(["audit", "verify", "--config", c.nodes[id].config], { cwd: c.dir, env: c.env() });
  const { code } = await exited(child, 15_000);
  return { code, out: child.output() };
}

describe("the audit log of a real node", () => {
  it("S5: an operator action that cannot be written to the audit log (full disk under the data dir) is refused with 503 and not done", async () => {
    const cluster = await pair.start({ witness: false, direct: true });
    const { active, standby } = await cluster.ready();
    const before = (await cluster.status(active))!;
    // the standby restarts with its data dir on a tiny tmpfs (a fresh data dir: the documented recovery)
    cluster.signal(standby, "SIGTERM");
    expect((await cluster.exited(standby)).code).toBe(0);
    const dataDir = join(cluster.dir, `data-${standby}`);
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dataDir]);
    try {
      cluster.startNode(standby);
      await cluster.waitFor(standby, (s) => s.pid === cluster.pid(standby) && s.state === "standby" && s.peer.state === "active", 15_000, "standby back");
      try {
        writeFileSync(join(dataDir, "filler"), Buffer.alloc(1 << 20));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
      }
      // the audit file's last page may still have room: use it up with the shortest
      // operator entries there are (a refused confirm) until the node refuses one
      let refused: { status: number; json: any } | null = null;
      for (let i = 0; i < 40 && !refused; i++) {
        const r = await cluster.api(standby, "POST", "/confirm", {}, "operator");
        if (r.status === 503) refused = r;
        else expect(r.status).toBe(409);
      }
      expect(refused?.json.error.code).toBe("TANDEM_ERR_AUDIT_UNAVAILABLE");
      // now the switchover (a longer entry than the confirm that did not fit): refused, not done
      const sw = await cluster.api(standby, "POST", "/switchover", {});
      expect(sw.status).toBe(503);
      expect(sw.json.error.code).toBe("TANDEM_ERR_AUDIT_UNAVAILABLE");
      expect(sw.json.error.message).toMatch(/cannot be recorded in the audit log .*ENOSPC.*so it was not done/);
      // and a tag write too: refused for the audit before anything else is looked at
      const tw = await cluster.api(standby, "POST", "/tags/valve1", { value: 1 }, "operator");
      expect(tw.json.error.code).toBe("TANDEM_ERR_AUDIT_UNAVAILABLE");
      await cluster.holds(active, (s) => s.state === "active" && s.epoch === before.epoch, 1500, "the active stays active in its epoch");
      expect((await cluster.status(standby))!.state).toBe("standby");
      const activeLog = (await cluster.api(active, "GET", "/audit?limit=1000", undefined, "viewer")).json.entries as { action: string }[];
      expect(activeLog.filter((e) => e.action === "switchover")).toEqual([]);
      // the half-written line was taken back: what is on the full disk still verifies
      const v = await cluster.api(standby, "GET", "/audit/verify", undefined, "viewer");
      expect(v.json).toMatchObject({ ok: true });
      expect(cluster.logTail(standby, 100)).toMatch(/cannot write the audit log: .*ENOSPC.*switchover by admin refused/);
      // space again: the same request goes through, recorded before and after
      rmSync(join(dataDir, "filler"));
      const ok = await cluster.api(standby, "POST", "/switchover", {});
      expect(ok.status).toBe(200);
      await cluster.waitFor(standby, (s) => s.state === "active", 10_000, "the standby took the role");
      const mine = (await cluster.api(standby, "GET", "/audit?limit=1000", undefined, "viewer")).json.entries as { action: string; result: string; from: string }[];
      const sws = mine.filter((e) => e.action === "switchover");
      expect(sws.map((e) => e.result)).toEqual(["requested", "ok"]);
      expect(sws.every((e) => e.from === "127.0.0.1")).toBe(true);
    } finally {
      execFileSync("umount", ["-l", dataDir]);
    }
  });

  it("a refused tag write is audited with its source address, and hostile values are stored so jq and Debian's python3 read the file and GET /audit", async () => {
    const cluster = await pair.start({ witness: false, direct: true });
    const { active } = await cluster.ready();
    // as deep as the API takes (32 levels; deeper is refused before anything runs, see http-tls-node.test.ts)
    const deep = "[".repeat(30) + "1" + "]".repeat(30);
    const a = await rawPost(cluster, active, "/tags/no.such.tag", `{"value":${deep}}`);
    expect(a.status).toBe(404);
    const b = await rawPost(cluster, active, "/tags/no.such.tag", `{"value":{"lone":"a\\ud800b","deep":${"[".repeat(29)}${"]".repeat(29)}}}`);
    expect(b.status).toBe(404);
    const api = await rawGet(cluster, active, "/audit?limit=1000");
    readableByJqAndPython(api);
    const fromFile = readableByJqAndPython(readFileSync(auditFile(cluster, active), "utf8"));
    const writes = fromFile
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; result: string; from: string; details: { value: unknown; code?: string } })
      .filter((e) => e.action === "write-tag");
    expect(writes.map((e) => e.result)).toEqual(["requested", "refused", "requested", "refused"]);
    for (const e of writes) expect(e.from).toBe("127.0.0.1");
    expect(writes[1]!.details.code).toBe("TANDEM_ERR_TAG_UNKNOWN");
    expect(JSON.stringify(writes[0]!.details.value)).toMatch(/cut: an array of 1 nested 6 deep/);
    expect((writes[2]!.details.value as { lone: string }).lone).toBe("a\ufffdb");
  });

  it("the node's data dir is 0700 and its files, audit key and log 0600, though it was started with umask 0", async () => {
    const umask = process.umask(0);
    let cluster: Cluster;
    try {
      cluster = await pair.start({ witness: false, direct: true });
    } finally {
      process.umask(umask);
    }
    await cluster.ready();
      // ---- private files, though the nodes were started with umask 0
    for (const id of ["a", "b"] as const) {
      const dir = join(cluster.dir, `data-${id}`);
      expect((statSync(dir).mode & 0o777).toString(8)).toBe("700");
      for (const f of readdirSync(dir, { recursive: true }) as string[]) {
        const st = statSync(join(dir, f));
        expect(`${f} ${(st.mode & 0o777).toString(8)}`).toBe(`${f} ${st.isDirectory() ? "700" : "600"}`);
      }
      expect(readdirSync(dir)).toEqual(expect.arrayContaining(["audit.log", "audit.key"]));
      expect((statSync(join(cluster.dir, `${id}.log`)).mode & 0o777).toString(8)).toBe("600");
    }
  });

  it("the keyed chain: verify by CLI and API, an upgraded node's unkeyed lines reported, a whole rewrite without the key found; each line copied to syslog", async () => {
    const syslog = dgram.createSocket("udp4");
    onTestFinished(() => void syslog.close());
    const got: string[] = [];
    syslog.on("message", (m) => got.push(m.toString("utf8")));
    const port = await freePort();
    await new Promise<void>((resolve) => syslog.bind(port, "127.0.0.1", () => resolve()));
    const cluster = await pair.start({ witness: false, direct: true, extra: () => `audit: { syslog: { address: "127.0.0.1:${port}", facility: local3 } }` });
    const { active, standby } = await cluster.ready();
    // ---- syslog: the line in the file, as an RFC 5424 message
    expect((await cluster.api(active, "PUT", "/log-level", { level: "debug", component: "audit-test" })).status).toBe(200);
    const line = fileLines(auditFile(cluster, active)).find((l) => l.includes('"action":"log-level"') && l.includes('"result":"ok"'))!;
    expect(line).toBeTruthy();
    const msg = await waitUntil("the log-level entry at the syslog listener", () => got.find((m) => m.endsWith(line)), { timeoutMs: 5000 });
    // local3 (19) * 8 + notice (5) = 157
    expect(msg).toMatch(new RegExp(`^<157>1 \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\S+ tandem \\d+ audit - \\{`));
    // ---- verify, keyed from the first line
    const v1 = await cluster.api(active, "GET", "/audit/verify", undefined, "viewer");
    expect(v1.status).toBe(200);
    expect(v1.json).toMatchObject({ ok: true, keyedFrom: 1, unkeyedLines: 0 });
    const cli1 = await verifyCli(cluster, active);
    expect(cli1.code).toBe(0);
    expect(cli1.out).toMatch(/audit\.log: ok: \d+ lines/);
    // ---- an upgraded node: its log so far as the previous version wrote it (no macs)
    cluster.signal(standby, "SIGTERM");
    expect((await cluster.exited(standby)).code).toBe(0);
    const file = auditFile(cluster, standby);
    let prev = GENESIS;
    const legacy = fileLines(file).map((l) => {
      const e = JSON.parse(unseal(l)!.body) as Record<string, unknown>;
      e.prev = prev;
      const text = JSON.stringify(e);
      prev = sha256(text);
      return text;
    });
    writeFileSync(file, legacy.join("\n") + "\n");
    cluster.startNode(standby);
    await cluster.waitFor(standby, (s) => s.pid === cluster.pid(standby) && s.state === "standby", 15_000, "the upgraded node back");
    const v2 = await cluster.api(standby, "GET", "/audit/verify", undefined, "viewer");
    expect(v2.json).toMatchObject({ ok: true, keyedFrom: legacy.length + 1, unkeyedLines: legacy.length });
    expect(v2.json.summary).toMatch(/written before the keyed chain began/);
    const cli2 = await verifyCli(cluster, standby);
    expect(cli2.code).toBe(0);
    expect(cli2.out).toMatch(new RegExp(`Lines 1–${legacy.length} were written before the keyed chain began`));
    // ---- a rewrite of the whole file: hash chain perfect, macs made without the node's key
    cluster.signal(standby, "SIGTERM");
    expect((await cluster.exited(standby)).code).toBe(0);
    prev = GENESIS;
    const forged = fileLines(file).map((l) => {
      const u = unseal(l);
      const e = JSON.parse(u ? u.body : l) as Record<string, unknown>;
      if (e.user === "admin") e.user = "someone-else";
      e.prev = prev;
      const text = u ? seal(JSON.stringify(e), Buffer.from("not-the-node-key".repeat(4))) : JSON.stringify(e);
      prev = sha256(text);
      return text;
    });
    writeFileSync(file, forged.join("\n") + "\n");
    const cli3 = await verifyCli(cluster, standby);
    expect(cli3.code).toBe(1);
    expect(cli3.out).toMatch(new RegExp(`BAD at line ${legacy.length + 1}: mac does not match`));
    cluster.startNode(standby);
    await cluster.waitFor(standby, (s) => s.pid === cluster.pid(standby) && s.state === "standby", 15_000, "the node back on its forged log");
    const v3 = await cluster.api(standby, "GET", "/audit/verify", undefined, "viewer");
    expect(v3.json).toMatchObject({ ok: false, badLine: legacy.length + 1 });
    expect(v3.json.reason).toMatch(/mac does not match/);
  });
});
