// A standby's own events (its host, its backups, its services) go to the
// active over the peer link, which writes them as the standby's; what the
// active takes from the link is checked field by field (it came over the
// network), and the pair's own events stay with the node that saw them.
import { describe, expect, it } from "vitest";
import { nullLogger } from "../../core/logger.js";
import type { PairRuntime } from "../../redundancy/pair-runtime.js";
import type { TandemConfig } from "../../runtime/config/schema.js";
import type { EventRow } from "../../runtime/events/recorder.js";
import { NodeHistory, PEER_EVENTS_TOPIC } from "../../runtime/node-history.js";

function node(id: "a" | "b", state: string, peerState: string, heardAgoMs = 50) {
  const sent: { topic: string; data: Record<string, unknown> }[] = [];
  const now = 1_000_000;
  const rt = {
    state: { state, epoch: 3, peer: { state: peerState, heardAt: now - heardAgoMs } },
    params: { peerId: id === "a" ? "b" : "a" },
    canAct: () => state === "active",
    now: () => now,
    sendPeerApp: (topic: string, data: Record<string, unknown>) => (sent.push({ topic, data }), true),
    on: () => {},
  } as unknown as PairRuntime;
  const config = { node: { id }, peer: { id: id === "a" ? "b" : "a" }, heartbeat: { timeoutMs: 500 }, events: { enabled: true, retentionDays: 30 }, history: {}, drivers: undefined } as unknown as TandemConfig;
  const h = new NodeHistory({ config, runtime: rt, records: () => null, drivers: () => null, log: nullLogger });
  const seen: EventRow[] = [];
  h.events.listeners.add((e) => seen.push(e));
  return { h, sent, seen, rt: rt as unknown as { state: { peer: { state: string; heardAt: number } } }, now };
}

describe("events of a standby", () => {
  it("an alarm of the standby's own parts goes to the active, which writes it as the standby's", () => {
    const b = node("b", "standby", "active");
    b.h.alarm("backup", "backup failed: disk full");
    b.h.events.record("takeover", "alarm", "the pair's own event: stays here");
    expect(b.sent).toHaveLength(1);
    expect(b.sent[0]!.topic).toBe(PEER_EVENTS_TOPIC);
    const rows = b.sent[0]!.data.rows as EventRow[];
    expect(rows).toEqual([{ type: "backup", severity: "alarm", text: "backup failed: disk full", node: "b", at: expect.any(Number) }]);
    // the active takes it as b's, with b's time
    const a = node("a", "active", "standby");
    a.h.acceptPeerEvents(b.sent[0]!.data);
    expect(a.seen).toEqual([rows[0]]);
  });

  it("with no active peer to take it (not visible, or not active), it waits on the standby", () => {
    const away = node("b", "standby", "active", 5000);
    away.h.alarm("host-disk", "96% used");
    const both = node("b", "standby", "standby");
    both.h.alarm("host-disk", "96% used");
    expect(away.sent).toEqual([]);
    expect(both.sent).toEqual([]);
  });

  it("one that waited is offered again, in order, once an active peer is heard", async () => {
    const b = node("b", "standby", "active", 5000);
    b.h.alarm("backup", "first");
    b.h.alarm("backup", "second");
    expect(b.sent).toEqual([]);
    await b.h.events.flush();
    expect(b.sent).toEqual([]);
    b.rt.state.peer.heardAt = b.now - 10; // heard again
    b.h.alarm("backup", "third");
    expect(b.sent).toEqual([]); // behind the two that wait: order kept
    await b.h.events.flush();
    expect(b.sent.flatMap((x) => (x.data.rows as EventRow[]).map((r) => r.text))).toEqual(["first", "second", "third"]);
  });

  it("takes from the link only events of its peer as Tandem writes them; the rest is dropped and said", () => {
    const a = node("a", "active", "standby");
    const good = { type: "restore-test", severity: "alarm", text: "FAILED", node: "b", at: 5 };
    a.h.acceptPeerEvents({
      rows: [
        good,
        { ...good, node: "a" }, // not the peer's
        { ...good, severity: "critical" },
        { ...good, type: "Backup; DROP" },
        { ...good, text: "x".repeat(10_000) },
        { ...good, at: Number.NaN },
        { ...good, at: "yesterday" },
        null,
        "row",
      ],
    });
    a.h.acceptPeerEvents({ rows: "nope" });
    a.h.acceptPeerEvents({ rows: Array(500).fill(good) });
    expect(a.seen.length).toBe(1 + 100);
    expect(a.seen[0]).toEqual(good);
  });
});
