// The typed API for authors of process modules: `import type { ProcessContext }
// from "tandem/process"` resolves (package.json `exports` → the built
// declarations) in the author's own folder, where Tandem is a package, and
// tsc checks a module against it: right use passes, wrong use is refused.
// Needs the build (`npm test` builds first).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cluster.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-author-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** tsc over one file in the author's folder: its exit code and what it said */
function tsc(name: string, text: string): { code: number | null; out: string } {
  writeFileSync(join(dir, name), text);
  const args = ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--allowImportingTsExtensions", join(dir, name)];
  const r = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), ...args], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("the typed API of process modules", () => {
  it("`tandem/process` gives ProcessContext and ProcessModule: a module using them right checks, one using them wrong is refused", () => {
    expect(existsSync(join(ROOT, "dist/runtime/processes/author-types.d.ts")), "the declarations are built (npm run build)").toBe(true);
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    symlinkSync(ROOT, join(dir, "node_modules", "tandem"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));

    const good = tsc(
      "batch.ts",
      `import type { ProcessContext, ProcessModule } from "tandem/process";
export async function start(ctx: ProcessContext): Promise<void> {
  if (!ctx.resumed) await ctx.setStep("fill", { batch: 1 });
  const n: number | undefined = ctx.get<number>("batch");
  ctx.log.info(\`batch \${n ?? 0} at \${ctx.step ?? "-"}\`);
  await ctx.timer("fill", Number(ctx.options.fillMs ?? 1000));
}
export const module: ProcessModule = { start };
`,
    );
    expect(good.out).toBe("");
    expect(good.code).toBe(0);

    const bad = tsc(
      "wrong.ts",
      `import type { ProcessContext } from "tandem/process";
export async function start(ctx: ProcessContext): Promise<void> {
  await ctx.setStep(1);
  ctx.resume();
}
`,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/wrong\.ts\(3,\d+\): error TS2345/); // a number is not a step
    expect(bad.out).toMatch(/wrong\.ts\(4,\d+\): error TS2551: Property 'resume' does not exist/);
  }, 60_000);
});
