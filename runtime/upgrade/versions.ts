// Tandem's versions side by side under an install root:
//   ROOT/versions/<version>/   one whole build each (package.json, dist/, node_modules/, runtime/hmi/)
//   ROOT/current  → versions/<version>   what the service runs (its ExecStart goes through it)
//   ROOT/previous → versions/<version>   what `tandem rollback` returns to
// A new version is installed beside the running one, checked (it is Tandem,
// it starts and says its version), then `current` is swung to it in one
// rename; the one before stays as `previous`; older ones are pruned.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

export interface Installed {
  root: string;
  current: string | null;
  previous: string | null;
  /** every version under versions/, newest install first is not known: sorted by name */
  versions: string[];
}

const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;

function link(root: string, name: "current" | "previous"): string | null {
  const p = join(root, name);
  try {
    if (!lstatSync(p).isSymbolicLink()) return null;
  } catch {
    return null;
  }
  return basename(readlinkSync(p));
}

export function installed(root: string): Installed {
  const dir = join(root, "versions");
  const versions = existsSync(dir) ? readdirSync(dir).filter((v) => VERSION.test(v) && !v.endsWith(".partial")).sort() : [];
  return { root, current: link(root, "current"), previous: link(root, "previous"), versions };
}

/** The install root of the build this file belongs to (ROOT/versions/V/dist/runtime/upgrade/…), or null when it runs from elsewhere (a checkout). */
export function rootOfRunningBuild(file: string): string | null {
  // dist/runtime/upgrade/versions.js → the package folder is three up from its folder
  const pkg = resolve(dirname(file), "..", "..", "..");
  const versions = dirname(pkg);
  if (basename(versions) !== "versions") return null;
  const root = dirname(versions);
  return existsSync(join(root, "current")) ? root : null;
}

/** The version a build says it is (its package.json), checked to be Tandem's. */
export function buildVersion(dir: string): string {
  let pkg: { name?: unknown; version?: unknown };
  try {
    pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as typeof pkg;
  } catch (err) {
    throw new Error(`${dir} is not a Tandem build: no package.json (${(err as Error).message})`);
  }
  if (pkg.name !== "tandem") throw new Error(`${dir} is not a Tandem build: its package.json names '${String(pkg.name)}'`);
  if (typeof pkg.version !== "string" || !VERSION.test(pkg.version)) throw new Error(`${dir}: its package.json has no usable version`);
  if (!existsSync(join(dir, "dist", "runtime", "cli.js"))) throw new Error(`${dir} is not a built Tandem: dist/runtime/cli.js is missing (npm run build)`);
  if (!existsSync(join(dir, "node_modules"))) throw new Error(`${dir} has no node_modules: install its dependencies first (npm ci --omit=dev)`);
  return pkg.version;
}

/** Points ROOT/name at versions/version, replacing the old link in one rename. */
function swing(root: string, name: "current" | "previous", version: string | null): void {
  const p = join(root, name);
  if (version === null) return void rmSync(p, { force: true });
  const tmp = join(root, `.${name}.tmp`);
  rmSync(tmp, { force: true });
  symlinkSync(join("versions", version), tmp);
  renameSync(tmp, p);
}

/**
 * Copies the build in `from` (a folder) to ROOT/versions/<its version>,
 * checks that it runs (`tandem version` answers its version), and makes it
 * current; the one that was current becomes previous. Returns the versions.
 */
export function installVersion(root: string, from: string, keep: number): { version: string; was: string | null; pruned: string[] } {
  const version = buildVersion(from);
  const before = installed(root);
  if (before.current === version) throw new Error(`version ${version} is already the current one`);
  const dir = join(root, "versions");
  mkdirSync(dir, { recursive: true });
  const partial = join(dir, `${version}.partial`);
  rmSync(partial, { recursive: true, force: true });
  cpSync(from, partial, { recursive: true, verbatimSymlinks: true });
  // it runs, and is the version it says
  let said: string;
  try {
    said = execFileSync(process.execPath, [join(partial, "dist", "runtime", "cli.js"), "version"], { encoding: "utf8", timeout: 30_000 }).trim();
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`the new build does not run: ${(err as Error).message.split("\n")[0]}`);
  }
  if (said !== version) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`the new build says it is '${said}', its package.json '${version}'`);
  }
  const target = join(dir, version);
  rmSync(target, { recursive: true, force: true });
  renameSync(partial, target);
  if (before.current) swing(root, "previous", before.current);
  swing(root, "current", version);
  return { version, was: before.current, pruned: prune(root, keep) };
}

/** Makes `previous` current again (and the current one previous). */
export function rollback(root: string): { from: string; to: string } {
  const i = installed(root);
  if (!i.previous || !i.versions.includes(i.previous)) throw new Error(`no previous version to return to under ${root}`);
  if (!i.current) throw new Error(`no current version under ${root}`);
  const from = i.current;
  swing(root, "current", i.previous);
  swing(root, "previous", from);
  return { from, to: i.previous };
}

/** Removes versions other than current and previous beyond `keep` in all (oldest names first). */
export function prune(root: string, keep: number): string[] {
  const i = installed(root);
  const keepSet = new Set([i.current, i.previous].filter((v): v is string => v !== null));
  const others = i.versions.filter((v) => !keepSet.has(v));
  const removable = others.slice(0, Math.max(0, others.length - Math.max(0, keep - keepSet.size)));
  for (const v of removable) rmSync(join(root, "versions", v), { recursive: true, force: true });
  return removable;
}
