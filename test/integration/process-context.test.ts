// S3 with the sample batch (config/demo/batch.js) driving the plant
// simulator: the context replicates to the standby as the batch runs; after
// a kill -9 of the active the new active holds the batch (the module does not
// run, the context does not move); confirm resumes at the step it was on,
// reject starts a fresh batch from fill. The witness of what reached the
// plant is the simulator's own log of the commands it received: its step
// register never goes back or skips a step except where an operator rejected.
// A module that throws is stopped and reported, and the node goes on.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoDriversConfig } from "../../drivers/demo-tags.js";
import { exited, freePort, ROOT, sleep, spawnCli, waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-batch-"));
let sim: ReturnType<typeof spawnCli>;
let ports: { modbus: number; opcua: number };

beforeAll(async () => {
  ports = { modbus: await freePort(), opcua: await freePort() };
  sim = spawnCli(["sim", "--modbus-port", String(ports.modbus), "--opcua-port", String(ports.opcua), "--data-dir", join(dir, "sim")]);
  await waitUntil("the simulator serving", () => sim.output().includes("plant simulator:"), { timeoutMs: 20_000, seen: () => sim.output() });
  writeFileSync(join(dir, "thrower.js"), `export async function start(ctx) { await ctx.set("armed", true); await ctx.sleep(300); throw new Error("a bug in the site's module"); }\n`);
});

afterAll(async () => {
  sim?.kill("SIGTERM");
  if (sim) await exited(sim);
  rmSync(dir, { recursive: true, force: true });
});

/** the batch steps the simulator received, in order (its own log), from a line index on */
function stepsWritten(from = 0): number[] {
  const out: number[] = [];
  const lines = sim.output().split("\n");
  for (let i = from; i < lines.length; i++) {
    const l = lines[i];
    if (!l.includes('"plant command"') && !l.includes("plant command")) continue;
    try {
      const j = JSON.parse(l) as { command?: { kind: string; value: number } };
      if (j.command?.kind === "batchStep") out.push(j.command.value);
    } catch {
      /* not a log line */
    }
  }
  return out;
}

/** complete lines so far: where the next command's line will be */
const simLines = () => sim.output().split("\n").length - 1;

/** the steps as the plant saw them: repeated writes of the same step (a resumed module re-entering it) are one */
const collapse = (xs: number[]) => xs.filter((x, i) => i === 0 || x !== xs[i - 1]);
const NEXT: Record<number, number> = { 1: 2, 2: 3, 3: 4, 4: 0, 0: 1 };

function expectInOrder(steps: number[], what: string): void {
  const s = collapse(steps);
  for (let i = 1; i < s.length; i++) expect(s[i], `${what}: step ${s[i - 1]} followed by ${s[i]} in ${JSON.stringify(s)}`).toBe(NEXT[s[i - 1]]);
}

const extra = () =>
  `${stringify({ drivers: demoDriversConfig("127.0.0.1", ports.modbus, ports.opcua) }, { lineWidth: 0 })}
replication: { mode: sync, tables: { batch_log: {} } }
processes:
  batch:
    module: ${JSON.stringify(join(ROOT, "config", "demo", "batch.js"))}
    options: { fillMs: 700, heatMs: 700, mixMs: 700, drainMs: 700, heatTo: 60, report: batch_log }
  thrower:
    module: ${JSON.stringify(join(dir, "thrower.js"))}
`;

async function batch(c: Cluster, id: "a" | "b") {
  const r = await c.api(id, "GET", "/context", undefined, "viewer");
  expect(r.status).toBe(200);
  return r.json as { held: boolean; seq: number; processes: { name: string; state: string; step: string | null; seq: number | null; content: Record<string, unknown>; error: string | null; resumedFrom: number | null }[] };
}

describe("S3: the sample batch held after a takeover, resumed by confirm, restarted by reject", () => {
  it("holds the batch where it was, resumes it at the same step on confirm, restarts it on reject; a throwing module is stopped and reported", async () => {
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();

    // the batch runs on the active; the context replicates to the standby
    await waitUntil("the batch in its second batch", async () => ((await batch(c, active)).processes.find((p) => p.name === "batch")?.content.batch as number) >= 2, { timeoutMs: 30_000 });
    const thrower = (await batch(c, active)).processes.find((p) => p.name === "thrower")!;
    expect(thrower.state).toBe("failed");
    expect(thrower.error).toContain("a bug in the site's module");
    expect((await c.status(active))?.state).toBe("active");
    await waitUntil("the standby's context identical", async () => {
      const [a, s] = [await c.status(active), await c.status(standby)];
      return a && s && a.context.seq > 0 && s.context.seq === a.context.seq && (await batch(c, standby)).processes.find((p) => p.name === "batch")?.step === (await batch(c, active)).processes.find((p) => p.name === "batch")?.step;
    }, { timeoutMs: 10_000 });

    // kill -9 in the middle of a step
    await waitUntil("the batch heating", async () => (await batch(c, active)).processes.find((p) => p.name === "batch")?.step === "heat", { timeoutMs: 15_000 });
    await sleep(200);
    c.signal(active, "SIGKILL");
    await c.exited(active);
    const held = await c.waitFor(standby, (s) => s.state === "active-held", 10_000, "the standby takes over, held");
    expect(held.context.held).toBe(true);
    const atTakeover = await batch(c, standby);
    const b = atTakeover.processes.find((p) => p.name === "batch")!;
    expect(b.state).toBe("held");
    expect(b.step).toBe("heat");
    const heldFrom = simLines();
    // held: nothing moves — not the context, not the plant's step
    await sleep(1500);
    expect((await c.status(standby))?.context.seq).toBe(held.context.seq);
    expect(stepsWritten(heldFrom)).toEqual([]);

    // confirm: resumed at heat, in order from there
    const beforeConfirm = simLines();
    expect((await c.api(standby, "POST", "/confirm", {}, "operator")).status).toBe(200);
    await waitUntil("the batch past drain after the confirm", () => collapse(stepsWritten(beforeConfirm)).includes(0), { timeoutMs: 15_000 });
    const afterConfirm = collapse(stepsWritten(beforeConfirm));
    expect(afterConfirm[0]).toBe(2); // heat again: re-entered, not skipped, not restarted
    const resumed = (await batch(c, standby)).processes.find((p) => p.name === "batch")!;
    expect(resumed.resumedFrom).toBe(b.seq);
    expectInOrder(stepsWritten(0), "the whole run, across the takeover and the confirm");

    // the killed node rejoins as standby; kill the new active in turn and reject
    c.startNode(active);
    await c.waitFor(active, (s) => s.state === "standby", 20_000, "the old active back as standby");
    await waitUntil("context identical again", async () => (await c.status(active))?.context.seq === (await c.status(standby))?.context.seq, { timeoutMs: 10_000 });
    await waitUntil("the batch mixing", async () => (await batch(c, standby)).processes.find((p) => p.name === "batch")?.step === "mix", { timeoutMs: 15_000 });
    c.signal(standby, "SIGKILL");
    await c.exited(standby);
    await c.waitFor(active, (s) => s.state === "active-held", 10_000, "held again");
    const beforeReject = simLines();
    expect((await c.api(active, "POST", "/reject", {}, "operator")).status).toBe(200);
    await waitUntil("a fresh batch filling", () => stepsWritten(beforeReject).length > 0, { timeoutMs: 10_000 });
    expect(stepsWritten(beforeReject)[0]).toBe(1); // restarted from fill
    const fresh = (await batch(c, active)).processes.find((p) => p.name === "batch")!;
    expect(fresh.content.batch).toBe(1);
    expect(fresh.resumedFrom).toBeNull();
    expectInOrder(stepsWritten(beforeReject), "after the reject");
    c.startNode(standby);
    await c.waitFor(standby, (s) => s.state === "standby", 20_000, "back as standby");
  }, 120_000);
});
