// What the replicator needs from the node around it, and its settings
// (the `replication:` config section, resolved with defaults).
import type { Logger } from "../../core/logger.js";
import type { Clock } from "../net.js";
import type { Row, Storage } from "../storage.js";
import type { ReplMessage } from "./protocol.js";
import type { ReceivedLog } from "./received-log.js";

export interface ReplicationSettings {
  /** sync: acknowledged once both databases hold it; async: once this one does; none: no second copy */
  mode: "sync" | "async" | "none";
  /** sync with the peer away: accept (availability, journal) or refuse (never acknowledged on one copy) */
  whenPeerAway: "accept" | "refuse";
  /**
   * what the standby's acknowledgement means: flushed (on its disk; the
   * default) or written (committed to its database and its operating
   * system, flushed within flushWrittenMs and before it acts as active:
   * PostgreSQL's remote_write). Either way no single failure loses an
   * acknowledged write; written loses one only if both nodes fail at once.
   */
  syncAck: "flushed" | "written";
  /** the standby flushes what it acknowledged before its database had it on disk at least this often */
  flushWrittenMs: number;
  /** …and as soon as its received-rows log holds this many bytes */
  receivedFlushBytes: number;
  /** a peer that acknowledges nothing this long is away (frozen, cut off) */
  ackTimeoutMs: number;
  /** async: writers wait while the peer is this far behind (records / ms) */
  maxLagRecords: number;
  maxLagMs: number;
  /** group commit: at most this many records and bytes per batch (bytes as on the wire, at worst: under the peer connection's 1 MiB frame) */
  batchMaxRecords: number;
  batchMaxBytes: number;
  /** catch-up: rows per message and messages in flight */
  catchUpChunk: number;
  catchUpWindow: number;
  maxRecordBytes: number;
  /** verify: sequence numbers per checksum range */
  verifySpan: number;
}

export const DEFAULT_REPLICATION: ReplicationSettings = {
  mode: "sync",
  whenPeerAway: "accept",
  syncAck: "flushed",
  flushWrittenMs: 1000,
  receivedFlushBytes: 1 << 20,
  ackTimeoutMs: 1000,
  maxLagRecords: 10_000,
  maxLagMs: 2_000,
  batchMaxRecords: 1000,
  batchMaxBytes: 512 * 1024,
  catchUpChunk: 2000,
  catchUpWindow: 16,
  maxRecordBytes: 64 * 1024,
  verifySpan: 50_000,
};

export interface ReplicatorDeps {
  nodeId: string;
  storage: Storage;
  settings: ReplicationSettings;
  clock: Clock;
  log: Logger;
  /** a message to the peer over the authenticated peer connection; false when it is down */
  send(msg: ReplMessage): boolean;
  /** may this node write now (active, valid lease)? asked before every commit */
  canWrite(): boolean;
  /** the epoch this node knows (its own, or a higher one it has seen) */
  epoch(): number;
  /**
   * the standby's received-rows log (received-log.ts): live rows are
   * acknowledged once it holds them; without it, once the database does
   */
  received?: ReceivedLog;
  /** rows now in this node's database (as the leader committed them, or as the follower applied them) */
  onApplied?(rows: readonly Row[]): void;
  /** the wall clock for the rows' `at` */
  wallClock?: () => number;
}
