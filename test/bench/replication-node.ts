// One node of the replication bench's pair, wired as runtime/records.ts wires
// a node: a Replicator over its own store, talking to the peer through a real
// PeerLink (TCP on loopback, HMAC-authenticated envelopes, the replay guard:
// the production transport). The heartbeat link is bound but never used: the
// bench has no role machine, the roles are fixed (leader in epoch 1, follower
// knowing epoch 1). Used by replication.ts (the active, in the bench process)
// and replication-peer.ts (the standby, a child process).
import type { Logger } from "../../core/logger.js";
import { PeerLink } from "../../redundancy/peer-link.js";
import { systemClock } from "../../redundancy/net.js";
import { encode, REPL_TOPIC } from "../../redundancy/replication/protocol.js";
import { Replicator } from "../../redundancy/replication/replicator.js";
import type { ReceivedLog } from "../../redundancy/replication/received-log.js";
import type { ReplicationSettings } from "../../redundancy/replication/settings.js";
import { StorageGapError, type ApplyOptions, type Row, type Storage, type StoreState } from "../../redundancy/storage.js";
import { keyFromSecret } from "../../redundancy/wire.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { PostgresStorage } from "../../runtime/storage/postgres.js";

export const PAIR_ID = "bench";
export const EPOCH = 1;
/** the production default: heartbeat.intervalMs (runtime/pair-options.ts) */
export const RECONNECT_MS = 50;
/** the production default: heartbeat.replayWindow */
export const REPLAY_WINDOW = 64;
/** the topic of the bench's probe of the largest message the peer link carries */
export const PROBE_TOPIC = "bench-probe";

export type StoreSpec = { engine: "sqlite"; file: string } | { engine: "postgres"; url: string };

/** the adapters as a node opens them (runtime/records.ts openStorage): SQLite WAL + synchronous FULL; PostgreSQL pool of 4 */
export async function openStore(spec: StoreSpec): Promise<Storage> {
  const s = spec.engine === "sqlite" ? new SqliteStorage({ file: spec.file }) : new PostgresStorage({ url: spec.url });
  await s.open();
  return s;
}

/** time spent in a store's apply() and rowsAfter() (transactions and catch-up reads), for the report's breakdown */
export interface StoreTimes {
  apply: { calls: number; rows: number; ms: number };
  rowsAfter: { calls: number; rows: number; ms: number };
}

