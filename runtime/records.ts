// The node's database and its replication, composed: it opens the store the
// config names, runs a Replicator that leads while the node is active and
// follows otherwise, and serves the records API (POST/GET /records/TABLE)
// and the replication and divergence views.
import { join, isAbsolute } from "node:path";
import { TandemError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { isActiveState } from "../core/types.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import { encode } from "../redundancy/replication/protocol.js";
import { VERIFY_TABLE, type VerifyResult } from "../redundancy/replication/verify.js";
import { Replicator, type ReplicationStatus } from "../redundancy/replication/replicator.js";
import { DEFAULT_REPLICATION, type ReplicationSettings } from "../redundancy/replication/settings.js";
import { systemClock } from "../redundancy/net.js";
import { FileReceivedLog, type ReceivedLog } from "../redundancy/replication/received-log.js";
import type { DivergentRow, Row, Storage } from "../redundancy/storage.js";
import type { DatabaseConfig, ReplicationConfig } from "./config/replication-schema.js";
import type { DivergenceView, RecordAnswer, RecordView } from "./node-api.js";
import { SqliteStorage } from "./storage/sqlite.js";
import { CONTEXT_TABLE } from "./processes/context.js";

/**
 * The standby's received-rows log, in the node's data dir (none without a
 * second copy). A log that cannot be opened (a full or read-only disk) is
 * said and done without: the standby then acknowledges once its database
 * has the rows.
 */
export function openReceivedLog(cfg: ReplicationConfig, dataDir: string, log: Logger): ReceivedLog | undefined {
  if (cfg.mode === "none") return undefined;
  const file = join(dataDir, "replication", "received.log");
  try {
    const r = new FileReceivedLog(file, cfg.syncAck !== "written");
    if (r.preallocated) log.warn(`replication: the received-rows log ${file} is ${r.preallocated}`);
    return r;
  } catch (err) {
    log.error(`replication: the received-rows log ${file} cannot be opened (${(err as Error).message}): as standby this node acknowledges rows once its database has them`);
    return undefined;
  }
}

export async function openStorage(db: DatabaseConfig, dataDir: string): Promise<Storage> {
  if (db.engine === "sqlite") return new SqliteStorage({ file: isAbsolute(db.file) ? db.file : join(dataDir, db.file) });
  const { PostgresStorage } = await import("./storage/postgres.js");
  return new PostgresStorage({ url: db.url, poolSize: db.poolSize, schema: db.schema });
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** how often the active purges records older than their table's retention */
const RETENTION_EVERY_MS = 10 * 60_000;

export class Records {
  readonly replicator: Replicator;
  private started = false;
  private retentionTimer: NodeJS.Timeout | null = null;
  private verifyTimer: NodeJS.Timeout | null = null;
  private verifying: Promise<VerifyResult> | null = null;
  private readonly appliedHooks: ((rows: readonly Row[]) => void)[] = [];
  /** Tandem's own tables kept for a number of days (tag history, events), beside the configured ones */
  private readonly ownRetention = new Map<string, number>();
  /** told of an alarm (the databases differ) besides the log: the node stores it as an event */
  onAlarm: ((type: string, text: string) => void) | null = null;

  constructor(
    readonly storage: Storage,
    private readonly cfg: ReplicationConfig,
    private readonly runtime: PairRuntime,
    private readonly nodeId: string,
    private readonly log: Logger,
    schemaVersion: number,
    /** the standby's received-rows log (redundancy/replication/received-log.ts) */
    private readonly received?: ReceivedLog,
  ) {
    const settings: ReplicationSettings = { ...DEFAULT_REPLICATION, ...cfg };
    this.replicator = new Replicator(
      {
        nodeId,
        storage,
        settings,
        clock: systemClock,
        log,
        send: (msg) => runtime.sendPeerApp(this.replicator.topic, encode(msg)),
        canWrite: () => isActiveState(runtime.state.state) && runtime.canAct(),
        epoch: () => runtime.state.epoch,
        received,
        onApplied: (rows) => {
          // the process context's sequence number moves with every context write, on both nodes
          let seq = 0;
          for (const r of rows) if (r.table === CONTEXT_TABLE && r.seq > seq) seq = r.seq;
          if (seq) runtime.setContextSeq(seq);
          for (const f of this.appliedHooks) f(rows);
        },
      },
      schemaVersion,
    );
  }

  /** another part follows the rows applied here (this node's writes and the peer's): the HMI sessions */
  onApplied(fn: (rows: readonly Row[]) => void): void {
    this.appliedHooks.push(fn);
  }

  /** follows the node's state: lead while active (or held), follow otherwise */
  async attach(): Promise<void> {
    await this.replicator.recover();
    // the context's sequence number as the database holds it
    const ctx = await this.storage.read(CONTEXT_TABLE, { afterSeq: 0, limit: 100_000 });
    if (ctx.length) this.runtime.setContextSeq(ctx[ctx.length - 1].seq);
    const follow = () => {
      const s = this.runtime.state;
      void this.replicator.setRole(isActiveState(s.state), s.epoch, s.state);
    };
    this.runtime.on("state", follow);
    this.runtime.on("peer-connection", (up) => this.replicator.onConnection(up));
    this.runtime.on("peer-app", (topic, data) => {
      if (topic === this.replicator.topic) this.replicator.onMessage(data);
    });
    follow();
    this.started = true;
    this.retentionTimer = setInterval(() => void this.purge(), RETENTION_EVERY_MS);
    if (this.cfg.verifyEveryMinutes > 0) {
      this.verifyTimer = setInterval(() => {
        const s = this.replicator.status();
        if (s.role === "leader" && s.peer === "live") void this.verify("schedule");
      }, this.cfg.verifyEveryMinutes * 60_000);
    }
  }

  /**
   * Compares both databases now; a difference is an alarm naming its ranges
   * (repair: tandem replication resync). One at a time: a second ask joins
   * the one under way.
   */
  verify(by: string): Promise<VerifyResult> {
    this.verifying ??= this.replicator
      .verify(by)
      .then((r) => {
        if (r.error) this.log.warn(`verify (${by}): nothing compared: ${r.error}`);
        else if (r.ok) this.log.info({ upTo: r.upTo, rows: r.rows, ranges: r.ranges, ms: r.durationMs }, `verify (${by}): both databases identical up to sequence ${r.upTo} (${r.rows} rows)`);
        else {
          const where = r.mismatches.slice(0, 5).map((m) => `${m.fromSeq}–${m.toSeq} (rows here ${m.rowsHere ?? "none"}, on the peer ${m.rowsPeer ?? "none"})`);
          const text = `the databases differ in ${r.mismatches.length} range(s) of sequence numbers: ${where.join(", ")}${r.mismatches.length > 5 ? " …" : ""}; repair the standby's copy from the active with: tandem replication resync`;
          this.log.error({ alarm: true, mismatches: r.mismatches.length, upTo: r.upTo }, `ALARM: ${text}`);
          this.onAlarm?.("verify-mismatch", text);
        }
        return r;
      })
      .finally(() => (this.verifying = null));
    return this.verifying;
  }

  /** the standby rebuilds its copy from the active's */
  resync(): { started: boolean } {
    const started = this.replicator.resync();
    if (started) this.log.warn("resync: the standby empties its database and rebuilds it from this node's; progress: tandem replication status");
    return { started };
  }

  /** keeps a table of Tandem's own `days` days (0: for ever), purged like the configured tables */
  retain(table: string, days: number): void {
    this.ownRetention.set(table, days);
  }

  /**
   * Retention: the active writes one purge per table, replicated like any
   * write, so both databases drop the same rows at the same point in the order.
   */
  async purge(now = Date.now()): Promise<number> {
    if (!isActiveState(this.runtime.state.state)) return 0;
    const writes = [...Object.entries(this.cfg.tables), ...[...this.ownRetention].map(([table, retentionDays]) => [table, { retentionDays }] as const)]
      .filter(([, t]) => t.retentionDays > 0)
      .map(([table, t]) => ({ table, kind: "purge" as const, key: null, body: JSON.stringify({ before: Math.floor(now - t.retentionDays * 86_400_000) }) }));
    // verify markers are kept a day
    writes.push({ table: VERIFY_TABLE, kind: "purge", key: null, body: JSON.stringify({ before: now - 86_400_000 }) });
    try {
      await this.replicator.write(writes);
    } catch (err) {
      this.log.warn(`retention: the purge was not written (${(err as Error).message}); the next try is in ${RETENTION_EVERY_MS / 60_000} min`);
      return 0;
    }
    return writes.length;
  }

  async stop(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.verifyTimer) clearInterval(this.verifyTimer);
    this.retentionTimer = this.verifyTimer = null;
    if (this.started) await this.replicator.stop();
    this.received?.close();
    await this.storage.close();
  }

  private table(name: string): string {
    if (!Object.hasOwn(this.cfg.tables, name)) throw new TandemError("TANDEM_ERR_TABLE_UNKNOWN", [name, Object.keys(this.cfg.tables).join(", ") || "none"]);
    return name;
  }

  /**
   * a record from a service or script; answered once acknowledged as the mode says.
   * `notActive`: the refusal on a node that is not active (naming the active: runtime/active-hint.ts); a plain one when absent
   */
  async write(tableName: string, data: unknown, idempotencyKey?: string, notActive?: (what: string) => TandemError): Promise<RecordAnswer> {
    const table = this.table(tableName);
    if (typeof data !== "object" || data === null || Array.isArray(data)) throw new TandemError("TANDEM_ERR_RECORD", [table, "expected a JSON object"]);
    const body = JSON.stringify(data);
    if (Buffer.byteLength(body) > this.cfg.maxRecordBytes) throw new TandemError("TANDEM_ERR_RECORD", [table, `${Buffer.byteLength(body)} bytes, more than replication.maxRecordBytes (${this.cfg.maxRecordBytes})`]);
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) throw new TandemError("TANDEM_ERR_RECORD", [table, "Idempotency-Key: 1–200 printable ASCII characters, no spaces"]);
    if (!isActiveState(this.runtime.state.state)) {
      throw notActive?.("record write") ?? new TandemError("TANDEM_ERR_NOT_ACTIVE", ["record write", `node is ${this.runtime.state.state}, not active`]);
    }
    if (idempotencyKey !== undefined) {
      // a retry after a lost answer (a takeover, a timeout) finds the first write
      const had = await this.storage.get(table, idempotencyKey);
      if (had) return { ...answer(had), existing: true };
    }
    const [row] = await this.replicator.write([{ table, kind: "ins", key: idempotencyKey ?? null, body }]);
    return answer(row);
  }

  async read(tableName: string, afterSeq: number, limit: number): Promise<{ table: string; records: RecordView[]; next: number | null }> {
    const table = this.table(tableName);
    const rows = await this.storage.read(table, { afterSeq, limit });
    return {
      table,
      records: rows.map((r) => ({ ...idOf(r), data: JSON.parse(r.body as string) as unknown })),
      next: rows.length === limit ? rows[rows.length - 1].seq : null,
    };
  }

  status(): ReplicationStatus & { engine: string; database: string } {
    return { engine: this.storage.engine, database: this.storage.where, ...this.replicator.status() };
  }

  async divergence(afterId: number, limit: number): Promise<DivergenceView> {
    const rows = await this.storage.divergent({ afterSeq: afterId, limit });
    return {
      records: rows.map((r: DivergentRow) => ({
        id: r.id,
        table: r.table,
        kind: r.kind,
        key: r.key,
        seq: r.seq,
        epoch: r.epoch,
        at: new Date(r.at).toISOString(),
        foundAt: new Date(r.foundAt).toISOString(),
        activeEpoch: r.activeEpoch,
        data: r.body === null ? null : (JSON.parse(r.body) as unknown),
      })),
      next: rows.length === limit ? rows[rows.length - 1].id : null,
    };
  }

  /** lowers the service level while this node's copy cannot be trusted to be complete */
  health(): { penalty: number; reasons: string[] } {
    const s = this.replicator.status();
    if (s.role === "follower" && s.catchUp) return { penalty: 30, reasons: [`catching up: ${s.catchUp.percent}% of ${s.catchUp.total} records`] };
    return { penalty: 0, reasons: [] };
  }
}

function idOf(r: Row): Omit<RecordView, "data"> {
  return { id: `${r.epoch}-${r.seq}`, seq: r.seq, epoch: r.epoch, at: new Date(r.at).toISOString() };
}

function answer(r: Row): RecordAnswer {
  return { ...idOf(r), table: r.table };
}
