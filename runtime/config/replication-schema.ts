// The `database:` and `replication:` config sections (docs/replication.md).
import { z } from "zod";
import { DEFAULT_REPLICATION as D } from "../../redundancy/replication/settings.js";

const ms = (min: number, max: number) => z.number().int("expected whole milliseconds").min(min).max(max);

const withEngine = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) && !("engine" in v) ? { engine: "sqlite", ...v } : v);

export const databaseSection = z
  .preprocess(withEngine, z.discriminatedUnion("engine", [
    z.strictObject({
      engine: z.literal("sqlite"),
      /** the database file; relative to node.dataDir */
      file: z.string().min(1).default("tandem.db"),
    }),
    z.strictObject({
      engine: z.literal("postgres"),
      /** postgres://user:${PGPASSWORD}@host:5432/db — each node its own database (or schema) */
      url: z.string().regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL"),
      /** a schema of its own in a database the pair's nodes share with others */
      schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a lower-case SQL name").optional(),
      poolSize: z.number().int().min(1).max(64).default(4),
    }),
  ]))
  .prefault({ engine: "sqlite" });

const tableName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, "expected a letter, then letters, digits or _ (at most 63)");

export const replicationSection = z
  .strictObject({
    /** sync: acknowledged once both databases hold a write; async: once this one does (the lag is bounded); none: no second copy */
    mode: z.enum(["sync", "async", "none"]).default(D.mode),
    /** sync with the peer away or catching up: accept (keep writing here, journal, catch up later) or refuse (no write acknowledged on one copy) */
    whenPeerAway: z.enum(["accept", "refuse"]).default(D.whenPeerAway),
    /** what the standby's acknowledgement means: flushed (on its disk) or written (in its database and OS, flushed within flushWrittenMs and before it acts): PostgreSQL's remote_write */
    syncAck: z.enum(["flushed", "written"]).default(D.syncAck),
    flushWrittenMs: ms(10, 60_000).default(D.flushWrittenMs),
    ackTimeoutMs: ms(50, 60_000).default(D.ackTimeoutMs),
    maxLagRecords: z.number().int().min(1).max(10_000_000).default(D.maxLagRecords),
    maxLagMs: ms(10, 600_000).default(D.maxLagMs),
    batchMaxRecords: z.number().int().min(1).max(10_000).default(D.batchMaxRecords),
    maxRecordBytes: z.number().int().min(256).max(256 * 1024).default(D.maxRecordBytes),
    /** the active compares both databases this often (0: only on demand, tandem replication verify) */
    verifyEveryMinutes: z.number().min(0).max(10_080).default(5),
    /** sequence numbers per checksum range: a mismatch names a range this wide */
    verifySpan: z.number().int().min(100).max(10_000_000).default(D.verifySpan),
    /** the tables services and scripts write through POST /api/v1/records/TABLE */
    tables: z
      .record(
        tableName,
        z
          .strictObject({
            /** records older than this are purged on both nodes (0: kept) */
            retentionDays: z.number().min(0).max(36_500).default(0),
          })
          .prefault({}),
      )
      .default({}),
  })
  .prefault({});

export type DatabaseConfig = z.infer<typeof databaseSection>;
export type ReplicationConfig = z.infer<typeof replicationSection>;
