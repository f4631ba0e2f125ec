// Test certificates made with Debian's openssl CLI (scripts/test-deps.txt):
// a site CA, a certificate per node signed by it, and a second CA standing
// for "someone else's" CA. EC P-256, valid for two days.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CertFiles {
  /** PEM file paths */
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A self-signed CA in `dir`: `<name>.pem`, `<name>.key`. */
export function makeCa(dir: string, name: string): CertFiles {
  mkdirSync(dir, { recursive: true });
  openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=Tandem test ${name}`]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/** A certificate for `cn` (also its DNS name, and `ips` as IP addresses) signed by `ca`, usable as TLS server and client. */
export function makeCert(dir: string, name: string, cn: string, ca: CertFiles, ips: string[] = []): CertFiles {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${[`DNS:${cn}`, ...ips.map((ip) => `IP:${ip}`)].join(",")}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", ca.cert, "-CAkey", ca.key, "-set_serial", String(Date.now()), "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

export const pem = (path: string): Buffer => readFileSync(path);
