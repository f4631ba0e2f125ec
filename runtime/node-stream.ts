// The node's event stream (GET /api/v1/events, the HMI's live feed): its
// state changes, stored events, audit entries and tag changes, to one
// follower, until it stops following. The node (node.ts) hands its parts over.
import type { Logger } from "../core/logger.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { EventRecorder, EventRow } from "./events/recorder.js";
import type { AuditEntry, NodeState, StreamEvent } from "./node-api.js";

export interface StreamSources {
  runtime: PairRuntime;
  events: EventRecorder;
  auditFollowers: Set<(e: AuditEntry) => void>;
  drivers: DriverManager | null;
  log: Logger;
}

/** Calls fn with everything the node streams; the answer stops it. */
export function followNode(src: StreamSources, fn: (e: StreamEvent) => void): () => void {
  // a follower's fault (a closed stream) is its own: the node goes on
  const call = (e: StreamEvent) => {
    try {
      fn(e);
    } catch (err) {
      src.log.debug({ err }, `an event stream follower failed: ${(err as Error).message}`);
    }
  };
  const onState = (from: NodeState, to: NodeState, epoch: number, reason: string) => call({ type: "state", data: { from, to, epoch, reason } });
  const onEvent = (data: EventRow) => call({ type: "event", data });
  const onAudit = (data: AuditEntry) => call({ type: "audit", data });
  src.runtime.on("state", onState);
  src.events.listeners.add(onEvent);
  src.auditFollowers.add(onAudit);
  const untag = src.drivers?.bus.subscribe((data) => call({ type: "tag", data })) ?? (() => undefined);
  return () => {
    src.runtime.off("state", onState);
    src.events.listeners.delete(onEvent);
    src.auditFollowers.delete(onAudit);
    untag();
  };
}
