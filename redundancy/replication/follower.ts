// The standby's side of replication: it applies the active's rows in order,
// durably, and acknowledges what it holds. The active's live rows go to the
// received-rows log first (received-log.ts) as they arrive, even while
// earlier rows are still being applied: acknowledged once the log has them,
// applied to the database in their turn, which is flushed within
// flushWrittenMs and before this node acts as active. It refuses rows from an active
// whose epoch is below the one it knows (S1: a deposed active cannot write
// into the pair's database), and answers a gap by saying what it holds.
import { StorageGapError, type Row, type StoreSnapshot } from "../storage.js";
import type { Hello, Probe, Resume, Resync, Rows } from "./protocol.js";
import { markerOf } from "./verify.js";
import type { Clock } from "../net.js";
import type { ReplicatorDeps } from "./settings.js";
import { replayReceived, type ReceivedLog } from "./received-log.js";

/** the most rows applied in one transaction when queued messages are merged */
const MERGE_ROWS = 50_000;
/**
 * The most rows logged and acknowledged ahead of the database: beyond it a
 * message waits for its turn (a database slower than the active's writes
 * holds the active back instead of falling ever further behind).
 */
const LOG_AHEAD_ROWS = 2000;

/**
 * Logged rows (acknowledged already) go into the database with a turn of the
 * event loop every this many rows: the next batch from the active is logged
 * and acknowledged meanwhile instead of waiting for the whole transaction.
 */
const APPLY_SLICE_ROWS = 25;

/**
 * Catch-up and snapshot rows, merged up to mergeRows() in one transaction, go
 * into the database with a turn of the event loop every this many rows (a
 * few ms on SQLite): the node's heartbeats, its witness and its API are
 * answered meanwhile instead of after the whole transaction (~50 ms for
 * 16,000 rows). Still one transaction, committed (and flushed) before it is
 * acknowledged.
 */
const CATCH_UP_SLICE_ROWS = 1000;

export interface FollowerStatus {
  lastSeq: number;
  /** the active's catch-up or snapshot, as it announced it */
  catchUp: { from: number; total: number; snapshot: boolean } | null;
  refused: number;
  setAside: number;
}

export class Follower {
  /** applies run one after the other, in the order the rows came */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastSeq = 0;
  /** set after a gap until the active answers our hello: rows meanwhile are dropped, not counted as gaps again */
  private awaitingResume = false;
  private catchUp: FollowerStatus["catchUp"] = null;
  private refused = 0;
  private setAsideTotal = 0;
  private lastRefuseLog = -Infinity;
  private lastLogFail = -Infinity;
  /**
   * Rows messages waiting for the apply job of their generation: messages
   * that arrive while a transaction commits are applied together in the next
   * one (one fsync for many chunks of a catch-up). Any other message starts
   * a new generation, so rows never jump ahead of a resume or a resync.
   */
  private readonly rowsQueue: { gen: number; m: Rows; logged: boolean }[] = [];
  private gen = 0;
  private drainFor = -1;
  /** a flush for a received-rows log past receivedFlushBytes is queued */
  private sizeFlushQueued = false;
  /** syncAck written: the flush of what was acknowledged unflushed, pending */
  private flushTimer: ReturnType<Clock["setTimeout"]> | null = null;

  constructor(
    private readonly d: ReplicatorDeps,
    private readonly schema: number,
  ) {}

  /** the active asks what this node holds (a probe) when it starts leading and when the connection comes up */
  async start(): Promise<void> {
    this.lastSeq = (await this.d.storage.state()).lastSeq;
  }

