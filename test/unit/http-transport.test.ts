// The HTTP server as a transport, attacked with real sockets on loopback
// (S5: bad input gets a clear answer and the node keeps running): answers
// outside the normal request path in the one JSON error format with the
// security headers, JSON nested too deep refused before any handler,
// slowloris cut at the headers timeout, connection caps per address and
// overall; and HTTPS: a self-signed certificate made once and reused, a site
// CA's certificate, Secure cookie, HSTS, and clients that do not trust the
// certificate refused.
// Size: one attack per test on the same server set-up; HTTPS shares it.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createHttpServer, type HttpServer, type HttpServerOptions } from "../../runtime/http/server.js";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { LogManager, silentLogs } from "../../runtime/logging.js";
import { tagSchema } from "../../drivers/config-schema.js";
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from "../../runtime/http/limits.js";
import { loadTlsMaterial, type TlsMaterial } from "../../runtime/http/tls.js";
import { runClientCommand } from "../../runtime/cli-client.js";
import { parseConfig } from "../../runtime/config/load.js";
import type { Role } from "../../runtime/node-api.js";
import { FakeController } from "../helpers/fake-controller.js";

const basic = (u: string, p: string) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const ADMIN = basic("ada", "a-pass");
let users: { name: string; role: Role; passwordHash: string }[];
const stops: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  users = [{ name: "ada", role: "admin", passwordHash: await hashPassword("a-pass") }];
});

afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

