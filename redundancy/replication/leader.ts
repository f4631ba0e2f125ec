// The active's side of replication: it orders every write (seq), commits it
// to its own database and sends it to the peer's (dual write), and answers
// each writer once the write is acknowledged as the mode says.
//
// Group commit: writes that arrive while a batch commits wait together and
// go as the next batch (one transaction here, one message and one
// transaction on the peer). A batch is sent to the peer *before* the local
// commit, so both disks work at once.
//
// The peer session: `away` (no connection, or no acknowledgement within
// ackTimeoutMs) → `resuming` (asked the follower what it holds) →
// `catching-up` (streaming every row above that, in seq order, a window of
// chunks in flight; new writes go to the local database only and are picked
// up by the stream, since they land above it) → `live` (each batch sent as
// it commits). The rows themselves are the journal (storage.ts).
import { TandemError } from "../../core/errors.js";
import { randomUUID } from "node:crypto";
import type { Row, RowWrite, StoreState } from "../storage.js";
import { matchPoint } from "./match.js";
import { writeProblem, type Ack, type Hello, type Refuse, type Sums } from "./protocol.js";
import { compareSums, markerOf, VERIFY_TABLE, type VerifyResult } from "./verify.js";
import type { StoreSnapshot } from "../storage.js";
import type { ReplicatorDeps } from "./settings.js";

export type PeerPhase = "away" | "resuming" | "catching-up" | "live";

interface Pending {
  writes: RowWrite[];
  /** Tandem's own (an epoch's marker, a verify marker): never refused by whenPeerAway */
  internal: boolean;
  bytes: number;
  resolve(rows: Row[]): void;
  reject(err: Error): void;
}

interface Waiting {
  upTo: number;
  rows: Row[];
  sentAt: number;
  resolve(rows: Row[]): void;
  reject(err: Error): void;
}

/** a row's size on the wire, at worst: JSON escapes a body's quotes (a JSON text inside a JSON string), so twice its length */
const rowBytes = (w: Pick<RowWrite, "table" | "key" | "body">): number => 64 + w.table.length + (w.key?.length ?? 0) + 2 * (w.body?.length ?? 0);

export interface LeaderStatus {
  phase: PeerPhase;
  head: number;
  peerSeq: number;
  lagRecords: number;
  lagMs: number;
  catchUp: { from: number; total: number; sent: number; snapshot: boolean } | null;
}

export class Leader {
  private queue: Pending[] = [];
  private waiting: Waiting[] = [];
  private flushing = false;
  private applying = false;
  /** the commit in flight: the next leader reads where the store ends only once it is done (idle()) */
  private applyRun: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private head = 0;
  private phase: PeerPhase = "away";
  private peerSeq = 0;
  /** oldest write the peer has not acknowledged (ms), for the lag */
  private unackedSince: number | null = null;
  private catchUp: { cursor: number; inflight: number[]; from: number; total: number; snapshot: boolean; pumping: boolean; sentAt: number } | null = null;
  private timer: unknown = null;
  private lagWaiters: (() => void)[] = [];
  private readonly wall: () => number;
  /** when an away peer is asked again (sooner after a reconnect, later after a refusal) */
  private nextProbeAt = 0;
  /** the last acknowledgement that moved the peer on (a catch-up whose chunks get no answer is resumed) */
  private lastAckAt = 0;
  /** verifies under way: this node's snapshot at the marker, and the follower's answer */
  private readonly verifies = new Map<string, { snap: StoreSnapshot | null; answer(s: Sums): void }>();
  /**
   * Settled once start() read where this store ends. Nothing is stamped
   * before: a write that arrives as the node becomes active (its own events)
   * would otherwise be numbered from 0, and the store skip its rows as a
   * resend of rows it holds — answered, and lost.
   */
  private readonly opened: Promise<void>;
  private open: () => void = () => {};

  constructor(
    private readonly d: ReplicatorDeps,
    readonly epoch: number,
    /** this node's schema version: a peer more than one version apart is not replicated to */
    private readonly schema: number,
  ) {
    this.wall = d.wallClock ?? Date.now;
    this.opened = new Promise((r) => (this.open = r));
  }

  /** Opens the epoch: its marker row is the first write, then asks the peer what it holds. */
  async start(reason: string): Promise<void> {
    try {
      this.head = (await this.d.storage.state()).lastSeq;
    } catch (err) {
      this.stop(`this node's database did not say where it ends (${(err as Error).message})`);
      throw err;
    } finally {
      this.open();
    }
    this.timer = this.d.clock.setTimeout(() => this.tick(), this.d.settings.ackTimeoutMs / 4);
    this.probe();
    // ahead of anything written while the head was read
    await this.write([{ table: "_epochs", kind: "put", key: String(this.epoch), body: JSON.stringify({ node: this.d.nodeId, reason }) }], true, true);
  }

