// Process modules written in TypeScript (runtime/processes/module-import.ts):
// transpiled at load into the build dir (the node's data dir), never beside
// the config; their relative .ts imports bundled in, packages resolved from
// the module's own folder; a changed file built and imported afresh; a
// syntax error named by file, line and column.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importModule, isTypeScript } from "../../runtime/processes/module-import.js";

const root = mkdtempSync(join(tmpdir(), "tandem-tsmod-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** a site folder with the given files, and an empty build dir beside it */
function site(files: Record<string, string>): { dir: string; build: string } {
  const dir = join(root, `site-${++n}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, build: join(root, `build-${n}`) };
}

const HELPER = `export enum Step { Fill = "fill", Heat = "heat" }
export interface Recipe { heatTo: number }
export const next = (s: Step): Step => (s === Step.Fill ? Step.Heat : Step.Fill);
`;

const MODULE = `import { next, Step, type Recipe } from "./steps.ts";
import { helperName } from "./lib/name";
import { colon } from "./lib/colon.js";
type Options = { recipe?: Recipe };
export function plan(options: Options): string {
  const r = (options.recipe ?? { heatTo: 60 }) as Recipe;
  return \`\${helperName}\${colon} \${next(Step.Fill)} to \${r.heatTo}\`;
}
export async function start(): Promise<void> {}
`;

describe("TypeScript process modules", () => {
  it("transpiles a module with types, an interface, an enum, casts and relative imports (./x.ts, ./x, ./x.js of a .ts file) into the build dir, and imports it", async () => {
    const s = site({ "batch.ts": MODULE, "steps.ts": HELPER, "lib/name.ts": `export const helperName: string = "batch";\n`, "lib/colon.ts": `export const colon = ":" as const;\n` });
    const mod = (await importModule(join(s.dir, "batch.ts"), "batch", s.build)) as { plan(o: object): string; start: unknown };
    expect(mod.plan({ recipe: { heatTo: 72 } })).toBe("batch: heat to 72");
    expect(typeof mod.start).toBe("function");
    const built = readdirSync(join(s.build, "batch"));
    expect(built).toHaveLength(1);
    expect(built[0]).toMatch(/^[0-9a-f]{16}\.mjs$/);
    expect(readdirSync(s.dir).sort()).toEqual(["batch.ts", "lib", "steps.ts"]); // nothing written beside the source
  });

  it("builds a changed helper afresh and drops the old build; an unchanged module keeps its file", async () => {
    const s = site({ "m.mts": `import { k } from "./k.ts";\nexport const value = (): number => k;\nexport function start() {}\n`, "k.ts": `export const k: number = 1;\n` });
    const file = join(s.dir, "m.mts");
    const first = (await importModule(file, "m", s.build)) as { value(): number };
    expect(first.value()).toBe(1);
    const [old] = readdirSync(join(s.build, "m"));
    const written = statSync(join(s.build, "m", old)).mtimeMs;

    await importModule(file, "m", s.build);
    expect(readdirSync(join(s.build, "m"))).toEqual([old]);
    expect(statSync(join(s.build, "m", old)).mtimeMs).toBe(written);

    writeFileSync(join(s.dir, "k.ts"), `export const k: number = 2;\n`);
    const second = (await importModule(file, "m", s.build)) as { value(): number };
    expect(second.value()).toBe(2);
    const now = readdirSync(join(s.build, "m"));
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(old);
  });

  it("resolves a package from the module's own folder, as Node would for a .js module there", async () => {
    const s = site({
      "uses-pkg.ts": `import { answer } from "site-pkg";\nexport const value: number = answer();\nexport function start() {}\n`,
      "node_modules/site-pkg/package.json": JSON.stringify({ name: "site-pkg", type: "module", exports: { module: "./wrong.js", default: "./index.js" } }),
      "node_modules/site-pkg/index.js": `export const answer = () => 42;\n`,
      "node_modules/site-pkg/wrong.js": `export const answer = () => -1;\n`,
    });
    const mod = (await importModule(join(s.dir, "uses-pkg.ts"), "p", s.build)) as { value: number };
    expect(mod.value).toBe(42); // Node's conditions: not esbuild's "module"
    const [built] = readdirSync(join(s.build, "p"));
    const text = await import("node:fs").then((fs) => fs.readFileSync(join(s.build, "p", built), "utf8"));
    expect(text).not.toContain("() => 42"); // imported, not copied in
  });

  it("a syntax error names the file, line and column and shows the line; one in a helper names the helper", async () => {
    const s = site({ "bad.ts": `export async function start(ctx: unknown) {\n  const x: number = 1 +;\n}\n`, "uses-bad.ts": `import { h } from "./helper.ts";\nexport const start = h;\n`, "helper.ts": `export const h = () => {\n\n  let é = "a" "b";\n};\n` });
    const bad = importModule(join(s.dir, "bad.ts"), "bad", s.build);
    await expect(bad).rejects.toThrow(`${join(s.dir, "bad.ts")}:2:24: Unexpected ";"`);
    await expect(bad).rejects.toThrow("const x: number = 1 +;\n                           ^");
    await expect(importModule(join(s.dir, "uses-bad.ts"), "ub", s.build)).rejects.toThrow(`${join(s.dir, "helper.ts")}:3:15: Expected ";" but found "\\"b\\""`);
    expect(() => readdirSync(join(s.build, "bad"))).toThrow(/ENOENT/); // nothing built
  });

  it("the build carries its source map: a throw in a helper names the .ts file and line in its stack", async () => {
    const s = site({ "t.ts": `import { check } from "./check.ts";\nexport async function start(): Promise<void> {\n  check(3 as number);\n}\n`, "check.ts": `interface Limit { max: number }\nconst limit: Limit = { max: 2 };\nexport function check(n: number): void {\n  if (n > limit.max) throw new Error(\`\${n} over \${limit.max}\`);\n}\n` });
    const mod = (await importModule(join(s.dir, "t.ts"), "t", s.build)) as { start(): Promise<void> };
    const err = await mod.start().then(() => null, (e: Error) => e);
    expect(err?.message).toBe("3 over 2");
    expect(err?.stack).toContain(`${join(s.dir, "check.ts")}:4:`);
    expect(err?.stack).toContain(`${join(s.dir, "t.ts")}:3:`);
  });

  it("imports a .js module as it is, building nothing", async () => {
    const s = site({ "plain.js": `export const kind = "js";\nexport function start() {}\n` });
    expect(((await importModule(join(s.dir, "plain.js"), "plain", s.build)) as { kind: string }).kind).toBe("js");
    expect(() => readdirSync(s.build)).toThrow(/ENOENT/);
    expect([isTypeScript("a.ts"), isTypeScript("a.MTS"), isTypeScript("a.mjs"), isTypeScript("a.d.ts.js")]).toEqual([true, true, false, false]);
  });
});
