// Config loading: YAML → ${ENV} substitution → schema validation. Every problem
// comes back as a ConfigIssue with the key path, never as a stack trace.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from "yaml";
import { ConfigError, type ConfigIssue } from "../../core/errors.js";
import { configSchema, type TandemConfig } from "./schema.js";

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${NAME} and ${NAME:-default} in every string of a plain JSON value. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: string, issues: ConfigIssue[]): unknown {
  if (typeof value === "string") {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (fallback !== undefined) return fallback;
      issues.push({ path, message: `environment variable ${name} is not set` });
      return "";
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, `${path}[${i}]`, issues));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, path ? `${path}.${k}` : k, issues);
    return out;
  }
  return value;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** A YAML string → validated config. `baseDir` resolves relative paths. */
export function parseConfig(text: string, opts: { file?: string; env?: NodeJS.ProcessEnv; baseDir?: string } = {}): TandemConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length) {
    // the first syntax error is the one to fix: the rest are usually its echoes
    const e = doc.errors[0]!;
    throw new ConfigError([{ path: "", message: `YAML ${e.linePos ? `line ${e.linePos[0].line} column ${e.linePos[0].col}` : ""}: ${e.message.split("\n")[0]}` }], opts.file);
  }
  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError([{ path: "", message: "expected a YAML mapping with the sections pair, node, peer, http…" }], opts.file);
  }
  const issues: ConfigIssue[] = [];
  const substituted = substituteEnv(raw, opts.env ?? process.env, "", issues);
  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) {
    const envMissing = new Set(issues.map((i) => i.path));
    for (const i of parsed.error.issues) {
      const path = formatPath(i.path);
      if (envMissing.has(path)) continue; // the missing variable is the problem to report
      let message = i.message;
      if (i.code === "unrecognized_keys") message = `unknown key${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `'${k}'`).join(", ")}`;
      const line = lineOf(doc.contents, i.path, lines);
      issues.push({ path, message: line ? `${message} (line ${line})` : message });
    }
  }
  if (issues.length) throw new ConfigError(issues, opts.file);
  const config = parsed.data!;
  if (opts.baseDir && !isAbsolute(config.node.dataDir)) config.node.dataDir = resolve(opts.baseDir, config.node.dataDir);
  if (opts.baseDir && config.log.file && !isAbsolute(config.log.file)) config.log.file = resolve(opts.baseDir, config.log.file);
  for (const k of ["certFile", "keyFile", "caFile"] as const) {
    const f = config.http.tls[k];
    if (opts.baseDir && f && !isAbsolute(f)) config.http.tls[k] = resolve(opts.baseDir, f);
  }
  const peerTls = config.peer.tls;
  if (opts.baseDir && peerTls) for (const k of ["ca", "cert", "key"] as const) if (!isAbsolute(peerTls[k])) peerTls[k] = resolve(opts.baseDir, peerTls[k]);
  return config;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): TandemConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([{ path: "", message: `cannot read the file: ${(err as Error).message}` }], file);
  }
  return parseConfig(text, { file, env, baseDir: dirname(resolve(file)) });
}

/** The source line of a key path, for messages; undefined when not found. */
function lineOf(root: unknown, path: readonly PropertyKey[], lines: LineCounter): number | undefined {
  let node = root as YamlNode | null | undefined;
  let found: YamlNode | undefined = node ?? undefined;
  for (const p of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(p));
      if (!pair) break;
      found = (pair.value as YamlNode) ?? (pair.key as YamlNode);
      node = pair.value as YamlNode;
    } else if (isSeq(node) && typeof p === "number") {
      node = node.items[p] as YamlNode;
      if (!node) break;
      found = node;
    } else break;
  }
  return found?.range ? lines.linePos(found.range[0]).line : undefined;
}
