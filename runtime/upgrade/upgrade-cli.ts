// `tandem upgrade PACKAGE [--root DIR] [--keep N]`, `tandem rollback [--root DIR]`
// and `tandem version`: a new build installed beside the running one and
// made current, or the previous one made current again (versions.ts). The
// node runs it from its next start; a pair is upgraded one node at a time
// around a switchover (docs/operations.md).
// Exit codes: 0 done, 1 failed, 2 usage.
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { extract } from "tar-stream";
import { safeEntryName } from "../backup/archive.js";
import { ConfigError } from "../../core/errors.js";
import { loadConfig } from "../config/load.js";
import { installed, installVersion, rollback, rootOfRunningBuild } from "./versions.js";
import { tandemVersion } from "../version.js";

type Io = { out: (s: string) => void; err: (s: string) => void };
const stdio: Io = { out: (s) => console.log(s), err: (s) => console.error(s) };

const USAGE = `usage: tandem upgrade PACKAGE [--root DIR | --config FILE] [--keep N]
       tandem rollback [--root DIR | --config FILE]
  PACKAGE    a built Tandem (a folder with package.json, dist/ and node_modules/, or a .tar.gz of one)
  --root DIR the install root (ROOT/versions/<version>, ROOT/current, ROOT/previous); default: the config's upgrade.root,
             else the one this tandem runs from
  --config F the node's config (its upgrade section: root, keep)
  --keep N   versions kept in all, current and previous included (default 3)`;

export async function runVersion(_argv: string[], io: Io = stdio): Promise<number> {
  io.out(tandemVersion());
  return 0;
}

/**
 * The install root and the config's keep: --root, else the config's
 * upgrade.root, else the root this tandem runs from. A usage problem (the
 * config does not load, no root) is said on `io` and returned as null.
 */
function target(cmd: string, values: { root?: string; config?: string }, io: Io): { root: string; keep: number | undefined } | null {
  let section: { root?: string; keep: number } | null;
  try {
    section = values.config ? loadConfig(values.config).upgrade : null;
  } catch (err) {
    io.err(err instanceof ConfigError ? err.report() : (err as Error).message);
    return null;
  }
  const root = values.root ? resolve(values.root) : section?.root ? resolve(section.root) : rootOfRunningBuild(fileURLToPath(import.meta.url));
  if (!root) {
    io.err(`tandem ${cmd}: this tandem does not run from an install root (ROOT/versions/<version>): give --root DIR or --config FILE (upgrade.root)\n${USAGE}`);
    return null;
  }
  return { root, keep: section?.keep };
}

/** A .tar.gz unpacked into a new folder (entries checked: they stay inside); its single top folder if it has one. */
async function unpack(file: string): Promise<{ dir: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "tandem-upgrade-"));
  const x = extract();
  x.on("entry", (h, stream, next) => {
    const name = safeEntryName(h.name.replace(/\/+$/, ""));
    const done = (err?: Error) => {
      stream.resume();
      next(err);
    };
    if (name === null) return done(new Error(`the package has an entry outside its folder: '${h.name.slice(0, 80)}'`));
    const to = join(dir, name);
    if (h.type === "directory") {
      mkdirSync(to, { recursive: true });
      return done();
    }
    mkdirSync(dirname(to), { recursive: true });
    if (h.type === "symlink") {
      const target = h.linkname ?? "";
      if (target.startsWith("/") || safeEntryName(join(dirname(name), target)) === null) return done(new Error(`the package has a link out of its folder: '${name}' → '${target}'`));
      symlinkSync(target, to);
      return done();
    }
    if (h.type !== "file") return done();
    pipeline(stream, createWriteStream(to, { mode: h.mode ?? 0o644 }))
      .then(() => next())
      .catch((err: Error) => next(err));
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), x);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const top = readdirSync(dir);
  const inner = top.length === 1 && statSync(join(dir, top[0]!)).isDirectory() ? join(dir, top[0]!) : dir;
  return { dir: inner, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function runUpgrade(argv: string[], io: Io = stdio): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { root: { type: "string" }, config: { type: "string" }, keep: { type: "string" } } }));
  } catch (err) {
    io.err(`tandem upgrade: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (positionals.length !== 1) {
    io.err(`tandem upgrade: ${positionals.length ? `unexpected '${positionals[1]}'` : "which PACKAGE?"}\n${USAGE}`);
    return 2;
  }
  const t = target("upgrade", values, io);
  if (!t) return 2;
  const { root } = t;
  const keep = values.keep === undefined ? (t.keep ?? 3) : Number(values.keep);
  if (!Number.isInteger(keep) || keep < 2 || keep > 50) {
    io.err(`tandem upgrade: --keep must be a whole number from 2 to 50, got '${values.keep}'\n${USAGE}`);
    return 2;
  }
  const pkg = resolve(positionals[0]!);
  let src: { dir: string; cleanup: () => void };
  try {
    src = statSync(pkg).isDirectory() ? { dir: pkg, cleanup: () => undefined } : await unpack(pkg);
  } catch (err) {
    io.err(`tandem upgrade: ${pkg}: ${(err as Error).message}`);
    return 1;
  }
  try {
    const r = installVersion(root, src.dir, keep);
    io.out(`version ${r.version} installed in ${join(root, "versions", r.version)} and made current${r.was ? ` (${r.was} kept as previous: tandem rollback returns to it)` : ""}`);
    if (r.pruned.length) io.out(`older versions removed: ${r.pruned.join(", ")}`);
    io.out("the node runs it from its next start: restart it (systemctl restart tandem-PAIR-NODE); on a pair, the standby first, then switch over, then the other");
    return 0;
  } catch (err) {
    io.err(`tandem upgrade: ${(err as Error).message}; nothing changed`);
    return 1;
  } finally {
    src.cleanup();
  }
}

export async function runRollback(argv: string[], io: Io = stdio): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { root: { type: "string" }, config: { type: "string" } } }));
  } catch (err) {
    io.err(`tandem rollback: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (positionals.length) {
    io.err(`tandem rollback: unexpected '${positionals[0]}'\n${USAGE}`);
    return 2;
  }
  const t = target("rollback", values, io);
  if (!t) return 2;
  const { root } = t;
  try {
    const r = rollback(root);
    io.out(`version ${r.to} is current again (${r.from} kept as previous); the node runs it from its next start: restart it`);
    const i = installed(root);
    io.out(`versions in ${root}: ${i.versions.join(", ")}`);
    return 0;
  } catch (err) {
    io.err(`tandem rollback: ${(err as Error).message}; nothing changed`);
    return 1;
  }
}
