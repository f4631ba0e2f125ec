// peer.tls in the config (S5): relative paths resolve against the config
// file's folder, unknown keys are refused with their path, and the files are
// read and checked when the node is built — a missing file or a key that
// does not match its certificate stops the start naming the key path.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../core/errors.js";
import { nullLogger } from "../../core/logger.js";
import type { EpochStore } from "../../redundancy/epoch-store.js";
import { parseConfig } from "../../runtime/config/load.js";
import { pairRuntimeOptions } from "../../runtime/pair-options.js";
import { makeCa, makeCert, type CertFiles } from "../helpers/test-certs.js";
import { minimalConfig, TEST_KEY } from "../helpers/min-config.js";

const KEY = TEST_KEY;
const config = (tls: string) => `${minimalConfig({ peerExtra: `  ${tls}` }).trimEnd()}
`;

let dir = "";
let ca: CertFiles;
let a: CertFiles;
let b: CertFiles;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-tls-cfg-"));
  ca = makeCa(dir, "ca");
  a = makeCert(dir, "a", "node-a", ca);
  b = makeCert(dir, "b", "node-b", ca);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const store = {} as EpochStore; // pairRuntimeOptions only passes it on

function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe("peer.tls config", () => {
  it("resolves relative paths against the config file's folder and reaches the peer link", () => {
    const c = parseConfig(config(`tls: { ca: ca.pem, cert: a.pem, key: a.key, peerName: node-b }`), { baseDir: dir });
    expect(c.peer.tls).toEqual({ ca: join(dir, "ca.pem"), cert: join(dir, "a.pem"), key: join(dir, "a.key"), peerName: "node-b" });
    const tls = pairRuntimeOptions(c, store, nullLogger).peer.tls!;
    expect(tls.peerName).toBe("node-b");
    expect(String(tls.cert)).toContain("BEGIN CERTIFICATE");
  });

  it("no peer.tls: a plain TCP peer connection, as before", () => {
    expect(pairRuntimeOptions(parseConfig(config(""), {}), store, nullLogger).peer.tls).toBeUndefined();
  });

  it("refuses unknown and missing keys with their path", () => {
    expect(issues(() => parseConfig(config(`tls: { ca: ca.pem, cert: a.pem, key: a.key, verify: false }`), {}))).toEqual([expect.stringMatching(/^peer\.tls: unknown key 'verify'/)]);
    expect(issues(() => parseConfig(config(`tls: { ca: ca.pem, cert: a.pem }`), {}))).toEqual([expect.stringMatching(/^peer\.tls\.key: /)]);
  });

  it("a missing file stops the start, naming the key and the file", () => {
    const c = parseConfig(config(`tls: { ca: ca.pem, cert: nowhere.pem, key: a.key }`), { baseDir: dir });
    expect(issues(() => pairRuntimeOptions(c, store, nullLogger))).toEqual([expect.stringMatching(/^peer\.tls\.cert: cannot read '.*nowhere\.pem': ENOENT/)]);
  });

  it("a key that does not match the certificate stops the start", () => {
    const c = parseConfig(config(`tls: { ca: ca.pem, cert: a.pem, key: b.key }`), { baseDir: dir });
    expect(issues(() => pairRuntimeOptions(c, store, nullLogger))).toEqual([expect.stringMatching(/^peer\.tls: the CA, certificate or key is not usable/)]);
  });
});
