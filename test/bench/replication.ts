// Replication benchmark (DESIGN.md performance targets: "sync dual-write
// throughput, pair on one host: ≥ 85% of a single local writer doing the same
// batched inserts, for SQLite and for PostgreSQL, and ahead of PostgreSQL's
// own synchronous streaming replication"; "catch-up after an outage ≥ 100k
// records/s"). One run per engine (SQLite, PostgreSQL), each measuring:
//   - reference 1, a single local writer: the same storage adapter over a
//     fresh store applying the same batches back to back, one transaction
//     each (before and after the Tandem runs of the same batch size);
//   - Tandem sync dual-write: the active's replicator.write(batch) through a
//     real pair on loopback (replication-pair.ts: the standby a child
//     process, real PeerLinks), 1 and 4 writes in flight, both stores fsync;
//   - PostgreSQL only, reference 2: PostgreSQL's own synchronous streaming
//     replication (pg-streaming.ts: a primary and a synchronous hot standby)
//     on the same 100-row INSERT … unnest into the same table, 1 and 4
//     clients, and the same with synchronous_commit = local on that primary;
//   - async lag under load: mode async, 4 writers at full speed, the active's
//     lag sampled every 10 ms;
//   - catch-up: the standby stopped, N records written meanwhile, started
//     again: from its connection up to "live, nothing left"; and the same
//     for an empty joiner (a snapshot: the same mechanism from 0).
//   npm run bench:replication [-- --engine sqlite|postgres|both --seconds S --records N --batches 100,1000 --only all|sync|async|catchup
//                                 --sync-acks flushed,written --in-flight 1,4 --out FILE --quick]
//
// Size: one script, read top to bottom as the run goes (the measurements in
// the order above, then the report); the pair, the load, the streaming
// reference and the tables are in replication-*.ts and pg-streaming.ts.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import { DEFAULT_REPLICATION, type ReplicationSettings } from "../../redundancy/replication/settings.js";
import { POSTGRES_MIGRATIONS } from "../../runtime/storage/migrations.js";
import { postgresBinDir, startPostgres, type PgCluster } from "../helpers/postgres.js";
import { startStreamingPair, STANDBY_NAME, type ReplicationRow, type StreamingPair } from "./pg-streaming.js";
import { EPOCH, openStore, timed, PAIR_ID, RECONNECT_MS, REPLAY_WINDOW, type StoreSpec, type StoreTimes } from "./replication-node.js";
import { BenchPair, killPeers } from "./replication-pair.js";
import { batchOf, body, MAX_SAMPLES, measure, round, stamped, TABLE, type Run } from "./replication-load.js";
import { ratios, tables } from "./replication-report.js";
import { log, summary, type Summary } from "./stats.js";

export type Engine = "sqlite" | "postgres";

/** writes in flight for the async lag run */
const ASYNC_WRITERS = 4;
const LAG_SAMPLE_MS = 10;
const LIVE_WITHIN_MS = 30_000;
const DRAIN_WITHIN_MS = 60_000;

/** what the peer link carries, probed at the start (probeTransport) */
interface Transport {
  /** the largest message the replicator's defaults make: a batch or catch-up chunk is cut at batchMaxBytes */
  probeBytes: number;
  carried: boolean;
  /** what the bench's replicators run with */
  batchMaxBytes: number;
  catchUpChunk: number;
  catchUpWindow: number;
  workaround: string | null;
}

interface Opts {
  engines: Engine[];
  transport: Transport;
  asyncYield: boolean;
  /** the standby acknowledges live rows from its received-rows log (false: --no-received-log, once its database has them) */
  receivedLog: boolean;
  seconds: number;
  warmupS: number;
  records: number;
  batches: number[];
  out?: string;
  quick: boolean;
  /** which measurements run: all of them, or only the sync runs, the async lag or the catch-up */
  only: "all" | "sync" | "async" | "catchup";
  /** the sync runs' syncAck settings and writes in flight (also the streaming reference's clients) */
  syncAcks: ("flushed" | "written")[];
  inFlight: number[];
  /** the ceiling run per batch size (a standby that stores nothing), unless --no-ceiling */
  ceiling: boolean;
}

// ------------------------------------------------------------ stores

/** fresh stores for one engine: SQLite files in a temp dir, or databases of the two clusters (A: the active's and the local writer's, B: the standby's) */
class Stores {
  private n = 0;
  readonly made: { spec: StoreSpec; on: "a" | "b" }[] = [];
  constructor(
    readonly engine: Engine,
    private readonly dir: string,
    private readonly clusters: { a: PgCluster; b: PgCluster } | null,
  ) {}

