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
