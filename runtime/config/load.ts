// Config loading: YAML → ${ENV} substitution → tag files (CSV) → schema
// validation. Every problem comes back as a ConfigIssue with the key path,
// never as a stack trace, and all of them at once: a tag by its name
// (`drivers.tags "line1.tank1.level"`) with the line of the YAML or CSV file
// it came from, an unknown key with the key that was probably meant.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from "yaml";
import { ConfigError, type ConfigIssue } from "../../core/errors.js";
import { unknownKeyMessage } from "../../drivers/did-you-mean.js";
import { parseTagCsv } from "../../drivers/tag-csv.js";
import { configSchema, crossSectionIssues, type TandemConfig } from "./schema.js";

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
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // aliases are resolved here, not by parseDocument: an alias to no anchor, or too many
    // of them (a "billion laughs"), throw a ReferenceError that must be a config error too
    throw new ConfigError([{ path: "", message: `YAML: ${String((e as Error)?.message ?? e).split("\n")[0]}` }], opts.file);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError([{ path: "", message: "expected a YAML mapping with the sections pair, node, peer, http…" }], opts.file);
  }
  const issues: ConfigIssue[] = [];
  const substituted = substituteEnv(raw, opts.env ?? process.env, "", issues) as Record<string, unknown>;
  const csvOrigin = readTagFiles(substituted, opts.baseDir, issues);
  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) {
    const envMissing = new Set(issues.map((i) => i.path));
    const seen = new Set<string>();
    const report = (path: readonly PropertyKey[], message: string, tag?: string) => {
      if (envMissing.has(formatPath(path))) return; // the missing variable is the problem to report
      const { label, where } = describePath(path, substituted, csvOrigin, tag);
      const line = where ?? (lineOf(doc.contents, path, lines) !== undefined ? `line ${lineOf(doc.contents, path, lines)}` : undefined);
      const key = `${label}\u0000${message}`;
      if (seen.has(key)) return;
      seen.add(key);
      issues.push({ path: label, message: line ? `${message} (${line})` : message });
    };
    for (const i of parsed.error.issues) {
      const message = i.code === "unrecognized_keys" ? unknownKeyMessage(i.keys, knownKeysAt(configSchema, i.path, substituted)) : i.message;
      const tag = i.code === "custom" ? (i.params as { tag?: string } | undefined)?.tag : undefined;
      report(i.path, message, tag);
    }
    // the checks across sections, over the sections that passed: a shape error elsewhere hides none of them
    const ok = new Set<string>();
    const partial: Record<string, unknown> = {};
    for (const [k, schema] of Object.entries(configSchema.shape)) {
      const r = (schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(substituted[k]);
      if (r.success) {
        ok.add(k);
        partial[k] = r.data;
      }
    }
    for (const i of crossSectionIssues(partial as Partial<TandemConfig>, ok)) report(i.path, i.message);
  }
  if (issues.length) throw new ConfigError(issues, opts.file);
  const config = parsed.data!;
  if (opts.baseDir && !isAbsolute(config.node.dataDir)) config.node.dataDir = resolve(opts.baseDir, config.node.dataDir);
  if (opts.baseDir && config.log.file && !isAbsolute(config.log.file)) config.log.file = resolve(opts.baseDir, config.log.file);
  for (const k of ["certFile", "keyFile", "caFile"] as const) {
    const f = config.http.tls[k];
    if (opts.baseDir && f && !isAbsolute(f)) config.http.tls[k] = resolve(opts.baseDir, f);
  }
  const mqttTls = config.mqtt?.tls;
  if (opts.baseDir && mqttTls) for (const k of ["certFile", "keyFile"] as const) if (mqttTls[k] && !isAbsolute(mqttTls[k])) mqttTls[k] = resolve(opts.baseDir, mqttTls[k]);
  for (const s of Object.values(config.services)) if (opts.baseDir && s.cwd && !isAbsolute(s.cwd)) s.cwd = resolve(opts.baseDir, s.cwd);
  for (const p of Object.values(config.processes)) if (opts.baseDir && !isAbsolute(p.module)) p.module = resolve(opts.baseDir, p.module);
  if (opts.baseDir && config.upgrade.root && !isAbsolute(config.upgrade.root)) config.upgrade.root = resolve(opts.baseDir, config.upgrade.root);
  const b = config.backup;
  if (opts.baseDir) {
    if (b.dir && !isAbsolute(b.dir)) b.dir = resolve(opts.baseDir, b.dir);
    if (b.copyTo && !isAbsolute(b.copyTo)) b.copyTo = resolve(opts.baseDir, b.copyTo);
    b.files = b.files.map((f) => (isAbsolute(f) ? f : resolve(opts.baseDir!, f)));
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

/**
 * drivers.tagFiles: each CSV file's rows join drivers.tags (after the YAML
 * entries) and the key is removed. Returns, per index of drivers.tags, the
 * file and line a CSV row came from.
 */
function readTagFiles(config: Record<string, unknown>, baseDir: string | undefined, issues: ConfigIssue[]): Map<number, string> {
  const origin = new Map<number, string>();
  const drivers = config.drivers as Record<string, unknown> | undefined;
  if (!drivers || typeof drivers !== "object" || drivers.tagFiles === undefined) return origin;
  const files = drivers.tagFiles;
  delete drivers.tagFiles;
  if (!Array.isArray(files)) {
    issues.push({ path: "drivers.tagFiles", message: "expected a list of CSV files: [tags.csv] or [{ file: tags.csv, device: plc1 }]" });
    return origin;
  }
  if (drivers.tags !== undefined && !Array.isArray(drivers.tags)) return origin; // the schema says what is wrong with tags
  const tags = (drivers.tags ??= []) as unknown[];
  files.forEach((f: unknown, k) => {
    const at = `drivers.tagFiles[${k}]`;
    const spec = typeof f === "string" ? { file: f } : (f as { file?: unknown; device?: unknown } | null);
    if (!spec || typeof spec.file !== "string" || (spec.device !== undefined && typeof spec.device !== "string")) {
      issues.push({ path: at, message: "expected a CSV file name, or { file: tags.csv, device: plc1 }" });
      return;
    }
    const extra = Object.keys(spec).filter((x) => x !== "file" && x !== "device");
    if (extra.length) issues.push({ path: at, message: unknownKeyMessage(extra, ["file", "device"]) });
    const path = isAbsolute(spec.file) ? spec.file : resolve(baseDir ?? ".", spec.file);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      issues.push({ path: at, message: `cannot read the tag file ${spec.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    const r = parseTagCsv(text, typeof spec.device === "string" ? { device: spec.device } : {});
    for (const i of r.issues) issues.push({ path: `${spec.file} line ${i.line}`, message: i.message });
    for (const t of r.tags) {
      origin.set(tags.length, `${spec.file} line ${t.line}`);
      tags.push(t.entry);
    }
  });
  return origin;
}

/**
 * A key path as a person reads it: a tag by its name (`drivers.tags
 * "line1.tank1.level".type`), and where it was written when that is a CSV row.
 */
function describePath(path: readonly PropertyKey[], raw: Record<string, unknown>, csvOrigin: Map<number, string>, tag?: string): { label: string; where?: string } {
  if (path[0] === "drivers" && path[1] === "tags" && typeof path[2] === "number") {
    const entry = ((raw.drivers as { tags?: unknown[] } | undefined)?.tags ?? [])[path[2]] as { name?: unknown } | undefined;
    const name = tag ?? (typeof entry?.name === "string" ? entry.name : undefined);
    const rest = formatPath(path.slice(3));
    const label = `drivers.tags ${name !== undefined ? JSON.stringify(name) : `[${path[2]}]`}${rest ? (rest.startsWith("[") ? rest : `.${rest}`) : ""}`;
    return { label, where: csvOrigin.get(path[2]) };
  }
  return { label: formatPath(path) };
}

/** The keys the schema takes at a path (for "did you mean"), following the raw value through unions. */
function knownKeysAt(schema: unknown, path: readonly PropertyKey[], raw: unknown): string[] {
  type Def = { type: string; shape?: Record<string, unknown>; innerType?: unknown; in?: unknown; element?: unknown; options?: unknown[] };
  const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } })?._zod?.def;
  const unwrap = (s: unknown, value: unknown): unknown => {
    for (let d = defOf(s); d; d = defOf(s)) {
      if (d.innerType) s = d.innerType;
      else if (d.type === "pipe") s = d.in;
      else if (d.type === "union" && d.options) {
        // the option whose keys cover most of the value's
        const keys = value && typeof value === "object" ? Object.keys(value) : [];
        s = d.options.reduce((best: unknown, o) => (cover(o) > cover(best) ? o : best), d.options[0]);
        function cover(o: unknown): number {
          const sh = defOf(unwrapShallow(o))?.shape ?? {};
          return keys.filter((k) => k in sh).length;
        }
      } else break;
    }
    return s;
  };
  const unwrapShallow = (s: unknown): unknown => {
    for (let d = defOf(s); d && (d.innerType || d.type === "pipe"); d = defOf(s)) s = d.innerType ?? d.in;
    return s;
  };
  let s = unwrap(schema, raw);
  let v = raw;
  for (const p of path) {
    const d = defOf(s);
    if (d?.type === "object" && d.shape) s = d.shape[String(p)];
    else if (d?.type === "array") s = d.element;
    else return [];
    v = v && typeof v === "object" ? (v as Record<string, unknown>)[String(p)] : undefined;
    s = unwrap(s, v);
  }
  return Object.keys(defOf(s)?.shape ?? {});
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
