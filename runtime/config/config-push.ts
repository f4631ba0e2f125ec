// A new pair-wide configuration, distributed: the admin edits the active's
// config file and runs `tandem config push`; the active reads the pair-wide
// sections from its file as written (the YAML, `${VARIABLES}` kept) and the
// files they name (process modules, tag CSV files), and sends them to the
// standby over the peer link. The standby puts them into its own config
// file — its node-local sections untouched, comments kept — and its files,
// checks the result as it would at start, keeps what it replaced beside it,
// and answers with the version it now has on disk. Each node runs the new
// version from its next start (docs/operations.md: a change in four steps).
//
// What comes over the link is checked as hostile: section names from the
// list, files only by relative paths that stay in the standby's config
// folder, bounded sizes; a result that does not check changes nothing.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { isMap, parseDocument } from "yaml";
import { ConfigError } from "../../core/errors.js";
import { parseConfig } from "./load.js";
import { pairConfigVersion, PAIR_WIDE, writtenSections } from "./pair-config.js";

export const PEER_PUSH_TOPIC = "config-push";
export const PEER_PUSH_RESULT_TOPIC = "config-push-result";
/** what one push may carry: the peer link's frames are at most 1 MiB */
export const MAX_PUSH_BYTES = 768 * 1024;

/** the top-level sections pushed (the users are http.users) */
const SECTIONS = PAIR_WIDE.filter((s) => s !== "users");

export interface ConfigPush {
  id: string;
  /** the pair-wide version of the active's file, as the standby should find it after */
  version: string;
  /** each section as written (JSON of the YAML), null when absent */
  sections: Record<string, unknown>;
  users: unknown;
  /** files the sections name, by their path relative to the config file's folder */
  files: { path: string; base64: string }[];
}

export interface PushResult {
  id: string;
  ok: boolean;
  /** the pair-wide version now on the standby's disk */
  version?: string;
  /** where the standby kept its previous config file */
  kept?: string;
  error?: string;
}

/** The push made from the active's config file (read again from disk: what the admin wrote). */
export function buildPush(configFile: string, env: NodeJS.ProcessEnv, id: string): ConfigPush {
  const text = readFileSync(configFile, "utf8");
  const dir = dirname(resolve(configFile));
  // it must be a config this node would start with
  const config = parseConfig(text, { file: configFile, env, baseDir: dir });
  const raw = parseDocument(text).toJS() as Record<string, unknown>;
  const sections: Record<string, unknown> = {};
  for (const s of SECTIONS) sections[s] = raw[s] ?? null;
  const users = (raw.http as Record<string, unknown> | undefined)?.users ?? null;
  const named: string[] = [];
  for (const p of Object.values((raw.processes as Record<string, { module?: unknown }> | undefined) ?? {})) if (typeof p?.module === "string") named.push(p.module);
  for (const f of ((raw.drivers as { tagFiles?: unknown } | undefined)?.tagFiles as unknown[] | undefined) ?? []) {
    const file = typeof f === "string" ? f : typeof (f as { file?: unknown })?.file === "string" ? (f as { file: string }).file : null;
    if (file) named.push(file);
  }
  const files: ConfigPush["files"] = [];
  for (const f of named) {
    if (isAbsolute(f)) throw new Error(`${f}: a pushed file must be named relative to the config file (the standby's may lie elsewhere)`);
    files.push({ path: f, base64: readFileSync(resolve(dir, f)).toString("base64") });
  }
  const push: ConfigPush = { id, version: pairConfigVersion(config, raw).version, sections, users, files };
  const size = Buffer.byteLength(JSON.stringify(push));
  if (size > MAX_PUSH_BYTES) throw new Error(`the pair-wide configuration and its files are ${size} bytes: more than a push carries (${MAX_PUSH_BYTES}); copy them by hand`);
  return push;
}

