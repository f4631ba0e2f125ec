// The `backup` config section: when a node backs itself up, where, how many
// it keeps, and when the newest one is restored as a test (docs/operations.md).
import { validateDetailed } from "node-cron";
import { z } from "zod";

/** six fields, seconds first ("0 0 2 * * *": 02:00:00 every day), or "off" */
export const cronSchedule = z
  .string()
  .trim()
  .superRefine((s, ctx) => {
    if (s === "off") return;
    if (s.split(/\s+/).length !== 6) return void ctx.addIssue({ code: "custom", message: `'${s}' has ${s.split(/\s+/).length} fields: expected six, seconds first ("0 0 2 * * *" is 02:00 every day), or "off"` });
    const v = validateDetailed(s);
    if (!v.valid) ctx.addIssue({ code: "custom", message: `'${s}': ${v.errors.map((e) => `${e.field}: ${e.message}`).join("; ") || "not a cron schedule"}` });
  });

export const backupSection = z
  .strictObject({
    /** when a backup is made (node-cron, six fields, the host's time zone); "off": only `tandem backup now` */
    schedule: cronSchedule.default("0 0 2 * * *"),
    /** where backups are written; DATADIR/backups by default (relative to the config file) */
    dir: z.string().min(1).optional(),
    /** a second location (a mounted share): each backup is copied there and checked there too */
    copyTo: z.string().min(1).optional(),
    keep: z
      .strictObject({
        /** the newest this many are kept */
        count: z.number().int().min(1).max(1000).default(7),
        /** and none older than this (the newest one is always kept) */
        days: z.number().int().min(1).max(3650).default(30),
      })
      .prefault({}),
    /** which node makes the scheduled backups: the standby (default: the active is not loaded), the active, or each node */
    runOn: z.enum(["standby", "active", "any"]).default("standby"),
    /** more files or folders to include, besides the database, the config, the process modules, the certificates and the audit log */
    files: z.array(z.string().min(1)).max(64).default([]),
    restoreTest: z
      .strictObject({
        /** when the newest backup is restored into a scratch place and checked; "off": only `tandem restore-test` */
        schedule: cronSchedule.default("0 30 2 * * *"),
      })
      .prefault({}),
    /** no good backup, or no passed restore test, for this long (on the node that makes them) is an alarm */
    maxAgeHours: z.number().min(1).max(8760).default(48),
  })
  .prefault({});

export type BackupConfig = z.output<typeof backupSection>;
