// Imports a process module file. A `.js` or `.mjs` module is imported as it
// is. Node 20 cannot run TypeScript, so a `.ts` or `.mts` module is first
// transpiled with esbuild: its types are stripped (not checked), the files it
// imports by a relative path (`./steps.ts`) are bundled in, and packages are
// left to Node, resolved from the module's own folder as they would be for a
// `.js` module there. The result goes to the node's data dir (never beside
// the config), to `<buildDir>/<process>/<hash of the output>.mjs`: a changed
// module or helper is a new file and is imported afresh; an unchanged one is
// transpiled again (milliseconds) but not rewritten.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, extname, isAbsolute, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { BuildFailure, Message, Plugin } from "esbuild";

const TYPESCRIPT = new Set([".ts", ".mts"]);

export function isTypeScript(file: string): boolean {
  return TYPESCRIPT.has(extname(file).toLowerCase());
}

/**
 * Imports the module at `path` for the process `name`; a TypeScript one is transpiled to
 * `buildDir/name/`. A syntax error rejects with `file:line:column: what`.
 */
export async function importModule(path: string, name: string, buildDir: string): Promise<unknown> {
  const file = resolve(path); // as Node would take a relative one: from the working directory
  if (!isTypeScript(file)) return import(pathToFileURL(file).href);
  const dir = join(buildDir, name);
  const code = await transpile(file, dir);
  const out = join(dir, `${createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    // the older builds of this process are no longer wanted: the node imports one
    for (const old of readdirSync(dir)) rmSync(join(dir, old), { force: true });
    // whole or not at all: a node killed mid-write leaves no half module under the hash's name
    writeFileSync(`${out}.tmp`, code);
    renameSync(`${out}.tmp`, out);
  }
  // the build carries its source map: a module's stack trace (the ALARM of a
  // module that threw) names the .ts file and line the author knows
  process.setSourceMapsEnabled(true);
  return import(pathToFileURL(out).href);
}

let building = 0;

async function transpile(file: string, outdir: string): Promise<string> {
  const cwd = dirname(file);
  // loaded here, not at the top: a node with only .js modules (most CLI commands too) never needs it
  const { build, stop } = await import("esbuild");
  building++;
  try {
    const r = await build({
      entryPoints: [file],
      absWorkingDir: cwd, // esbuild names files in its messages from here
      bundle: true,
      write: false,
      outdir, // where the source map's paths start from
      platform: "node",
      format: "esm",
      target: "node20",
      conditions: ["node"], // Node's own conditions (esbuild would add "module")
      sourcemap: "inline",
      sourcesContent: false,
      logLevel: "silent",
      plugins: [packagesFromTheModulesFolder],
    });
    return r.outputFiles[0].text;
  } catch (err) {
    const errors = (err as Partial<BuildFailure>).errors;
    if (!errors?.length) throw err;
    throw new Error(errors.slice(0, 3).map((m) => describe(m, cwd)).join("\n") + (errors.length > 3 ? `\n(and ${errors.length - 3} more errors)` : ""));
  } finally {
    // esbuild keeps a child process for the next build: the modules load once, so let it go
    if (--building === 0) await stop();
  }
}

/** `/site/batch.ts:12:7: Expected ";" but found "x"`, then the line and a caret under the spot */
function describe(m: Message, cwd: string): string {
  const l = m.location;
  if (!l) return m.text;
  // esbuild counts columns from 0 in bytes; editors (and people) count characters from 1
  const col = Buffer.from(l.lineText).subarray(0, l.column).toString().length;
  const where = `${resolve(cwd, l.file)}:${l.line}:${col + 1}`;
  return `${where}: ${m.text}\n    ${l.lineText}\n    ${" ".repeat(col)}^`;
}

const OURS = Symbol("resolved by tandem");

/**
 * A package import stays an import, of the file Node would find from the
 * module's folder (a file: URL, as the output lives in the data dir); an
 * import that resolves to a file outside node_modules (a tsconfig path) is
 * bundled like a relative one.
 */
const packagesFromTheModulesFolder: Plugin = {
  name: "tandem-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === OURS || args.kind === "entry-point" || isAbsolute(args.path)) return undefined;
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: OURS });
      if (r.errors.length) return { errors: r.errors };
      if (r.external || !r.path.includes(`${sep}node_modules${sep}`)) return { path: r.path, external: r.external, namespace: r.namespace };
      return { path: pathToFileURL(r.path).href, external: true };
    });
  },
};