  stop(why: string): void {
    this.stopped = true;
    if (this.timer !== null) this.d.clock.clearTimeout(this.timer);
    this.timer = null;
    const err = new TandemError("TANDEM_ERR_NOT_REPLICATED", [`${why}; nothing was acknowledged`]);
    for (const p of this.queue.splice(0)) p.reject(err);
    for (const w of this.waiting.splice(0)) w.reject(new TandemError("TANDEM_ERR_NOT_REPLICATED", [`${why} before the peer acknowledged it (it is on this node's database; the peer gets it when the pair agrees again)`]));
    for (const f of this.lagWaiters.splice(0)) f();
  }

  /** Resolves once no commit of this leader is under way; after stop() none starts again. */
  async idle(): Promise<void> {
    await this.applyRun;
  }

  /** Orders, commits and replicates writes; resolves with the stamped rows once acknowledged. */
  write(writes: RowWrite[], internal = false, first = false): Promise<Row[]> {
    if (this.stopped) return Promise.reject(new TandemError("TANDEM_ERR_NOT_ACTIVE", ["write", "node is standby, not active"]));
    const s = this.d.settings;
    if (!internal && s.mode === "sync" && s.whenPeerAway === "refuse" && this.phase !== "live") {
      return Promise.reject(new TandemError("TANDEM_ERR_NOT_REPLICATED", [`the peer is ${this.phase === "away" ? "away" : "catching up"} and replication.whenPeerAway is refuse: nothing was written`]));
    }
    for (const w of writes) {
      const problem = writeProblem(w, s.maxRecordBytes);
      if (problem) return Promise.reject(new TandemError("TANDEM_ERR_RECORD", [w.table, `${problem}: nothing was written`]));
    }
    return new Promise((resolve, reject) => {
      const p = { writes, internal, bytes: writes.reduce((n, w) => n + rowBytes(w), 0), resolve, reject };
      if (first) this.queue.unshift(p);
      else this.queue.push(p);
      if (!this.flushing) {
        this.flushing = true;
        // one turn of the event loop gathers what arrives meanwhile: the group
        setImmediate(() => void this.flush());
      }
    });
  }

  private takeBatch(): Pending[] {
    const s = this.d.settings;
    const out: Pending[] = [];
    let n = 0;
    let bytes = 0;
    while (this.queue.length) {
      const p = this.queue[0];
      if (out.length && (n + p.writes.length > s.batchMaxRecords || bytes + p.bytes > s.batchMaxBytes)) break;
      out.push(this.queue.shift() as Pending);
      n += p.writes.length;
      bytes += p.bytes;
      // a verify marker ends its batch: both nodes freeze their view right after it
      if (p.writes.some((w) => w.table === VERIFY_TABLE)) break;
    }
    return out;
  }