  async fresh(on: "a" | "b"): Promise<StoreSpec> {
    const name = `bench_${on}_${++this.n}`;
    const spec: StoreSpec = this.clusters ? { engine: "postgres", url: await this.clusters[on].createDatabase(name) } : { engine: "sqlite", file: join(this.dir, `${name}.db`) };
    this.made.push({ spec, on });
    return spec;
  }

  /** removes a store no longer needed (keeps the disk small over a long run) */
  async drop(spec: StoreSpec): Promise<void> {
    if (spec.engine === "sqlite") {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(spec.file + suffix, { force: true });
      return;
    }
    const m = this.made.find((x) => x.spec === spec);
    const name = decodeURIComponent(new URL(spec.url).pathname.slice(1));
    if (m && this.clusters) await this.clusters[m.on].dropDatabase(name).catch(() => undefined);
  }
}

// ------------------------------------------------------------ the runs

async function localWriter(o: Opts, stores: Stores, batch: number): Promise<Run> {
  const spec = await stores.fresh("a");
  // timed as the active's store is in the pair: the same wrapper, and the share of the run inside apply()
  const { storage: store, times } = timed(await openStore(spec));
  try {
    const writes = batchOf(batch);
    let seq = 0;
    let applyMsAtStart = 0;
    const run = await measure(
      o,
      batch,
      1,
      () => {
        const after = seq;
        seq += batch;
        return store.apply(after, stamped(writes, after));
      },
      () => (applyMsAtStart = times.apply.ms),
    );
    return { ...run, inApplyShare: round((times.apply.ms - applyMsAtStart) / (run.seconds * 1000), 3) };
  } finally {
    await store.close();
    await stores.drop(spec);
  }
}

function settingsFor(o: Opts, mode: "sync" | "async", whenPeerAway: "accept" | "refuse"): ReplicationSettings {
  const t = o.transport;
  return { ...DEFAULT_REPLICATION, mode, whenPeerAway, batchMaxBytes: t.batchMaxBytes, catchUpChunk: t.catchUpChunk, catchUpWindow: t.catchUpWindow };
}

/** the most a catch-up chunk may carry when the link drops the defaults' chunks: with the JSON and envelope overhead, well under 64 KiB */
const WORKAROUND_BYTES = 48 * 1024;

/**
 * Whether the peer link carries the largest message the replicator's defaults
 * make (a catch-up chunk of 2000 rows, or a batch, cut at batchMaxBytes,
 * 512 KiB). When it does not, the bench's replicators take catch-up chunks of
 * what fits in WORKAROUND_BYTES, with as many rows in flight as the defaults
 * (unless --no-workaround), and the record says so. Live batches keep the
 * defaults: a group of writes over ~64 KiB on the wire (about 400 records of
 * ~100 bytes; a single write of 1000) is still dropped, and the runs show it.
 */
