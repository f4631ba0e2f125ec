// The node's private files and the syslog message format (pure parts; the
// real node and a real UDP listener are in test/integration/audit.test.ts).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makePrivateDir } from "../../runtime/private-files.js";
import { loadAuditKey, auditKeyFile } from "../../runtime/audit/secret.js";
import { formatSyslog, MAX_DATAGRAM } from "../../runtime/audit/syslog.js";

let dir: string;
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-files-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("private files", () => {
  it("a data dir left open by an older version (0755, files 0644) is made 0700/0600 on start", () => {
    const data = join(dir, "data");
    mkdirSync(join(data, "pki"), { recursive: true });
    writeFileSync(join(data, "audit.log"), "");
    writeFileSync(join(data, "pki", "cert.pem"), "");
    chmodSync(data, 0o755);
    chmodSync(join(data, "pki"), 0o755);
    chmodSync(join(data, "audit.log"), 0o644);
    chmodSync(join(data, "pki", "cert.pem"), 0o644);
    makePrivateDir(data);
    expect([mode(data), mode(join(data, "pki")), mode(join(data, "audit.log")), mode(join(data, "pki", "cert.pem"))]).toEqual(["700", "700", "600", "600"]);
  });

  it("the audit key is made once, 0600, and read back the same; a config key wins; a damaged key file is refused", () => {
    const k1 = loadAuditKey(dir, undefined, { create: true });
    expect(mode(auditKeyFile(dir))).toBe("600");
    expect(loadAuditKey(dir, undefined, { create: true }).equals(k1)).toBe(true);
    expect(loadAuditKey(dir, "c".repeat(40), { create: true }).toString()).toBe("c".repeat(40));
    writeFileSync(auditKeyFile(dir), "short\n");
    expect(() => loadAuditKey(dir, undefined, { create: true })).toThrow(/expected 64 hex digits/);
    expect(() => loadAuditKey(join(dir, "none"), undefined, { create: false })).toThrow(/no audit key/);
  });
});

describe("syslog messages (RFC 5424)", () => {
  const base = { facility: "authpriv" as const, severity: 5, ts: "2026-11-29T03:00:00.000Z", host: "plant srv", app: "tandem", pid: 42, msgid: "audit" };

  it("carries PRI, version, timestamp, host, app, pid, msgid, no structured data, and the line as it is", () => {
    const line = '{"seq":1,"user":"Jürgen"}';
    expect(formatSyslog({ ...base, msg: line }).toString("utf8")).toBe(`<85>1 2026-11-29T03:00:00.000Z plant_srv tandem 42 audit - ${line}`);
  });

  it("cuts a line too long for one datagram at a character boundary and says so", () => {
    const b = formatSyslog({ ...base, msg: "é".repeat(10_000) });
    expect(b.length).toBeLessThanOrEqual(MAX_DATAGRAM);
    const text = b.toString("utf8");
    expect(text).not.toContain("\ufffd");
    expect(text).toMatch(/…\(cut: 20000 bytes\)$/);
  });
});
