// `tandem audit verify --config FILE`: checks a node's audit log on this host,
// with the node's own config (its data dir, and audit.key or the key file the
// node made). Works whether the node runs or not; reads only.
// Exit 0: the chain holds. 1: a bad line (its number and why), or the files
// cannot be read. 2: usage or config error.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../../core/errors.js";
import { loadConfig } from "../config/load.js";
import { loadAuditKey } from "./secret.js";
import { verifyAuditFile } from "./verify-file.js";

export const AUDIT_VERIFY_USAGE = "tandem audit verify --config FILE [--json]";

export async function runAuditVerify(argv: string[], io: { out?: (s: string) => void; err?: (s: string) => void } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => process.stdout.write(s + "\n"));
  const err = io.err ?? ((s: string) => process.stderr.write(s + "\n"));
  let values: { config?: string; json?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" }, json: { type: "boolean" } } }));
  } catch (e) {
    err(`tandem audit verify: ${(e as Error).message}\nusage: ${AUDIT_VERIFY_USAGE}`);
    return 2;
  }
  if (!values.config) {
    err(`usage: ${AUDIT_VERIFY_USAGE}\n(the node's config tells where its audit log and audit key are)`);
    return 2;
  }
  let file: string;
  let key: Buffer;
  try {
    const c = loadConfig(values.config);
    file = join(c.node.dataDir, "audit.log");
    key = loadAuditKey(c.node.dataDir, c.audit.key, { create: false });
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.report());
      return 2;
    }
    err(`tandem audit verify: ${(e as Error).message}`);
    return 1;
  }
  let r;
  try {
    r = await verifyAuditFile(file, key);
  } catch (e) {
    err(`tandem audit verify: cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
  if (values.json) out(JSON.stringify({ file, ...r }, null, 2));
  else if (r.ok) out(`${file}: ${r.summary}`);
  else err(`${file}: BAD at ${r.summary}`);
  return r.ok ? 0 : 1;
}
