// `tandem support-bundle --config FILE [--out FILE]`: one archive for whoever
// helps the site, made on the node's host: what the node says of itself (its
// API, if it answers: status, replication, services, context, tags, the last
// events and audit entries), the end of its log, its config with the secrets
// removed, the versions, and a listing of its data dir. Nothing in it is a
// secret: keys, passwords and password hashes are replaced (a `${VARIABLE}`
// reference is kept: it names the secret, not its value), private key files
// and the databases are listed, never copied.
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync, createWriteStream } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import { isScalar, parseDocument, visit } from "yaml";
import { ConfigError } from "../core/errors.js";
import { runClientCommand, type ClientCommand } from "./cli-client.js";
import { loadConfig } from "./config/load.js";
import type { TandemConfig } from "./config/schema.js";

const USAGE = `usage: tandem support-bundle --config FILE [--out FILE] [--node URL] [--user NAME]
  an archive (.tar.gz) with the node's status, recent logs, its config without secrets, versions and its last events;
  the API parts need a login (TANDEM_USER / TANDEM_PASSWORD, viewer is enough)`;

/** the end of the log file that goes in */
const LOG_TAIL_BYTES = 5 * 1024 * 1024;
const REMOVED = "«removed»";
const SECRET_KEYS = /^(key|password|passwordHash|secret|token)$/i;
const ENV_REF = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const LOOKS_LIKE_PATH = /^(\/|\.{1,2}\/|[A-Za-z]:[\\/])/;

/** the config file's text with every secret replaced; comments and layout kept */
export function redactConfig(text: string): string {
  const doc = parseDocument(text);
  visit(doc, {
    Pair(_, pair) {
      const k = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!isScalar(pair.value) || typeof pair.value.value !== "string") return;
      const v = pair.value.value;
      if (SECRET_KEYS.test(k) && !ENV_REF.test(v) && !(k === "key" && LOOKS_LIKE_PATH.test(v))) pair.value.value = REMOVED;
      // a password in a URL (postgres://user:password@host, mqtt://…)
      else if (/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i.test(v)) pair.value.value = v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]+@/i, (_m, head: string) => `${head}:${REMOVED}@`);
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function tail(file: string, bytes: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, bytes);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    // from the first whole line
    const nl = n < size ? buf.indexOf(10) : -1;
    return nl >= 0 ? buf.subarray(nl + 1) : buf;
  } finally {
    closeSync(fd);
  }
}

