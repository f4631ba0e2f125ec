// The events recorder's own rules (runtime/events/recorder.ts): an event's
// text is bounded, a row the store can never take is dropped and counted
// (not retried for ever, holding up every later event), any other refusal is
// retried.
import { describe, expect, it } from "vitest";
import { TandemError } from "../../core/errors.js";
import { nullLogger } from "../../core/logger.js";
import type { RowWrite } from "../../redundancy/storage.js";
import { EventRecorder } from "../../runtime/events/recorder.js";

function recorder(answer: (rows: RowWrite[]) => Promise<unknown>) {
  const writes: RowWrite[][] = [];
  const r = new EventRecorder("a", true, { acting: () => true, now: () => 1_700_000_000_000, write: (rows) => (writes.push(rows), answer(rows)) }, nullLogger);
  return { r, writes };
}

describe("events recorder", () => {
  it("keeps at most 4000 characters of an event's text (an alarm may carry a stack trace)", async () => {
    const { r, writes } = recorder(async () => undefined);
    r.record("process-failed", "alarm", "x".repeat(10_000));
    await r.flush();
    const body = JSON.parse(writes[0][0].body as string) as { text: string };
    expect(body.text).toHaveLength(4001);
    expect(body.text.endsWith("…")).toBe(true);
    expect(r.written).toBe(1);
  });

  it("drops rows the store refuses as records (never writable) and goes on with the next; retries any other refusal", async () => {
    let refuse: "record" | "busy" | null = "record";
    const { r, writes } = recorder(async () => {
      if (refuse === "record") throw new TandemError("TANDEM_ERR_RECORD", ["_events", "too large"]);
      if (refuse === "busy") throw new TandemError("TANDEM_ERR_NOT_ACTIVE", ["write", "node is not active"]);
    });
    r.record("takeover", "alarm", "first");
    await r.flush();
    expect(r.expired).toBe(1);
    refuse = "busy";
    r.record("confirm", "info", "second");
    await r.flush();
    expect(r.written).toBe(0);
    refuse = null;
    await r.flush();
    expect(r.written).toBe(1);
    const texts = writes.map((w) => w.map((x) => (JSON.parse(x.body as string) as { text: string }).text));
    expect(texts).toEqual([["first"], ["second"], ["second"]]);
  });
});