async function serve(opts: { limits?: Partial<HttpLimits>; tls?: TlsMaterial | null; controller?: FakeController; logs?: LogManager } = {}) {
  const controller = opts.controller ?? new FakeController();
  const o: HttpServerOptions = {
    controller,
    http: { listen: { host: "127.0.0.1", port: 0 }, users, metricsAuth: false, sessionTtlMs: 60_000, limits: opts.limits },
    tls: opts.tls,
    logs: opts.logs ?? silentLogs(),
    pairId: "line1",
    nodeId: "a",
  };
  const server: HttpServer = createHttpServer(o);
  const { port } = await server.start();
  stops.push(() => server.stop());
  return { server, port, controller, base: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}` };
}

/** Sends raw bytes; resolves with everything the server sent until it closed (or `waitMs` passed). */
function rawExchange(port: number, bytes: string | Buffer, waitMs = 5000, localAddress = "127.0.0.1"): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ port, host: "127.0.0.1", localAddress });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("utf8"), closed, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on("data", (c) => chunks.push(c));
    s.on("error", () => finish(true));
    s.on("close", () => finish(true));
    s.write(bytes);
  });
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; json: any } {
  const [head, ...rest] = text.split("\r\n\r\n");
  const lines = head.split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let json: any;
  try {
    json = JSON.parse(rest.join("\r\n\r\n"));
  } catch {
    json = undefined;
  }
  return { status, headers, json };
}

function expectSecurityHeaders(h: Record<string, string> | Headers) {
  const get = (k: string) => (h instanceof Headers ? h.get(k) : h[k]);
  expect(get("x-content-type-options")).toBe("nosniff");
  expect(get("x-frame-options")).toBe("DENY");
  expect(get("content-security-policy")).toContain("default-src");
  expect(get("referrer-policy")).toBe("no-referrer");
}

function get(url: string, headers: Record<string, string> = {}, localAddress?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, localAddress }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
  });
}

describe("one error format everywhere (S5)", () => {
  let port: number;
  let base: string;
  let controller: FakeController;
  beforeAll(async () => {
    ({ port, base, controller } = await serve());
  });

  it("a URL with bad percent-encoding is a JSON 400 with the security headers", async () => {
    const res = await get(`${base}/api/v1/tags/%ff`, { authorization: ADMIN });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: { code: "TANDEM_ERR_BAD_REQUEST", message: expect.stringContaining("percent-encoding") } });
    expectSecurityHeaders(res.headers as Record<string, string>);
  });

  it("a path part longer than the router takes is a JSON 414 with the security headers", async () => {
    const res = await get(`${base}/api/v1/tags/${"a".repeat(300)}`, { authorization: ADMIN });
    expect(res.status).toBe(414);
    expect(JSON.parse(res.body).error.code).toBe("TANDEM_ERR_URI_TOO_LONG");
    expectSecurityHeaders(res.headers as Record<string, string>);
  });

  it("headers over 16 KiB are a JSON 431 with the security headers", async () => {
    const r = await rawExchange(port, `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`);
    const res = parseRaw(r.text);
    expect(res.status).toBe(431);
    expect(res.json).toEqual({ error: { code: "TANDEM_ERR_HEADERS_TOO_LARGE", message: expect.stringContaining("16 KiB") } });
    expectSecurityHeaders(res.headers);
  });

  it("bytes that are not HTTP are a JSON 400 and the connection closes", async () => {
    const r = await rawExchange(port, "HELLO THERE\r\n\r\n");
    const res = parseRaw(r.text);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("TANDEM_ERR_BAD_REQUEST");
    expectSecurityHeaders(res.headers);
    expect(r.closed).toBe(true);
  });

  it("every tag name the config allows is reachable: the longest (200) and odd-but-legal ones, to read and to write", async () => {
    const names = [
      "t" + ".abcdefghi".repeat(19) + ".abcdefgh", // 200 characters, dotted
      "_".repeat(200),
      "_",
      "_-.-_",
      "A.9",
      "a-b.c_d.-",
      "x.__.--.0",
      "Z-",
    ];
    for (const n of names) expect(tagSchema.shape.name.safeParse(n).success, n).toBe(true);
    expect(names[0]).toHaveLength(200);
    controller.tagList = names.map((name) => ({ name, value: 1, quality: "good" }) as never);
    for (const n of names) {
      const read = await fetch(`${base}/api/v1/tags/${n}`, { headers: { authorization: ADMIN } });
      expect(read.status, n).toBe(200);
      expect(((await read.json()) as { name: string }).name).toBe(n);
      const write = await fetch(`${base}/api/v1/tags/${n}`, {
        method: "POST",
        headers: { authorization: ADMIN, "content-type": "application/json" },
        body: JSON.stringify({ value: 2 }),
      });
      expect(write.status, n).toBe(200);
    }
    expect(controller.callsOf("writeTag").map((c) => c.args[0])).toEqual(names);
  });
});

describe("JSON depth is limited before handlers (S5)", () => {
  let base: string;
  let controller: FakeController;
  beforeAll(async () => {
    ({ base, controller } = await serve());
  });
  const post = (path: string, body: string) =>
    fetch(base + path, { method: "POST", headers: { authorization: ADMIN, "content-type": "application/json" }, body });

  it("a value nested 10,000 deep on a tag write and on a switchover is a clean 400; nothing runs; the server keeps answering", async () => {
    controller.tagList = [{ name: "line1.valve", value: 0, quality: "good" } as never];
    const deep = "[".repeat(10_000) + "]".repeat(10_000);
    for (const [path, body] of [
      ["/api/v1/tags/line1.valve", `{"value":${deep}}`],
      ["/api/v1/switchover", `{"to":${deep}}`],
      ["/api/v1/switchover", deep],
    ] as const) {
      const res = await post(path, body);
      expect(res.status, path).toBe(400);
      const j = (await res.json()) as { error: { code: string; message: string } };
      expect(j.error.code).toBe("TANDEM_ERR_BAD_REQUEST");
      expect(j.error.message).toMatch(/nested deeper than 32 levels \(at character \d+, inside body/);
    }
    expect(controller.calls).toHaveLength(0);
    expect((await fetch(`${base}/api/v1/health`)).status).toBe(200);
  });

  it("the message says where: the path into the body", async () => {
    const res = await post("/api/v1/tags/line1.valve", `{"value":{"a":[1,2,${"[".repeat(40)}${"]".repeat(40)}]}}`);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("inside body.value.a[2]");
  });

  it("32 levels are accepted, 33 are not; brackets inside strings do not count", async () => {
    controller.tagList = [{ name: "line1.valve", value: 0, quality: "good" } as never];
    const nest = (n: number) => "[".repeat(n) + "]".repeat(n);
    expect((await post("/api/v1/tags/line1.valve", `{"value":${nest(31)}}`)).status).toBe(200);
    expect((await post("/api/v1/tags/line1.valve", `{"value":${nest(32)}}`)).status).toBe(400);
    expect((await post("/api/v1/tags/line1.valve", JSON.stringify({ value: "[".repeat(5000) }))).status).toBe(200);
  });
});

describe("connection limits (S5)", () => {
  it("the default headers timeout is 10 s: a slowloris client is cut there with a JSON 408, not held a minute", async () => {
    expect(DEFAULT_HTTP_LIMITS.headersTimeoutMs).toBe(10_000);
    const { port } = await serve();
    const s = net.connect({ port, host: "127.0.0.1" });
    const t0 = performance.now();
    s.write("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
    let i = 0;
    const drip = setInterval(() => s.writable && s.write(`X-${i++}: y\r\n`), 500);
    const chunks: Buffer[] = [];
    s.on("data", (c) => chunks.push(c));
    const closedAfter = await new Promise<number>((r) => {
      s.on("close", () => r(performance.now() - t0));
      s.on("error", () => {});
      setTimeout(() => r(Infinity), 20_000);
    });
    clearInterval(drip);
    s.destroy();
    expect(closedAfter).toBeGreaterThan(9_000);
    expect(closedAfter).toBeLessThan(13_000);
    const res = parseRaw(Buffer.concat(chunks).toString());
    expect(res.status).toBe(408);
    expect(res.json.error.code).toBe("TANDEM_ERR_REQUEST_TIMEOUT");
  }, 25_000);

  it("a connection that sends nothing is closed at the headers timeout", async () => {
    const { port } = await serve({ limits: { headersTimeoutMs: 1000, requestTimeoutMs: 5000 } });
    const r = await rawExchange(port, "", 8000);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(3500);
  });

  it("connections over the per-address cap are closed at once; another address still gets answers quickly", async () => {
    const logLines: { msg: string }[] = [];
    const logs = new LogManager({ level: "info", destination: { write: (s: string) => void logLines.push(JSON.parse(s)) } });
    const { port, base } = await serve({ limits: { maxConnectionsPerAddress: 4, maxConnections: 50 }, logs });
    // four held connections from 127.0.0.1, half-way through their headers
    const held: net.Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = net.connect({ port, host: "127.0.0.1", localAddress: "127.0.0.1" });
      await new Promise((r) => s.once("connect", r));
      s.write("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
      held.push(s);
    }
    try {
      await new Promise((r) => setTimeout(r, 100)); // not a stand-in for a condition: gives the server a moment to count them
      // a fifth from the same address: closed without an answer, well before any timeout
      const fifth = await rawExchange(port, "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 3000, "127.0.0.1");
      expect(fifth.closed).toBe(true);
      expect(fifth.text).toBe("");
      expect(fifth.ms).toBeLessThan(1000);
      // a busy neighbour does not slow another address down
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const res = await get(`${base}/api/v1/health`, {}, "127.0.0.2");
        expect(res.status).toBe(200);
        expect(performance.now() - t0).toBeLessThan(1000);
      }
      expect(logLines.some((l) => /HTTP connection refused: 127\.0\.0\.1 already holds 4 connections/.test(l.msg))).toBe(true);
    } finally {
      for (const s of held) s.destroy();
    }
    // once they are gone, the address is served again
    await vi.waitFor(async () => expect((await get(`${base}/api/v1/health`, {}, "127.0.0.1")).status).toBe(200), { timeout: 5000, interval: 100 });
  });

  it("200 keep-alive clients from one address hold at most the cap; the overall cap closes the rest", async () => {
    const { port, base, server } = await serve({ limits: { maxConnectionsPerAddress: 8, maxConnections: 10 } });
    const sockets: net.Socket[] = [];
    let closedEarly = 0;
    for (let i = 0; i < 200; i++) {
      const s = net.connect({ port, host: "127.0.0.1", localAddress: "127.0.0.3" });
      s.on("error", () => {});
      s.on("close", () => closedEarly++);
      sockets.push(s);
    }
    try {
      await vi.waitFor(() => expect(closedEarly).toBe(192), { timeout: 5000, interval: 50 });
      // two more addresses take the overall cap to 10: a third is dropped
      const a = net.connect({ port, host: "127.0.0.1", localAddress: "127.0.0.4" });
      const b = net.connect({ port, host: "127.0.0.1", localAddress: "127.0.0.4" });
      await Promise.all([a, b].map((s) => new Promise((r) => s.once("connect", r))));
      sockets.push(a, b);
      await vi.waitFor(() => expect(server.counters().connectionsRefused).toBe(192));
      const third = await rawExchange(port, "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 3000, "127.0.0.5");
      expect(third.closed).toBe(true);
      expect(third.text).toBe("");
      await vi.waitFor(() => expect(server.counters().connectionsRefused).toBe(193));
    } finally {
      for (const s of sockets) s.destroy();
    }
    await vi.waitFor(async () => expect((await get(`${base}/api/v1/health`, {}, "127.0.0.5")).status).toBe(200), { timeout: 5000, interval: 100 });
  });
});

// ---- HTTPS ----

function httpsGet(url: string, opts: https.RequestOptions & { body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { agent: false, ...opts }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

describe("HTTPS (S4)", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "tandem-tls-"));
    stops.push(() => rmSync(dataDir, { recursive: true, force: true }));
  });

  const setup = (log = silentLogs().get("http"), tls: Partial<Parameters<typeof loadTlsMaterial>[0]["tls"]> = {}) =>
    loadTlsMaterial({ tls: { enabled: true, names: [], ...tls }, dataDir, listenHost: "127.0.0.1", nodeId: "a", pairId: "line1", log });

  it("a self-signed certificate is made on the first start (key 0600), its fingerprint logged, and reused after", async () => {
    const lines: { msg: string; sha256?: string }[] = [];
    const logs = new LogManager({ level: "info", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const first = (await setup(logs.get("http")))!;
    expect(first.source).toBe("generated");
    expect(statSync(join(dataDir, "tls", "key.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "tls")).mode & 0o777).toBe(0o700);
    expect(first.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(lines.some((l) => l.msg.includes(first.fingerprint256))).toBe(true);
    expect(first.subjectAltName).toContain("IP Address:127.0.0.1");
    const again = (await setup())!;
    expect(again.source).toBe("data dir");
    expect(again.fingerprint256).toBe(first.fingerprint256);
  });

  it("a real client trusting the certificate: handshake, HSTS, Secure session cookie; a client that does not trust it is refused", async () => {
    const tls = (await setup())!;
    const { base } = await serve({ tls });
    const ok = await httpsGet(`${base}/api/v1/health`, { ca: tls.cert });
    expect(ok.status).toBe(200);
    expect(ok.headers["strict-transport-security"]).toBe("max-age=31536000");
    const login = await httpsGet(`${base}/api/v1/login`, {
      ca: tls.cert,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "ada", password: "a-pass" }),
    });
    expect(login.status).toBe(200);
    const cookie = String(login.headers["set-cookie"]);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/HttpOnly/);
    // errors outside the request path carry HSTS too
    const bad = await httpsGet(`${base}/api/v1/tags/%ff`, { ca: tls.cert, headers: { authorization: ADMIN } });
    expect(bad.status).toBe(400);
    expect(bad.headers["strict-transport-security"]).toBe("max-age=31536000");
    // fetch with the system's CAs only, and node's https without the CA: refused
    await expect(fetch(`${base}/api/v1/health`)).rejects.toMatchObject({ cause: { code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/) } });
    await expect(httpsGet(`${base}/api/v1/health`)).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/) });
    // plain HTTP to the HTTPS port gets no answer from the API
    await expect(get(`http://127.0.0.1:${new URL(base).port}/api/v1/health`).then((r) => r.status)).rejects.toBeTruthy();
  });

  it("a certificate from a site CA (config certFile/keyFile); clients trust the CA", async () => {
    const site = await makeSiteCa(dataDir);
    const tls = (await setup(undefined, { certFile: site.certFile, keyFile: site.keyFile }))!;
    expect(tls.source).toBe("config");
    const { base } = await serve({ tls });
    const res = await httpsGet(`${base}/api/v1/health`, { ca: site.caPem });
    expect(res.status).toBe(200);
    // the node's self-signed certificate from the data dir is not what it serves now
    await expect(httpsGet(`${base}/api/v1/health`, { ca: readFileSync(join(dataDir, "tls", "cert.pem"), "utf8") })).rejects.toBeTruthy();
  });

  it("the CLI trusts a given CA file, or the node's own certificate through --config; without either it refuses and says what to do", async () => {
    const tls = (await setup())!;
    const ctl = new FakeController();
    const { base, port } = await serve({ tls, controller: ctl });
    const env = { TANDEM_USER: "ada", TANDEM_PASSWORD: "a-pass" };
    const run = async (argv: string[], extraEnv: Record<string, string> = {}) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runClientCommand("status", argv, { out: (s) => out.push(s), err: (s) => err.push(s), env: { ...env, ...extraEnv } });
      return { code, out: out.join("\n"), err: err.join("\n") };
    };
    const certFile = join(dataDir, "tls", "cert.pem");
    expect((await run(["--node", base, "--ca", certFile, "--json"])).code).toBe(0);
    expect((await run(["--node", base, "--json"], { TANDEM_CA: certFile })).code).toBe(0);
    const refused = await run(["--node", base]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/certificate is not trusted: give --ca FILE/);
    const wrongCa = await makeSiteCa(dataDir, "other");
    const wrong = await run(["--node", base, "--ca", wrongCa.caFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/not signed by the CA given with --ca/);
    expect((await run(["--node", `http://127.0.0.1:${port}`, "--ca", certFile])).code).toBe(2);
    // --config: https and the data dir's certificate
    const cfgFile = join(dataDir, "node-a.yaml");
    writeFileSync(cfgFile, configYaml(dataDir, port));
    expect(parseConfig(readFileSync(cfgFile, "utf8")).http.tls.enabled).toBe(true);
    const viaConfig = await run(["--config", cfgFile, "--json"]);
    expect(viaConfig.err).toBe("");
    expect(viaConfig.code).toBe(0);
  });
});

