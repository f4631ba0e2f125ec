// The replication bench's pair on one host: the active (a leading Replicator
// in epoch 1 over store A) in the bench process, the standby (a following
// Replicator over store B) in a child process, replication-peer.ts, talking
// over real PeerLinks on loopback. The standby can be stopped and started
// again over the same or another store (an outage, a new empty joiner).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { ReplicationSettings } from "../../redundancy/replication/settings.js";
import type { Storage } from "../../redundancy/storage.js";
import { freePort } from "../helpers/cluster.js";
import { BenchLog, openStore, PROBE_TOPIC, startNode, timed, type BenchNode, type NodePorts, type StoreSpec, type StoreTimes } from "./replication-node.js";
import type { FromPeer, PeerOptions, ToPeer } from "./replication-peer.js";

const PEER_JS = join(import.meta.dirname, "replication-peer.js");
const PEER_START_MS = 60_000;
const PEER_STOP_MS = 15_000;
const PEER_ANSWER_MS = 120_000;

const peers = new Set<ChildProcess>();

/** Kills every standby process still running (the bench's exit path). */
export function killPeers(): void {
  for (const c of peers) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  peers.clear();
}

let lastIncarnation = 0;
/** incarnations from the wall clock, as the node's (redundancy/epoch-store.ts), strictly growing within this run */
const incarnation = () => (lastIncarnation = Math.max(Date.now(), lastIncarnation + 1));

export type PeerState = Extract<FromPeer, { t: "state" }>;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BenchPair {
  readonly leaderLog: BenchLog;
  private child: ChildProcess | null = null;

  private constructor(
    readonly leader: BenchNode,
    readonly leaderStore: Storage,
    /** time in the active's apply() and rowsAfter() */
    readonly leaderTimes: StoreTimes,
    leaderLog: BenchLog,
    private readonly ports: { a: NodePorts; b: NodePorts },
    readonly settings: ReplicationSettings,
    /** the pair's shared key material (the standby gets it in its environment, never on its command line) */
    private readonly secret: string,
    /** the ceiling run: the standby stores nothing (replication-peer.ts) */
    private readonly hollow = false,
  ) {
    this.leaderLog = leaderLog;
  }

  /** store A opened here and led in epoch 1; the standby started over store B (null: not yet) */
  static async start(storeA: StoreSpec, storeB: StoreSpec | null, settings: ReplicationSettings, echo: (line: string) => void, hollow = false): Promise<BenchPair> {
    const [aListen, aHb, bListen, bHb] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const ports = { a: { listen: aListen, hb: aHb, peerListen: bListen, peerHb: bHb }, b: { listen: bListen, hb: bHb, peerListen: aListen, peerHb: aHb } };
    const secret = randomBytes(24).toString("hex");
    const raw = await openStore(storeA);
    const { storage: store, times } = timed(raw);
    const log = new BenchLog("active", echo);
    let node: BenchNode;
    try {
      node = await startNode({ nodeId: "a", lead: true, storage: store, settings, ports: ports.a, secret, incarnation: incarnation(), log: log.logger });
    } catch (err) {
      await store.close();
      throw err;
    }
    const pair = new BenchPair(node, store, times, log, ports, settings, secret, hollow);
    try {
      if (storeB) {
        await pair.startPeer(storeB);
        await pair.until("the peer connection up", () => node.tcp.ups > 0, PEER_START_MS, 5);
      }
      await node.lead();
    } catch (err) {
      await pair.stop();
      throw err;
    }
    return pair;
  }

  /** starts the standby over `store`; resolves (performance.now()) once its link listens */
  async startPeer(store: StoreSpec): Promise<number> {
    if (this.child) throw new Error("the standby is already running");
    const opts: PeerOptions = { store, settings: this.settings, ports: this.ports.b, incarnation: incarnation(), hollow: this.hollow };
    const child = spawn(process.execPath, [PEER_JS, JSON.stringify(opts)], { stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, TANDEM_BENCH_SECRET: this.secret } });
    peers.add(child);
    child.once("exit", () => peers.delete(child));
    this.child = child;
    await this.answer(child, "ready", PEER_START_MS);
    return performance.now();
  }

  /** stops the standby (its store stays as it is: a later start resumes from it) */
  async stopPeer(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.send({ t: "stop" } satisfies ToPeer);
    const t = setTimeout(() => child.kill("SIGKILL"), PEER_STOP_MS);
    await gone;
    clearTimeout(t);
  }

  /** what the standby's store holds; with `sum`, a checksum of rows 1..sum */
  async peerState(sum?: number): Promise<PeerState> {
    const child = this.child;
    if (!child) throw new Error("the standby is not running");
    const p = this.answer(child, "state", PEER_ANSWER_MS);
    child.send({ t: "state", sum } satisfies ToPeer);
    return (await p) as PeerState;
  }

  private answer(child: ChildProcess, t: FromPeer["t"], timeoutMs: number): Promise<FromPeer> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, m?: FromPeer) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        if (err) reject(err);
        else resolve(m as FromPeer);
      };
      const onMessage = (m: FromPeer) => {
        if (m.t === "error") done(new Error(`standby: ${m.message}`));
        else if (m.t === t) done(null, m);
      };
      const onExit = (code: number | null, sig: string | null) => done(new Error(`the standby exited (${code ?? sig}) before it answered ${t}`));
      const timer = setTimeout(() => done(new Error(`the standby did not answer ${t} within ${timeoutMs} ms`)), timeoutMs);
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  }

  /** whether a message of `bytes` sent on the peer link reaches the standby (within 5 s) */
  async carries(bytes: number): Promise<boolean> {
    const before = await this.peerState();
    const tooLarge = (st: PeerState) => st.link.rejected_too_large ?? 0;
    if (!this.leader.link.sendApp(PROBE_TOPIC, { pad: "x".repeat(bytes) })) throw new Error("the peer connection is down");
    const t0 = performance.now();
    while (performance.now() - t0 < 5000) {
      await sleep(50);
      const st = await this.peerState();
      if (st.probes > before.probes) return true;
      if (tooLarge(st) > tooLarge(before)) return false;
    }
    return false;
  }

  /** polls `cond` every `everyMs` until it holds (resolves performance.now() then) or `timeoutMs` passes (throws) */
  async until(what: string, cond: () => boolean, timeoutMs: number, everyMs = 2): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      if (cond()) return performance.now();
      if (performance.now() - t0 > timeoutMs) {
        const s = this.leader.repl.status();
        throw new Error(`${what}: not within ${timeoutMs} ms (the active sees the peer ${s.peer}, head ${s.lastSeq}, peer at ${s.peerSeq}, lag ${s.lagRecords} records)`);
      }
      await sleep(everyMs);
    }
  }

  /** the peer live and holding everything the active committed */
  caughtUp(): boolean {
    const s = this.leader.repl.status();
    return s.peer === "live" && s.lagRecords === 0;
  }

  async stop(): Promise<void> {
    // the active first: the standby would otherwise be seen going away
    await this.leader.stop().catch(() => undefined);
    await this.stopPeer().catch(() => undefined);
    await this.leaderStore.close().catch(() => undefined);
  }
}
