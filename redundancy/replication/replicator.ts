// One node's replication: a Leader while the node is active (or held), a
// Follower otherwise, switched by the node as its state changes. Messages
// from the peer come in through onMessage (checked by protocol.ts first).
import { TandemError } from "../../core/errors.js";
import { Follower, type FollowerStatus } from "./follower.js";
import { Leader, type LeaderStatus } from "./leader.js";
import { parse, REPL_TOPIC } from "./protocol.js";
import type { ReplicatorDeps } from "./settings.js";
import type { VerifyResult } from "./verify.js";
import { replayReceived } from "./received-log.js";
import type { Row, RowWrite } from "../storage.js";

export interface ReplicationStatus {
  mode: "sync" | "async" | "none";
  role: "leader" | "follower" | "starting";
  /** the peer as the leader sees it */
  peer: "live" | "catching-up" | "resuming" | "away" | "n/a";
  /** what a write's acknowledgement means now */
  acknowledging: "both" | "local" | "refusing" | "n/a";
  whenPeerAway: "accept" | "refuse";
  lastSeq: number;
  peerSeq: number | null;
  lagRecords: number;
  lagMs: number;
  /** records not yet on the peer (the journal: rows above what the peer acknowledged) */
  journalRecords: number;
  catchUp: { records: number; total: number; percent: number; snapshot: boolean } | null;
  refused: number;
  divergentSetAside: number;
  /** the last comparison of both databases (this node's, as the active that ran it) */
  lastVerify: VerifyResult | null;
}

export class Replicator {
  private leader: Leader | null = null;
  private follower: Follower | null = null;
  private switching: Promise<void> = Promise.resolve();
  /** the epoch of the last setRole(lead) not yet undone: a leader is open or opening in it */
  private leading: number | null = null;
  private dropped = 0;
  lastVerify: VerifyResult | null = null;
  private lastDropLog = -Infinity;

  constructor(
    private readonly d: ReplicatorDeps,
    private readonly schema: number,
  ) {}

  readonly topic = REPL_TOPIC;

  /**
   * At start, before the first setRole: rows this node acknowledged from its
   * received-rows log that a crash left out of its database are applied.
   */
  recover(): Promise<void> {
    // once: every part that reads the database at start (the sessions, the context) waits for it
    this.recovered ??= this.d.received ? replayReceived(this.d.storage, this.d.received, this.d.log).then(() => undefined) : Promise.resolve();
    return this.recovered;
  }
  private recovered: Promise<void> | null = null;

  /** the node is active (lead, in `epoch`) or not (follow); idempotent */
  setRole(lead: boolean, epoch: number, reason: string): Promise<void> {
    this.leading = lead ? epoch : null;
    this.switching = this.switching.then(async () => {
      if (lead && this.leader?.epoch === epoch) return;
      if (!lead && this.follower) return;
      const old = this.leader;
      old?.stop(lead ? "the node moved to a new epoch" : "this node is no longer active");
      this.leader = null;
      // a commit still under way (a database over the network) must be in the store before the next leader reads where it ends
      await old?.idle();
      await this.follower?.stop();
      this.follower = null;
      if (lead) {
        const l = new Leader(this.d, epoch, this.schema);
        this.leader = l;
        await l.start(reason).catch((err: unknown) => this.d.log.error(`replication: could not open epoch ${epoch}: ${(err as Error).message}`));
      } else {
        const f = new Follower(this.d, this.schema);
        this.follower = f;
        await f.start();
      }
    });
    return this.switching;
  }

  async stop(): Promise<void> {
    this.leading = null;
    await this.switching;
    this.leader?.stop("the node is stopping");
    this.leader = null;
    await this.follower?.stop();
    this.follower = null;
  }

