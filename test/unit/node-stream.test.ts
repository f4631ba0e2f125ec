// The services' view in the node's event stream (runtime/node-stream.ts):
// sent when what an operator sees changes (within SERVICES_LOOK_MS), and
// every SERVICES_FIGURES_MS for the figures; not sent when nothing follows;
// a view that cannot be read is skipped, the stream goes on.
import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../../core/logger.js";
import type { EventRecorder } from "../../runtime/events/recorder.js";
import type { ServicesView, ServiceView, StreamEvent } from "../../runtime/node-api.js";
import { followNode, SERVICES_FIGURES_MS, SERVICES_LOOK_MS } from "../../runtime/node-stream.js";
import type { PairRuntime } from "../../redundancy/pair-runtime.js";

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

function instance(over: Partial<ServiceView>): ServiceView {
  return {
    ...{ name: "agent", instance: "agent", placement: "active", pid: 100, node: "a", reason: "this node is active (epoch 3)", dependsOn: [], health: "none", healthDetail: "" },
    ...{ startedAt: null, uptimeMs: 1000, restarts: 0, lastExit: null, cpuPercent: 1, rssBytes: 1, readBytes: 0, writeBytes: 0, eventsPerSec: 0, lastOutputAt: null, stoppedByOperator: null, state: "running" },
    ...over,
  } as ServiceView;
}

describe("the services' view in the event stream", () => {
  let list: ServiceView[];
  let broken: boolean;
  const view = (): ServicesView => {
    if (broken) throw new Error("the supervisor is stopping");
    return { nodeId: "a", state: "active", epoch: 3, services: structuredClone(list), figures: { own: {}, peer: null } };
  };
  const follow = (services: (() => ServicesView) | null) => {
    const got: StreamEvent[] = [];
    const stop = followNode({ runtime: new EventEmitter() as unknown as PairRuntime, events: { listeners: new Set() } as unknown as EventRecorder, auditFollowers: new Set(), drivers: null, services, log }, (e) => got.push(e));
    return { got, stop, sent: () => got.filter((e) => e.type === "services").length };
  };

  beforeEach(() => {
    vi.useFakeTimers();
    list = [instance({})];
    broken = false;
  });
  afterEach(() => vi.useRealTimers());

  it("sends the view at the first look, then on a change within one look, and every few seconds for the figures", () => {
    const f = follow(view);
    vi.advanceTimersByTime(SERVICES_LOOK_MS);
    expect(f.sent()).toBe(1);
    // figures move, nothing an operator reads as a change: not sent before the figures' turn
    list[0]!.cpuPercent = 50;
    list[0]!.uptimeMs = 5000;
    vi.advanceTimersByTime(SERVICES_LOOK_MS * 4);
    expect(f.sent()).toBe(1);
    // a state change: the next look sends it
    list[0]!.state = "stopped";
    list[0]!.pid = null;
    vi.advanceTimersByTime(SERVICES_LOOK_MS);
    expect(f.sent()).toBe(2);
    const last = f.got.at(-1) as Extract<StreamEvent, { type: "services" }>;
    expect(last.data.services[0]!.state).toBe("stopped");
    // each field an operator reads counts: health, restarts, an operator's stop, the reason, a new instance
    for (const change of [
      () => (list[0]!.health = "failing"),
      () => (list[0]!.restarts = 1),
      () => (list[0]!.stoppedByOperator = { by: "otto", at: "2026-11-30T17:00:00.000Z" }),
      () => (list[0]!.reason = "not running here: stopped by otto"),
      () => list.push(instance({ instance: "agent#2" })),
    ]) {
      const n = f.sent();
      change();
      vi.advanceTimersByTime(SERVICES_LOOK_MS);
      expect(f.sent()).toBe(n + 1);
    }
    // nothing changes: once per SERVICES_FIGURES_MS
    const n = f.sent();
    vi.advanceTimersByTime(SERVICES_FIGURES_MS * 3);
    expect(f.sent()).toBe(n + 3);
    f.stop();
    list[0]!.state = "running";
    vi.advanceTimersByTime(SERVICES_FIGURES_MS * 2);
    expect(f.sent()).toBe(n + 3);
  });

  it("a view that cannot be read is skipped; a node without services sends none", () => {
    broken = true;
    const f = follow(view);
    vi.advanceTimersByTime(SERVICES_LOOK_MS * 3);
    expect(f.sent()).toBe(0);
    broken = false;
    vi.advanceTimersByTime(SERVICES_LOOK_MS);
    expect(f.sent()).toBe(1);
    f.stop();
    const none = follow(null);
    vi.advanceTimersByTime(SERVICES_FIGURES_MS * 2);
    expect(none.sent()).toBe(0);
    none.stop();
  });
});