  private async flush(): Promise<void> {
    try {
      await this.opened;
      for (let first = true; this.queue.length && !this.stopped; first = false) {
        // a turn of the event loop between batches: a synchronous store (SQLite) and writers that
        // write again at once would otherwise keep timers and sockets waiting
        if (!first) await new Promise((r) => setImmediate(r));
        await this.lagRoom();
        if (this.stopped) break;
        const batch = this.takeBatch();
        if (!this.d.canWrite()) {
          const err = new TandemError("TANDEM_ERR_LEASE", ["write", "this node may not act now (no valid lease)"]);
          for (const p of batch) p.reject(err);
          continue;
        }
        await this.commit(batch);
      }
    } finally {
      this.flushing = false;
      if (this.queue.length && !this.stopped) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    const at = this.wall();
    let seq = this.head;
    const epoch = this.epoch;
    // the fields written out, not spread: one shape for every row (a spread of callers' objects is slow on the write path)
    const per = batch.map((p) => p.writes.map((w): Row => ({ seq: ++seq, epoch, at, table: w.table, kind: w.kind, key: w.key, body: w.body })));
    const rows = per.flat();
    const after = this.head;
    const live = this.phase === "live" && this.d.settings.mode !== "none";
    if (live && !this.d.send({ t: "rows", epoch: this.epoch, after, rows, live: true })) this.away("the peer connection is down");
    const sentLive = live && this.phase === "live";
    this.applying = true;
    try {
      const run = this.d.storage.apply(after, rows);
      this.applyRun = run.catch(() => undefined);
      await run;
    } catch (err) {
      const e = err instanceof TandemError ? err : new TandemError("TANDEM_ERR_NOT_REPLICATED", [`this node's database refused the write: ${(err as Error).message}`]);
      for (const p of batch) p.reject(e);
      // the peer may hold rows this store does not: it must say what it holds before anything more goes
      if (sentLive) this.away("this node's database refused a batch the peer was sent");
      this.head = (await this.d.storage.state().catch(() => ({ lastSeq: this.head }) as StoreState)).lastSeq;
      return;
    } finally {
      this.applying = false;
    }
    this.head = seq;
    const marker = rows.length ? markerOf(rows[rows.length - 1]) : null;
    const v = marker ? this.verifies.get(marker.id) : undefined;
    // frozen before the next batch commits (the flush loop waits for it)
    if (v) v.snap = await this.d.storage.snapshot().catch(() => null);
    this.d.onApplied?.(rows);
    const now = this.d.clock.now();
    batch.forEach((p, i) => {
      const mine = per[i];
      if (this.d.settings.mode !== "sync") return p.resolve(mine);
      if (sentLive && this.phase === "live") {
        this.unackedSince ??= now;
        this.waiting.push({ upTo: mine[mine.length - 1]?.seq ?? seq, rows: mine, sentAt: now, resolve: p.resolve, reject: p.reject });
        return;
      }
      // the peer is away or catching up: the policy decides (Tandem's own rows reach it with the catch-up)
      if (this.d.settings.whenPeerAway === "accept" || p.internal) return p.resolve(mine);
      p.reject(new TandemError("TANDEM_ERR_NOT_REPLICATED", ["the peer went away before this write reached it; it is on this node's database only and reaches the peer when it returns, but it is not acknowledged as replicated"]));
    });
    if (this.d.settings.mode === "async" && this.phase === "live") this.unackedSince ??= now;
    this.settle();
    if (this.catchUp && !this.catchUp.pumping) void this.pump();
  }

  // ------------------------------------------------------------ the peer

  /**
   * Asks the follower what it holds. One question at a time: a start and a
   * connection coming up together ask once (two answers would start the
   * catch-up twice); an unanswered one is asked again after ackTimeoutMs.
   */
  private probe(force = false): void {
    if (this.d.settings.mode === "none") return;
    const now = this.d.clock.now();
    if (!force && this.phase === "resuming" && now < this.nextProbeAt) return;
    this.phase = "resuming";
    this.nextProbeAt = now + this.d.settings.ackTimeoutMs;
    if (!this.d.send({ t: "probe", epoch: this.epoch })) this.phase = "away";
  }

  onConnection(up: boolean): void {
    if (this.stopped) return;
    if (up) this.probe(true);
    else this.away("the peer connection is down");
  }

  async onHello(h: Hello): Promise<void> {
    if (this.stopped || this.d.settings.mode === "none") return;
    if (h.epoch > this.epoch) return this.away(`the peer knows epoch ${h.epoch}, above this node's ${this.epoch}`, 5000);
    if (Math.abs(h.schema - this.schema) > 1) {
      this.d.log.error(`the peer's database schema is version ${h.schema}, this node's ${this.schema}: only adjacent versions replicate; upgrade the older node`);
      return this.away(`schema ${h.schema} and ${this.schema} are not adjacent`, 30_000);
    }
    const mine = await this.d.storage.state();
    if (this.stopped) return;
    const m = matchPoint(mine, h);
    this.catchUp = null;
    this.dropWaiting();
    if (m.diverged) {
      this.d.log.warn({ keep: m.keep, peerSeq: h.lastSeq }, `the peer holds writes above ${m.keep} that this active never saw: it sets them aside for an operator and takes a snapshot`);
      this.phase = "resuming";
      this.d.send({ t: "resume", epoch: this.epoch, from: m.keep, keep: m.keep, diverged: true, total: 0 });
      return;
    }
    const snapshot = m.keep === 0 && mine.lastSeq > 0;
    this.peerSeq = m.keep;
    this.phase = "catching-up";
    this.catchUp = { cursor: m.keep, inflight: [], from: m.keep, total: Math.max(0, this.head - m.keep), snapshot, pumping: false, sentAt: this.d.clock.now() };
    this.d.send({ t: "resume", epoch: this.epoch, from: m.keep, keep: m.keep, diverged: false, total: this.catchUp.total });
    this.d.log.info({ from: m.keep, head: this.head }, snapshot ? `the peer is empty: sending it a snapshot of the rows up to ${this.head}` : `the peer holds up to ${m.keep}: catching it up to ${this.head}`);
    void this.pump();
  }

  onAck(a: Ack): void {
    if (this.stopped || a.seq <= this.peerSeq) return;
    this.peerSeq = a.seq;
    this.lastAckAt = this.d.clock.now();
    this.settle();
    const c = this.catchUp;
    if (c) {
      while (c.inflight.length && c.inflight[0] <= a.seq) c.inflight.shift();
      if (!c.pumping) void this.pump();
    }
  }

  onSums(m: Sums): void {
    this.verifies.get(m.id)?.answer(m);
  }

  /**
   * Compares both databases as they were right after a marker written now
   * (verify.ts); resolves with the ranges that differ, if any.
   */
  async verify(by: string, timeoutMs = 60_000): Promise<VerifyResult> {
    const startedAt = new Date(this.wall()).toISOString();
    const t0 = this.d.clock.now();
    const id = randomUUID();
    const span = this.d.settings.verifySpan;
    const result = (r: Partial<VerifyResult>): VerifyResult => ({ id, by, startedAt, durationMs: Math.round(this.d.clock.now() - t0), upTo: 0, ranges: 0, rows: 0, ok: false, mismatches: [], error: null, ...r });
    if (this.phase !== "live") return result({ error: `the peer is ${this.phase}: there is no second copy to compare now` });
    let answer!: (s: Sums) => void;
    let timer: unknown = null;
    const theirs = new Promise<Sums | null>((resolve) => {
      answer = resolve;
      timer = this.d.clock.setTimeout(() => resolve(null), timeoutMs);
    });
    const v: { snap: StoreSnapshot | null; answer(s: Sums): void } = { snap: null, answer };
    this.verifies.set(id, v);
    try {
      const [marker] = await this.write([{ table: VERIFY_TABLE, kind: "ins", key: null, body: JSON.stringify({ id, span, by }) }], true);
      const snap = v.snap as StoreSnapshot | null;
      if (!snap) return result({ upTo: marker.seq, error: "this node could not freeze a view of its database" });
      const mine = await snap.checksums(1, marker.seq, span).finally(() => snap.release());
      const peer = await theirs;
      if (!peer) return result({ upTo: marker.seq, ranges: mine.length, rows: mine.reduce((n, r) => n + r.rows, 0), error: `the peer sent no checksums within ${timeoutMs} ms` });
      const mismatches = compareSums(mine, peer.sums);
      return result({ upTo: marker.seq, ranges: mine.length, rows: mine.reduce((n, r) => n + r.rows, 0), ok: mismatches.length === 0, mismatches });
    } catch (err) {
      return result({ error: (err as Error).message });
    } finally {
      this.verifies.delete(id);
      this.d.clock.clearTimeout(timer);
    }
  }

  /** the follower rebuilds its copy from this one (after a failed verify) */
  resync(): boolean {
    if (this.stopped || !this.d.send({ t: "resync", epoch: this.epoch })) return false;
    this.away("the peer rebuilds its copy from this node");
    this.nextProbeAt = 0;
    return true;
  }

  onRefuse(r: Refuse): void {
    this.d.log.warn({ peerEpoch: r.epoch }, `the peer refused replication: ${r.reason}`);
    this.away(`the peer refused: ${r.reason}`, 5000);
  }

  /** streams rows above the cursor, a window of chunks in flight; goes live once it reaches the head */
  private async pump(): Promise<void> {
    const c = this.catchUp;
    if (!c || c.pumping || this.stopped) return;
    c.pumping = true;
    try {
      while (this.catchUp === c && c.inflight.length < this.d.settings.catchUpWindow) {
        const rows = await this.d.storage.rowsAfter(c.cursor, this.d.settings.catchUpChunk);
        if (this.catchUp !== c) return;
        if (rows.length === 0) {
          // everything up to the head is on its way: from now on each batch goes as it commits
          if (this.applying || c.cursor < this.head) return; // a commit in flight: its end calls us again
          this.catchUp = null;
          this.phase = "live";
          if (this.peerSeq < this.head) this.unackedSince ??= this.d.clock.now();
          this.d.log.info({ seq: this.head }, "the peer has caught up: writing to both databases again");
          return;
        }
        const cut = cutByBytes(rows, this.d.settings.batchMaxBytes);
        if (!this.d.send({ t: "rows", epoch: this.epoch, after: c.cursor, rows: cut })) return this.away("the peer connection is down");
        c.cursor = cut[cut.length - 1].seq;
        c.inflight.push(c.cursor);
        c.sentAt = this.d.clock.now();
      }
    } catch (err) {
      this.d.log.error(`catch-up read failed: ${(err as Error).message}`);
      this.away("this node's database could not be read for the catch-up");
    } finally {
      c.pumping = false;
    }
  }

  private away(why: string, backOffMs = 0): void {
    if (backOffMs) this.nextProbeAt = this.d.clock.now() + backOffMs;
    if (this.phase === "away" && !this.catchUp) return;
    if (this.phase !== "away") this.d.log.warn(`replication: the peer is away (${why}); writes go to this database ${this.d.settings.mode === "sync" && this.d.settings.whenPeerAway === "refuse" ? "only as far as already begun; new writes are refused" : "and reach the peer when it returns"}`);
    this.phase = "away";
    this.catchUp = null;
    this.dropWaiting();
  }

  /** the writes waiting for the peer: acknowledged on one copy (accept) or refused (refuse) */
  private dropWaiting(): void {
    const accept = this.d.settings.whenPeerAway === "accept";
    for (const w of this.waiting.splice(0)) {
      if (accept) w.resolve(w.rows);
      else w.reject(new TandemError("TANDEM_ERR_NOT_REPLICATED", ["the peer went away before it acknowledged this write; it is on this node's database only (it reaches the peer when it returns) and is not acknowledged as replicated"]));
    }
    this.unackedSince = null;
    for (const f of this.lagWaiters.splice(0)) f();
  }

  private settle(): void {
    while (this.waiting.length && this.waiting[0].upTo <= this.peerSeq) {
      const w = this.waiting.shift() as Waiting;
      w.resolve(w.rows);
    }
    if (this.peerSeq >= this.head) this.unackedSince = null;
    else if (this.waiting.length) this.unackedSince = this.waiting[0].sentAt;
    if (this.lagWaiters.length && !this.lagging()) for (const f of this.lagWaiters.splice(0)) f();
  }

  private lagging(): boolean {
    const s = this.d.settings;
    if (s.mode !== "async" || this.phase !== "live") return false;
    const ms = this.unackedSince === null ? 0 : this.d.clock.now() - this.unackedSince;
    return this.head - this.peerSeq > s.maxLagRecords || ms > s.maxLagMs;
  }

  /** async: writers wait while the peer is further behind than the bounds allow */
  private lagRoom(): Promise<void> {
    if (!this.lagging()) return Promise.resolve();
    return new Promise((r) => this.lagWaiters.push(r));
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = this.d.clock.now();
    if (this.phase === "live" && this.unackedSince !== null && now - this.unackedSince > this.d.settings.ackTimeoutMs) {
      this.away(`no acknowledgement for ${now - this.unackedSince} ms`);
    }
    // a chunk lost on a connection that went away: ask where the peer is and go on from there
    const c = this.catchUp;
    if (this.phase === "catching-up" && c && c.inflight.length && now - Math.max(this.lastAckAt, c.sentAt) > this.d.settings.ackTimeoutMs) {
      this.d.log.info(`replication: no acknowledgement of the catch-up for ${Math.round(now - Math.max(this.lastAckAt, c.sentAt))} ms: asking the peer where it is`);
      this.catchUp = null;
      this.probe();
    }
    if ((this.phase === "away" || this.phase === "resuming") && now >= this.nextProbeAt) this.probe(true);
    if (this.lagWaiters.length && !this.lagging()) for (const f of this.lagWaiters.splice(0)) f();
    this.timer = this.d.clock.setTimeout(() => this.tick(), this.d.settings.ackTimeoutMs / 4);
  }

  status(): LeaderStatus {
    const c = this.catchUp;
    return {
      phase: this.phase,
      head: this.head,
      peerSeq: this.peerSeq,
      lagRecords: Math.max(0, this.head - this.peerSeq),
      lagMs: this.unackedSince === null ? 0 : Math.max(0, this.d.clock.now() - this.unackedSince),
      catchUp: c ? { from: c.from, total: c.total, sent: c.cursor - c.from, snapshot: c.snapshot } : null,
    };
  }
}

function cutByBytes(rows: Row[], max: number): Row[] {
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    bytes += rowBytes(rows[i]);
    if (bytes > max && i > 0) return rows.slice(0, i);
  }
  return rows;
}