function configYaml(dataDir: string, port: number): string {
  return `pair: { id: line1, key: "0123456789abcdef0123456789abcdef" }
node: { id: a, role: main, dataDir: ${JSON.stringify(dataDir)} }
peer: { id: b, listen: "127.0.0.1:1", address: "127.0.0.1:2", links: [{ name: lan, bind: "127.0.0.1:3", peer: "127.0.0.1:4" }] }
http:
  listen: "127.0.0.1:${port}"
  tls: { enabled: true }
`;
}

/** A site CA and a server certificate it issued for 127.0.0.1, as an IT department would hand them over. */
async function makeSiteCa(dir: string, name = "site"): Promise<{ caPem: string; caFile: string; certFile: string; keyFile: string }> {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${name} plant CA`,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    issuer: ca.subject,
    subject: "CN=node-a.plant.example",
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "127.0.0.1" }, { type: "dns", value: "node-a.plant.example" }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey)).toString("base64");
  const files = { caFile: join(dir, `${name}-ca.pem`), certFile: join(dir, `${name}-node.pem`), keyFile: join(dir, `${name}-node.key`) };
  const caPem = ca.toString("pem") + "\n";
  writeFileSync(files.caFile, caPem);
  writeFileSync(files.certFile, leaf.toString("pem") + "\n");
  writeFileSync(files.keyFile, `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, "$1\n")}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
  return { caPem, ...files };
}

