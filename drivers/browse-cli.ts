// `tandem browse URL`: lists an OPC UA server's variables, as a table or as
// ready-to-paste drivers.tags entries. For the CLI to wire (runtime/cli.ts).
import os from "node:os";
import path from "node:path";
import { browseVariables, type BrowsedVariable } from "./opcua-browse.js";

const USAGE =
  "usage: tandem browse opc.tcp://HOST:PORT [--device NAME] [--security None|Sign|SignAndEncrypt] [--user U] [--password P] [--trust] [--max N] [--data-dir DIR] [--yaml | --json]";

/** A tag name from a browse path: dotted, lower-case first letters kept, other characters to '_'. */
export function tagNameFor(browsePath: string): string {
  const parts = browsePath.split(".").map((p) => p.replace(/[^A-Za-z0-9_-]/g, "_")).filter(Boolean);
  const name = parts.join(".");
  return /^[A-Za-z_]/.test(name) ? name : `_${name}`;
}

export function asYaml(vars: BrowsedVariable[], device: string): string {
  return vars
    .map((v) => `- name: ${tagNameFor(v.path)}\n  device: ${device}\n  nodeId: "${v.nodeId.replace(/"/g, '\\"')}"\n  writable: ${v.writable}  # ${v.dataType}`)
    .join("\n");
}

export async function runBrowseCli(argv: string[]): Promise<number> {
  let url: string | undefined;
  const opt = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (a === "--trust" || a === "--yaml" || a === "--json") flags.add(a.slice(2));
    else if (/^--(device|security|user|password|max|data-dir)$/.test(a)) {
      const v = argv[++i];
      if (v === undefined) {
        process.stderr.write(`tandem browse: ${a} needs a value\n`);
        return 2;
      }
      opt.set(a.slice(2), v);
    } else if (!a.startsWith("--") && url === undefined) url = a;
    else {
      process.stderr.write(`tandem browse: unknown argument '${a}'\n${USAGE}\n`);
      return 2;
    }
  }
  if (!url || !/^opc\.tcp:\/\//.test(url)) {
    process.stderr.write(`tandem browse: expected an opc.tcp:// URL\n${USAGE}\n`);
    return 2;
  }
  const security = opt.get("security") ?? "None";
  if (security !== "None" && security !== "Sign" && security !== "SignAndEncrypt") {
    process.stderr.write(`tandem browse: --security must be None, Sign or SignAndEncrypt, got '${security}'\n`);
    return 2;
  }
  const max = Number(opt.get("max") ?? 10_000);
  if (!Number.isInteger(max) || max < 1) {
    process.stderr.write(`tandem browse: --max must be a whole number ≥ 1\n`);
    return 2;
  }
  try {
    const vars = await browseVariables({
      endpoint: url,
      pkiDir: path.join(opt.get("data-dir") ?? path.join(os.tmpdir(), "tandem-browse"), "pki", "opcua-client"),
      securityMode: security,
      ...(opt.has("user") ? { username: opt.get("user")!, password: opt.get("password") ?? "" } : {}),
      maxNodes: max,
      trustUnknownServerCertificate: flags.has("trust"),
    });
    if (flags.has("json")) process.stdout.write(`${JSON.stringify(vars, null, 2)}\n`);
    else if (flags.has("yaml")) process.stdout.write(`${asYaml(vars, opt.get("device") ?? "opcua1")}\n`);
    else for (const v of vars) process.stdout.write(`${v.nodeId}\t${v.path}\t${v.dataType}${v.writable ? "\twritable" : ""}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`tandem browse: ${url}: ${(e as Error).message}\n`);
    return 1;
  }
}