function versions(): Record<string, unknown> {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string; dependencies: Record<string, string> };
  return { tandem: pkg.version, node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`, host: os.hostname(), cpus: os.cpus().length, memoryMB: Math.round(os.totalmem() / 2 ** 20), dependencies: pkg.dependencies };
}

function listing(dir: string, depth = 0): string[] {
  if (depth > 3 || !existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    try {
      const st = statSync(p);
      out.push(`${"  ".repeat(depth)}${e.name}${e.isDirectory() ? "/" : ""}  ${e.isDirectory() ? "" : `${st.size} bytes  `}${st.mtime.toISOString()}`);
      if (e.isDirectory()) out.push(...listing(p, depth + 1));
    } catch {
      out.push(`${"  ".repeat(depth)}${e.name}  (cannot be read)`);
    }
  }
  return out;
}

/** what the node says through its API: each a client command's --json answer, or why it could not be had */
async function fromApi(configFile: string, extra: string[]): Promise<{ name: string; text: string }[]> {
  const asks: [string, ClientCommand, string[]][] = [
    ["status.json", "status", []],
    ["replication.json", "replication", ["status"]],
    ["services.json", "services", ["list"]],
    ["context.json", "context", []],
    ["tags.json", "tags", ["list"]],
    ["events.json", "events", ["--limit", "500"]],
    ["audit.json", "audit", ["--limit", "200"]],
  ];
  const files: { name: string; text: string }[] = [];
  const failed: string[] = [];
  for (const [name, cmd, args] of asks) {
    // a node that cannot be reached is not asked six more times (each would wait for its own timeout)
    if (failed.length && /cannot reach node/.test(failed[0]!)) {
      failed.push(`${[cmd, ...args].join(" ")}: not asked (the node could not be reached)`);
      continue;
    }
    const out: string[] = [];
    const err: string[] = [];
    const code = await runClientCommand(cmd, [...args, "--config", configFile, "--json", ...extra], { out: (s) => out.push(s), err: (s) => err.push(s) });
    if (code === 0) files.push({ name: `api/${name}`, text: out.join("\n") + "\n" });
    else failed.push(`${[cmd, ...args].join(" ")}: ${err.join(" ") || `exit ${code}`}`);
  }
  if (failed.length) files.push({ name: "api/not-answered.txt", text: failed.join("\n") + "\n" });
  return files;
}

function journal(unit: string): string | null {
  try {
    return execFileSync("journalctl", ["-u", unit, "-n", "5000", "--no-pager", "-o", "short-iso"], { encoding: "utf8", timeout: 20_000, stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 });
  } catch {
    return null;
  }
}

export async function runSupportBundle(argv: string[], io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) }): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string" }, out: { type: "string" }, node: { type: "string" }, user: { type: "string" } } }));
  } catch (err) {
    io.err(`tandem support-bundle: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!values.config) return (io.err(`tandem support-bundle: --config FILE: the node's config (its log, data dir and API address)\n${USAGE}`), 2);
  const configFile = resolve(values.config);
  let c: TandemConfig;
  let raw: string;
  try {
    raw = readFileSync(configFile, "utf8");
    c = loadConfig(configFile);
  } catch (err) {
    if (err instanceof ConfigError || (err as NodeJS.ErrnoException).code) return (io.err(`tandem support-bundle: ${(err as Error).message}`), 2);
    throw err;
  }
  const made = new Date();
  const stamp = made.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const out = resolve(values.out ?? `tandem-support-${c.pair.id}-${c.node.id}-${stamp}.tar.gz`);
  const dataDir = resolve(dirname(configFile), c.node.dataDir);
  const files: { name: string; text: string | Buffer }[] = [];
  const notes: string[] = [];

  files.push({ name: "config.yaml", text: redactConfig(raw) });
  files.push({ name: "versions.json", text: JSON.stringify(versions(), null, 2) + "\n" });
  const extra = [...(values.node ? ["--node", values.node] : []), ...(values.user ? ["--user", values.user] : [])];
  const api = await fromApi(configFile, extra);
  files.push(...api);
  if (api.some((f) => f.name === "api/not-answered.txt")) notes.push("some API answers are missing: see api/not-answered.txt (is the node running? TANDEM_USER / TANDEM_PASSWORD set?)");
  const logFile = c.log?.file ? resolve(dirname(configFile), c.log.file) : null;
  if (logFile && existsSync(logFile)) files.push({ name: "logs/node.log", text: tail(logFile, LOG_TAIL_BYTES) });
  else {
    const unit = `tandem-${c.pair.id}-${c.node.id}`;
    const j = journal(unit);
    if (j) files.push({ name: "logs/journal.txt", text: j });
    else notes.push(logFile ? `the log file ${logFile} is not there` : `no log.file in the config and no journal of ${unit}: the node logs to its standard output`);
  }
  files.push({ name: "data-dir.txt", text: `${dataDir}\n${listing(dataDir).join("\n")}\n` });
  const epoch = join(dataDir, "epoch.json");
  // the epoch record (ids, epoch, incarnation): the only file of the data dir copied
  if (existsSync(epoch)) files.push({ name: "data/epoch.json", text: readFileSync(epoch) });
  files.unshift({
    name: "README.txt",
    text:
      `Tandem support bundle: node ${c.node.id} of pair ${c.pair.id}, made ${made.toISOString()} on ${os.hostname()}.\n` +
      `config.yaml: the node's config with keys, passwords and password hashes removed (\${VARIABLE} references kept).\n` +
      `api/: what the node's API answered (status, replication, services, context, tags, the last 500 events, the last 200 audit entries).\n` +
      `logs/: the last ${LOG_TAIL_BYTES / 2 ** 20} MiB of the node's log file, or its journal.\n` +
      `data-dir.txt: the files of the data dir (listed, not copied: databases, keys and the audit log stay on the host).\n` +
      (notes.length ? `\nNotes:\n${notes.map((n) => `- ${n}`).join("\n")}\n` : ""),
  });

  const tar = pack();
  for (const f of files) tar.entry({ name: `tandem-support/${f.name}`, mtime: made, mode: 0o644 }, f.text);
  tar.finalize();
  await pipeline(tar, createGzip(), createWriteStream(out, { mode: 0o600 }));
  io.out(`wrote ${out} (${files.length} files${notes.length ? `; ${notes.join("; ")}` : ""})`);
  return 0;
}
