// The node's audit key: from the config (audit.key, usually ${ENV_VAR}), or
// else a random key made on the node's first start and kept in the data dir
// (audit.key, mode 0600). The key never leaves the node: not in answers, logs
// or audit lines.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const AUDIT_KEY_FILE = "audit.key";

export function auditKeyFile(dataDir: string): string {
  return join(dataDir, AUDIT_KEY_FILE);
}

/** The key bytes; `configured` is audit.key from the config when set. */
export function loadAuditKey(dataDir: string, configured: string | undefined, opts: { create: boolean }): Buffer {
  if (configured !== undefined) return Buffer.from(configured, "utf8");
  const file = auditKeyFile(dataDir);
  if (!existsSync(file)) {
    if (!opts.create) {
      throw new Error(`no audit key: ${file} does not exist and the config sets no audit.key (has this node ever started with this data dir?)`);
    }
    const fd = openSync(file, "wx", 0o600);
    try {
      writeSync(fd, randomBytes(32).toString("hex") + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  // an older copy may have been made with looser modes; the key is the node's alone
  if (opts.create) chmodSync(file, 0o600);
  const text = readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file}: expected 64 hex digits (the audit key this node made); remove the file only if the audit log goes with it`);
  return Buffer.from(text, "utf8");
}
