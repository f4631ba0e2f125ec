// The `events` config section: the pair's events and alarms the active
// records into the replicated table `_events` (runtime/events/recorder.ts).
import { z } from "zod";

export const eventsSection = z
  .strictObject({
    /** record takeovers, switchovers, confirms/rejects and alarms into _events */
    enabled: z.boolean().default(true),
    /** events older than this are purged on both nodes (replicated purge); 0 keeps them */
    retentionDays: z.number().min(0).max(36_500).default(365),
  })
  .prefault({});

export type EventsConfig = z.output<typeof eventsSection>;