  /**
   * Stops applying; what was acknowledged is in the database and on its disk
   * before it resolves (the node may act as active next): rows logged and
   * acknowledged but not yet applied are applied from the log.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer !== null) this.d.clock.clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.chain;
    if (this.d.received && this.d.received.size > 0) {
      try {
        await replayReceived(this.d.storage, this.d.received, this.d.log);
        return;
      } catch (err) {
        this.d.log.error(`replication: rows acknowledged from the received-rows log could not be applied to this node's database: ${(err as Error).message}`);
      }
    }
    await this.flush();
  }

  /**
   * The database on its disk; then the received-rows log drops what the
   * database holds (`all`: everything, the database is about to be rebuilt
   * from the active).
   */
  private async flush(all = false): Promise<void> {
    try {
      const held = all ? Infinity : (await this.d.storage.state()).lastSeq;
      await this.d.storage.flush();
      if (this.d.received && this.d.received.size > 0) this.d.received.reset(held);
    } catch (err) {
      this.d.log.error(`replication: rows acknowledged as written could not be flushed to this node's disk: ${(err as Error).message}`);
    }
  }

  /** syncAck written: a flush within flushWrittenMs of the first unflushed apply, in the apply order */
  private flushSoon(): void {
    if (this.flushTimer !== null || this.stopped) return;
    this.flushTimer = this.d.clock.setTimeout(() => {
      this.flushTimer = null;
      this.enqueue(() => this.flush());
    }, this.d.settings.flushWrittenMs);
  }

  onProbe(p: Probe): void {
    if (this.stale(p.epoch)) return;
    this.hello();
  }

  /** runs after everything before it; an error is logged, never left unhandled */
  private enqueue(fn: () => Promise<void>, rows = false): void {
    if (!rows) this.gen++;
    this.chain = this.chain.then(fn).catch((err: unknown) => this.d.log.error(`replication: ${(err as Error).message}`));
  }

  private hello(): void {
    if (this.stopped) return;
    this.enqueue(async () => {
      if (this.stopped) return;
      const st = await this.d.storage.state();
      this.lastSeq = st.lastSeq;
      const msg: Hello = { t: "hello", schema: this.schema, epoch: this.d.epoch(), lastSeq: st.lastSeq, lastEpoch: st.lastEpoch, epochs: st.epochs };
      this.awaitingResume = this.d.send(msg);
    });
  }

  /** an active below the epoch this node knows: refused, and told so */
  private stale(epoch: number): boolean {
    const mine = this.d.epoch();
    if (epoch >= mine) return false;
    this.refused++;
    const now = this.d.clock.now();
    if (now - this.lastRefuseLog > 5000) {
      this.lastRefuseLog = now;
      this.d.log.warn({ epoch, known: mine }, `refused replication from an active in epoch ${epoch}: this node knows epoch ${mine} (further refusals counted)`);
    }
    this.d.send({ t: "refuse", epoch: mine, reason: `epoch ${epoch} is older than the pair's epoch ${mine}` });
    return true;
  }

  onResume(r: Resume): void {
    if (this.stale(r.epoch)) return;
    this.enqueue(async () => {
      if (this.stopped) return;
      this.awaitingResume = false;
      if (r.diverged) {
        await this.flush(true);
        const moved = await this.d.storage.setAside(r.keep, r.epoch, (this.d.wallClock ?? Date.now)());
        this.setAsideTotal += moved;
        this.d.log.warn(
          { moved, keep: r.keep, epoch: r.epoch },
          `${moved} records written here under an older epoch were never seen by the active (epoch ${r.epoch}): they are kept aside for an operator (tandem divergence list); this database is rebuilt from the active`,
        );
        await this.d.storage.truncate();
        this.lastSeq = 0;
        this.hello();
        return;
      }
      this.catchUp = r.total > 0 ? { from: r.from, total: r.total, snapshot: r.from === 0 } : null;
    });
  }

  onResync(r: Resync): void {
    if (this.stale(r.epoch)) return;
    this.enqueue(async () => {
      if (this.stopped) return;
      this.d.log.warn(`the active (epoch ${r.epoch}) asked for a resync: this database is emptied and rebuilt from the active's`);
      await this.flush(true);
      await this.d.storage.truncate();
      this.lastSeq = 0;
      this.hello();
    });
  }

