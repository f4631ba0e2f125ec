// The `history` config section: what the active records of the tags' values
// into the replicated table `_history` (runtime/history/recorder.ts), and for
// how long. Each tag may override the recording keys in its own `history`
// (drivers/config-schema.ts, tagHistorySchema).
import { z } from "zod";

const ms = (min: number, max: number) => z.number().int("expected whole milliseconds").min(min).max(max);

export const historySection = z
  .strictObject({
    /** record every tag (true) or only tags whose own history says enabled: true (false) */
    enabled: z.boolean().default(false),
    /** absolute deadband in engineering units for numeric tags; 0 records every change the drivers publish */
    deadband: z.number().min(0).default(0),
    /** at most one value change per tag per this many ms (quality changes always go at once); 0 no limit */
    minIntervalMs: ms(0, 86_400_000).default(0),
    /** a steady value is recorded again after this many ms, so a time range always shows it; 0 never */
    maxIntervalMs: ms(0, 7 * 86_400_000).default(0),
    /** samples older than this are purged on both nodes (replicated purge); 0 keeps them */
    retentionDays: z.number().min(0).max(36_500).default(30),
    /** samples are collected this long and written in one replicated write */
    flushMs: ms(50, 10_000).default(500),
    /** the most samples held while the database is slow; beyond it the oldest are dropped and counted */
    maxBuffered: z.number().int().min(100).max(1_000_000).default(20_000),
  })
  .superRefine((h, ctx) => {
    if (h.minIntervalMs > 0 && h.maxIntervalMs > 0 && h.maxIntervalMs < h.minIntervalMs) ctx.addIssue({ code: "custom", path: ["maxIntervalMs"], message: `must be at least history.minIntervalMs (${h.minIntervalMs})` });
  })
  .prefault({});

export type HistoryConfig = z.output<typeof historySection>;
