// A process module whose context write the replication cannot acknowledge
// (the peer away with whenPeerAway: refuse, the peer gone before it
// answered) waits where it is and goes on once the write is taken — it is
// not stopped for a peer that will be back. Found by the fault-injection
// runs (test/soak/): the sample batch died at the first standby outage.
import { describe, expect, it } from "vitest";
import { TandemError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { Row, RowWrite } from "../../redundancy/storage.js";
import { ModuleContext } from "../../runtime/processes/context.js";
import { makeContextApi } from "../../runtime/processes/module-api.js";

function api(refusals: TandemError[], signal = new AbortController().signal) {
  const said: string[] = [];
  const log = { info: (m: string) => said.push(m), warn: (m: string) => said.push(m), error: (m: string) => said.push(m), debug: () => undefined } as unknown as Logger;
  let seq = 0;
  const tried: RowWrite[][] = [];
  const ports = {
    async write(ws: RowWrite[]): Promise<Row[]> {
      tried.push(ws);
      const e = refusals.shift();
      if (e) throw e;
      return ws.map((w) => ({ ...w, seq: ++seq, epoch: 3, at: Date.now() }) as Row);
    },
    tag: () => undefined,
    writeTag: async () => undefined,
    record: async () => ({ seq: 0, epoch: 0 }),
    wallClock: () => Date.now(),
  };
  const ctx = makeContextApi({ name: "batch", resumed: false, signal, options: {}, log, context: new ModuleContext("batch"), ports });
  return { ctx, said, tried };
}

const away = () => new TandemError("TANDEM_ERR_NOT_REPLICATED", ["the peer is away and replication.whenPeerAway is refuse: nothing was written"]);

describe("a process module's context write the replication cannot acknowledge", () => {
  it("waits and goes on once the write is taken, saying so once each way", async () => {
    const { ctx, said, tried } = api([away(), away(), away()]);
    await ctx.setStep("heat", { batch: 4 });
    expect(tried).toHaveLength(4);
    expect(tried.every((w) => JSON.stringify(w) === JSON.stringify(tried[0]))).toBe(true); // the same write each time
    expect(ctx.step).toBe("heat");
    expect(ctx.get("batch")).toBe(4);
    expect(said.filter((m) => m.includes("waits"))).toHaveLength(1);
    expect(said.filter((m) => m.includes("goes on"))).toHaveLength(1);
  });

  it("stops waiting when the module must stop, and other refusals are the module's to handle", async () => {
    const stop = new AbortController();
    const { ctx } = api([away(), away(), away(), away(), away(), away()], stop.signal);
    const p = ctx.set("k", 1);
    setTimeout(() => stop.abort(), 150);
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
    const other = api([new TandemError("TANDEM_ERR_NOT_ACTIVE", ["context write", "node is standby, not active"])]);
    await expect(other.ctx.set("k", 1)).rejects.toMatchObject({ code: "TANDEM_ERR_NOT_ACTIVE" });
  });
});