  /** `internal`: Tandem's own rows (sessions, audit, tag history, events), never refused by whenPeerAway */
  write(writes: RowWrite[], internal = false): Promise<Row[]> {
    const notActive = () => Promise.reject(new TandemError("TANDEM_ERR_NOT_ACTIVE", ["write", "node is not active"]));
    if (this.leader && this.leader.epoch === this.leading) return this.leader.write(writes, internal);
    // the node has just become active: the write waits for the leader to open its epoch (the follower's
    // last applies and flush come first), as a process module that starts with the state change would
    if (this.leading !== null) return this.switching.then(() => (this.leader ? this.leader.write(writes, internal) : notActive()));
    return this.leader ? this.leader.write(writes, internal) : notActive();
  }

  /** compares both databases now (verify.ts); only on the active */
  async verify(by: string): Promise<VerifyResult> {
    if (!this.leader) throw new TandemError("TANDEM_ERR_NOT_ACTIVE", ["verify", "node is not active"]);
    const r = await this.leader.verify(by);
    this.lastVerify = r;
    return r;
  }

  /** the peer rebuilds its copy from this node's; only on the active */
  resync(): boolean {
    if (!this.leader) throw new TandemError("TANDEM_ERR_NOT_ACTIVE", ["resync", "node is not active"]);
    return this.leader.resync();
  }

  onConnection(up: boolean): void {
    this.leader?.onConnection(up);
  }

  onMessage(data: Record<string, unknown>): void {
    const m = parse(data, this.d.settings.maxRecordBytes * 2);
    if (typeof m === "string") {
      this.dropped++;
      const now = this.d.clock.now();
      if (now - this.lastDropLog > 5000) {
        this.lastDropLog = now;
        this.d.log.warn(`dropped a replication message from the peer: bad ${m} (further drops counted)`);
      }
      return;
    }
    const l = this.leader;
    const f = this.follower;
    switch (m.t) {
      case "hello":
        void l?.onHello(m);
        return;
      case "ack":
        l?.onAck(m);
        return;
      case "refuse":
        l?.onRefuse(m);
        return;
      case "probe":
        f?.onProbe(m);
        return;
      case "resume":
        f?.onResume(m);
        return;
      case "rows":
        f?.onRows(m);
        return;
      case "resync":
        f?.onResync(m);
        return;
      case "sums":
        l?.onSums(m);
        return;
    }
  }

  status(): ReplicationStatus {
    const s = this.d.settings;
    const base = { mode: s.mode, whenPeerAway: s.whenPeerAway, refused: 0, divergentSetAside: 0, lastVerify: this.lastVerify };
    if (this.leader) {
      const l: LeaderStatus = this.leader.status();
      const away = l.phase !== "live";
      const acknowledging = s.mode === "none" || s.mode === "async" ? "local" : !away ? "both" : s.whenPeerAway === "accept" ? "local" : "refusing";
      return {
        ...base,
        role: "leader",
        peer: s.mode === "none" ? "n/a" : l.phase,
        acknowledging,
        lastSeq: l.head,
        peerSeq: l.phase === "away" ? null : l.peerSeq,
        lagRecords: l.lagRecords,
        lagMs: l.lagMs,
        journalRecords: s.mode === "none" ? 0 : l.lagRecords,
        catchUp: l.catchUp ? progress(l.catchUp.sent, l.catchUp.total, l.catchUp.snapshot) : null,
      };
    }
    const f: FollowerStatus | null = this.follower?.status() ?? null;
    return {
      ...base,
      role: f ? "follower" : "starting",
      peer: "n/a",
      acknowledging: "n/a",
      lastSeq: f?.lastSeq ?? 0,
      peerSeq: null,
      lagRecords: 0,
      lagMs: 0,
      journalRecords: 0,
      catchUp: f?.catchUp ? progress(f.lastSeq - f.catchUp.from, f.catchUp.total, f.catchUp.snapshot) : null,
      refused: f?.refused ?? 0,
      divergentSetAside: f?.setAside ?? 0,
    };
  }

  counters(): { dropped: number } {
    return { dropped: this.dropped };
  }
}

function progress(records: number, total: number, snapshot: boolean): ReplicationStatus["catchUp"] {
  const r = Math.max(0, Math.min(records, total));
  return { records: r, total, percent: total > 0 ? Math.floor((100 * r) / total) : 100, snapshot };
}
