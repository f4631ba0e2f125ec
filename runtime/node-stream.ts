// The node's event stream (GET /api/v1/events, the HMI's live feed): its
// state changes, stored events, audit entries, tag changes and the services'
// view, to one follower, until it stops following. The node (node.ts) hands
// its parts over.
import type { Logger } from "../core/logger.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { EventRecorder, EventRow } from "./events/recorder.js";
import type { AuditEntry, NodeState, ServicesView, ServiceView, StreamEvent } from "./node-api.js";
import type { SiteView } from "./site/view.js";

export interface StreamSources {
  runtime: PairRuntime;
  events: EventRecorder;
  auditFollowers: Set<(e: AuditEntry) => void>;
  drivers: DriverManager | null;
  /** the supervised services, when the node has any */
  services: (() => ServicesView) | null;
  /** the site view as it changes (runtime/node-site.ts), for the HMI's site page */
  site?: { follow(fn: (v: SiteView) => void): () => void };
  log: Logger;
}

/** how often the services' view is compared with the last one sent (a change reaches the page within this) */
export const SERVICES_LOOK_MS = 250;
/** the view is sent this often even without a change: CPU, memory, uptime and events/s move all the time */
export const SERVICES_FIGURES_MS = 5000;

/** what an operator sees change: an instance's state, place, process, health, restarts, stop, reason, last exit */
function servicesShape(v: ServicesView): string {
  const one = (s: ServiceView) => [s.instance, s.state, s.node, s.pid, s.health, s.healthDetail, s.restarts, s.reason, s.stoppedByOperator?.at ?? null, s.lastExit?.at ?? null];
  return JSON.stringify([v.state, v.epoch, v.services.map(one)]);
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
  const unservices = src.services ? followServices(src.services, call, src.log) : () => undefined;
  const unsite = src.site?.follow((data) => call({ type: "site", data })) ?? (() => undefined);
  return () => {
    src.runtime.off("state", onState);
    src.events.listeners.delete(onEvent);
    src.auditFollowers.delete(onAudit);
    untag();
    unservices();
    unsite();
  };
}

/**
 * The services' view as it changes: instances change state in many places
 * (a child's exit, a health check, a placement, an operator), so the view is
 * compared every SERVICES_LOOK_MS while someone follows, and sent when what
 * an operator sees changed, and every SERVICES_FIGURES_MS for the figures.
 */
function followServices(view: () => ServicesView, call: (e: StreamEvent) => void, log: Logger): () => void {
  let last = "";
  let sentAt = 0;
  const look = () => {
    let v: ServicesView;
    try {
      v = view();
    } catch (err) {
      log.debug({ err }, `the services' view could not be read for the event stream: ${(err as Error).message}`);
      return;
    }
    const shape = servicesShape(v);
    const now = Date.now();
    if (shape === last && now - sentAt < SERVICES_FIGURES_MS) return;
    last = shape;
    sentAt = now;
    call({ type: "services", data: v });
  };
  const timer = setInterval(look, SERVICES_LOOK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