describe("config keys http.tls and http.limits", () => {
  const base = `pair: { id: line1, key: "0123456789abcdef0123456789abcdef" }
node: { id: a, role: main, dataDir: /tmp/x }
peer: { id: b, listen: "127.0.0.1:1", address: "127.0.0.1:2", links: [{ name: lan, bind: "127.0.0.1:3", peer: "127.0.0.1:4" }] }
http:
  listen: "127.0.0.1:8080"
`;
  const problems = (extra: string) => {
    try {
      parseConfig(base + extra);
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };

  it("plain HTTP and the limits' defaults when nothing is said", () => {
    const c = parseConfig(base);
    expect(c.http.tls).toEqual({ enabled: false, names: [] });
    expect(c.http.limits).toEqual(DEFAULT_HTTP_LIMITS);
  });

  it("relative certificate paths are resolved against the config file", () => {
    const c = parseConfig(base + "  tls: { enabled: true, certFile: tls/node.pem, keyFile: tls/node.key, caFile: tls/site-ca.pem }\n", { baseDir: "/etc/tandem" });
    expect([c.http.tls.certFile, c.http.tls.keyFile, c.http.tls.caFile]).toEqual(["/etc/tandem/tls/node.pem", "/etc/tandem/tls/node.key", "/etc/tandem/tls/site-ca.pem"]);
  });

  it("refuses a certificate without its key, a per-address cap over the overall one, a headers timeout over the request timeout", () => {
    expect(problems("  tls: { enabled: true, certFile: a.pem }\n")).toMatch(/http\.tls\.keyFile: certFile and keyFile go together/);
    expect(problems("  limits: { maxConnections: 10, maxConnectionsPerAddress: 20 }\n")).toMatch(/http\.limits\.maxConnectionsPerAddress: must be at most maxConnections \(10\)/);
    expect(problems("  limits: { headersTimeoutMs: 40000 }\n")).toMatch(/http\.limits\.headersTimeoutMs: must be at most requestTimeoutMs \(30000\)/);
    expect(problems("  limits: { headersTimeoutMs: 10 }\n")).toMatch(/http\.limits\.headersTimeoutMs/);
  });

  it("a node with TLS on and a certificate file that is not there does not start: the key path and the reason", async () => {
    await expect(
      loadTlsMaterial({ tls: { enabled: true, names: [], certFile: "/nonexistent/c.pem", keyFile: "/nonexistent/k.pem" }, dataDir: "/tmp", listenHost: "0.0.0.0", nodeId: "a", pairId: "p", log: silentLogs().get("http") }),
    ).rejects.toThrow(/http\.tls\.certFile: cannot read '\/nonexistent\/c\.pem': ENOENT/);
  });
});