async function probeTransport(noWorkaround: boolean): Promise<Transport> {
  const dir = mkdtempSync(join(os.tmpdir(), "tandem-bench-repl-probe-"));
  tempDirs.add(dir);
  const probeBytes = DEFAULT_REPLICATION.batchMaxBytes;
  const pair = await BenchPair.start({ engine: "sqlite", file: join(dir, "a.db") }, { engine: "sqlite", file: join(dir, "b.db") }, { ...DEFAULT_REPLICATION }, echo);
  try {
    await pair.until("the peer live", () => pair.caughtUp(), LIVE_WITHIN_MS, 10);
    const carried = await pair.carries(probeBytes);
    const d = DEFAULT_REPLICATION;
    if (carried || noWorkaround) return { probeBytes, carried, batchMaxBytes: d.batchMaxBytes, catchUpChunk: d.catchUpChunk, catchUpWindow: d.catchUpWindow, workaround: null };
    if (!(await pair.carries(WORKAROUND_BYTES + 8 * 1024))) throw new Error(`the peer link carries neither ${probeBytes} nor ${WORKAROUND_BYTES + 8 * 1024} bytes in one message`);
    // chunks of what fits (the replicator's own estimate of a row: 64 bytes + table + key + body), and as many rows in flight as the defaults have
    const catchUpChunk = Math.floor(WORKAROUND_BYTES / (64 + TABLE.length + body(0).length));
    const catchUpWindow = Math.ceil((d.catchUpChunk * d.catchUpWindow) / catchUpChunk);
    return {
      probeBytes,
      carried,
      batchMaxBytes: d.batchMaxBytes,
      catchUpChunk,
      catchUpWindow,
      workaround:
        `the peer link dropped a ${probeBytes}-byte message (PeerLink opens envelopes with wire.ts's default limit of 65,536 bytes), so a catch-up chunk of the default ${d.catchUpChunk} rows (~320 KB here) never arrives: ` +
        `the bench's replicators take catch-up chunks of ${catchUpChunk} rows (~47 KB) and ${catchUpWindow} in flight (defaults ${d.catchUpChunk} and ${d.catchUpWindow}: the same rows in flight), settings the node's config does not offer; live batches keep the defaults`,
    };
  } finally {
    await pair.stop();
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

export interface PairRun extends Run {
  /** sync runs: what the standby's acknowledgement meant (replication.syncAck) */
  syncAck: ReplicationSettings["syncAck"];
  /** samples (every 10 ms) in which the active did not see the peer live */
  peerNotLive: number;
  samples: number;
  /** the peer's phase as the samples saw it change, in ms from the first sample (the warm-up comes first) */
  phases: { atMs: number; peer: string }[];
  lag?: { records: Summary | null; ms: Summary | null; maxLagRecords: number; maxLagMs: number };
  check: { head: number; standbyLastSeq: number; same: boolean };
  /** over the timed part: each store's transactions (apply) */
  times: { active: TimesDelta; standby: TimesDelta };
  active: { warnings: number; errors: number; kept: string[]; link: Record<string, number> };
  standby: { warnings: number; errors: number; kept: string[]; gaps: number; link: Record<string, number> };
}

const echo = (line: string) => log(line);

const copyTimes = (t: StoreTimes): StoreTimes => ({ apply: { ...t.apply }, rowsAfter: { ...t.rowsAfter } });

/** what happened in a store between two readings of its times, with ms per call */
function timesBetween(a: StoreTimes, b: StoreTimes) {
  const d = (x: StoreTimes["apply"], y: StoreTimes["apply"]) => {
    const calls = y.calls - x.calls;
    const ms = y.ms - x.ms;
    return { calls, rows: y.rows - x.rows, ms: round(ms, 1), msPerCall: calls ? round(ms / calls, 2) : null };
  };
  return { apply: d(a.apply, b.apply), rowsAfter: d(a.rowsAfter, b.rowsAfter) };
}
export type TimesDelta = ReturnType<typeof timesBetween>;

/** a fresh pair, the peer live, `k` writers of `batch`-record writes for --seconds; then both stores hold the same head */
async function pairRun(o: Opts, stores: Stores, mode: "sync" | "async", batch: number, k: number, syncAck: ReplicationSettings["syncAck"] = "flushed", hollow = false): Promise<PairRun> {
  const [a, b] = [await stores.fresh("a"), await stores.fresh("b")];
  // sync: refuse, so nothing counted was acknowledged on one copy only; async: the default
  const settings = { ...settingsFor(o, mode, mode === "sync" ? "refuse" : "accept"), syncAck };
  const pair = await BenchPair.start(a, b, settings, echo, hollow);
  try {
    await pair.until("the peer live", () => pair.caughtUp(), LIVE_WITHIN_MS, 10);
    const writes = batchOf(batch);
    let notLive = 0;
    let samples = 0;
    const phases: PairRun["phases"] = [];
    const lagRecords: number[] = [];
    const lagMs: number[] = [];
    const standbyBefore = (await pair.peerState()).times;
    const sampleFrom = performance.now();
    let lastPeer = "live";
    const sampler = setInterval(() => {
      const s = pair.leader.repl.status();
      samples++;
      if (s.peer !== "live") notLive++;
      if (s.peer !== lastPeer && phases.length < 50) phases.push({ atMs: Math.round(performance.now() - sampleFrom), peer: s.peer });
      lastPeer = s.peer;
      if (lagRecords.length < MAX_SAMPLES) {
        lagRecords.push(s.lagRecords);
        lagMs.push(s.lagMs);
      }
    }, LAG_SAMPLE_MS);
    // async: each writer yields to the event loop between writes, as one
    // arriving over HTTP or from a timer does (--async-no-yield: back to back)
    const yieldFirst = mode === "async" && o.asyncYield;
    let run: Run;
    let activeBefore = copyTimes(pair.leaderTimes);
    let activeAfter: StoreTimes;
    try {
      run = await measure(
        o,
        batch,
        k,
        async () => {
          if (yieldFirst) await new Promise((r) => setImmediate(r));
          return pair.leader.repl.write(writes);
        },
        () => {
          // the figures are of the timed part: the warm-up's samples go (its phase changes stay in `phases`)
          activeBefore = copyTimes(pair.leaderTimes);
          samples = notLive = 0;
          lagRecords.length = lagMs.length = 0;
        },
      );
    } finally {
      clearInterval(sampler);
      activeAfter = copyTimes(pair.leaderTimes);
    }
    let drained = true;
    await pair.until("the standby holding every write", () => pair.caughtUp(), DRAIN_WITHIN_MS, 5).catch((err: Error) => {
      drained = false;
      log(err.message);
    });
    const head = pair.leader.repl.status().lastSeq;
    // the standby acknowledges from its received-rows log: its database has the last rows a moment later
    let st = await pair.peerState();
    for (const until = Date.now() + DRAIN_WITHIN_MS; drained && st.lastSeq !== head && Date.now() < until; st = await pair.peerState()) await new Promise((r) => setTimeout(r, 5));
    return {
      ...run,
      syncAck,
      peerNotLive: notLive,
      samples,
      phases,
      ...(mode === "async" ? { lag: { records: summary(lagRecords), ms: summary(lagMs.map((x) => round(x, 1))), maxLagRecords: settings.maxLagRecords, maxLagMs: settings.maxLagMs } } : {}),
      check: { head, standbyLastSeq: st.lastSeq, same: drained && st.lastSeq === head },
      // the standby's reading before includes the warm-up and after the drain: a few transactions more than the active's
      times: { active: timesBetween(activeBefore, activeAfter), standby: timesBetween(standbyBefore, st.times) },
      active: { warnings: pair.leaderLog.warnings, errors: pair.leaderLog.errors, kept: pair.leaderLog.kept.slice(0, 10), link: pair.leader.link.counters() },
      standby: { warnings: st.log.warnings, errors: st.log.errors, kept: st.log.kept.slice(0, 10), gaps: st.log.gaps, link: st.link },
    };
  } finally {
    await pair.stop();
    await stores.drop(a);
    await stores.drop(b);
  }
}

export interface CatchUp {
  /** records the standby lacked when it came back */
  records: number;
  /** from the active seeing the connection up to the peer live with nothing left */
  seconds: number;
  recordsPerS: number;
  /** from the standby process saying its link listens (it connects at once) */
  fromReadyS: number;
  /** the active's head and both stores' checksums over 1..head */
  check: { head: number; standbyLastSeq: number; same: boolean };
  /** the active's catch-up reads, the standby's transactions (its process started for this catch-up) */
  times: { active: TimesDelta; standby: TimesDelta };
  /** loopDelay: how late the standby's event loop ran over its life (started for this catch-up), ms */
  standby: { gaps: number; warnings: number; link: Record<string, number>; loopDelay: { p50: number; p99: number; max: number } };
  active: { warnings: number; link: Record<string, number> };
}

/** the standby started again (over `store`) after `records` were written without it: the time until it is live with nothing left */
async function timeCatchUp(pair: BenchPair, store: StoreSpec, standbyHolds: number, timeoutMs: number): Promise<CatchUp> {
  const before = pair.leader.tcp.ups;
  const head = pair.leader.repl.status().lastSeq;
  const activeBefore = copyTimes(pair.leaderTimes);
  const ready = await pair.startPeer(store);
  const up = await pair.until("the peer connection up", () => pair.leader.tcp.ups > before, 30_000, 1);
  const upAt = pair.leader.tcp.upAt ?? up;
  // a state read on the standby now would compete with the catch-up: what it held is known from the resume instead
  let total: number | null = null;
  const done = await pair.until(
    "the standby caught up",
    () => {
      const s = pair.leader.repl.status();
      if (total === null && s.catchUp) total = s.catchUp.total;
      return s.peer === "live" && s.lagRecords === 0 && s.lastSeq >= head;
    },
    timeoutMs,
    2,
  );
  const activeAfter = copyTimes(pair.leaderTimes);
  // the active's word (its resume's total), or what it held above what the standby held (every row is an insert: none gone)
  const records = total ?? head - standbyHolds;
  const seconds = (done - upAt) / 1000;
  const finalHead = pair.leader.repl.status().lastSeq;
  const [mine] = await pair.leaderStore.checksums(1, finalHead, finalHead);
  const st = await pair.peerState(finalHead);
  return {
    records,
    seconds: round(seconds, 3),
    recordsPerS: Math.round(records / seconds),
    fromReadyS: round((done - ready) / 1000, 3),
    check: { head: finalHead, standbyLastSeq: st.lastSeq, same: st.lastSeq === finalHead && st.hash === mine.hash },
    times: { active: timesBetween(activeBefore, activeAfter), standby: timesBetween({ apply: { calls: 0, rows: 0, ms: 0 }, rowsAfter: { calls: 0, rows: 0, ms: 0 } }, st.times) },
    standby: { gaps: st.log.gaps, warnings: st.log.warnings, link: st.link, loopDelay: st.loopDelay },
    active: { warnings: pair.leaderLog.warnings, link: pair.leader.link.counters() },
  };
}

/** catch-up after an outage, then an empty joiner's snapshot, both over the active's N records */
async function catchUpRuns(o: Opts, stores: Stores): Promise<{ outage: CatchUp; emptyJoiner: CatchUp; written: { records: number; seconds: number } }> {
  const [a, b] = [await stores.fresh("a"), await stores.fresh("b")];
  // accept: the active keeps writing while the standby is away (its journal is the rows above what the standby holds)
  const pair = await BenchPair.start(a, b, settingsFor(o, "sync", "accept"), echo);
  let joiner: StoreSpec | null = null;
  const timeoutMs = Math.max(120_000, o.records / 10);
  try {
    await pair.until("the peer live", () => pair.caughtUp(), LIVE_WITHIN_MS, 10);
    const small = batchOf(100);
    for (let i = 0; i < 10; i++) await pair.leader.repl.write(small);
    await pair.until("the standby holding the first writes", () => pair.caughtUp(), DRAIN_WITHIN_MS, 5);
    log(`catch-up: the standby stops; the active writes ${o.records} records without it`);
    const standbyHolds = pair.leader.repl.status().peerSeq ?? 0;
    await pair.stopPeer();
    await pair.until("the active seeing the peer away", () => pair.leader.repl.status().peer === "away", 10_000, 5);
    const big = batchOf(1000);
    const t0 = performance.now();
    for (let n = 0; n < o.records; n += big.length) await pair.leader.repl.write(n + big.length <= o.records ? big : big.slice(0, o.records - n));
    const written = { records: o.records, seconds: round((performance.now() - t0) / 1000, 3) };
    log(`catch-up: written in ${written.seconds} s; the standby starts again over its own store`);
    const outage = await timeCatchUp(pair, b, standbyHolds, timeoutMs);
    log(`catch-up: ${outage.records} records in ${outage.seconds} s = ${outage.recordsPerS} records/s; an empty joiner next`);
    await pair.stopPeer();
    joiner = await stores.fresh("b");
    const emptyJoiner = await timeCatchUp(pair, joiner, 0, timeoutMs);
    log(`empty joiner: ${emptyJoiner.records} records in ${emptyJoiner.seconds} s = ${emptyJoiner.recordsPerS} records/s`);
    return { outage, emptyJoiner, written };
  } finally {
    await pair.stop();
    for (const s of [a, b, joiner]) if (s) await stores.drop(s);
  }
}

// ------------------------------------------------------------ PostgreSQL's own streaming replication

export interface StreamingRun extends Run {
  synchronousCommit: StreamingCommit;
  /** pg_stat_replication's row for the standby, before and after the run */
  before: ReplicationRow | null;
  after: ReplicationRow | null;
}

/** on: the standby's flush awaited; remote_write: its write to the OS (what Tandem's syncAck written matches); local: not awaited */
export type StreamingCommit = "on" | "remote_write" | "local";

const INSERT = `INSERT INTO tandem_rows (seq, epoch, at, tbl, kind, key, body) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])`;

/** `k` clients, each one 100-row INSERT … unnest per transaction (autocommit), into the tandem_rows table of a fresh database on the primary */
async function streamingRun(o: Opts, sp: StreamingPair, n: number, batch: number, k: number, sc: StreamingCommit): Promise<StreamingRun> {
  const db = `stream_${n}`;
  const url = await sp.primary.createDatabase(db);
  const clients: pg.Client[] = [];
  try {
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    for (const m of POSTGRES_MIGRATIONS) await setup.query(m);
    await setup.end();
    for (let i = 0; i < k; i++) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      if (sc !== "on") await c.query(`SET synchronous_commit = ${sc}`);
      clients.push(c);
    }
    const standby = async () => (await sp.replication()).find((r) => r.application_name === STANDBY_NAME) ?? null;
    const before = await standby();
    if (sc !== "local" && before?.sync_state !== "sync") throw new Error(`the standby is not synchronous: ${JSON.stringify(before)}`);
    const writes = batchOf(batch);
    let seq = 0;
    // each writer loop its own connection, as k clients of the database would be
    const run = await measure(o, batch, k, (loop) => {
      const c = clients[loop];
      const rows = stamped(writes, seq);
      seq += batch;
      return c.query({
        name: "bench_insert",
        text: INSERT,
        values: [rows.map((r) => r.seq), rows.map((r) => r.epoch), rows.map((r) => r.at), rows.map((r) => r.table), rows.map((r) => r.kind), rows.map((r) => r.key), rows.map((r) => r.body)],
      });
    });
    return { ...run, synchronousCommit: sc, before, after: await standby() };
  } finally {
    for (const c of clients) await c.end().catch(() => undefined);
    await sp.primary.dropDatabase(db).catch(() => undefined);
  }
}

// ------------------------------------------------------------ one engine

export interface BatchResult {
  batch: number;
  /** reference 1 before and after the pair's runs of this batch size, and their mean (the ratios' denominator) */
  local: { before: Run | null; after: Run | null; meanRecordsPerS: number | null };
  sync: PairRun[];
  /**
   * The ceiling on this host: the same pair, 1 write in flight, syncAck
   * flushed, with a standby that stores nothing (it checks, parses and
   * acknowledges each batch; no received-rows log, no database): what the
   * active can make when its peer's work costs only the receiving.
   */
  ceiling: PairRun | null;
  /** PostgreSQL only: its own synchronous streaming replication, and the same INSERTs with synchronous_commit = local */
  streaming: StreamingRun[];
}

export interface EngineResult {
  engine: Engine;
  store: Record<string, unknown>;
  streamingSettings: unknown;
  batches: BatchResult[];
  async: PairRun | null;
  catchUp: Awaited<ReturnType<typeof catchUpRuns>> | null;
  failures: string[];
  seconds: number;
}

/** what is left to stop should the bench itself be stopped: PostgreSQL data dirs (stopped synchronously at exit) and temp dirs */
const pgDataDirs = new Set<string>();
const tempDirs = new Set<string>();

function emergencyCleanup(): void {
  killPeers();
  const root = process.getuid?.() === 0;
  for (const data of pgDataDirs) {
    try {
      const pgCtl = join(postgresBinDir(), "pg_ctl");
      const argv = [pgCtl, "-D", data, "-m", "immediate", "-w", "-t", "20", "stop"];
      execFileSync(root ? "runuser" : argv[0], root ? ["-u", "postgres", "--", ...argv] : argv.slice(1), { stdio: "ignore", timeout: 30_000 });
    } catch {
      /* not running */
    }
    rmSync(join(data, ".."), { recursive: true, force: true });
  }
  pgDataDirs.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

async function attempt<T>(failures: string[], what: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    const m = `${what}: ${(err as Error).message}`;
    failures.push(m);
    log(`FAILED ${m}`);
    return null;
  }
}

async function sqliteSettings(dir: string): Promise<Record<string, unknown>> {
  let fs = "?";
  try {
    fs = execFileSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).trim();
  } catch {
    /* not reported */
  }
  return { adapter: "runtime/storage/sqlite.ts", journal_mode: "WAL", synchronous: "FULL", wal_autocheckpoint: 1000, busy_timeout: 5000, dir, filesystem: fs };
}

