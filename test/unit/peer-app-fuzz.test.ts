// The peer-link app messages added for operations, fuzzed (fast-check): the
// events a standby sends, the configuration versions, a configuration push
// and its answer, and a balanced-services report. Whatever arrives — any
// JSON shape — nothing throws, nothing but a well-formed event is written,
// and a push that is not one changes no file.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { nullLogger } from "../../core/logger.js";
import type { PairRuntime } from "../../redundancy/pair-runtime.js";
import { applyPush, checkPush } from "../../runtime/config/config-push.js";
import { ConfigWatch } from "../../runtime/config/config-watch.js";
import { pairConfigVersion } from "../../runtime/config/pair-config.js";
import { parseConfig } from "../../runtime/config/load.js";
import type { TandemConfig } from "../../runtime/config/schema.js";
import type { EventRow } from "../../runtime/events/recorder.js";
import { NodeHistory } from "../../runtime/node-history.js";
import { minimalConfig, TEST_KEY } from "../helpers/min-config.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** any JSON value, objects biased towards the fields the messages have */
const anyJson = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string(), fc.array(tie("value"), { maxLength: 5 }), tie("object")),
  object: fc.dictionary(fc.oneof(fc.constantFrom("rows", "type", "severity", "text", "node", "at", "version", "sections", "tandem", "id", "files", "path", "base64", "users", "ok", "error"), fc.string()), tie("value"), { maxKeys: 6 }),
})).object as fc.Arbitrary<Record<string, unknown>>;

function activeHistory() {
  const rt = { state: { state: "active", epoch: 3, peer: { state: "standby", heardAt: 0 } }, params: { peerId: "b" }, canAct: () => true, now: () => 0, sendPeerApp: () => true, on: () => {} } as unknown as PairRuntime;
  const config = { node: { id: "a" }, peer: { id: "b" }, heartbeat: { timeoutMs: 500 }, events: { enabled: true, retentionDays: 30 }, history: {}, drivers: undefined } as unknown as TandemConfig;
  const h = new NodeHistory({ config, runtime: rt, records: () => null, drivers: () => null, log: nullLogger });
  const seen: EventRow[] = [];
  h.events.listeners.add((e) => seen.push(e));
  return { h, seen };
}

describe("peer app messages from a hostile peer", () => {
  it("events: nothing throws; only events of the peer as Tandem writes them are taken", () => {
    fc.assert(
      fc.property(anyJson, (data) => {
        const { h, seen } = activeHistory();
        h.acceptPeerEvents(data);
        for (const e of seen) {
          expect(e.node).toBe("b");
          expect(["info", "warning", "alarm"]).toContain(e.severity);
          expect(e.type).toMatch(/^[a-z][a-z0-9-]{0,47}$/);
          expect(Number.isFinite(e.at)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("configuration versions: nothing throws; a message that is not one changes nothing", () => {
    const mine = pairConfigVersion(parseConfig(minimalConfig(), { env: { PAIR_KEY: TEST_KEY } }));
    fc.assert(
      fc.property(anyJson, (data) => {
        let mismatch: string | null | undefined;
        const w = new ConfigWatch({ nodeId: "a", peerId: "b", mine, tandem: "0.1.0", send: () => true, setMismatch: (x) => (mismatch = x), event: () => {}, log: nullLogger });
        w.onPeer(data);
        const v = w.view();
        if (v.peerVersion === null) expect(mismatch).toBeUndefined();
        else expect(v.peerVersion).toMatch(/^[0-9a-f]{16}$/);
      }),
      { numRuns: 500 },
    );
  });

  it("a configuration push of any shape is refused with a reason, or taken whole; a refused one writes no file", () => {
    const file = join(dir, "node.yaml");
    const text = minimalConfig();
    writeFileSync(file, text);
    const section = fc.constantFrom("drivers", "watchdog", "services", "processes", "history", "events", "replication");
    const path = fc.oneof(fc.string(), fc.constantFrom("../x.js", "/etc/passwd", "a/../../b", "mod.js", "sub/mod.js", "..", ""));
    const push = fc.record({
      id: fc.constant("p1"),
      version: fc.constant("0123456789abcdef"),
      sections: fc.dictionary(section, anyJson, { maxKeys: 3 }),
      users: fc.oneof(fc.constant(null), anyJson),
      files: fc.array(fc.record({ path, base64: fc.base64String({ maxLength: 40 }) }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.oneof(anyJson, push as fc.Arbitrary<Record<string, unknown>>), (data) => {
        const p = checkPush(data);
        if (typeof p === "string") return;
        try {
          applyPush(file, p, { PAIR_KEY: TEST_KEY }, new Date());
        } catch {
          // refused with a reason: the file and the folder as they were
          expect(readFileSync(file, "utf8")).toBe(text);
          expect(readdirSync(dir)).toEqual(["node.yaml"]);
          return;
        }
        // taken: what it wrote loads as a config would at start
        expect(() => parseConfig(readFileSync(file, "utf8"), { env: { PAIR_KEY: TEST_KEY }, baseDir: dir })).not.toThrow();
        writeFileSync(file, text);
        for (const f of readdirSync(dir)) if (f !== "node.yaml") rmSync(join(dir, f), { recursive: true, force: true });
      }),
      { numRuns: 300 },
    );
  });
});
