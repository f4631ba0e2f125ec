// The CLI's operator commands against the real HTTP server and the fake controller.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { hashPassword, verifyPassword } from "../../runtime/auth/passwords.js";
import { silentLogs } from "../../runtime/logging.js";
import { runClientCommand, runHashPassword, type ClientCommand } from "../../runtime/cli-client.js";
import { replicationRequest, runPlan } from "../../runtime/cli-replication.js";
import type { NodeStatus } from "../../runtime/node-api.js";
import { LOG_LEVELS } from "../../core/types.js";
import { FakeController, replicationStatus } from "../helpers/fake-controller.js";

let fake: FakeController;
let server: HttpServer;
let url: string;
let port: number;
let dir: string;

beforeAll(async () => {
  fake = new FakeController();
  const users = [
    { name: "otto", role: "operator" as const, passwordHash: await hashPassword("o-pass") },
    { name: "ada", role: "admin" as const, passwordHash: await hashPassword("a-pass") },
  ];
  server = createHttpServer({
    controller: fake,
    http: { listen: { host: "127.0.0.1", port: 0 }, users, metricsAuth: false, sessionTtlMs: 60_000 },
    logs: silentLogs(),
    pairId: "line1",
    nodeId: "a",
  });
  ({ port } = await server.start());
  url = `http://127.0.0.1:${port}`;
  dir = mkdtempSync(join(tmpdir(), "tandem-cli-"));
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.current = new FakeController().current;
  fake.calls.length = 0;
});

