// A process module asked to stop (the node no longer drives the process)
// whose last call fails on the way out — a write to a PLC that no longer
// answers, turned into the module's own error — is stopped, not failed: it
// starts again when the node may drive the process again. Before, it was
// marked failed with an alarm, and a failed module is not started again
// until an operator rejects a takeover (found by the fault-injection soak).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Logger } from "../../core/logger.js";
import type { Row, RowWrite } from "../../redundancy/storage.js";
import { processesSection } from "../../runtime/processes/config-schema.js";
import { ProcessHost } from "../../runtime/processes/host.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { waitUntil } from "../helpers/cluster.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("a process module stopped while its last call fails", () => {
  it("is stopped, not failed, and starts again when the node may drive the process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-proc-stop-"));
    dirs.push(dir);
    writeFileSync(join(dir, "valve.js"), `export async function start(ctx) {\n  try { await ctx.sleep(60000); } catch { throw new Error("the valve did not answer"); }\n}\n`);
    const storage = new SqliteStorage({ file: join(dir, "db.sqlite") });
    await storage.open();
    let may = true;
    const said: string[] = [];
    const alarms: string[] = [];
    const log = { info: (m: string) => said.push(m), warn: (m: string) => said.push(m), error: (m: string) => said.push(m), debug: () => undefined, child: () => log } as unknown as Logger;
    let seq = 0;
    const host = new ProcessHost({
      processes: processesSection.parse({ valve: { module: join(dir, "valve.js"), stopTimeoutMs: 1000 } }),
      storage,
      ports: { write: async (ws: RowWrite[]) => ws.map((w) => ({ ...w, seq: ++seq, epoch: 1, at: Date.now() }) as Row), tag: () => undefined, writeTag: async () => undefined, record: async () => ({ seq: 0, epoch: 0 }), wallClock: () => Date.now() },
      pair: { mayRun: () => may, held: () => false, contextSeq: () => 0 },
      buildDir: join(dir, "build"),
      log,
      alarm: (t) => alarms.push(t),
      setUp: () => undefined,
    });
    try {
      await host.load();
      host.reconcile();
      const state = () => host.views()[0]!.state;
      await waitUntil("running", () => state() === "running");
      may = false;
      host.reconcile();
      await waitUntil("stopped", () => state() !== "running" && state() !== "stopping");
      expect(state()).toBe("idle");
      expect(alarms).toEqual([]);
      expect(said.some((m) => m.includes("its last call failed on the way out: the valve did not answer"))).toBe(true);
      may = true;
      host.reconcile();
      await waitUntil("running again", () => state() === "running");
    } finally {
      await host.stop();
      await storage.close();
    }
  });
});
