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
import { LOG_LEVELS } from "../../core/types.js";
import { FakeController } from "../helpers/fake-controller.js";

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
      ["audit", ["--bogus"], /--limit N, --since SEQ\)\nusage: tandem audit [^\n]*$/], // no credentials note for a wrong option
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