  /**
   * Applies a message's rows; at a verify marker the rows up to it are applied,
   * the view frozen, and the rest applied after: the checksums are of the
   * same point of the order as the active's.
   */
  private async applyRows(after: number, rows: Row[], flush: boolean, held: number, yieldEvery?: number): Promise<void> {
    const opts = yieldEvery ? { flush, yieldEvery } : { flush };
    // rows at or below what the database held (`held`) are a resend the store skips: no verify answer for those
    let from = 0;
    for (let i = 0; i < rows.length; i++) {
      const marker = markerOf(rows[i]);
      if (!marker || rows[i].seq <= held) continue;
      await this.d.storage.apply(after, rows.slice(from, i + 1), opts);
      after = rows[i].seq;
      from = i + 1;
      const snap = await this.d.storage.snapshot().catch(() => null);
      if (snap) void this.answerVerify(snap, marker.id, rows[i].seq, marker.span);
    }
    if (from < rows.length || rows.length === 0) await this.d.storage.apply(after, rows.slice(from), opts);
    if (!flush) this.flushSoon();
  }

  private async answerVerify(snap: StoreSnapshot, id: string, upTo: number, span: number): Promise<void> {
    try {
      const sums = await snap.checksums(1, upTo, span);
      this.d.send({ t: "sums", epoch: this.d.epoch(), id, upTo, sums });
    } catch (err) {
      this.d.log.warn(`verify ${id}: the checksums could not be computed: ${(err as Error).message}`);
    } finally {
      await snap.release().catch(() => undefined);
    }
  }

  onRows(m: Rows): void {
    if (this.stale(m.epoch)) return;
    this.rowsQueue.push({ gen: this.gen, m, logged: this.logAhead(m) });
    if (this.drainFor === this.gen) return;
    const gen = this.gen;
    this.drainFor = gen;
    this.enqueue(() => this.drain(gen), true);
  }

  /**
   * A live message that follows what this node holds (its database and its
   * log) goes to the received-rows log and is acknowledged now, without
   * waiting for the rows before it to be applied: the log keeps the order.
   * Returns whether it did.
   */
  private logAhead(m: Rows): boolean {
    const received = this.d.received;
    if (!received || m.live !== true || !m.rows.length || this.stopped || this.awaitingResume || m.after !== this.lastSeq) return false;
    if (this.rowsQueue.reduce((n, q) => n + (q.logged ? q.m.rows.length : 0), 0) >= LOG_AHEAD_ROWS) return false;
    try {
      received.append({ epoch: m.epoch, after: m.after, rows: m.rows });
    } catch (err) {
      this.logFailed(err as Error);
      return false;
    }
    this.acknowledge(m.rows[m.rows.length - 1].seq);
    return true;
  }

  /** applies the queued rows messages of one generation, those that follow each other in one transaction */
  private async drain(gen: number): Promise<void> {
    while (this.rowsQueue.length && this.rowsQueue[0].gen === gen) {
      const head = this.rowsQueue.shift() as { m: Rows; logged: boolean };
      const first = head.m;
      const after = first.after;
      const rows = [...first.rows];
      let last = rows.length ? rows[rows.length - 1].seq : after;
      let live = first.live === true;
      const logged = head.logged;
      // logged messages merge only with logged ones (acknowledged already), the others with the others
      while (rows.length < this.mergeRows() && this.rowsQueue.length && this.rowsQueue[0].gen === gen && this.rowsQueue[0].m.after === last && this.rowsQueue[0].logged === logged) {
        const next = (this.rowsQueue.shift() as { m: Rows }).m;
        rows.push(...next.rows);
        live &&= next.live === true;
        if (next.rows.length) last = next.rows[next.rows.length - 1].seq;
      }
      // logged rows left unapplied here are applied from the log by stop() or at the next start
      if (this.stopped || this.awaitingResume) continue;
      const done = logged
        ? await this.applyLogged(after, rows)
        : live && this.d.received && rows.length && after === this.lastSeq
          ? await this.logAckApply(first.epoch, after, rows)
          : await this.applyAndAck(after, rows);
      if (!done) {
        // a gap or a refusal: what is queued of this generation assumed the rows that did not go in
        while (this.rowsQueue.length && this.rowsQueue[0].gen === gen) this.rowsQueue.shift();
      }
    }
    if (this.drainFor === gen) this.drainFor = -1;
  }

