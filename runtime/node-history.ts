// The node's tag history and events, composed: the recorders that write them
// into the replicated store while the node is active (history/recorder.ts,
// events/recorder.ts), their retention, and the reads the API serves. The
// node (node.ts) makes one with the pair runtime (so the events of its first
// moments are caught), starts it once the database and the drivers are up,
// and stops it before it hands over the role.
import { performance } from "node:perf_hooks";
import { TandemError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { isActiveState } from "../core/types.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { RowWrite } from "../redundancy/storage.js";
import type { TandemConfig } from "./config/schema.js";
import { followPair } from "./events/pair-events.js";
import { EVENTS_TABLE, EventRecorder, MAX_TEXT, type EventRow } from "./events/recorder.js";
import { peerVisible } from "../redundancy/failure-detector.js";
import type { Sample } from "./history/deadband.js";
import { HISTORY_TABLE, historyRange } from "./history/keys.js";
import { historyMetrics } from "./history/metrics.js";
import { HistoryRecorder, type HistoryCounters } from "./history/recorder.js";
import type { Registry } from "prom-client";
import type { EventsView, HistoryQuery, TagHistoryView } from "./node-api.js";
import type { Records } from "./records.js";

/** the peer-link app topic of events a node sends its active peer */
export const PEER_EVENTS_TOPIC = "events";
const FORWARD_BATCH = 100;

export interface NodeHistoryOptions {
  config: TandemConfig;
  runtime: PairRuntime;
  records: () => Records | null;
  drivers: () => DriverManager | null;
  log: Logger;
}

export class NodeHistory {
  readonly events: EventRecorder;
  private recorder: HistoryRecorder | null = null;
  private readonly configured: Set<string>;
  private readonly acting: () => boolean;
  private readonly write: (rows: RowWrite[]) => Promise<unknown>;

  constructor(private readonly o: NodeHistoryOptions) {
    const rt = o.runtime;
    this.acting = () => isActiveState(rt.state.state) && rt.canAct();
    // internal: history and events are Tandem's own rows, never refused by whenPeerAway: refuse
    this.write = (rows) => {
      const records = o.records();
      return records ? records.replicator.write(rows, true) : Promise.reject(new TandemError("TANDEM_ERR_UNAVAILABLE", ["the database is not open yet"]));
    };
    this.configured = new Set(o.config.drivers?.tags.map((t) => t.name) ?? []);
    // events about this node alone go to the active while this node is not it
    const forward = (rows: EventRow[]) => {
      const s = rt.state;
      if (!isActiveState(s.peer.state) || !peerVisible(s.peer, rt.now(), o.config.heartbeat.timeoutMs)) return false;
      for (let i = 0; i < rows.length; i += FORWARD_BATCH) if (!rt.sendPeerApp(PEER_EVENTS_TOPIC, { rows: rows.slice(i, i + FORWARD_BATCH) })) return false;
      return true;
    };
    this.events = new EventRecorder(o.config.node.id, o.config.events.enabled, { acting: this.acting, write: this.write, now: Date.now, forward }, o.log);
    followPair(rt, this.events);
  }

  /** an alarm of one of the node's parts, stored as an event (sent to the active when this node is not it) */
  alarm(type: string, text: string): void {
    this.events.recordOwn(type, "alarm", text);
  }

  /** events the peer sent about itself (PEER_EVENTS_TOPIC), checked: they came over the network */
  acceptPeerEvents(data: Record<string, unknown>): void {
    const peer = this.o.config.peer.id;
    const rows = Array.isArray(data.rows) ? (data.rows as unknown[]).slice(0, FORWARD_BATCH) : [];
    let dropped = Array.isArray(data.rows) ? Math.max(0, data.rows.length - FORWARD_BATCH) : 1;
    for (const x of rows) {
      const r = x as Partial<EventRow> | null;
      const ok =
        r !== null &&
        typeof r === "object" &&
        typeof r.type === "string" &&
        /^[a-z][a-z0-9-]{0,47}$/.test(r.type) &&
        (r.severity === "info" || r.severity === "warning" || r.severity === "alarm") &&
        typeof r.text === "string" &&
        r.text.length <= MAX_TEXT + 1 &&
        r.node === peer &&
        typeof r.at === "number" &&
        Number.isFinite(r.at) &&
        r.at > 0;
      if (!ok) {
        dropped++;
        continue;
      }
      this.events.recordPeer({ type: r.type!, severity: r.severity!, text: r.text!, node: peer, at: r.at! });
    }
    if (dropped) this.o.log.warn(`dropped ${dropped} event(s) the peer sent: not events of ${peer} as Tandem writes them`);
  }

  /** after the database and the drivers are up */
  start(): void {
    const c = this.o.config;
    const records = this.o.records();
    records?.retain(HISTORY_TABLE, c.history.retentionDays);
    records?.retain(EVENTS_TABLE, c.events.retentionDays);
    const drivers = this.o.drivers();
    if (drivers && c.drivers) {
      this.recorder = new HistoryRecorder(
        c.history,
        c.drivers.tags,
        {
          acting: this.acting,
          epoch: () => this.o.runtime.state.epoch,
          write: this.write,
          subscribe: (fn) => drivers.bus.subscribe(fn),
          tags: () => drivers.tags(),
          now: Date.now,
          elapsed: () => performance.now(),
        },
        this.o.log,
      );
      this.recorder.start();
    }
    this.events.start();
  }

  /** writes what is buffered while the node is still active, then stops recording */
  async stop(): Promise<void> {
    await this.recorder?.stop();
    await this.events.stop();
  }

  counters(): HistoryCounters | null {
    return this.recorder?.counters() ?? null;
  }

  /** the recorders' counts in the node's metrics */
  addMetrics(r: Registry): void {
    historyMetrics(r, () => ({ history: this.counters(), events: { written: this.events.written, expired: this.events.expired } }));
  }

  private storage() {
    const records = this.o.records();
    if (!records) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["the database is not open yet"]);
    return records.storage;
  }

  async tagHistory(name: string, q: HistoryQuery): Promise<TagHistoryView> {
    const rows = await this.storage().readKeys(HISTORY_TABLE, { ...historyRange(name, q.from, q.to), limit: q.limit + 1, descending: q.order === "desc" });
    if (!rows.length && !this.configured.has(name)) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
    const samples = rows.slice(0, q.limit).map((r) => {
      const s = JSON.parse(r.body as string) as Sample;
      return { value: s.v, quality: s.q, ...(s.r === undefined ? {} : { reason: s.r }), timestamp: new Date(s.ts).toISOString() };
    });
    return { name, from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString(), order: q.order, samples, more: rows.length > q.limit };
  }

  async eventHistory(afterSeq: number, limit: number): Promise<EventsView> {
    const rows = await this.storage().read(EVENTS_TABLE, { afterSeq, limit });
    return {
      events: rows.map((r) => {
        const e = JSON.parse(r.body as string) as EventRow;
        return { seq: r.seq, type: e.type, severity: e.severity, text: e.text, node: e.node, at: new Date(e.at).toISOString() };
      }),
      next: rows.length === limit ? rows[rows.length - 1].seq : null,
    };
  }
}
