// The Sparkplug edge node's session reducer (runtime/sparkplug/session.ts),
// pure: bdSeq and seq as Sparkplug 3.0 has them, the primary host's STATE,
// the standby's silence, a takeover's next bdSeq, and (fast-check) any order
// of events keeps the invariants a host relies on.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initialSession, nextSeq, step, type SessionEffect, type SessionEvent, type SessionState } from "../../runtime/sparkplug/session.js";

type Fx = SessionEffect<string>;

/** runs events in order; returns the final state and every effect */
function run(s: SessionState, events: SessionEvent<string>[]): { s: SessionState; fx: Fx[] } {
  const fx: Fx[] = [];
  for (const e of events) {
    const r = step(s, e);
    s = r.state;
    fx.push(...r.effects);
  }
  return { s, fx };
}

const kinds = (fx: Fx[]) => fx.map((f) => (f.type === "publish" ? `${f.kind}${"device" in f ? `:${f.device}` : ""}${"seq" in f ? `#${f.seq}` : ""}${"bdSeq" in f ? `@${f.bdSeq}` : ""}` : `${f.type}${"bdSeq" in f ? `@${f.bdSeq}` : ""}`));

const fresh = (o: Partial<{ waitForHost: boolean; bdSeq: number; devices: string[] }> = {}) => initialSession({ waitForHost: false, bdSeq: 255, devices: ["plc1", "plc2"], ...o });

describe("Sparkplug session: births, bdSeq and seq", () => {
  it("an acting node remembers the next bdSeq before it connects, then NBIRTH seq 0 and a DBIRTH per connected device, seq counting on", () => {
    let s = run(fresh(), [{ type: "device", device: "plc1", up: true }]).s;
    const a = run(s, [{ type: "acting", on: true }]);
    expect(kinds(a.fx)).toEqual(["remember@0", "connect@0"]);
    const b = run(a.s, [{ type: "connected" }, { type: "data", device: "plc1", body: "v" }, { type: "data", device: null, body: "n" }]);
    expect(kinds(b.fx)).toEqual(["NBIRTH#0@0", "DBIRTH:plc1#1", "DDATA:plc1#2", "NDATA#3"]);
    // plc2 comes up: its DBIRTH; its data before that is not sent
    s = run(b.s, [{ type: "data", device: "plc2", body: "x" }]).s;
    expect(run(s, [{ type: "data", device: "plc2", body: "x" }]).fx).toEqual([]);
    const c = run(s, [{ type: "device", device: "plc2", up: true }, { type: "device", device: "plc1", up: false }]);
    expect(kinds(c.fx)).toEqual(["DBIRTH:plc2#4", "DDEATH:plc1#5"]);
  });

  it("seq wraps from 255 to 0", () => {
    let { s } = run(fresh(), [{ type: "acting", on: true }, { type: "connected" }]);
    const seqs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const r = step(s, { type: "data", device: null, body: "n" });
      s = r.state;
      const f = r.effects[0];
      seqs.push(f.type === "publish" && "seq" in f ? f.seq : -1);
    }
    expect(seqs.slice(253, 258)).toEqual([254, 255, 0, 1, 2]);
    expect(nextSeq(255)).toBe(0);
  });

  it("a node that stops acting publishes NDEATH with its bdSeq and disconnects; it does not reconnect", () => {
    const { s } = run(fresh({ bdSeq: 41 }), [{ type: "acting", on: true }, { type: "connected" }]);
    const d = run(s, [{ type: "acting", on: false }, { type: "closed" }, { type: "retry" }]);
    expect(kinds(d.fx)).toEqual(["NDEATH@42", "disconnect"]);
    expect(d.s.conn).toBe("down");
  });

  it("the standby never publishes nor connects: it only keeps the bdSeq the active tells it", () => {
    const r = run(fresh(), [
      { type: "peer-bdseq", bdSeq: 17 },
      { type: "device", device: "plc1", up: true },
      { type: "host", online: true, timestamp: 5 },
      { type: "rebirth" },
      { type: "data", device: "plc1", body: "v" },
      { type: "connected" },
      { type: "retry" },
    ]);
    expect(r.fx).toEqual([]);
    // the takeover: the next bdSeq after the old active's
    expect(kinds(run(r.s, [{ type: "acting", on: true }]).fx)).toEqual(["remember@18", "connect@18"]);
  });

  it("an acting node ignores a peer's bdSeq, and a bdSeq out of 0–255", () => {
    const { s } = run(fresh({ bdSeq: 3 }), [{ type: "acting", on: true }]);
    expect(step(s, { type: "peer-bdseq", bdSeq: 200 }).state.bdSeq).toBe(4);
    expect(step(fresh(), { type: "peer-bdseq", bdSeq: 256 }).state.bdSeq).toBe(255);
    expect(step(fresh(), { type: "peer-bdseq", bdSeq: 1.5 }).state.bdSeq).toBe(255);
  });

  it("a lost connection: retry later, then a new connection with the next bdSeq and fresh births", () => {
    const { s } = run(fresh({ bdSeq: 9 }), [{ type: "acting", on: true }, { type: "connected" }]);
    const r = run(s, [{ type: "closed" }]);
    expect(kinds(r.fx)).toEqual(["retry-later"]);
    const again = run(r.s, [{ type: "retry" }, { type: "connected" }]);
    expect(kinds(again.fx)).toEqual(["remember@11", "connect@11", "NBIRTH#0@11"]);
  });

  it("bdSeq wraps from 255 to 0", () => {
    expect(kinds(run(fresh({ bdSeq: 254 }), [{ type: "acting", on: true }]).fx)).toEqual(["remember@255", "connect@255"]);
    expect(kinds(run(fresh({ bdSeq: 255 }), [{ type: "acting", on: true }]).fx)).toEqual(["remember@0", "connect@0"]);
  });

  it("a rebirth asked by a host: NBIRTH with the same bdSeq and seq 0 again, and the DBIRTHs", () => {
    const { s } = run(fresh({ bdSeq: 6 }), [{ type: "device", device: "plc2", up: true }, { type: "acting", on: true }, { type: "connected" }, { type: "data", device: null, body: "n" }]);
    expect(kinds(run(s, [{ type: "rebirth" }]).fx)).toEqual(["NBIRTH#0@7", "DBIRTH:plc2#1"]);
  });
});

describe("Sparkplug session: the primary host's STATE", () => {
  const waiting = () => run(initialSession({ waitForHost: true, bdSeq: 0, devices: ["plc1"] }), [{ type: "device", device: "plc1", up: true }, { type: "acting", on: true }, { type: "connected" }]);

  it("no birth until the host is online; then the births", () => {
    const w = waiting();
    expect(kinds(w.fx)).toEqual(["remember@1", "connect@1"]);
    expect(run(w.s, [{ type: "data", device: "plc1", body: "v" }]).fx).toEqual([]);
    expect(kinds(run(w.s, [{ type: "host", online: true, timestamp: 100 }]).fx)).toEqual(["NBIRTH#0@1", "DBIRTH:plc1#1"]);
  });

  it("the host going offline ends the session; the next connection waits for online (a retained offline does not loop) and births with the next bdSeq", () => {
    const on = run(waiting().s, [{ type: "host", online: true, timestamp: 100 }]).s;
    const off = run(on, [{ type: "host", online: false, timestamp: 200 }]);
    expect(kinds(off.fx)).toEqual(["NDEATH@1", "disconnect"]);
    const back = run(off.s, [{ type: "closed" }, { type: "retry" }, { type: "connected" }, { type: "host", online: false, timestamp: 200 }, { type: "data", device: "plc1", body: "v" }]);
    expect(kinds(back.fx)).toEqual(["retry-later", "remember@2", "connect@2"]);
    expect(kinds(run(back.s, [{ type: "host", online: true, timestamp: 300 }]).fx)).toEqual(["NBIRTH#0@2", "DBIRTH:plc1#1"]);
  });

  it("a STATE older than one already seen is ignored", () => {
    const on = run(waiting().s, [{ type: "host", online: true, timestamp: 100 }]).s;
    const stale = run(on, [{ type: "host", online: false, timestamp: 99 }]);
    expect(stale.fx).toEqual([]);
    expect(stale.s.born).toBe(true);
  });

  it("without a primary host configured, STATE changes nothing", () => {
    const { s } = run(fresh(), [{ type: "acting", on: true }, { type: "connected" }]);
    expect(run(s, [{ type: "host", online: false, timestamp: 1 }]).fx).toEqual([]);
  });
});

describe("Sparkplug session: any order of events (fast-check)", () => {
  const event: fc.Arbitrary<SessionEvent<string>> = fc.oneof(
    fc.boolean().map((on) => ({ type: "acting", on }) as const),
    fc.constant({ type: "connected" } as const),
    fc.constant({ type: "closed" } as const),
    fc.constant({ type: "retry" } as const),
    fc.record({ online: fc.boolean(), timestamp: fc.integer({ min: 0, max: 50 }) }).map((h) => ({ type: "host", ...h }) as const),
    fc.integer({ min: -2, max: 300 }).map((bdSeq) => ({ type: "peer-bdseq", bdSeq }) as const),
    fc.constant({ type: "rebirth" } as const),
    fc.record({ device: fc.constantFrom("plc1", "plc2", "nope"), up: fc.boolean() }).map((d) => ({ type: "device", ...d }) as const),
    fc.constantFrom("plc1", "plc2").map((device) => ({ type: "device-rebirth", device }) as const),
    fc.constantFrom("plc1", "plc2", null).map((device) => ({ type: "data", device, body: "b" }) as const),
  );

  it("nothing is published unless acting on an open connection after a birth; seq steps by one from NBIRTH's 0; every connect has a new bdSeq remembered first; NBIRTH and NDEATH carry the connection's bdSeq", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 255 }), fc.array(event, { maxLength: 80 }), (waitForHost, bdSeq0, events) => {
        let s = initialSession({ waitForHost, bdSeq: bdSeq0, devices: ["plc1", "plc2"] });
        let connBdSeq: number | null = null;
        let lastRemembered: number | null = null;
        let seq: number | null = null;
        let connects = 0;
        for (const e of events) {
          const before = s;
          const r = step(s, e);
          s = r.state;
          for (const f of r.effects) {
            if (f.type === "remember") lastRemembered = f.bdSeq;
            if (f.type === "connect") {
              expect(f.bdSeq).toBe(lastRemembered);
              expect(f.bdSeq).toBe(nextSeq(before.bdSeq));
              connBdSeq = f.bdSeq;
              connects++;
              seq = null;
            }
            if (f.type !== "publish") continue;
            if (f.kind === "NDEATH") {
              expect(f.bdSeq).toBe(connBdSeq);
              continue;
            }
            expect(s.acting).toBe(true);
            expect(s.conn).toBe("up");
            if (f.kind === "NBIRTH") {
              expect(f.bdSeq).toBe(connBdSeq);
              expect(f.seq).toBe(0);
              if (waitForHost) expect(s.host?.online).toBe(true);
            } else {
              expect(seq).not.toBeNull();
              expect(f.seq).toBe(nextSeq(seq!));
            }
            seq = f.seq;
          }
          expect(s.seq).toBeGreaterThanOrEqual(0);
          expect(s.seq).toBeLessThanOrEqual(255);
          if (!s.acting) expect(s.born).toBe(false);
        }
        return connects >= 0;
      }),
      { numRuns: 2000 },
    );
  });
});
