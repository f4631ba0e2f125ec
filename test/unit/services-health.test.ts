// runtime/services/health-check.ts against real sockets on 127.0.0.1 and real
// commands: each probe answers in words, within its time, and leaves nothing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runHealthCheck } from "../../runtime/services/health-check.js";
import { isLive, readProcStat } from "../../runtime/services/proc.js";

let tcp: Server;
let http: HttpServer;
let tcpPort = 0;
let httpBase = "";
let closedPort = 0;
let tmp = "";

const listen = (s: Server | HttpServer): Promise<number> =>
  new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
const close = (s: Server | HttpServer): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "tandem-health-"));
  tcp = createServer((sock) => sock.destroy());
  tcpPort = await listen(tcp);
  http = createHttpServer((req, res) => {
    if (req.url === "/hang") return; // never answers
    res.statusCode = req.url === "/down" ? 503 : req.url === "/teapot" ? 418 : req.url === "/moved" ? 302 : 200;
    if (res.statusCode === 302) res.setHeader("location", "/");
    res.end("body");
  });
  httpBase = `http://127.0.0.1:${await listen(http)}`;
  // a port that was just ours and is closed now: nobody listens there
  const probe = createServer();
  closedPort = await listen(probe);
  await close(probe);
});
afterAll(async () => {
  http.closeAllConnections();
  await Promise.all([close(tcp), close(http)]);
  rmSync(tmp, { recursive: true, force: true });
});

describe("services/health-check: tcp", () => {
  it("connects to a listening port", async () => {
    const r = await runHealthCheck({ tcp: { host: "127.0.0.1", port: tcpPort } }, { timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: true, detail: `connected to 127.0.0.1:${tcpPort}` });
    expect(r.ms).toBeLessThan(1000);
  });

  it("says the port refused", async () => {
    const r = await runHealthCheck({ tcp: { host: "127.0.0.1", port: closedPort } }, { timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: false, detail: `ECONNREFUSED 127.0.0.1:${closedPort}` });
  });
});

describe("services/health-check: http", () => {
  const check = (path: string, expectStatus?: number) =>
    runHealthCheck(expectStatus === undefined ? { http: httpBase + path } : { http: httpBase + path, expectStatus }, { timeoutMs: 1000 });

  it("is ok on 2xx and not on 503, and keeps no connection open", async () => {
    const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    await new Promise((r) => setTimeout(r, 50)); // sockets of the tcp checks finish closing
    const before = sockets();
    expect(await check("/")).toMatchObject({ ok: true, detail: `HTTP 200 from ${httpBase}/` });
    expect(await check("/down")).toMatchObject({ ok: false, detail: `HTTP 503 from ${httpBase}/down` });
    await new Promise((r) => setTimeout(r, 50)); // the closes of both ends run
    expect(sockets()).toBe(before);
  });

  it("wants exactly expectStatus when given, and does not follow redirects", async () => {
    expect((await check("/teapot", 418)).ok).toBe(true);
    expect(await check("/", 204)).toMatchObject({ ok: false, detail: `HTTP 200 from ${httpBase}/ (expected 204)` });
    expect(await check("/moved")).toMatchObject({ ok: false, detail: `HTTP 302 from ${httpBase}/moved` });
    expect((await check("/moved", 302)).ok).toBe(true);
  });

  it("says the connection was refused, or that nothing answered in time", async () => {
    const refused = await runHealthCheck({ http: `http://127.0.0.1:${closedPort}/` }, { timeoutMs: 1000 });
    expect(refused).toMatchObject({ ok: false, detail: `ECONNREFUSED from http://127.0.0.1:${closedPort}/` });
    const hung = await check("/hang");
    expect(hung).toMatchObject({ ok: false, detail: `no answer within 1000 ms from ${httpBase}/hang` });
    expect(hung.ms).toBeGreaterThanOrEqual(990);
    expect(hung.ms).toBeLessThan(1500);
    const bad = await runHealthCheck({ http: "not a url" }, { timeoutMs: 1000 });
    expect(bad.ok).toBe(false);
  });
});

describe.runIf(process.platform === "linux")("services/health-check: command", () => {
  it("is ok on exit 0 and reports the last line of output", async () => {
    const r = await runHealthCheck({ command: ["sh", "-c", "echo starting; echo all good; echo"] }, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: true, detail: "exit 0: all good" });
  });

  it("fails on another exit code, with what it said on stderr", async () => {
    const r = await runHealthCheck({ command: ["sh", "-c", "echo database locked >&2; exit 3"] }, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: false, detail: "exit 3: database locked" });
  });

  it("runs in cwd with env, caps a long line, and says when it could not start", async () => {
    const r = await runHealthCheck({ command: ["sh", "-c", 'echo "$PWD $PROBE"'] }, { timeoutMs: 2000, cwd: tmp, env: { PROBE: "yes" } });
    expect(r.detail).toBe(`exit 0: ${tmp} yes`);
    const long = await runHealthCheck({ command: ["sh", "-c", "printf '%0300d\\n' 7"] }, { timeoutMs: 2000 });
    expect(long.detail.length).toBeLessThanOrEqual("exit 0: ".length + 200);
    const missing = await runHealthCheck({ command: [join(tmp, "no-such-check")] }, { timeoutMs: 2000 });
    expect(missing).toMatchObject({ ok: false, detail: `could not start ${join(tmp, "no-such-check")}: ENOENT` });
    expect((await runHealthCheck({ command: [] }, { timeoutMs: 2000 })).ok).toBe(false);
  });

  it("on a timeout kills the command and the child it started", async () => {
    const pids = join(tmp, "pids-timeout");
    const r = await runHealthCheck({ command: ["sh", "-c", `sleep 30 & echo $$ $! > ${pids}; echo waiting; wait`] }, { timeoutMs: 300 });
    expect(r.ok).toBe(false);
    expect(r.detail).toBe("no answer within 300 ms from sh (stopped it); last output: waiting");
    expect(r.ms).toBeLessThan(1500);
    const [sh, sleep] = readFileSync(pids, "utf8").trim().split(" ").map(Number);
    expect(isLive(readProcStat(sh))).toBe(false);
    expect(isLive(readProcStat(sleep))).toBe(false);
  });

  it("stops a child the command left running when it exited", async () => {
    const pids = join(tmp, "pids-left");
    const r = await runHealthCheck({ command: ["sh", "-c", `sleep 30 & echo $! > ${pids}; echo fine`] }, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: true, detail: "exit 0: fine" });
    expect(r.ms).toBeLessThan(1000);
    expect(isLive(readProcStat(Number(readFileSync(pids, "utf8"))))).toBe(false);
  });
});
