// Tag history: the active records the tags' values into the replicated table
// `_history`, so both databases hold the same series whichever node was
// active when a value changed. Both nodes read the PLCs; only the active
// writes (the standby's copy comes by replication).
//
// The drivers publish a tag on their bus when it changes (their own deadband,
// or its quality); each change goes through history's filter (deadband.ts)
// and, when it passes, into a bounded buffer. Every `flushMs` the buffer is
// written as one replicated write, internal (never refused by
// whenPeerAway: refuse). One write is in flight at a time: while the
// database or the peer is slow, samples wait in the buffer, and past
// `maxBuffered` the oldest are dropped and counted, with a warning: memory
// stays bounded whatever the store does.
//
// As the node becomes active it records every recorded tag's value once (its
// filter starts afresh: the old active's last samples are not read back), so
// each takeover leaves a complete picture in the history. Leaving the active
// state drops what was not written yet: the next active records from then.
import type { Logger } from "../../core/logger.js";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import type { TagConfig } from "../../drivers/config-schema.js";
import type { RowWrite } from "../../redundancy/storage.js";
import { BoundedBuffer } from "./buffer.js";
import { tagSettings, type HistoryConfig } from "./config-schema.js";
import { EMPTY, offer, tick, type HistorySettings, type Sample, type TagState } from "./deadband.js";
import { HISTORY_TABLE, historyKey } from "./keys.js";

export interface HistoryPorts {
  /** may this node write the replicated store now (active or held)? */
  acting(): boolean;
  epoch(): number;
  /** an internal replicated write; resolves once acknowledged per the replication mode */
  write(rows: RowWrite[]): Promise<unknown>;
  /** the drivers' tag bus; returns the unsubscribe function */
  subscribe(fn: (t: TagSnapshot) => void): () => void;
  /** every tag as the drivers hold it now */
  tags(): TagSnapshot[];
  /** wall clock, ms since 1970: the time of a sample whose tag carries none */
  now(): number;
  /** a monotonic clock, ms: the intervals (minIntervalMs, maxIntervalMs, warnings), which a wall clock set back must not stall */
  elapsed(): number;
}

/** rows per replicated write (the replicator cuts them into its own batches) */
const ROWS_PER_WRITE = 1000;
/** at most one warning about drops or failed writes per this long */
const WARN_EVERY_MS = 30_000;

export interface HistoryCounters {
  recorded: number;
  written: number;
  dropped: number;
  failedWrites: number;
  buffered: number;
}

/** a value as JSON keeps it: a bigint becomes a number when exact, else its digits */
function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(jsonValue);
  return v === undefined ? null : v;
}

const ms = (iso: string | null | undefined): number | null => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : null;
};

/** a snapshot as history keeps it: the source time, else when Tandem received it, else now */
export function sampleOf(t: TagSnapshot, now: number): Sample {
  return { v: jsonValue(t.value), q: t.quality, ...(t.quality !== "good" && t.reason ? { r: t.reason } : {}), ts: ms(t.timestamp) ?? ms(t.receivedAt) ?? now };
}

export class HistoryRecorder {
  private readonly settings: Map<string, HistorySettings>;
  private readonly states = new Map<string, TagState>();
  private readonly buffer: BoundedBuffer<RowWrite>;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private acting = false;
  private writing: Promise<void> | null = null;
  /** makes every key this process writes unique within an epoch (keys.ts) */
  private n = 0;
  private readonly counts = { recorded: 0, written: 0, failedWrites: 0 };
  private lastWarn = -Infinity;
  /** failed writes in a row: the first ones after becoming active are the replicator taking the lead, not worth a warning */
  private failuresInRow = 0;
  private droppedWarned = 0;

  constructor(
    private readonly cfg: HistoryConfig,
    tags: readonly TagConfig[],
    private readonly ports: HistoryPorts,
    private readonly log: Logger,
  ) {
    this.settings = tagSettings(cfg, tags);
    this.buffer = new BoundedBuffer(cfg.maxBuffered);
  }

  /** how many tags are recorded */
  get tagCount(): number {
    return this.settings.size;
  }

  start(): void {
    if (!this.settings.size || this.timer) return;
    this.unsubscribe = this.ports.subscribe((t) => this.onTag(t));
    this.timer = setInterval(() => this.onTick(), this.cfg.flushMs);
    this.log.info(`history: recording ${this.settings.size} tag${this.settings.size === 1 ? "" : "s"} while this node is active (flushed every ${this.cfg.flushMs} ms)`);
  }

