// The node's data side, composed: its database and replication (records.ts)
// and the process modules that keep their context in it (processes/). The
// node (node.ts) owns one, opens it first on start and closes it last, and
// forwards the pair's state changes to it.
import { join } from "node:path";
import { TandemError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { isActiveState } from "../core/types.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { VerifyResult } from "../redundancy/replication/verify.js";
import type { TandemConfig } from "./config/schema.js";
import type { ContextView, DivergenceView, NodeStatus, RecordAnswer, RecordView } from "./node-api.js";
import { ProcessHost } from "./processes/host.js";
import { openReceivedLog, openStorage, Records } from "./records.js";
import { openReplicatedSessions, type ReplicatedSessions } from "./auth/replicated-sessions.js";
import { openReplicatedAudit, type ReplicatedAudit } from "./audit/replicated-audit.js";

export interface NodeDataOptions {
  config: TandemConfig;
  runtime: PairRuntime;
  log: (component: string) => Logger;
  drivers: () => DriverManager | null;
  /** an alarm of a part (a process module stopped, the databases differ), stored as an event */
  alarm?: (type: string, text: string) => void;
  /** whether process modules run or stop (a switchover waits for them as for services placed active) */
  setProcessesUp(up: boolean): void;
  /** the refusal of what only the active does, naming the active when known (runtime/active-hint.ts); a plain one when absent */
  notActive?: (what: string) => TandemError;
}

export class NodeData {
  records: Records | null = null;
  processes: ProcessHost | null = null;
  /** the HMI sessions the pair shares (null: replication.mode none, each node its own) */
  sessions: ReplicatedSessions | null = null;
  /** the pair's audit: the active's audit lines in the store (null: replication.mode none) */
  audit: ReplicatedAudit | null = null;

  constructor(private readonly o: NodeDataOptions) {}

  /** opens and migrates the database, follows the pair, loads the process modules */
  async open(): Promise<void> {
    const c = this.o.config;
    const storage = await openStorage(c.database, c.node.dataDir);
    this.o.log("node").info(`starting: storage (${storage.engine} ${storage.where})`);
    await storage.open();
    const records = new Records(storage, c.replication, this.o.runtime, c.node.id, this.o.log("replication"), await storage.schemaVersion(), openReceivedLog(c.replication, c.node.dataDir, this.o.log("replication")));
    this.records = records;
    // what this node acknowledged as standby before a crash, into its database before anything reads it
    await records.replicator.recover();
    this.sessions = await openReplicatedSessions(records, { mode: c.replication.mode, ttlMs: c.http.sessionTtlMs, log: this.o.log("http") });
    this.audit = openReplicatedAudit(records, { mode: c.replication.mode, maxRecordBytes: c.replication.maxRecordBytes, active: () => isActiveState(this.o.runtime.state.state), log: this.o.log("audit") });
    if (this.o.alarm) records.onAlarm = this.o.alarm;
    await records.attach();
    this.processes = this.makeProcessHost(records);
    await this.processes.load();
  }

  /**
   * Does the standby hold every write this node acknowledged? (sync: the peer
   * is live; async: live with nothing in flight.) A switchover waits for it.
   */
  drained(): boolean {
    const st = this.records?.replicator.status();
    if (!st || st.mode === "none" || st.role !== "leader") return true;
    return st.peer === "live" && (st.mode === "sync" || st.lagRecords === 0);
  }

  health(): { penalty: number; reasons: string[] } {
    return this.records?.health() ?? { penalty: 0, reasons: [] };
  }

  /** the pair's state changed, or a switchover asks for everything placed active to stop */
  onPairChange(): void {
    this.processes?.reconcile();
  }

  /** a reject: the process context starts again from the beginning */
  onContextReset(): void {
    this.processes?.reset();
  }

  async stopProcesses(): Promise<void> {
    await this.processes?.stop();
  }

  async close(): Promise<void> {
    this.sessions?.stop();
    this.audit?.stop();
    await this.records?.stop();
  }

  private makeProcessHost(records: Records): ProcessHost {
    const rt = this.o.runtime;
    return new ProcessHost({
      processes: this.o.config.processes,
      storage: records.storage,
      buildDir: join(this.o.config.node.dataDir, "processes"),
      log: this.o.log("processes"),
      alarm: (text) => this.o.alarm?.("module-failed", text),
      pair: {
        mayRun: () => rt.state.state === "active" && rt.canAct() && rt.state.switchoverOut?.phase !== "quiescing",
        held: () => rt.state.state === "active-held",
        contextSeq: () => rt.state.context.seq,
      },
      ports: {
        write: (writes) => records.replicator.write(writes),
        tag: (name) => this.o.drivers()?.tag(name),
        writeTag: (name, value) => {
          const d = this.o.drivers();
          if (!d) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
          return d.write(name, value, "process");
        },
        record: async (table, data, key) => {
          const a = await records.write(table, data, key);
          return { seq: a.seq, epoch: a.epoch };
        },
        wallClock: () => Date.now(),
      },
      setUp: (up) => this.o.setProcessesUp(up),
    });
  }

  async context(): Promise<ContextView> {
    const s = this.o.runtime.state;
    const host = this.processes;
    if (host && s.state !== "active") await host.refreshContexts();
    return { nodeId: this.o.config.node.id, state: s.state, epoch: s.epoch, held: s.state === "active-held", seq: s.context.seq, processes: host?.views() ?? [] };
  }

  replicationStatus(): NodeStatus["replication"] {
    return this.records?.status() ?? { mode: this.o.config.replication.mode, lagRecords: 0, journalRecords: 0 };
  }

  private open_(): Records {
    if (!this.records) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["the database is not open yet"]);
    return this.records;
  }

  writeRecord(table: string, data: unknown, idempotencyKey?: string): Promise<RecordAnswer> {
    return this.open_().write(table, data, idempotencyKey, this.o.notActive);
  }

  readRecords(table: string, afterSeq: number, limit: number): Promise<{ table: string; records: RecordView[]; next: number | null }> {
    return this.open_().read(table, afterSeq, limit);
  }

  divergence(afterId: number, limit: number): Promise<DivergenceView> {
    return this.open_().divergence(afterId, limit);
  }

  /** checks before an audited verify or resync: only the active compares or rebuilds */
  onActive(what: string): Records {
    const records = this.open_();
    const state = this.o.runtime.state.state;
    if (!isActiveState(state)) throw this.o.notActive?.(what) ?? new TandemError("TANDEM_ERR_NOT_ACTIVE", [what, `node is ${state}, not active (ask the active)`]);
    return records;
  }

  verify(by: string): Promise<VerifyResult> {
    return this.onActive("verify").verify(by);
  }

  resync(): { started: boolean } {
    const r = this.onActive("resync").resync();
    if (!r.started) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["the peer connection is down: there is no standby to rebuild"]);
    return r;
  }

  async discardDivergent(id: number): Promise<boolean> {
    return this.open_().storage.discardDivergent(id);
  }
}
