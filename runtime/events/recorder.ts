// Events and alarms: what happened to the pair (takeovers, switchovers,
// confirms and rejects, the node isolated or fenced) and the alarms of its
// parts (a process module stopped, a service given up on, the databases
// found different), written by the active into the replicated table
// `_events` as rows {type, severity, text, node, at}, internal writes (never
// refused by whenPeerAway: refuse).
//
// An event seen while the node is not active (the standby sees the active
// vanish and starts its takeover) waits here and is written once the node is
// active — the moments before a takeover are the ones an operator asks about
// afterwards. It waits at most KEEP_NOT_ACTIVE_MS: a standby that never
// becomes active drops what it saw (counted, logged at debug): the active
// of that time recorded its own view of it. `at` is when it happened, so a
// late row still sorts where it belongs by time. The queue is bounded like
// history's: the oldest go first.
import type { Logger } from "../../core/logger.js";
import type { RowWrite } from "../../redundancy/storage.js";
import { BoundedBuffer } from "../history/buffer.js";

export const EVENTS_TABLE = "_events";

export type Severity = "info" | "warning" | "alarm";

export interface EventRow {
  type: string;
  severity: Severity;
  text: string;
  node: string;
  /** ms since 1970, this node's clock */
  at: number;
}

export interface EventPorts {
  acting(): boolean;
  /** sends events about this node to the active peer (false: no active peer to take them) */
  forward?(rows: EventRow[]): boolean;
  /** an internal replicated write */
  write(rows: RowWrite[]): Promise<unknown>;
  now(): number;
}

/** how long an event seen while not active waits to be written */
export const KEEP_NOT_ACTIVE_MS = 10 * 60_000;
const MAX_QUEUED = 1000;
const RETRY_MS = 1000;
/** characters of an event's text kept (replication.maxRecordBytes is 64 KiB by default) */
export const MAX_TEXT = 4000;

export class EventRecorder {
  private readonly queue = new BoundedBuffer<EventRow>(MAX_QUEUED);
  /** events about this node alone that no active took yet: offered again each second, written here if this node becomes active */
  private readonly own = new BoundedBuffer<EventRow>(MAX_QUEUED);
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** events dropped because the node was not active in time */
  expired = 0;
  written = 0;

  constructor(
    private readonly node: string,
    private readonly enabled: boolean,
    private readonly ports: EventPorts,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (!this.enabled || this.timer) return;
    // retries what could not be written yet (the node became active, its replication not yet leading)
    this.timer = setInterval(() => void this.flush(), RETRY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writing;
    await this.flush();
  }

  /** called with every event as it is recorded (MQTT publishes them); a listener that throws is ignored */
  readonly listeners = new Set<(e: EventRow) => void>();

  /** An event of the pair as this node sees it: written if this node is (or soon becomes) active. */
  record(type: string, severity: Severity, text: string): void {
    if (this.stopped) return;
    this.queue_(this.make(type, severity, text));
  }

  /**
   * An event about this node alone (its host, its backups, its services): the
   * active has no view of it, so a node that is not active sends it to the
   * active, which writes it as this node's; kept here when there is none.
   */
  recordOwn(type: string, severity: Severity, text: string): void {
    if (this.stopped) return;
    const row = this.make(type, severity, text);
    if (!this.enabled) return;
    if (this.ports.acting() || !this.ports.forward) return this.queue_(row);
    if (this.own.size || !this.ports.forward([row])) this.own.push(row);
  }

  /** An event the peer sent (recordOwn there): written here as the peer's, with its node and time. */
  recordPeer(row: EventRow): void {
    if (this.stopped) return;
    this.notify(row);
    this.queue_(row);
  }

  private make(type: string, severity: Severity, text: string): EventRow {
    // an alarm's text may carry a stack trace: bounded well under replication.maxRecordBytes, so a row is never refused
    const t = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
    const row: EventRow = { type, severity, text: t, node: this.node, at: this.ports.now() };
    this.notify(row);
    return row;
  }

  private notify(row: EventRow): void {
    for (const l of this.listeners) {
      try {
        l(row);
      } catch {
        // a listener's fault is its own
      }
    }
  }

  private queue_(row: EventRow): void {
    if (!this.enabled) return;
    this.queue.push(row);
    // after the current turn: a state change's own effects (replication taking the lead) run first
    setImmediate(() => void this.flush());
  }

  /** writes what waits, when this node may; one write at a time */
  flush(): Promise<void> {
    if (this.own.size) {
      if (this.ports.acting()) this.queue.unshift(this.own.take(this.own.size));
      else this.offerOwn();
    }
    if (this.writing || !this.queue.size) return this.writing ?? Promise.resolve();
    if (!this.ports.acting()) {
      this.expire();
      return Promise.resolve();
    }
    const rows = this.queue.take(MAX_QUEUED);
    this.writing = this.ports
      .write(rows.map((e) => ({ table: EVENTS_TABLE, kind: "ins", key: null, body: JSON.stringify(e) })))
      .then(() => {
        this.written += rows.length;
      })
      .catch((err: Error & { code?: string }) => {
        if (err.code === "TANDEM_ERR_RECORD") {
          // too large for this site's replication.maxRecordBytes: never writable, so not queued again
          this.expired += rows.length;
          this.log.warn(`events: ${rows.length} dropped, not writable to the replicated store: ${err.message}`);
          return;
        }
        this.queue.unshift(rows);
        this.log.debug(`events: ${rows.length} not written yet (${err.message}); next try in ${RETRY_MS} ms`);
      })
      .finally(() => {
        this.writing = null;
      });
    return this.writing;
  }

  /** this node's own events to the active, in order, when one takes them; those too old to matter go */
  private offerOwn(): void {
    const rows = this.own.take(this.own.size);
    const cut = this.ports.now() - KEEP_NOT_ACTIVE_MS;
    const keep = rows.filter((e) => e.at >= cut);
    this.expired += rows.length - keep.length;
    if (keep.length && !this.ports.forward?.(keep)) this.own.unshift(keep);
  }

  private expire(): void {
    const cut = this.ports.now() - KEEP_NOT_ACTIVE_MS;
    const all = this.queue.take(this.queue.size);
    const keep = all.filter((e) => e.at >= cut);
    this.queue.unshift(keep);
    const gone = all.length - keep.length;
    if (!gone) return;
    this.expired += gone;
    this.log.debug(`events: ${gone} seen while this node was not active dropped: it did not become active within ${KEEP_NOT_ACTIVE_MS / 60_000} min (the active of that time records its own)`);
  }
}