  /** stops recording; writes what is buffered (bounded by the caller's stop timeout) */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writing;
    if (this.acting && this.ports.acting()) await this.flush();
  }

  counters(): HistoryCounters {
    return { ...this.counts, dropped: this.buffer.dropped, buffered: this.buffer.size };
  }

  /** follows the node's state: true while it may write */
  private sync(t: number, wall: number): boolean {
    const acting = this.ports.acting();
    if (acting === this.acting) return acting;
    this.acting = acting;
    this.states.clear();
    if (!acting) {
      const lost = this.buffer.clear();
      if (lost) this.log.info(`history: this node is no longer active: ${lost} sample${lost === 1 ? "" : "s"} not written (the new active records from now)`);
      return false;
    }
    // a new active: every recorded tag's value now, as the first sample of this term
    for (const tag of this.ports.tags()) this.offer(tag, t, wall);
    return true;
  }

  private onTag(t: TagSnapshot): void {
    const [now, wall] = [this.ports.elapsed(), this.ports.now()];
    if (this.sync(now, wall)) this.offer(t, now, wall);
  }

  private offer(tag: TagSnapshot, now: number, wall: number): void {
    const cfg = this.settings.get(tag.name);
    if (!cfg) return;
    const step = offer(this.states.get(tag.name) ?? EMPTY, sampleOf(tag, wall), cfg, now);
    this.states.set(tag.name, step.state);
    if (step.record) this.enqueue(tag.name, step.record);
  }

  private enqueue(tag: string, s: Sample): void {
    this.counts.recorded++;
    this.buffer.push({ table: HISTORY_TABLE, kind: "ins", key: historyKey(tag, s.ts, this.ports.epoch(), this.n++), body: JSON.stringify(s) });
  }

  private onTick(): void {
    const [now, wall] = [this.ports.elapsed(), this.ports.now()];
    if (!this.sync(now, wall)) return;
    let current: Map<string, TagSnapshot> | null = null;
    for (const [name, st] of this.states) {
      const cfg = this.settings.get(name)!;
      if (!st.pending && !(cfg.maxIntervalMs > 0 && st.last && now - st.last.at >= cfg.maxIntervalMs)) continue;
      current ??= new Map(this.ports.tags().map((t) => [t.name, t]));
      const snap = current.get(name);
      // a heartbeat shows the value as of the last read that confirmed it
      const cur = snap ? { ...sampleOf(snap, wall), ts: ms(snap.confirmedAt) ?? wall } : null;
      const step = tick(st, cfg, now, cur);
      this.states.set(name, step.state);
      if (step.record) this.enqueue(name, step.record);
    }
    this.warnDrops(now);
    if (!this.writing && this.buffer.size) void this.flush();
  }

  /** one write at a time; a failed one goes back in front (bounded) while this node is still active */
  private flush(): Promise<void> {
    const rows = this.buffer.take(ROWS_PER_WRITE);
    if (!rows.length) return Promise.resolve();
    this.writing = this.ports
      .write(rows)
      .then(() => {
        this.counts.written += rows.length;
        this.failuresInRow = 0;
      })
      .catch((err: Error) => {
        this.counts.failedWrites++;
        this.failuresInRow++;
        if (this.ports.acting()) this.buffer.unshift(rows);
        const now = this.ports.elapsed();
        if (this.failuresInRow >= 3 && now - this.lastWarn >= WARN_EVERY_MS) {
          this.lastWarn = now;
          this.log.warn(`history: ${rows.length} samples not written yet (${err.message}); ${this.buffer.size} wait for the next try`);
        }
      })
      .finally(() => {
        this.writing = null;
      });
    return this.writing;
  }

  private warnDrops(now: number): void {
    const dropped = this.buffer.dropped - this.droppedWarned;
    if (!dropped || now - this.lastWarn < WARN_EVERY_MS) return;
    this.lastWarn = now;
    this.droppedWarned = this.buffer.dropped;
    this.log.warn(
      { dropped, droppedTotal: this.buffer.dropped },
      `history: the database is not keeping up: ${dropped} oldest sample${dropped === 1 ? "" : "s"} dropped (history.maxBuffered ${this.cfg.maxBuffered}); ${this.buffer.size} buffered`,
    );
  }
}
