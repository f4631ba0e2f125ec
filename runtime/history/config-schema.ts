// The `history` config section: what the active records of the tags' values
// into the replicated table `_history` (runtime/history/recorder.ts), and for
// how long. Each tag may override the recording keys in its own `history`
// (drivers/config-schema.ts, tagHistorySchema).
import { z } from "zod";
import type { TagConfig } from "../../drivers/config-schema.js";
import type { HistorySettings } from "./deadband.js";

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

/** The settings of each tag whose history is recorded (its own over the section's). */
export function tagSettings(cfg: HistoryConfig, tags: readonly TagConfig[]): Map<string, HistorySettings> {
  const out = new Map<string, HistorySettings>();
  for (const t of tags) {
    const h = t.history ?? {};
    if (!(h.enabled ?? cfg.enabled)) continue;
    out.set(t.name, { deadband: h.deadband ?? cfg.deadband, minIntervalMs: h.minIntervalMs ?? cfg.minIntervalMs, maxIntervalMs: h.maxIntervalMs ?? cfg.maxIntervalMs });
  }
  return out;
}

/** What `tandem check-config` says of history: nothing when no tag is recorded. */
export function historySummary(cfg: HistoryConfig, tags: readonly TagConfig[]): string[] {
  const n = tagSettings(cfg, tags).size;
  if (!n) return [];
  const kept = cfg.retentionDays > 0 ? `kept ${cfg.retentionDays} days` : "kept for ever";
  return [`  history: ${n} of ${tags.length} tag${tags.length === 1 ? "" : "s"} recorded into _history while active, ${kept}`];
}