/** `s` with its apply() and rowsAfter() timed into `times` (everything else passes through) */
export function timed(s: Storage): { storage: Storage; times: StoreTimes } {
  const times: StoreTimes = { apply: { calls: 0, rows: 0, ms: 0 }, rowsAfter: { calls: 0, rows: 0, ms: 0 } };
  const storage = new Proxy(s, {
    get(target, prop) {
      if (prop === "apply")
        return async (after: number, rows: Row[], opts?: ApplyOptions) => {
          const t0 = systemClock.now();
          try {
            return await target.apply(after, rows, opts);
          } finally {
            times.apply.calls++;
            times.apply.rows += rows.length;
            times.apply.ms += systemClock.now() - t0;
          }
        };
      if (prop === "rowsAfter")
        return async (after: number, limit: number) => {
          const t0 = systemClock.now();
          const rows = await target.rowsAfter(after, limit);
          times.rowsAfter.calls++;
          times.rowsAfter.rows += rows.length;
          times.rowsAfter.ms += systemClock.now() - t0;
          return rows;
        };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, times };
}

/**
 * `s` as a standby that stores nothing: apply() only notes where the rows
 * end (and the epochs they open), so the follower acknowledges each batch as
 * soon as it has checked and parsed it. Not a setting of Tandem: the bench's
 * ceiling for this host, what the active can make when its peer's work costs
 * nothing but receiving (everything else passes through to `s`).
 */
export function hollow(s: Storage): Storage {
  let last: { seq: number; epoch: number; epochs: { epoch: number; firstSeq: number }[] } | null = null;
  return new Proxy(s, {
    get(target, prop) {
      if (prop === "apply")
        return async (after: number, rows: Row[]) => {
          let l = last;
          if (!l) {
            const st = await target.state();
            l = last = { seq: st.lastSeq, epoch: st.lastEpoch, epochs: [...st.epochs] };
          }
          if (after > l.seq) throw new StorageGapError(after, l.seq);
          for (const r of rows) {
            if (r.seq <= l.seq) continue;
            if (r.epoch > l.epoch) l.epochs.push({ epoch: r.epoch, firstSeq: r.seq });
            l.seq = r.seq;
            l.epoch = r.epoch;
          }
        };
      if (prop === "state") return async (): Promise<StoreState> => (last ? { lastSeq: last.seq, lastEpoch: last.epoch, epochs: [...last.epochs] } : target.state());
      if (prop === "flush") return async () => undefined;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export interface NodePorts {
  /** this node's peer port and heartbeat port */
  listen: number;
  hb: number;
  /** the other node's */
  peerListen: number;
  peerHb: number;
}

/**
 * A logger that keeps what the bench reports: warnings and errors (counted,
 * the first few kept and echoed with `echo`), and the info lines it times
 * ("the peer has caught up", a gap on the follower).
 */
export class BenchLog {
  warnings = 0;
  errors = 0;
  readonly kept: string[] = [];
  readonly infos: { at: number; msg: string }[] = [];
  constructor(
    private readonly who: string,
    private readonly echo: (line: string) => void,
  ) {}

  private line(level: string, a: unknown, b?: unknown): string {
    const msg = typeof a === "string" ? a : (b as string | undefined) ?? "";
    const obj = typeof a === "object" && a !== null ? ` ${JSON.stringify(a)}` : "";
    return `${this.who} ${level}: ${msg}${obj}`;
  }

  get logger(): Logger {
    const bad = (level: "warn" | "error") => (a: unknown, b?: unknown) => {
      if (level === "warn") this.warnings++;
      else this.errors++;
      const l = this.line(level, a, b);
      if (this.kept.length < 50) this.kept.push(l);
      this.echo(l);
    };
    const info = (a: unknown, b?: unknown) => {
      const msg = typeof a === "string" ? a : ((b as string | undefined) ?? "");
      if (this.infos.length < 10_000) this.infos.push({ at: systemClock.now(), msg });
    };
    const l: Logger = { fatal: bad("error") as Logger["fatal"], error: bad("error") as Logger["error"], warn: bad("warn") as Logger["warn"], info: info as Logger["info"], debug() {}, trace() {}, child: () => l };
    return l;
  }
}

export interface BenchNode {
  readonly repl: Replicator;
  readonly link: PeerLink;
  readonly storage: Storage;
  /** when (performance.now()) the peer connection last came up and went down, as this node saw it */
  tcp: { upAt: number | null; downAt: number | null; ups: number; downs: number };
  /** the active: leads in epoch 1 (writes its epoch's marker row, asks the peer what it holds) */
  lead(): Promise<void>;
  /** stops the replicator and the link (the store stays open: the caller owns it) */
  stop(): Promise<void>;
}

export interface NodeOptions {
  nodeId: "a" | "b";
  /** the active's node: it follows nobody and leads once lead() is called */
  lead: boolean;
  storage: Storage;
  settings: ReplicationSettings;
  ports: NodePorts;
  secret: string;
  /** grows at every process start of this node (the wire's replay guard resets on a higher one) */
  incarnation: number;
  log: Logger;
  /** the standby's received-rows log, as a node has one */
  received?: ReceivedLog;
  /** app messages on other topics than replication's (the bench's own probe) */
  onApp?(topic: string, data: Record<string, unknown>): void;
}

export async function startNode(o: NodeOptions): Promise<BenchNode> {
  const host = "127.0.0.1";
  let link: PeerLink | null = null;
  const tcp: BenchNode["tcp"] = { upAt: null, downAt: null, ups: 0, downs: 0 };
  const repl = new Replicator(
    {
      nodeId: o.nodeId,
      storage: o.storage,
      settings: o.settings,
      clock: systemClock,
      log: o.log,
      send: (msg) => link?.sendApp(REPL_TOPIC, encode(msg)) ?? false,
      canWrite: () => true,
      epoch: () => EPOCH,
      received: o.received,
    },
    await o.storage.schemaVersion(),
  );
  // a follower first, so its hello goes out as the connection comes up; a
  // leader is made by the caller (lead()), once the peer is connected: its
  // epoch's marker row is then its first dual write, as on a settled pair
  if (!o.lead) await repl.setRole(false, EPOCH, "bench standby");
  link = new PeerLink(
    {
      pairId: PAIR_ID,
      nodeId: o.nodeId,
      peerId: o.nodeId === "a" ? "b" : "a",
      key: keyFromSecret(o.secret),
      incarnation: o.incarnation,
      links: [{ name: "lan", bind: { host, port: o.ports.hb }, peer: { host, port: o.ports.peerHb } }],
      listen: { host, port: o.ports.listen },
      peerAddress: { host, port: o.ports.peerListen },
      replayWindow: REPLAY_WINDOW,
      reconnectMs: RECONNECT_MS,
      log: o.log,
    },
    {
      heartbeat: () => {},
      grant: () => {},
      message: () => {},
      linkRefused: () => {},
      tcp: (status) => {
        if (status === "refused") return;
        const up = status === "up";
        if (up) {
          tcp.upAt = systemClock.now();
          tcp.ups++;
        } else {
          tcp.downAt = systemClock.now();
          tcp.downs++;
        }
        repl.onConnection(up);
      },
      app: (topic, data) => {
        if (topic === REPL_TOPIC) repl.onMessage(data);
        else o.onApp?.(topic, data);
      },
    },
  );
  await link.start();
  const l = link;
  return {
    repl,
    link: l,
    storage: o.storage,
    tcp,
    lead: () => repl.setRole(true, EPOCH, "bench active"),
    async stop() {
      await repl.stop();
      await l.stop();
    },
  };
}