async function run(cmd: ClientCommand, argv: string[], env: NodeJS.ProcessEnv = { TANDEM_USER: "otto", TANDEM_PASSWORD: "o-pass" }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runClientCommand(cmd, argv, { out: (s) => out.push(s), err: (s) => err.push(s), env });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("tandem status", () => {
  it("prints a short human summary", async () => {
    const r = await run("status", ["--node", url]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("node a (main) of pair line1: ACTIVE");
    expect(r.out).toContain("epoch 7, service level 230 (healthy)");
    expect(r.out).toContain(fake.current.message);
    expect(r.out).toContain("lease: 1.18 s left");
    expect(r.out).toContain("peer b: STANDBY, epoch 7, connected, seen 40 ms ago; links: lan up, direct DOWN");
    expect(r.out).toContain("witness: reachable at 10.0.0.9:7400, lease holder a (epoch 7)");
  });

  it("--json prints the API's JSON exactly", async () => {
    const r = await run("status", ["--node", url, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(fake.current);
    const direct = await fetch(url + "/api/v1/status", { headers: { authorization: "Basic " + Buffer.from("otto:o-pass").toString("base64") } });
    expect(r.out).toBe(await direct.text());
  });

  it("explains a held takeover and a standby waiting for an operator", async () => {
    fake.set({ state: "active-held", awaitingOperator: false, context: { held: true, seq: 9, heldSince: "2024-05-01T03:00:00Z" } });
    expect((await run("status", ["--node", url])).out).toContain("ACTIVE — HELD (process paused until an operator confirms)");
    fake.set({ state: "standby", awaitingOperator: true });
    expect((await run("status", ["--node", url])).out).toContain("tandem promote --yes-the-active-is-down");
  });

  it("finds the node from --config's http.listen", async () => {
    const file = join(dir, "node.yaml");
    writeFileSync(
      file,
      [
        "pair: { id: line1, key: 0123456789abcdef0123456789abcdef }",
        "node: { id: a, role: main, dataDir: ./data }",
        "peer:",
        "  id: b",
        "  listen: 127.0.0.1:7501",
        "  address: 127.0.0.1:7502",
        "  links: [{ name: lan, bind: 127.0.0.1:7601, peer: 127.0.0.1:7602 }]",
        `http: { listen: "127.0.0.1:${port}" }`,
      ].join("\n"),
    );
    const r = await run("status", ["--config", file, "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).nodeId).toBe("a");
  });

  it("a broken --config is a usage error naming the problem", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "pair: { id: line1 }\n");
    const r = await run("status", ["--config", file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("config error");
  });
});

describe("actions", () => {
  it("confirm on a held node records the user and exits 0", async () => {
    fake.setState("active-held");
    const r = await run("confirm", ["--node", url]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("confirmed");
    expect(fake.callsOf("confirm")[0].actor).toMatchObject({ user: "otto", role: "operator" });
  });

  it("confirm when nothing is held exits 1 with the API's message", async () => {
    const r = await run("confirm", ["--node", url]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("tandem confirm: nothing to confirm: node is active, not active-held");
  });

  it("--user overrides TANDEM_USER; a role too low exits 1 with the reason", async () => {
    const r = await run("switchover", ["--node", url, "--to", "b"], { TANDEM_USER: "ada", TANDEM_PASSWORD: "o-pass" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("wrong user name or password");
    const s = await run("switchover", ["--node", url, "--user", "otto"], { TANDEM_USER: "ada", TANDEM_PASSWORD: "o-pass" });
    expect(s.code).toBe(1);
    expect(s.err).toContain("role operator may not switch over (needs admin)");
    const ok = await run("switchover", ["--node", url, "--to=b"], { TANDEM_USER: "ada", TANDEM_PASSWORD: "a-pass" });
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("switched over from a to b");
    expect(fake.callsOf("switchover")[0].args).toEqual(["b"]);
  });

  it("no credentials: exit 1 with a hint where they come from", async () => {
    const r = await run("status", ["--node", url], {});
    expect(r.code).toBe(1);
    expect(r.err).toContain("TANDEM_PASSWORD");
  });

  it("promote needs --yes-the-active-is-down", async () => {
    const no = await run("promote", ["--node", url]);
    expect(no.code).toBe(2);
    expect(no.err).toContain("two actives");
    expect(fake.calls).toHaveLength(0);
    const yes = await run("promote", ["--node", url, "--yes-the-active-is-down"]);
    expect(yes.code).toBe(0);
    expect(yes.out).toContain("promoted: node is active-held");
  });

  it("maintenance enter|leave [--force]", async () => {
    const env = { TANDEM_USER: "ada", TANDEM_PASSWORD: "a-pass" };
    expect((await run("maintenance", ["enter", "--force", "--node", url], env)).code).toBe(0);
    expect((await run("maintenance", ["leave", "--node", url], env)).code).toBe(0);
    expect(fake.callsOf("maintenance").map((c) => c.args)).toEqual([
      [true, true],
      [false, undefined],
    ]);
  });

  it("log-level prints levels, or sets one", async () => {
    const show = await run("log-level", ["--node", url]);
    expect(show.code).toBe(0);
    expect(show.out).toContain("default: info");
    const set = await run("log-level", ["debug", "--component", "peer", "--node", url], { TANDEM_USER: "ada", TANDEM_PASSWORD: "a-pass" });
    expect(set.code).toBe(0);
    expect(set.out).toContain("peer: debug");
  });

  it("services lists the instances with what an engineer needs, and stop/start/restart act on one by name", async () => {
    const base = { dependsOn: [], health: "none" as const, healthDetail: "", startedAt: null, uptimeMs: null, lastExit: null, cpuPercent: 0, rssBytes: 0, readBytes: 0, writeBytes: 0, eventsPerSec: 0, lastOutputAt: null, stoppedByOperator: null };
    fake.serviceList = [
      { ...base, name: "job-agent", instance: "job-agent", placement: "active", state: "running", pid: 4711, node: "a", reason: "this node is active (epoch 7)", restarts: 2, uptimeMs: 125_000, cpuPercent: 1.5, rssBytes: 31 * 1024 * 1024 },
      { ...base, name: "pool", instance: "pool#2", placement: "balanced", state: "stopped", pid: null, node: "b", reason: "not running here: fewest-instances: a runs 1, b runs 1", restarts: 0, scheme: "fewest-instances" },
    ];
    const list = await run("services", ["--node", url]);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^node a is active \(epoch 7\)$/m);
    expect(list.out).toMatch(/^SERVICE +PLACEMENT +STATE +NODE +PID +UP +RESTARTS +CPU +RSS$/m);
    expect(list.out).toMatch(/^job-agent +active +running +a +4711 +2m +2 +1\.5% +31 MB$/m);
    expect(list.out).toMatch(/^ {2}pool#2: not running here: fewest-instances: a runs 1, b runs 1$/m);
    const stop = await run("services", ["stop", "job-agent", "--node", url]);
    expect(stop.code).toBe(0);
    expect(stop.out).toMatch(/service job-agent stopped \(it stays stopped on both nodes/);
    expect((await run("services", ["restart", "job-agent", "--node", url])).code).toBe(0);
    expect(fake.callsOf("serviceAction").map((c) => [c.actor.user, ...c.args])).toEqual([
      ["otto", "job-agent", "stop"],
      ["otto", "job-agent", "restart"],
    ]);
    const unknown = await run("services", ["start", "nope", "--node", url]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no service named 'nope' \(services here: job-agent, pool\)/);
    const usage = await run("services", ["stop", "--node", url]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/stop needs the service's NAME/);
  });

  it("audit lists entries", async () => {
    fake.setState("active-held");
    await run("confirm", ["--node", url]);
    const r = await run("audit", ["--limit", "5", "--node", url]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/otto \(operator\) confirm ok epoch 7/);
    // --pair: the replicated table, each line with its row and the node that wrote it
    fake.pairAuditEntries = [{ seq: 4, ts: "2026-01-01T00:00:00.000Z", user: "otto", role: "operator", from: "10.0.0.1", action: "confirm", result: "ok", nodeId: "b", epoch: 3, prev: "0".repeat(64), row: { seq: 812, epoch: 3 } } as never];
    const pairs = await run("audit", ["--pair", "--node", url]);
    expect(pairs.code).toBe(0);
    expect(pairs.out).toMatch(/^\s*812 node b\s+4 \S+ otto \(operator\) confirm ok epoch 3/m);
  });
});

describe("tandem replication and tandem divergence", () => {
  const leader = replicationStatus;
  const record = (id: number, data: unknown = { batch: `B-${id}`, step: 3 }) => ({
    id, table: "batch_log", kind: "ins", key: null, seq: 40 + id, epoch: 6, at: "2024-05-01T02:59:58.123Z", foundAt: "2024-05-01T03:01:00.000Z", activeEpoch: 7, data,
  });
  beforeEach(() => {
    fake.divergent = [];
  });

  it("status says the mode and what an acknowledgement means now, then role, peer, lag, journal and database", async () => {
    fake.set({ replication: leader() });
    const r = await run("replication", ["--node", url]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([
      "replication: sync (when the peer is away: accept)",
      "  sync: a write is acknowledged once both databases hold it",
      "  role: leader (this node is active: it orders, commits and sends every write)",
      "  peer: live (holds every acknowledged write and takes each new one as it is made)",
      "  lag: 0 records, 0 ms (last seq 1,234, the peer's 1,234)",
      "  journal: 0 records not yet on the peer",
      "  database: sqlite at /data/a/records.db",
    ]);
    // `status` is the default word; --json prints the API's object as is
    expect((await run("replication", ["status", "--node", url])).out).toBe(r.out);
    const j = await run("replication", ["--node", url, "--json"]);
    expect(JSON.parse(j.out)).toEqual(leader());
  });

  it("says when writes are acknowledged on this node only, or refused, and how far a catch-up has come", async () => {
    fake.set({ replication: leader({ peer: "away", acknowledging: "local", peerSeq: null, lagRecords: 2500, lagMs: 61_000, journalRecords: 2500 }) });
    let out = (await run("replication", ["--node", url])).out;
    expect(out).toContain("  peer away: writes are acknowledged on this node only (whenPeerAway: accept) and reach the peer when it returns");
    expect(out).toContain("  lag: 2,500 records, 61,000 ms (last seq 1,234, the peer's –)");
    expect(out).toContain("  journal: 2,500 records not yet on the peer");
    fake.set({ replication: leader({ peer: "away", acknowledging: "refusing", whenPeerAway: "refuse" }) });
    expect((await run("replication", ["--node", url])).out).toContain("  refusing writes: the peer is away and whenPeerAway is refuse");
    fake.set({ replication: leader({ peer: "catching-up", acknowledging: "local", catchUp: { records: 12_345, total: 50_000, percent: 24, snapshot: false } }) });
    out = (await run("replication", ["--node", url])).out;
    expect(out).toContain("  catching up: 12,345 of 50,000 records (24%)");
    expect(out).toContain("  peer catching up: writes are acknowledged on this node only (whenPeerAway: accept) until the peer has caught up");
    fake.set({ replication: { ...leader(), role: "follower", peer: "n/a", acknowledging: "n/a", lastSeq: 900, catchUp: { records: 900, total: 4000, percent: 22, snapshot: true }, divergentSetAside: 3 } });
    out = (await run("replication", ["--node", url])).out;
    expect(out).toContain("  standby: this node applies the active's writes and takes none of its own");
    expect(out).toContain("  applied up to seq 900");
    expect(out).toContain("  catching up from a snapshot: 900 of 4,000 records (22%)");
    expect(out).toContain("  set aside: 3 divergent records (tandem divergence list)");
    expect(out).not.toMatch(/peer:|lag:|journal:/);
  });

  it("verify prints what was compared and where the databases differ (exit 1 then); resync says it started; context shows the held batch", async () => {
    const env = { TANDEM_USER: "ada", TANDEM_PASSWORD: "a-pass" };
    const ok = await run("replication", ["verify", "--node", url], env);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("compared both databases as they were at sequence 100: 100 rows in 1 ranges");
    expect(ok.out).toContain("identical");
    fake.replicationVerify = { ...fake.replicationVerify, ok: false, mismatches: [{ fromSeq: 50_001, toSeq: 100_000, rowsHere: 40_000, rowsPeer: 39_999 }] };
    const bad = await run("replication", ["verify", "--node", url], env);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("  50001–100000: 40,000 rows on the active, 39,999 on the standby");
    expect(bad.out).toContain("tandem replication resync");
    expect(bad.err).toContain("the two databases differ");
    const r = await run("replication", ["resync", "--from-active", "--node", url], env);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^resync started: the standby empties its database and rebuilds it/);
    fake.setState("active-held");
    fake.contextProcesses = [
      { name: "batch", state: "held", error: null, step: "heat", content: { batch: 3, step: "heat" }, timers: { heat: "2026-11-30T03:00:00.000Z" }, seq: 1230, epoch: 6, writtenAt: "2026-11-30T02:59:55.000Z", ageMs: 12_000, resumedFrom: null },
    ];
    const c = await run("context", ["--node", url], env);
    expect(c.code).toBe(0);
    expect(c.out).toContain("the process is HELD after a takeover");
    expect(c.out).toMatch(/batch\s+held\s+heat\s+1230\s+6\s+12 s/);
    expect(c.out).toContain("  batch: held at step heat, context sequence 1230, written 12 s ago in epoch 6");
    expect(c.out).toContain("  batch: timer heat due 2026-11-30T03:00:00.000Z");
  });

  it("verify and resync send what the endpoints will take, and a check that finds a difference exits 1", async () => {
    const sent: unknown[][] = [];
    const answer = (json: unknown) => async (...a: unknown[]) => (sent.push(a), { text: JSON.stringify(json), json });
    const out: string[] = [];
    const resync = replicationRequest(["resync"], true);
    if (typeof resync === "string") throw new Error(resync);
    await runPlan(resync, answer({ started: true }), (l) => out.push(l), false);
    expect(sent[0]!.slice(0, 3)).toEqual(["POST", "/replication/resync", { fromActive: true }]);
    expect(out[0]).toMatch(/^resync started/);
    const verify = replicationRequest(["verify"], false);
    if (typeof verify === "string") throw new Error(verify);
    const differ = { id: "x", by: "ada", startedAt: "", durationMs: 5, upTo: 41, ranges: 1, rows: 41, ok: false, mismatches: [{ fromSeq: 1, toSeq: 41, rowsHere: 41, rowsPeer: 40 }], error: null };
    await expect(runPlan(verify, answer(differ), (l) => out.push(l), false)).rejects.toThrow("the two databases differ");
    expect(sent[1]!.slice(0, 3)).toEqual(["POST", "/replication/verify", {}]);
    expect(out.at(-1)).toMatch(/tandem replication resync/);
  });

  it("divergence list shows each record set aside, its data cut to fit a line; an empty table says so", async () => {
    const empty = await run("divergence", ["--node", url]);
    expect(empty.code).toBe(0);
    expect(empty.out).toBe("no divergent records: nothing was set aside");
    fake.divergent = [record(1), record(2, { note: "x".repeat(100) }), { ...record(3), kind: "del", data: null }];
    const r = await run("divergence", ["list", "--node", url]);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toMatch(/^ID +TABLE +SEQ +EPOCH +WRITTEN AT +FOUND AT +DATA$/);
    expect(lines[1]).toMatch(/^1 +batch_log +41 +6 +2024-05-01 02:59:58Z +2024-05-01 03:01:00Z +\{"batch":"B-1","step":3\}$/);
    expect(lines[2]).toMatch(/ \{"note":"x+…$/);
    expect(lines[2]!.slice(lines[2]!.indexOf('{"note"'))).toHaveLength(60);
    expect(lines[3]).toMatch(/ \(del\)$/);
  });

  it("divergence export prints every record as a JSON line, page after page", async () => {
    fake.divergent = Array.from({ length: 1500 }, (_, k) => record(k + 1));
    const r = await run("divergence", ["export", "--node", url]);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n").map((l) => JSON.parse(l) as { id: number });
    expect(lines.map((x) => x.id)).toEqual(fake.divergent.map((x) => x.id));
    expect(lines[0]).toEqual(record(1));
  });

  it("divergence discard ID discards one record as the operator who asked; one that is not there exits 1", async () => {
    fake.divergent = [record(1), record(2)];
    const r = await run("divergence", ["discard", "2", "--node", url]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("divergent record 2 discarded");
    expect(fake.callsOf("discardDivergent").map((c) => [c.actor.user, ...c.args])).toEqual([["otto", 2]]);
    expect(fake.divergent.map((x) => x.id)).toEqual([1]);
    const again = await run("divergence", ["discard", "2", "--node", url]);
    expect(again.code).toBe(1);
    expect(again.err).toBe("tandem divergence: no divergent record 2: nothing discarded (tandem divergence list shows what is there)");
  });

  it("usage errors exit 2 and reach no node", async () => {
    const cases: [ClientCommand, string[], RegExp][] = [
      ["replication", ["sideways"], /expected status, verify or resync, got 'sideways'/],
      ["replication", ["verify", "--from-active"], /--from-active is for resync/],
      ["replication", ["status", "extra"], /unexpected argument 'extra'/],
      ["divergence", ["discard"], /discard needs the record's ID/],
      ["divergence", ["discard", "abc"], /'abc' is not a divergent record's ID/],
      ["divergence", ["list", "7"], /unexpected argument '7' \(list takes none\)/],
      ["divergence", ["--from-active"], /unknown option '--from-active'/],
    ];
    for (const [cmd, argv, msg] of cases) {
      const r = await run(cmd, [...argv, "--node", url], {});
      expect(r.code, `${cmd} ${argv.join(" ")}`).toBe(2);
      expect(r.err, `${cmd} ${argv.join(" ")}`).toMatch(msg);
      expect(r.err).toContain("usage: tandem " + cmd);
    }
    expect(fake.calls).toHaveLength(0);
  });
});

describe("failures", () => {
  it("an unreachable node exits 1 with 'cannot reach node at URL'", async () => {
    // a port that was free a moment ago: nothing listens there
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const free = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const r = await run("status", ["--node", `http://127.0.0.1:${free}`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`cannot reach node at http://127\\.0\\.0\\.1:${free}: .*ECONNREFUSED`));
  });

  it("usage errors exit 2, name the option or argument, and reach no node", async () => {
    const cases: [ClientCommand, string[], RegExp][] = [
      ["status", ["--bogus"], /unknown option '--bogus' \(tandem status takes --node URL, --config FILE, --user NAME, --json, --ca FILE, --probe\)/],
      ["status", ["-n", url], /unknown option '-n'/],
      ["status", ["--to", "b"], /unknown option '--to'/], // switchover's option, not status's
      ["confirm", ["--force"], /unknown option '--force'/],
      ["status", ["extra"], /unexpected argument 'extra'/],
      ["status", ["--node"], /--node needs a value$/m],
      ["status", ["--node="], /--node needs a value$/m],
      ["status", ["--node", "--json"], /--node needs a value \(a value that starts with '-' is written --node=-VALUE\)/],
      ["switchover", ["--to"], /--to needs a value/],
      ["status", ["--json=yes"], /--json takes no value/],
      ["promote", ["--yes-the-active-is-down=1"], /--yes-the-active-is-down takes no value/],
      ["status", ["--node", url, "--node", url], /--node is given more than once/],
      ["status", ["--node", url, "--config", "a.yaml"], /give --node URL or --config FILE, not both/],
      ["status", ["--node", "ftp://x"], /http:\/\/ or https:\/\//],
      ["confirm", ["--password", "x"], /not taken on the command line/],
      ["confirm", ["--password=x", "--bogus"], /not taken on the command line/],
      ["maintenance", [], /'enter' or 'leave'/],
      ["maintenance", ["sideways"], /expected 'enter' or 'leave'/],
      ["log-level", ["loud"], /unknown log level 'loud' \(expected one of fatal, error, warn, info, debug, trace, silent\)/],
      ["log-level", ["--component", "peer"], /--component needs a LEVEL to set/],
      ["audit", ["--limit", "0"], /--limit: expected a whole number 1–1000/],
      ["audit", ["--since"], /--since needs a value/],
      ["status", ["--user", "otto"], /set TANDEM_PASSWORD\n.*\n  credentials: --user NAME or TANDEM_USER, and TANDEM_PASSWORD/],
      ["audit", ["--bogus"], /--limit N, --since SEQ, --pair\)\nusage: tandem audit [^\n]*$/], // no credentials note for a wrong option
    ];
    const before = fake.calls.length;
    for (const [cmd, argv, msg] of cases) {
      const r = await run(cmd, [...argv], {});
      expect(r.code, `${cmd} ${argv.join(" ")}`).toBe(2);
      expect(r.err, `${cmd} ${argv.join(" ")}`).toMatch(msg);
      expect(r.err).toContain("usage: tandem " + cmd);
      expect(r.out).toBe("");
    }
    expect(fake.calls.length).toBe(before);
  });

  it("the log levels it accepts are the node's (one list for CLI, API and HMI)", async () => {
    const env = { TANDEM_USER: "ada", TANDEM_PASSWORD: "a-pass" };
    for (const level of LOG_LEVELS) {
      const r = await run("log-level", [level, "--component", "peer", "--node", url], env);
      expect(r.code, level).toBe(0);
      expect(r.out).toContain(`peer: ${level}`);
    }
  });
});

const CLI_JS = join(import.meta.dirname, "../../dist/runtime/cli.js");
describe.skipIf(!existsSync(CLI_JS))("the tandem binary (dist/)", () => {
  it("exits 2 on an unknown or a value-less option, naming it, before reaching any node", () => {
    for (const [argv, msg] of [
      [["status", "--bogus"], "unknown option '--bogus'"],
      [["confirm", "--node"], "--node needs a value"],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI_JS, ...argv], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
      expect(r.status, argv.join(" ")).toBe(2);
      expect(r.stderr).toContain(`tandem ${argv[0]}: ${msg}`);
      expect(r.stdout).toBe("");
    }
  });
});

describe("tandem hash-password", () => {
  it("reads one line from stdin and prints a hash that verifies", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runHashPassword([], { out: (s) => out.push(s), err: (s) => err.push(s), stdin: Readable.from(["s3cret\r\nignored\n"]) });
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    expect(await verifyPassword("s3cret", out[0])).toBe(true);
  });

  it("refuses an argument or an empty password", async () => {
    const err: string[] = [];
    expect(await runHashPassword(["s3cret"], { out: () => {}, err: (s) => err.push(s), stdin: Readable.from([]) })).toBe(2);
    expect(err.join("\n")).toContain("never from the command line");
    expect(await runHashPassword([], { out: () => {}, err: () => {}, stdin: Readable.from(["\n"]) })).toBe(2);
  });
});

describe("tandem backup and restore-test", () => {
  it("lists the backups with the last restore test and the alarms; a backup now is the operator's, audited by the node", async () => {
    fake.backups = { ...new FakeController().backups, last: { name: "tandem-line1-a-20261130-020000", ok: true, at: "2026-11-30T02:00:00.000Z", durationMs: 1500, copyError: null, by: "schedule" }, alarms: ["no passed restore test for 48 h on a. Run tandem restore-test"], backups: [{ name: "tandem-line1-a-20261130-020000", createdAt: "2026-11-30T02:00:00.000Z", bytes: 2_400_000, sha256: "ab".repeat(32), lastSeq: 351, rows: 351, problem: null }, { name: "tandem-line1-a-20261129-020000", createdAt: null, bytes: null, sha256: null, lastSeq: null, rows: null, problem: "its manifest is not JSON" }] };
    const l = await run("backup", ["list", "--node", url]);
    expect(l.code).toBe(0);
    expect(l.out).toContain("backups in /var/lib/tandem/backups");
    expect(l.out).toContain("last backup: tandem-line1-a-20261130-020000 at 2026-11-30T02:00:00.000Z (1.5 s, by schedule)");
    expect(l.out).toContain("no restore test yet (tandem restore-test)");
    expect(l.out).toContain("ALARM: no passed restore test for 48 h on a");
    expect(l.out).toMatch(/tandem-line1-a-20261130-020000 {2}2026-11-30T02:00:00.000Z {2}2.4 MB {2}351 rows up to seq 351/);
    expect(l.out).toContain("tandem-line1-a-20261129-020000  UNUSABLE: its manifest is not JSON");
    const n = await run("backup", ["now", "--node", url]);
    expect(n.code).toBe(0);
    expect(n.out).toMatch(/^backup tandem-line1-a-20261130-020000 made: 10 rows up to seq 10 \(epoch 2\)/);
    expect(fake.calls.map((c) => `${c.method} ${c.actor.user}`)).toEqual(["backupNow otto"]);
    expect((await run("backup", ["now", "--node", url], { TANDEM_USER: "viewer", TANDEM_PASSWORD: "x" })).code).toBe(1);
  });

  it("a failed restore test prints each problem and exits 1; a name that is not a backup's is a usage error", async () => {
    fake.restoreResult = { ...new FakeController().restoreResult, ok: false, problems: ["the archive /b/x.tar.gz has changed since it was made"], checks: [] };
    const r = await run("restore-test", ["tandem-line1-a-20261130-020000", "--node", url]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("restore test of tandem-line1-a-20261130-020000 FAILED");
    expect(r.out).toContain("  problem: the archive /b/x.tar.gz has changed since it was made");
    expect(r.err).toContain("the restore test FAILED: that backup cannot be trusted");
    expect(fake.calls.at(-1)).toMatchObject({ method: "restoreTest", args: ["tandem-line1-a-20261130-020000"] });
    const u = await run("restore-test", ["../etc"]);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/'\.\.\/etc' is not a backup's name/);
  });
});