/** A path from the peer, inside `dir`, or null. */
function inside(dir: string, p: unknown): string | null {
  if (typeof p !== "string" || !p || p.length > 300 || p.includes("\0") || isAbsolute(p)) return null;
  const n = normalize(p);
  if (n.startsWith("..") || n.split(sep).includes("..")) return null;
  const to = resolve(dir, n);
  return relative(dir, to).startsWith("..") ? null : to;
}

/** The push as received, checked; an error string when it is not one. */
export function checkPush(x: Record<string, unknown>): ConfigPush | string {
  if (typeof x.id !== "string" || !/^[A-Za-z0-9-]{1,64}$/.test(x.id)) return "no id";
  if (typeof x.version !== "string" || !/^[0-9a-f]{16}$/.test(x.version)) return "no version";
  const s = x.sections as Record<string, unknown> | undefined;
  if (!s || typeof s !== "object" || Array.isArray(s) || Object.keys(s).some((k) => !(SECTIONS as readonly string[]).includes(k))) return "sections other than the pair-wide ones";
  if (!Array.isArray(x.files) || x.files.length > 200 || !x.files.every((f) => f && typeof f.path === "string" && typeof f.base64 === "string")) return "files are not a list of { path, base64 }";
  return { id: x.id, version: x.version, sections: s, users: x.users ?? null, files: x.files as ConfigPush["files"] };
}

function backupName(file: string, stamp: string): string {
  return `${file}.before-push-${stamp}`;
}

/**
 * On the standby: puts the push into its config file and files, checked as
 * at start; the files it replaces are kept beside them. Throws (a
 * ConfigError with every problem, or an Error) and changes nothing when the
 * result would not start.
 */
export function applyPush(configFile: string, push: ConfigPush, env: NodeJS.ProcessEnv, now: Date): { version: string; kept: string } {
  const dir = dirname(resolve(configFile));
  const text = readFileSync(configFile, "utf8");
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) throw new Error(`${configFile} is not a YAML mapping`);
  for (const s of SECTIONS) {
    const v = push.sections[s];
    if (v === null || v === undefined) doc.delete(s);
    else doc.set(s, doc.createNode(v));
  }
  if (push.users === null) doc.deleteIn(["http", "users"]);
  else doc.setIn(["http", "users"], doc.createNode(push.users));
  const next = doc.toString();
  const files = push.files.map((f) => {
    const to = inside(dir, f.path);
    if (!to) throw new Error(`the push names a file outside this node's config folder: '${String(f.path).slice(0, 100)}'`);
    return { to, bytes: Buffer.from(f.base64, "base64") };
  });
  // the result checked before anything is written: as the node would read it at start, with the new
  // files (its modules, its tag CSV files) in a staging folder laid out like the config folder
  const stage = mkdtempSync(join(tmpdir(), "tandem-push-"));
  let version: string;
  try {
    for (const f of files) {
      const at = join(stage, relative(dir, f.to));
      mkdirSync(dirname(at), { recursive: true });
      writeFileSync(at, f.bytes);
    }
    const config = parseConfig(next, { file: configFile, env, baseDir: stage });
    version = pairConfigVersion(config, writtenSections(next)).version;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  for (const f of files) {
    mkdirSync(dirname(f.to), { recursive: true });
    if (existsSync(f.to)) {
      if (readFileSync(f.to).equals(f.bytes)) continue;
      renameSync(f.to, backupName(f.to, stamp));
    }
    writeFileSync(`${f.to}.partial`, f.bytes, { mode: 0o640 });
    renameSync(`${f.to}.partial`, f.to);
  }
  const kept = backupName(configFile, stamp);
  writeFileSync(`${configFile}.partial`, next, { mode: 0o640 });
  renameSync(configFile, kept);
  renameSync(`${configFile}.partial`, configFile);
  return { version, kept };
}

/** One line for a push that did not apply. */
export function pushError(err: unknown): string {
  return err instanceof ConfigError ? err.report().replace(/\s*\n\s*/g, "; ") : (err as Error).message;
}
