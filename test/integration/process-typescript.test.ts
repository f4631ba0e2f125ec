// Process modules written in TypeScript, on a real pair: a .ts module (an
// enum, an interface, `as` casts, a relative import of a .ts helper, a
// type-only import of `tandem/process`) loads on both nodes, runs on the
// active and its context reaches the standby; its build lands in each node's
// data dir, nothing beside the sources. A .ts module with a syntax error is
// reported failed on both nodes with its file, line and column, and one that
// throws names the .ts line in its ALARM; the node and the sibling go on.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessView } from "../../runtime/processes/host.js";
import { waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
const site = mkdtempSync(join(tmpdir(), "tandem-ts-site-"));

const SOURCES: Record<string, string> = {
  "batch.ts": `import type { ProcessContext } from "tandem/process";
import { next, Step, type Recipe } from "./steps.ts";

interface Options { recipe: Recipe; stepMs: number }

export async function start(ctx: ProcessContext): Promise<void> {
  const o = ctx.options as unknown as Options;
  if (!ctx.resumed) await ctx.setStep(Step.Fill, { batch: 1, heatTo: o.recipe.heatTo });
  while (!ctx.signal.aborted) {
    await ctx.timer(String(ctx.step), o.stepMs);
    const step = next(ctx.step as Step);
    await ctx.setStep(step, step === Step.Fill ? { batch: (ctx.get<number>("batch") ?? 0) + 1 } : {});
  }
}
`,
  "steps.ts": `export enum Step { Fill = "fill", Heat = "heat", Drain = "drain" }
export interface Recipe { heatTo: number }
const ORDER: readonly Step[] = [Step.Fill, Step.Heat, Step.Drain];
export function next(s: Step): Step {
  return ORDER[(ORDER.indexOf(s) + 1) % ORDER.length];
}
`,
  "broken.ts": `export async function start(ctx: unknown): Promise<void> {
  const level: number = 1 +;
}
`,
  "thrower.ts": `import { checkLevel } from "./guard.ts";
export async function start(): Promise<void> {
  checkLevel(120 as number);
}
`,
  "guard.ts": `interface Limit { max: number }
const limit: Limit = { max: 100 };
export function checkLevel(level: number): void {
  if (level > limit.max) throw new Error(\`level \${level} over \${limit.max}\`);
}
`,
};

beforeAll(() => {
  mkdirSync(site, { recursive: true });
  for (const [name, text] of Object.entries(SOURCES)) writeFileSync(join(site, name), text);
});
afterAll(() => rmSync(site, { recursive: true, force: true }));

const extra = () => `replication: { mode: sync }
processes:
  batch:
    module: ${JSON.stringify(join(site, "batch.ts"))}
    options: { recipe: { heatTo: 72 }, stepMs: 300 }
  broken:
    module: ${JSON.stringify(join(site, "broken.ts"))}
  thrower:
    module: ${JSON.stringify(join(site, "thrower.ts"))}
`;

async function views(c: Cluster, id: "a" | "b"): Promise<Record<string, ProcessView>> {
  const r = await c.api(id, "GET", "/context", undefined, "viewer");
  expect(r.status).toBe(200);
  return Object.fromEntries((r.json as { processes: ProcessView[] }).processes.map((p) => [p.name, p]));
}

describe("process modules written in TypeScript", () => {
  it("a .ts module with a .ts helper loads on both nodes and runs on the active; a syntax error is reported failed with file:line:column and the node and its sibling go on", async () => {
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();

    // the batch runs through its steps on the active, with what the helper and the options gave
    await waitUntil("the TypeScript batch in its second batch", async () => ((await views(c, active)).batch?.content.batch as number) >= 2, { timeoutMs: 20_000 });
    const onActive = await views(c, active);
    expect(onActive.batch.state).toBe("running");
    expect(onActive.batch.content.heatTo).toBe(72);
    expect(["fill", "heat", "drain"]).toContain(onActive.batch.step);

    // the syntax error: failed, named by file, line and column; the node stays active
    const where = `${join(site, "broken.ts")}:2:28`;
    expect(onActive.broken.state).toBe("failed");
    expect(onActive.broken.error).toBe(`cannot load ${join(site, "broken.ts")}: ${where}: Unexpected ";"`);
    expect((await c.status(active))?.state).toBe("active");

    // the throw: failed, its ALARM's stack names the .ts lines, not the build's
    expect(onActive.thrower.state).toBe("failed");
    expect(onActive.thrower.error).toBe("it threw: Error: level 120 over 100");
    const alarm = c.logLines(active).find((l) => l.includes("ALARM: process thrower stopped"));
    expect(alarm).toContain(`${join(site, "guard.ts")}:4:`);
    expect(alarm).toContain(`${join(site, "thrower.ts")}:3:`);

    // the standby loaded them too (not run: idle), reports the broken one the same way, holds the context
    await waitUntil("the standby's batch context the same as the active's", async () => (await views(c, standby)).batch.seq === (await views(c, active)).batch.seq, { timeoutMs: 10_000 });
    const onStandby = await views(c, standby);
    expect(onStandby.batch.state).toBe("idle");
    expect(onStandby.batch.content.heatTo).toBe(72);
    expect(onStandby.broken.state).toBe("failed");
    expect(onStandby.broken.error).toContain(where);
    expect(c.logLines(standby).some((l) => l.includes("ALARM: process broken stopped") && l.includes("const level: number = 1 +;"))).toBe(true);

    // each node built into its own data dir; nothing was written beside the sources
    for (const id of ["a", "b"] as const) expect(readdirSync(join(c.dir, `data-${id}`, "processes", "batch"))).toEqual([expect.stringMatching(/^[0-9a-f]{16}\.mjs$/)]);
    expect(readdirSync(site).sort()).toEqual(Object.keys(SOURCES).sort());
  }, 60_000);
});
