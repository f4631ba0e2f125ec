// The layers of DESIGN.md ("Components and where they live"): runtime/ is the
// composition root and uses redundancy/ and drivers/; those two share core/
// and never import runtime/ (nor each other); core/ imports none of them.
// No import cycle anywhere, and no source file a stranger cannot read in one
// sitting (over 500 lines) without a written reason — the tests and their
// helpers included.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import madge from "madge";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const FOLDERS = ["core", "runtime", "redundancy", "drivers"] as const;
type Folder = (typeof FOLDERS)[number];

/** what each folder may import besides itself */
const ALLOWED: Record<Folder, Folder[]> = {
  core: [],
  redundancy: ["core"],
  drivers: ["core"],
  runtime: ["core", "redundancy", "drivers"],
};

const MAX_LINES = 500;
/** A longer file says why in a comment line starting "// Size:". */
const SIZE_REASON = /^\/\/ Size: \S/m;

let graph: Record<string, string[]>;
let cycles: string[][];

beforeAll(async () => {
  const m = await madge(FOLDERS.map((f) => resolve(ROOT, f)), { baseDir: ROOT, fileExtensions: ["ts"], tsConfig: resolve(ROOT, "tsconfig.json") });
  graph = m.obj();
  cycles = m.circular();
}, 60_000);

const folderOf = (file: string): Folder | null => (FOLDERS as readonly string[]).find((f) => file.startsWith(`${f}/`)) as Folder | undefined ?? null;

describe("layers: imports run one way", () => {
  it("sees every source file (the check is not vacuous)", () => {
    for (const f of FOLDERS) expect(Object.keys(graph).some((file) => file.startsWith(`${f}/`)), f).toBe(true);
    expect(graph["runtime/node.ts"]).toContain("redundancy/pair-runtime.ts");
  });

  it("core, redundancy and drivers import only what their layer allows", () => {
    const wrong: string[] = [];
    for (const [file, deps] of Object.entries(graph)) {
      const from = folderOf(file);
      if (!from) continue;
      for (const dep of deps) {
        const to = folderOf(dep);
        if (to && to !== from && !ALLOWED[from].includes(to)) wrong.push(`${file} → ${dep}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(cycles.map((c) => c.join(" → "))).toEqual([]);
  });

  it(`no source file is over ${MAX_LINES} lines without a written reason`, () => {
    const long: string[] = [];
    for (const file of Object.keys(graph)) {
      const text = readFileSync(resolve(ROOT, file), "utf8");
      const lines = text.split("\n").length;
      if (lines > MAX_LINES && !SIZE_REASON.test(text)) long.push(`${file} (${lines} lines)`);
    }
    expect(long).toEqual([]);
  });

  it(`no test or test helper is over ${MAX_LINES} lines without a written reason`, () => {
    const files = (readdirSync(resolve(ROOT, "test"), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(50);
    const long = files.flatMap((f) => {
      const text = readFileSync(join(ROOT, "test", f), "utf8");
      const lines = text.split("\n").length;
      return lines > MAX_LINES && !SIZE_REASON.test(text) ? [`test/${f} (${lines} lines)`] : [];
    });
    expect(long).toEqual([]);
  });
});
