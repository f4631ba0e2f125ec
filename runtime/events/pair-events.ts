// Which of the pair's doings become stored events, and how grave each is:
// the role machine's events (redundancy/role/), its state changes, and the
// confirms and rejects of a held takeover (from its audit effects).
import type { PairRuntime } from "../../redundancy/pair-runtime.js";
import type { EventRecorder, Severity } from "./recorder.js";

/** the role machine's event kinds that are stored (the others are chatter: a link seen again …) */
export const PAIR_EVENT_SEVERITY: Readonly<Record<string, Severity>> = {
  takeover: "alarm",
  "takeover-started": "warning",
  "takeover-cancelled": "info",
  switchover: "info",
  "switchover-started": "info",
  "switchover-failed": "warning",
  activated: "info",
  isolated: "alarm",
  fault: "alarm",
  fenced: "alarm",
  "awaiting-operator": "warning",
  "witness-unreachable": "warning",
  "peer-stopping": "info",
};

export function followPair(runtime: PairRuntime, events: EventRecorder): void {
  runtime.on("event", (kind, message) => {
    const severity = PAIR_EVENT_SEVERITY[kind];
    if (severity) events.record(kind, severity, message);
  });
  runtime.on("state", (from, to, epoch, reason) => {
    events.record("state", to === "isolated" ? "warning" : "info", `${from} → ${to} (epoch ${epoch}): ${reason}`);
  });
  runtime.on("audit", (action, actor, result) => {
    if ((action === "confirm" || action === "reject") && result === "ok") {
      const who = actor === "system" ? "the node (auto-confirm)" : actor.user;
      events.record(action, "info", action === "confirm" ? `takeover confirmed by ${who}: the process resumes from its context` : `takeover rejected by ${who}: the process restarts from its beginning`);
    }
  });
}
