// The `monitoring` config section, host part: the disks of the data dir and
// the log (and any others named), memory, swap and CPU, each with a warning
// and an alarm threshold (runtime/monitoring/assess.ts decides; the node
// records the changes as events and metrics, and an alarm on the data disk
// lowers the service level).
import { z } from "zod";

const percent = z.number().min(1).max(100);

const pair = (warn: number, alarm: number) =>
  z
    .strictObject({ warnPercent: percent.default(warn), alarmPercent: percent.default(alarm) })
    .refine((t) => t.alarmPercent >= t.warnPercent, { message: "alarmPercent must be at least warnPercent" })
    .prefault({});

const logPattern = z
  .strictObject({
    /** the name in the alarm and the metrics */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,48}$/, "expected 1–48 letters, digits, '_', '.' or '-'"),
    /** a regular expression tried on each log line as written (its JSON text) */
    match: z.string().min(1).max(500).superRefine((s, ctx) => {
      try {
        new RegExp(s);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `not a regular expression: ${(err as Error).message}` });
      }
    }),
    ignoreCase: z.boolean().default(false),
    /** lines within the window that make the alarm */
    count: z.number().int().min(1).max(100_000).default(1),
  });

export const monitoringSection = z
  .strictObject({
    /** how often the host is sampled */
    everyMs: z.number().int().min(1000).max(600_000).default(10_000),
    disk: z
      .strictObject({
        /** more paths to watch besides the data dir and the log file's folder (each path's filesystem) */
        paths: z.array(z.string().min(1)).max(16).default([]),
        warnPercent: percent.default(85),
        alarmPercent: percent.default(95),
      })
      .refine((t) => t.alarmPercent >= t.warnPercent, { message: "alarmPercent must be at least warnPercent" })
      .prefault({}),
    memory: pair(90, 97),
    /** swap in use should be zero on a plant server: any is a warning by default */
    swap: z
      .strictObject({ warnMB: z.number().min(0).default(1), alarmMB: z.number().min(0).default(512) })
      .refine((t) => t.alarmMB >= t.warnMB, { message: "alarmMB must be at least warnMB" })
      .prefault({}),
    /** CPU in use (all cores), held this long before it counts */
    cpu: z
      .strictObject({ warnPercent: percent.default(90), alarmPercent: percent.default(98), forSeconds: z.number().int().min(0).max(3600).default(60) })
      .refine((t) => t.alarmPercent >= t.warnPercent, { message: "alarmPercent must be at least warnPercent" })
      .prefault({}),
    /** the node's own log: error lines per component, and the site's patterns, over a window (runtime/monitoring/log-watch.ts) */
    logs: z
      .strictObject({
        windowSeconds: z.number().int().min(10).max(86_400).default(300),
        /** error lines of one component within the window that make an alarm; 0: not counted */
        errorsPerWindow: z.number().int().min(0).max(1_000_000).default(20),
        patterns: z.array(logPattern).max(50).default([]),
      })
      .superRefine((l, ctx) => {
        const names = new Set<string>();
        l.patterns.forEach((p, i) => {
          if (names.has(p.name)) ctx.addIssue({ code: "custom", path: ["patterns", i, "name"], message: `duplicate pattern name '${p.name}'` });
          names.add(p.name);
        });
      })
      .prefault({}),
    /** what should be heard regularly and was not: an alarm after this long; 0 turns one off (runtime/monitoring/stale.ts) */
    stale: z
      .strictObject({
        /** a peer link without a heartbeat */
        heartbeatSeconds: z.number().min(0).max(86_400).default(10),
        /** the witness not answering */
        witnessSeconds: z.number().min(0).max(86_400).default(30),
        /** a device this node reads without a good value */
        deviceSeconds: z.number().min(0).max(86_400).default(60),
        /** on the active, no replication verify (when replication.verifyEveryMinutes schedules them) */
        verifyMinutes: z.number().min(0).max(100_000).default(60),
      })
      .prefault({}),
  })
  .prefault({});

export type MonitoringConfig = z.output<typeof monitoringSection>;

export type LogWatchConfig = MonitoringConfig["logs"];
