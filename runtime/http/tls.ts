// HTTPS for the API and the HMI: the certificate and key come from the config
// (http.tls.certFile/keyFile, e.g. issued by the site's CA), else from the
// node's data dir (tls/cert.pem, tls/key.pem), else a self-signed one is made
// there on the first start and reused after. Its SHA-256 fingerprint is logged
// at every start so an operator can check what a browser or the CLI is shown.
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { isIP } from "node:net";
import { join } from "node:path";
import { ConfigError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";

export interface HttpTlsConfig {
  enabled: boolean;
  /** PEM certificate (chain: leaf first) the node presents; with keyFile */
  certFile?: string;
  /** PEM private key of certFile */
  keyFile?: string;
  /** PEM of the CA that signed certFile: what `tandem … --config` trusts */
  caFile?: string;
  /** extra DNS names or addresses put in a generated self-signed certificate */
  names: string[];
}

export interface TlsMaterial {
  cert: string;
  key: string;
  /** where the certificate came from, for the log */
  source: "config" | "data dir" | "generated";
  certFile: string;
  /** colon-separated SHA-256 of the leaf certificate (what browsers show) */
  fingerprint256: string;
  subject: string;
  subjectAltName: string;
  validTo: Date;
}

export const TLS_DIR = "tls";
export const CERT_FILE = "cert.pem";
export const KEY_FILE = "key.pem";
const SELF_SIGNED_DAYS = 3650;

export function dataDirCertFile(dataDir: string): string {
  return join(dataDir, TLS_DIR, CERT_FILE);
}

/** The names a generated certificate is valid for: this host, loopback, the listen address and the configured extras. */
export function selfSignedNames(listenHost: string, extra: string[]): string[] {
  const names = ["localhost", hostname(), "127.0.0.1", "::1", ...extra];
  if (listenHost !== "0.0.0.0" && listenHost !== "::") names.push(listenHost);
  return [...new Set(names.filter((n) => n.length > 0))];
}

/** A self-signed ECDSA P-256 certificate and its PKCS#8 key, both PEM. */
export async function generateSelfSigned(commonName: string, names: string[], days = SELF_SIGNED_DAYS): Promise<{ cert: string; key: string }> {
  // @peculiar/x509 resolves its services through tsyringe, which needs the
  // reflect-metadata polyfill loaded first; both load only when a certificate
  // is made (not on every start).
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 5 * 60_000); // a peer whose clock is a little behind still accepts it
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const serial = randomBytes(16);
  serial[0] &= 0x7f; // a positive serial number
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString("hex"),
    name: [{ CN: [commonName] }, { O: ["Tandem self-signed"] }],
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => (isIP(n) ? { type: "ip" as const, value: n } : { type: "dns" as const, value: n }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n?$/, "\n")}-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString("pem") + "\n", key };
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([{ path: key, message: `cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
}

/** Checks that the certificate parses and the key belongs to it; the facts the log shows. */
export function describePair(cert: string, key: string, certWhere: string, keyWhere: string): Omit<TlsMaterial, "source" | "certFile" | "cert" | "key"> {
  let c: X509Certificate;
  try {
    c = new X509Certificate(cert);
  } catch (e) {
    throw new ConfigError([{ path: certWhere, message: `not a PEM certificate (${(e as Error).message})` }]);
  }
  let k;
  try {
    k = createPrivateKey(key);
  } catch (e) {
    throw new ConfigError([{ path: keyWhere, message: `not a PEM private key, or one with a passphrase (${(e as Error).message})` }]);
  }
  if (!c.checkPrivateKey(k)) throw new ConfigError([{ path: keyWhere, message: `this key does not belong to the certificate (${certWhere})` }]);
  return { fingerprint256: c.fingerprint256, subject: c.subject.replace(/\n/g, ", "), subjectAltName: c.subjectAltName ?? "", validTo: new Date(c.validTo) };
}

/** Writes `text` to `path` through a temporary file, with `mode`. */
function writeAtomically(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode); // the umask may have cut the mode
  renameSync(tmp, path);
}

export interface TlsSetup {
  tls: HttpTlsConfig;
  dataDir: string;
  listenHost: string;
  nodeId: string;
  pairId: string;
  log: Logger;
}

/** The node's certificate and key when TLS is on (null when off); makes a self-signed pair on the first start. */
export async function loadTlsMaterial(s: TlsSetup): Promise<TlsMaterial | null> {
  if (!s.tls.enabled) return null;
  let material: TlsMaterial;
  if (s.tls.certFile && s.tls.keyFile) {
    const cert = readPem(s.tls.certFile, "http.tls.certFile");
    const key = readPem(s.tls.keyFile, "http.tls.keyFile");
    warnIfReadable(s.tls.keyFile, s.log);
    material = { cert, key, source: "config", certFile: s.tls.certFile, ...describePair(cert, key, "http.tls.certFile", "http.tls.keyFile") };
  } else {
    const dir = join(s.dataDir, TLS_DIR);
    const certFile = join(dir, CERT_FILE);
    const keyFile = join(dir, KEY_FILE);
    const haveCert = existsSync(certFile);
    const haveKey = existsSync(keyFile);
    if (haveCert !== haveKey) {
      throw new ConfigError([
        {
          path: "http.tls",
          message: `${haveCert ? certFile : keyFile} is there but ${haveCert ? keyFile : certFile} is missing: put the missing file there, or remove ${dir} to have a self-signed certificate made`,
        },
      ]);
    }
    if (haveCert) {
      const cert = readPem(certFile, certFile);
      const key = readPem(keyFile, keyFile);
      warnIfReadable(keyFile, s.log);
      material = { cert, key, source: "data dir", certFile, ...describePair(cert, key, certFile, keyFile) };
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const names = selfSignedNames(s.listenHost, s.tls.names);
      const { cert, key } = await generateSelfSigned(`tandem ${s.pairId}/${s.nodeId}`, names);
      // the key first: a start interrupted between the two leaves a key alone, which the next start names
      writeAtomically(keyFile, key, 0o600);
      writeAtomically(certFile, cert, 0o644);
      material = { cert, key, source: "generated", certFile, ...describePair(cert, key, certFile, keyFile) };
    }
  }
  const left = material.validTo.getTime() - Date.now();
  const facts = { certFile: material.certFile, source: material.source, sha256: material.fingerprint256, subject: material.subject, names: material.subjectAltName, validTo: material.validTo.toISOString() };
  if (material.source === "generated") {
    s.log.warn(facts, `HTTPS: made a self-signed certificate ${material.certFile} (SHA-256 ${material.fingerprint256}); clients must be told to trust it (tandem --ca ${material.certFile}), or replace it with one from the site CA`);
  } else {
    s.log.info(facts, `HTTPS: certificate ${material.certFile} (SHA-256 ${material.fingerprint256}), valid until ${material.validTo.toISOString()}`);
  }
  if (left <= 0) s.log.error(facts, `HTTPS: the certificate ${material.certFile} expired on ${material.validTo.toISOString()}: every client will refuse it; install a new one`);
  else if (left < 30 * 86_400_000) s.log.warn(facts, `HTTPS: the certificate ${material.certFile} expires on ${material.validTo.toISOString()}: install a new one before then`);
  return material;
}

function warnIfReadable(keyFile: string, log: Logger): void {
  try {
    const mode = statSync(keyFile).mode & 0o777;
    if (mode & 0o077) log.warn({ keyFile, mode: mode.toString(8) }, `HTTPS: the private key ${keyFile} can be read by other users (mode ${mode.toString(8)}); chmod 600 it`);
  } catch {
    /* read just before; a race with a deletion shows up on the next start */
  }
}
