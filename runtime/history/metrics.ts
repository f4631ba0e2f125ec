// Tag history and events in the node's metrics (GET /api/v1/metrics), read
// from the recorders' counts when scraped. The counts are the process's own
// (they start at 0 with it); each counter adds what is new since the last
// scrape, so it only goes up while the node runs.
import { Counter, Gauge, type Registry } from "prom-client";
import type { HistoryCounters } from "./recorder.js";

export interface HistoryFigures {
  history: HistoryCounters | null;
  events: { written: number; expired: number };
}

export function historyMetrics(r: Registry, figures: () => HistoryFigures): void {
  const seen = { recorded: 0, written: 0, dropped: 0, eventsWritten: 0, eventsExpired: 0 };
  const add = (c: Counter, k: keyof typeof seen, now: number) => {
    c.inc(Math.max(0, now - seen[k]));
    seen[k] = now;
  };
  // prom-client collects in registration order: the first metric refreshes every one
  const refresh = () => {
    const f = figures();
    const h = f.history ?? { recorded: 0, written: 0, dropped: 0, buffered: 0, failedWrites: 0 };
    buffered.set(h.buffered);
    add(recorded, "recorded", h.recorded);
    add(written, "written", h.written);
    add(dropped, "dropped", h.dropped);
    add(eventsWritten, "eventsWritten", f.events.written);
    add(eventsExpired, "eventsExpired", f.events.expired);
  };
  const buffered = new Gauge({ name: "tandem_history_buffered_samples", help: "Tag history samples waiting to be written (the active; bounded by history.maxBuffered)", registers: [r], collect: refresh });
  const recorded = new Counter({ name: "tandem_history_samples_recorded_total", help: "Tag values that passed history's filter on this node while it was active", registers: [r] });
  const written = new Counter({ name: "tandem_history_samples_written_total", help: "Tag history samples written into the replicated store (acknowledged per the replication mode)", registers: [r] });
  const dropped = new Counter({ name: "tandem_history_samples_dropped_total", help: "Tag history samples dropped because the buffer was full (the database or the peer did not keep up)", registers: [r] });
  const eventsWritten = new Counter({ name: "tandem_events_written_total", help: "Events and alarms written into the replicated store by this node", registers: [r] });
  const eventsExpired = new Counter({ name: "tandem_events_expired_total", help: "Events this node saw while not active and dropped, as it did not become active within 10 minutes", registers: [r] });
}