  /**
   * A live write: in the received-rows log (on its disk under syncAck
   * flushed), acknowledged, then applied without waiting for the database's
   * own flush. A log that cannot be written falls back to apply, then ack.
   */
  private async logAckApply(epoch: number, after: number, rows: Row[]): Promise<boolean> {
    const received = this.d.received as ReceivedLog;
    try {
      received.append({ epoch, after, rows });
    } catch (err) {
      this.logFailed(err as Error);
      return this.applyAndAck(after, rows);
    }
    this.acknowledge(rows[rows.length - 1].seq);
    return this.applyLogged(after, rows);
  }

  /** rows in the received-rows log and acknowledged: applied to the database without waiting for its flush */
  private async applyLogged(after: number, rows: Row[]): Promise<boolean> {
    const received = this.d.received as ReceivedLog;
    try {
      await this.applyRows(after, rows, false, after, APPLY_SLICE_ROWS);
    } catch (err) {
      // acknowledged and in the log, refused by the database: the log keeps them (replayed at the next start), the active resumes from what the database holds
      this.d.log.error(
        `replication: rows ${rows[0].seq}..${rows[rows.length - 1].seq} are in the received-rows log (${received.where}) but this database refused them: ${(err as Error).message}`,
      );
      // what this node says it holds is its database again: nothing more is acknowledged from the log above it
      this.lastSeq = await this.d.storage.state().then(
        (st) => st.lastSeq,
        () => after,
      );
      this.d.send({ t: "refuse", epoch: this.d.epoch(), reason: `the standby's database refused the rows: ${(err as Error).message}` });
      return false;
    }
    this.d.onApplied?.(rows);
    if (received.size > this.d.settings.receivedFlushBytes && !this.sizeFlushQueued) {
      this.sizeFlushQueued = true;
      this.enqueue(() => {
        this.sizeFlushQueued = false;
        return this.flush();
      });
    }
    return true;
  }

  private logFailed(err: Error): void {
    const now = this.d.clock.now();
    if (now - this.lastLogFail < 5000) return;
    this.lastLogFail = now;
    this.d.log.error(`replication: the received-rows log could not be written (${err.message}): rows are applied to the database before they are acknowledged`);
  }

  private acknowledge(last: number): void {
    if (last > this.lastSeq) this.lastSeq = last;
    if (this.catchUp && this.lastSeq >= this.catchUp.from + this.catchUp.total) this.catchUp = null;
    this.d.send({ t: "ack", epoch: this.d.epoch(), seq: this.lastSeq });
  }

  private async applyAndAck(after: number, rows: Row[]): Promise<boolean> {
    try {
      await this.applyRows(after, rows, this.d.settings.syncAck !== "written", this.lastSeq, CATCH_UP_SLICE_ROWS);
    } catch (err) {
      if (err instanceof StorageGapError) {
        this.d.log.info(`replication: rows after ${err.expected} but this database holds up to ${err.have}: asking the active to resume`);
        this.hello();
        return false;
      }
      this.d.log.error(`replication: this database refused rows ${rows[0]?.seq}..${rows[rows.length - 1]?.seq}: ${(err as Error).message}`);
      this.d.send({ t: "refuse", epoch: this.d.epoch(), reason: `the standby's database refused the rows: ${(err as Error).message}` });
      return false;
    }
    this.d.onApplied?.(rows);
    this.acknowledge(rows.length ? rows[rows.length - 1].seq : after);
    return true;
  }

  /**
   * The most rows one transaction takes when queued messages are merged:
   * half of what the active keeps in flight, so that it reads and sends the
   * next half while this node commits (a merge of the whole window would
   * leave it waiting for the acknowledgements of all of it), and at most
   * MERGE_ROWS.
   */
  private mergeRows(): number {
    const s = this.d.settings;
    return Math.min(MERGE_ROWS, Math.max(s.catchUpChunk, Math.floor((s.catchUpChunk * s.catchUpWindow) / 2)));
  }

  status(): FollowerStatus {
    return { lastSeq: this.lastSeq, catchUp: this.catchUp, refused: this.refused, setAside: this.setAsideTotal };
  }
}