async function pgSettings(c: PgCluster): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: c.url("postgres") });
  await client.connect();
  try {
    const out: Record<string, unknown> = { adapter: "runtime/storage/postgres.ts (pool of 4)", clusters: "two throwaway clusters (test/helpers/postgres.ts), one per node; the local writer on the active's" };
    for (const n of ["server_version", "fsync", "synchronous_commit", "wal_level", "full_page_writes", "wal_sync_method", "shared_buffers", "max_wal_size"]) out[n] = (await client.query(`SHOW ${n}`)).rows[0][n];
    return out;
  } finally {
    await client.end();
  }
}

async function runEngine(o: Opts, engine: Engine): Promise<EngineResult> {
  const t0 = Date.now();
  const failures: string[] = [];
  const dir = mkdtempSync(join(os.tmpdir(), "tandem-bench-repl-"));
  tempDirs.add(dir);
  let clusters: { a: PgCluster; b: PgCluster } | null = null;
  let sp: StreamingPair | null = null;
  const standbyDirs: { dir: string; data: string }[] = [];
  const result: EngineResult = { engine, store: {}, streamingSettings: null, batches: [], async: null, catchUp: null, failures, seconds: 0 };
  try {
    if (engine === "postgres") {
      log("postgres: starting two clusters (one per node)");
      const a = await startPostgres();
      pgDataDirs.add(join(a.dataDir, "data"));
      const b = await startPostgres();
      pgDataDirs.add(join(b.dataDir, "data"));
      clusters = { a, b };
      result.store = await pgSettings(a);
    } else result.store = await sqliteSettings(dir);
    const stores = new Stores(engine, dir, clusters);
    let streamN = 0;
    for (const batch of o.only === "all" || o.only === "sync" ? o.batches : []) {
      const br: BatchResult = { batch, local: { before: null, after: null, meanRecordsPerS: null }, sync: [], ceiling: null, streaming: [] };
      result.batches.push(br);
      log(`${engine}, batches of ${batch}: the local writer (before)`);
      br.local.before = await attempt(failures, `${engine} local writer ${batch} (before)`, () => localWriter(o, stores, batch));
      for (const ack of o.syncAcks) {
        for (const k of o.inFlight) {
          log(`${engine}, batches of ${batch}: Tandem sync dual-write (syncAck ${ack}), ${k} in flight`);
          const r = await attempt(failures, `${engine} sync ${ack} ${batch}×${k}`, () => pairRun(o, stores, "sync", batch, k, ack));
          if (r) br.sync.push(r);
        }
      }
      if (o.ceiling) {
        log(`${engine}, batches of ${batch}: the ceiling, a standby that stores nothing, 1 in flight`);
        br.ceiling = await attempt(failures, `${engine} ceiling ${batch}`, () => pairRun(o, stores, "sync", batch, 1, "flushed", true));
      }
      if (engine === "postgres") {
        if (!sp) {
          log("postgres: starting a primary and a synchronous standby (pg_basebackup -R)");
          sp = await attempt(failures, "postgres streaming replication set-up", () =>
            startStreamingPair((d, data) => {
              standbyDirs.push({ dir: d, data });
              tempDirs.add(d);
              pgDataDirs.add(data);
            }),
          );
          if (sp) {
            pgDataDirs.add(join(sp.primary.dataDir, "data"));
            result.streamingSettings = await attempt(failures, "streaming settings", async () => ({ ...(await sp!.settings()), replication: await sp!.replication() }));
          }
        }
        if (sp) {
          for (const sc of ["on", "remote_write", "local"] as const) {
            for (const k of o.inFlight) {
              log(`postgres, batches of ${batch}: streaming replication, synchronous_commit ${sc}, ${k} client${k > 1 ? "s" : ""}`);
              const r = await attempt(failures, `streaming ${sc} ${batch}×${k}`, () => streamingRun(o, sp!, ++streamN, batch, k, sc));
              if (r) br.streaming.push(r);
            }
          }
        }
      }
      log(`${engine}, batches of ${batch}: the local writer (after)`);
      br.local.after = await attempt(failures, `${engine} local writer ${batch} (after)`, () => localWriter(o, stores, batch));
      const refs = [br.local.before, br.local.after].filter((r): r is Run => r !== null && r.errors === 0);
      br.local.meanRecordsPerS = refs.length ? Math.round(refs.reduce((s, r) => s + r.recordsPerS, 0) / refs.length) : null;
    }
    if (o.only === "all" || o.only === "async") {
      log(`${engine}: async, ${ASYNC_WRITERS} writers of 100 at full speed, the lag sampled every ${LAG_SAMPLE_MS} ms`);
      result.async = await attempt(failures, `${engine} async lag`, () => pairRun(o, stores, "async", 100, ASYNC_WRITERS));
    }
    if (o.only === "all" || o.only === "catchup") result.catchUp = await attempt(failures, `${engine} catch-up`, () => catchUpRuns(o, stores));
  } catch (err) {
    failures.push(`${engine}: ${(err as Error).message}`);
    log(`FAILED ${engine}: ${(err as Error).stack}`);
  } finally {
    if (sp) {
      await sp.stop();
      pgDataDirs.delete(join(sp.primary.dataDir, "data"));
    }
    for (const d of standbyDirs) {
      pgDataDirs.delete(d.data);
      tempDirs.delete(d.dir);
    }
    for (const c of [clusters?.a, clusters?.b]) {
      if (!c) continue;
      await c.stop();
      pgDataDirs.delete(join(c.dataDir, "data"));
    }
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
  result.seconds = Math.round((Date.now() - t0) / 1000);
  return result;
}

// ------------------------------------------------------------ main

function options(): Opts {
  const { values } = parseArgs({
    options: {
      engine: { type: "string", default: "both" },
      seconds: { type: "string" },
      records: { type: "string" },
      batches: { type: "string", default: "100,1000" },
      out: { type: "string" },
      quick: { type: "boolean", default: false },
      "no-workaround": { type: "boolean", default: false },
      "async-no-yield": { type: "boolean", default: false },
      "no-received-log": { type: "boolean", default: false },
      only: { type: "string", default: "all" },
      "sync-acks": { type: "string", default: "flushed,written" },
      "in-flight": { type: "string", default: "1,4" },
      "no-ceiling": { type: "boolean", default: false },
    },
  });
  const quick = values.quick;
  const seconds = Number(values.seconds ?? (quick ? 1 : 10));
  const records = Number(values.records ?? (quick ? 20_000 : 200_000));
  const batches = values.batches.split(",").map(Number);
  if (!(seconds > 0 && seconds <= 3600)) throw new Error(`--seconds: a number of seconds in (0, 3600], got '${values.seconds}'`);
  if (!Number.isInteger(records) || records < 1000 || records > 50_000_000) throw new Error(`--records: a whole number 1000–50,000,000, got '${values.records}'`);
  if (!batches.every((b) => Number.isInteger(b) && b >= 1 && b <= 10_000)) throw new Error(`--batches: whole numbers 1–10,000, comma-separated, got '${values.batches}'`);
  const only = values.only;
  if (only !== "all" && only !== "sync" && only !== "async" && only !== "catchup") throw new Error(`--only: all, sync, async or catchup, got '${only}'`);
  const syncAcks = values["sync-acks"].split(",");
  if (!syncAcks.length || !syncAcks.every((a) => a === "flushed" || a === "written")) throw new Error(`--sync-acks: flushed, written or both, comma-separated, got '${values["sync-acks"]}'`);
  const inFlight = values["in-flight"].split(",").map(Number);
  if (!inFlight.length || !inFlight.every((k) => k === 1 || k === 4)) throw new Error(`--in-flight: 1, 4 or both, comma-separated (the report reads 1 and 4), got '${values["in-flight"]}'`);
  const e = values.engine;
  if (e !== "sqlite" && e !== "postgres" && e !== "both") throw new Error(`--engine: sqlite, postgres or both, got '${e}'`);
  const d = DEFAULT_REPLICATION;
  const transport: Transport = { probeBytes: 0, carried: false, batchMaxBytes: d.batchMaxBytes, catchUpChunk: d.catchUpChunk, catchUpWindow: d.catchUpWindow, workaround: values["no-workaround"] ? "off" : null };
  return { engines: e === "both" ? ["sqlite", "postgres"] : [e], transport, asyncYield: !values["async-no-yield"], receivedLog: !values["no-received-log"], seconds, warmupS: round(Math.min(2, seconds / 5), 2), records, batches, out: values.out, quick, only, syncAcks: syncAcks as ("flushed" | "written")[], inFlight, ceiling: !values["no-ceiling"] };
}

async function main(): Promise<void> {
  const o = options();
  const started = Date.now();
  // the standby process reads it (replication-peer.ts)
  if (!o.receivedLog) process.env.TANDEM_BENCH_NO_RECEIVED_LOG = "1";
  process.on("exit", emergencyCleanup);
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping every process and cluster this bench started`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, nice: os.getPriority(), loadavgStart: os.loadavg().map((x) => round(x, 2)) };
  log(`replication bench: ${o.engines.join(" and ")}, ${o.seconds} s per run (+${o.warmupS} s warm-up), batches ${o.batches.join(", ")}, catch-up of ${o.records} records; load average ${machine.loadavgStart.join(" ")}`);
  o.transport = await probeTransport(o.transport.workaround === "off");
  log(o.transport.carried ? `the peer link carries a ${o.transport.probeBytes}-byte message` : `the peer link DROPS a ${o.transport.probeBytes}-byte message; ${o.transport.workaround ?? "--no-workaround: the defaults as they are"}`);
  const engines: EngineResult[] = [];
  for (const e of o.engines) engines.push(await runEngine(o, e));
  const result = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: { ...machine, loadavgEnd: os.loadavg().map((x) => round(x, 2)) },
    settings: {
      seconds: o.seconds,
      warmupS: o.warmupS,
      batches: o.batches,
      catchUpRecords: o.records,
      record: { table: TABLE, kind: "ins", key: null, bodyBytes: body(0).length, body: body(0) },
      transport: o.transport,
      asyncWritersYield: o.asyncYield,
      standbyReceivedLog: o.receivedLog,
      replication: { ...DEFAULT_REPLICATION, batchMaxBytes: o.transport.batchMaxBytes, catchUpChunk: o.transport.catchUpChunk, catchUpWindow: o.transport.catchUpWindow, mode: "sync (throughput, catch-up) / async (lag)", whenPeerAway: "refuse for the sync throughput runs (nothing counted was acknowledged on one copy), accept for async and catch-up" },
      pair: `one host; the active in the bench process, the standby a child process (dist/test/bench/replication-peer.js); real PeerLinks on 127.0.0.1 (TCP, HMAC-SHA256 envelopes, replay window ${REPLAY_WINDOW}, reconnect every ${RECONNECT_MS} ms, no TLS), pair '${PAIR_ID}', epoch ${EPOCH}`,
      localWriter: "the same adapter over a fresh store, one apply() (one transaction) per batch, back to back",
      streaming: "PostgreSQL primary + hot standby from pg_basebackup -R, synchronous_standby_names '*', fsync on both; synchronous_commit on, remote_write and (for its own cost) local; the same rows as one INSERT … SELECT FROM unnest per batch (autocommit: one transaction), each client its own connection",
      asyncWriters: ASYNC_WRITERS,
      lagSampleMs: LAG_SAMPLE_MS,
      quick: o.quick,
      only: o.only,
    },
    engines: engines.map((e) => ({ ...e, ratios: ratios(e) })),
    failures: engines.flatMap((e) => e.failures),
  };
  console.log(JSON.stringify(result, null, 2));
  console.log("");
  for (const e of engines) console.log(`${tables(e)}\n`);
  if (o.transport.workaround) console.log(`NOTE: ${o.transport.workaround}\n`);
  else if (!o.transport.carried) console.log(`NOTE: the peer link drops messages over 65,536 bytes and --no-workaround was given: runs whose batches or catch-up chunks exceed it fail\n`);
  console.log(`run took ${result.durationS} s; load average ${machine.loadavgStart.join(" ")} at the start, ${result.machine.loadavgEnd.join(" ")} at the end`);
  if (o.out) writeFileSync(o.out, JSON.stringify(result, null, 2) + "\n");
  if (result.failures.length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
