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
import { Replicator, type ReplicationStatus } from "../redundancy/replication/replicator.js";
import { DEFAULT_REPLICATION, type ReplicationSettings } from "../redundancy/replication/settings.js";
import { systemClock } from "../redundancy/net.js";
import type { DivergentRow, Row, Storage } from "../redundancy/storage.js";
import type { DatabaseConfig, ReplicationConfig } from "./config/replication-schema.js";
import type { DivergenceView } from "./node-api.js";
import { SqliteStorage } from "./storage/sqlite.js";

export interface RecordAnswer {
  id: string;
  table: string;
  epoch: number;
  seq: number;
  at: string;
  /** true when an earlier write with the same idempotency key is the answer */
  existing?: boolean;
}

export interface RecordView {
  id: string;
  seq: number;
  epoch: number;
  at: string;
  data: unknown;
}

export async function openStorage(db: DatabaseConfig, dataDir: string): Promise<Storage> {
  if (db.engine === "sqlite") return new SqliteStorage({ file: isAbsolute(db.file) ? db.file : join(dataDir, db.file) });
  const { PostgresStorage } = await import("./storage/postgres.js");
  return new PostgresStorage({ url: db.url, poolSize: db.poolSize, schema: db.schema });
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

export class Records {
  readonly replicator: Replicator;
  private started = false;

  constructor(
    readonly storage: Storage,
    private readonly cfg: ReplicationConfig,
    private readonly runtime: PairRuntime,
    private readonly nodeId: string,
    private readonly log: Logger,
    schemaVersion: number,
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
      },
      schemaVersion,
    );
  }

  /** follows the node's state: lead while active (or held), follow otherwise */
  attach(): void {
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
  }

  async stop(): Promise<void> {
    if (this.started) await this.replicator.stop();
    await this.storage.close();
  }

  private table(name: string): string {
    if (!Object.hasOwn(this.cfg.tables, name)) throw new TandemError("TANDEM_ERR_TABLE_UNKNOWN", [name, Object.keys(this.cfg.tables).join(", ") || "none"]);
    return name;
  }

  /** a record from a service or script; answered once acknowledged as the mode says */
  async write(tableName: string, data: unknown, idempotencyKey?: string, peerApi?: string): Promise<RecordAnswer> {
    const table = this.table(tableName);
    if (typeof data !== "object" || data === null || Array.isArray(data)) throw new TandemError("TANDEM_ERR_RECORD", [table, "expected a JSON object"]);
    const body = JSON.stringify(data);
    if (Buffer.byteLength(body) > this.cfg.maxRecordBytes) throw new TandemError("TANDEM_ERR_RECORD", [table, `${Buffer.byteLength(body)} bytes, more than replication.maxRecordBytes (${this.cfg.maxRecordBytes})`]);
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) throw new TandemError("TANDEM_ERR_RECORD", [table, "Idempotency-Key: 1–200 printable ASCII characters, no spaces"]);
    if (!isActiveState(this.runtime.state.state)) {
      // tell the client where the active is, when this node knows
      const active = isActiveState(this.runtime.state.peer.state) ? (peerApi ?? null) : null;
      throw new TandemError("TANDEM_ERR_NOT_ACTIVE", ["record write", this.runtime.state.state], { active, activeNode: isActiveState(this.runtime.state.peer.state) ? this.runtime.params.peerId : null });
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
