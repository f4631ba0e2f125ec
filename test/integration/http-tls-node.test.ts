// A real node process with HTTPS on (S4, S5): it makes its self-signed
// certificate on the first start and logs the fingerprint, the real CLI talks
// to it with --config (trusting the node's own certificate) and is refused
// without a CA; a body nested 10,000 deep on a tag write and a switchover is
// a clean 400, the node keeps running and nothing reaches the audit log.
import https from "node:https";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { exited, spawnCli, waitUntil } from "../helpers/cluster.js";
import { hashPassword } from "../../runtime/auth/passwords.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-tls-node-"));
let node: ReturnType<typeof spawnCli> | null = null;

afterAll(async () => {
  if (node && node.exitCode === null) {
    node.kill("SIGTERM");
    await exited(node, 15_000).catch(() => node?.kill("SIGKILL"));
  }
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return import("node:net").then(
    (net) =>
      new Promise((resolve) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      }),
  );
}

function post(port: number, ca: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `https://127.0.0.1:${port}${path}`,
      { method: "POST", ca, agent: false, headers: { "content-type": "application/json", authorization: "Basic " + Buffer.from("ada:a-pass").toString("base64") } },
      (res) => {
        let b = "";
        res.on("data", (c) => (b += c));
        res.on("end", () => resolve({ status: res.statusCode!, body: b }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("a real node over HTTPS", () => {
  it("self-signed certificate made and logged; the CLI trusts it through --config, refuses without a CA; 10,000-deep JSON is a clean 400 and nothing is audited (S4, S5)", async () => {
    const [httpPort, peerPort, hb1, hb2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const logFile = join(dir, "node.log");
    const cfg = join(dir, "node-a.yaml");
    writeFileSync(
      cfg,
      `pair: { id: tls, key: "0123456789abcdef0123456789abcdef" }
node: { id: a, role: main, dataDir: data }
peer: { id: b, listen: "127.0.0.1:${peerPort}", address: "127.0.0.1:9", links: [{ name: lan, bind: "127.0.0.1:${hb1}", peer: "127.0.0.1:${hb2}" }] }
http:
  listen: "127.0.0.1:${httpPort}"
  users: [{ name: ada, role: admin, passwordHash: "${await hashPassword("a-pass")}" }]
  tls: { enabled: true }
log: { file: node.log }
`,
    );
    node = spawnCli(["start", "--config", cfg]);
    const certFile = join(dir, "data", "tls", "cert.pem");
    const fingerprint = await waitUntil(
      "the node logs its certificate's fingerprint",
      () => {
        try {
          return /self-signed certificate .* \(SHA-256 ([0-9A-F:]{95})\)/.exec(readFileSync(logFile, "utf8"))?.[1] ?? null;
        } catch {
          return null;
        }
      },
      { timeoutMs: 30_000, seen: () => node!.output() },
    );
    expect(new X509Certificate(readFileSync(certFile)).fingerprint256).toBe(fingerprint);
    const env = { TANDEM_USER: "ada", TANDEM_PASSWORD: "a-pass", TANDEM_CA: "" };
    // the real CLI, on the node's host: --config gives https and the node's own certificate
    await waitUntil("the CLI reaches the node over HTTPS", async () => {
      const cli = spawnCli(["status", "--config", cfg, "--json"], { env });
      const { code } = await exited(cli);
      return code === 0 ? cli.output() : null;
    }, { timeoutMs: 30_000 });
    // with only the system's CAs: refused, and told what to do
    const refused = spawnCli(["status", "--node", `https://127.0.0.1:${httpPort}`], { env });
    expect((await exited(refused)).code).toBe(1);
    expect(refused.output()).toMatch(/certificate is not trusted: give --ca FILE/);

    const ca = readFileSync(certFile, "utf8");
    const deep = "[".repeat(10_000) + "]".repeat(10_000);
    for (const [path, body] of [
      ["/api/v1/tags/line1.valve", `{"value":${deep}}`],
      ["/api/v1/switchover", `{"to":${deep}}`],
    ]) {
      const res = await post(httpPort, ca, path, body);
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body).error.message).toMatch(/nested deeper than 32 levels/);
    }
    // still running, and the audit log holds only the start
    const audit = spawnCli(["audit", "--config", cfg, "--json"], { env });
    expect((await exited(audit)).code).toBe(0);
    const entries = (JSON.parse(audit.output()) as { entries: { action: string }[] }).entries;
    expect(entries.map((e) => e.action)).toEqual(["node-start"]);
    expect(node.exitCode).toBeNull();
  }, 90_000);
});
