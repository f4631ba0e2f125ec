// Balanced services over the pair: each node shares its load figures and the
// balanced instances it runs in a report to its peer (every second, and at
// once when that set changes). One node decides the placement — the active,
// or the lower node id while neither is — with placement.ts on the figures
// both reported; the other follows the assignment in its report, and decides
// alone when the peer is out of the pool (dead, not visible, in maintenance).
// An instance moves by a stop on one node, then a start on the other: a node
// starts an instance only when the peer's latest report says the peer does
// not run it, so a move never runs it twice while reports flow.
import type { NodeState } from "../../core/types.js";
import type { ServicesConfig } from "./config-schema.js";
import type { ServiceInstance } from "./instance.js";
import { checkStops, type OperatorStop } from "./operator-stops.js";
import { place, type NodeFigures, type Placement } from "./placement.js";
import { cpuPercent, nodeLoad, rate, type NodeLoadSample } from "./proc.js";

export interface PeerReport {
  node: string;
  state: string;
  epoch: number;
  figures: NodeFigures;
  /** balanced instances started there and not yet confirmed gone */
  present: string[];
  /** balanced instances running there (healthy where checked) */
  running: string[];
  /** the deciding node's assignment: service → node of each instance */
  assignment: Record<string, (string | null)[]>;
  stops?: Record<string, OperatorStop>;
}

/** a report older than this says nothing any more: the peer is taken to run what it was assigned */
const REPORT_FRESH_MS = 3000;
/**
 * A peer of the pool whose heartbeats pause for less than this, with no word
 * that it is down, is still in the pool: a stall of either node's event loop
 * (a loaded host) makes the peer look away for a moment, and taking its
 * instances then would run them twice and move them back a second later.
 */
export const PEER_AWAY_MS = 3000;
const POOL_STATES: ReadonlySet<string> = new Set(["standby", "active", "active-held", "isolated"]);

export class Balancer {
  private peerReport: { r: PeerReport; at: number } | null = null;
  private readonly placements = new Map<string, Placement>();
  private last: { load: NodeLoadSample; at: number } | null = null;
  private own: NodeFigures;
  private peerInPool = false;
  /** since when a peer of the pool has not been seen (its heartbeats paused), null while it is */
  private peerAwaySince: number | null = null;
  /** the peer is in the pool but its report is missing or old: keep what runs here, start nothing */
  private peerSilent = false;

  constructor(
    private readonly o: {
      pairId: string;
      nodeId: string;
      capacity: number;
      services: ServicesConfig;
      instances: ServiceInstance[];
      now: () => number;
    },
  ) {
    this.own = { nodeId: o.nodeId, capacity: o.capacity, freeMemBytes: 0, cpuPercent: 0, eventsPerSec: 0, netBytesPerSec: 0, instances: 0 };
  }

  private balanced(): ServiceInstance[] {
    return this.o.instances.filter((i) => i.config.placement === "balanced");
  }

  /** This node's figures now (every few seconds). */
  sample(): void {
    const load = nodeLoad();
    const now = this.o.now();
    const prev = this.last;
    this.last = { load, at: now };
    const mine = this.balanced().filter((i) => i.present);
    this.own = {
      nodeId: this.o.nodeId,
      capacity: this.o.capacity,
      freeMemBytes: load.freeMemBytes,
      cpuPercent: prev ? Math.round(cpuPercent(prev.load, load) * 10) / 10 : this.own.cpuPercent,
      eventsPerSec: Math.round(mine.reduce((a, i) => a + i.figures.eventsPerSec, 0) * 10) / 10,
      netBytesPerSec: prev ? Math.round(rate(prev.load.netBytes, load.netBytes, now - prev.at)) : this.own.netBytesPerSec,
      instances: mine.length,
    };
  }

  figures(): { own: NodeFigures; peer: NodeFigures | null } {
    return { own: this.own, peer: this.peerInPool ? (this.peerReport?.r.figures ?? null) : null };
  }

  /** Where each balanced instance runs, decided or followed; called before each look at what should run. */
  update(state: NodeState, peer: { id: string; inPool: boolean; state: string; down?: boolean }): void {
    const now = this.o.now();
    this.peerInPool = this.peerStillInPool(peer, now);
    // a report from before the peer left the pool (a previous run of it) says nothing now
    if (!this.peerInPool) this.peerReport = null;
    const fresh = this.peerReport && now - this.peerReport.at <= REPORT_FRESH_MS ? this.peerReport.r : null;
    this.peerSilent = this.peerInPool && !fresh;
    const meInPool = POOL_STATES.has(state);
    const figures = [...(meInPool ? [this.own] : []), ...(this.peerInPool && fresh ? [fresh.figures] : [])];
    const peerDecides = this.peerInPool && fresh !== null && (isActive(peer.state) || (!isActive(state) && peer.id < this.o.nodeId));
    let moving = this.movesInFlight(fresh);
    for (const [name, c] of Object.entries(this.o.services)) {
      if (c.placement !== "balanced") continue;
      const followed = peerDecides ? fresh!.assignment[name] : undefined;
      if (followed && followed.length === c.instances && followed.every((n) => n === null || n === this.o.nodeId || n === peer.id)) {
        const mine = this.placements.get(name);
        this.placements.set(name, { assignment: followed, why: followed.map((n, k) => (n === null ? "no healthy node" : (mine?.assignment[k] === n ? mine.why[k] : undefined) ?? `placed on ${n} by ${peer.id}`)), moved: [], ideal: followed });
        continue;
      }
      if (this.peerSilent) continue; // the peer is there but says nothing: keep what was decided
      const prev = this.placements.get(name);
      const current = prev?.assignment ?? this.currentFromPresence(name, fresh);
      const p = place({
        service: name,
        instances: c.instances!,
        scheme: c.scheme ?? "fewest-instances",
        pool: this.withAssignedCounts(figures, name, current),
        current,
        moving,
        perInstance: this.perInstance(),
        seed: `${this.o.pairId}:${name}`,
        rotation: 0,
      });
      moving += p.moved.length;
      this.placements.set(name, p);
    }
  }

  /**
   * In the pool: seen in a pool state. Out: seen in another state (stopping,
   * maintenance), known down (fenced, said goodbye), never seen in the pool,
   * or away longer than PEER_AWAY_MS. A shorter pause changes nothing.
   */
  private peerStillInPool(peer: { inPool: boolean; state: string; down?: boolean }, now: number): boolean {
    if (peer.inPool) {
      this.peerAwaySince = null;
      return POOL_STATES.has(peer.state);
    }
    if (peer.down || !this.peerInPool) {
      this.peerAwaySince = null;
      return false;
    }
    this.peerAwaySince ??= now;
    if (now - this.peerAwaySince < PEER_AWAY_MS) return true;
    this.peerAwaySince = null;
    return false;
  }

  /** Should this balanced instance run here now? Assigned here, and the peer does not run it. */
  runsHere(key: string, state: NodeState): boolean {
    if (!POOL_STATES.has(state)) return false;
    if (this.peerSilent) return this.o.instances.some((i) => i.key === key && i.present);
    const [name, idx] = splitKey(key);
    const node = this.placements.get(name)?.assignment[idx - 1];
    if (node !== this.o.nodeId) return false;
    if (!this.peerInPool) return true;
    const r = this.peerReport?.r;
    return !!r && !r.present.includes(key);
  }

  /** Where it is assigned and why (the scheme's figures). */
  assigned(key: string): { node: string | null; why: string } | null {
    const [name, idx] = splitKey(key);
    const p = this.placements.get(name);
    if (!p) return null;
    const node = p.assignment[idx - 1] ?? null;
    let why = p.why[idx - 1] ?? "";
    if (node === this.o.nodeId && this.peerInPool && this.peerReport?.r.present.includes(key)) why += `; starts here once the peer has stopped it`;
    return { node, why };
  }

  why(key: string): string | null {
    return this.assigned(key)?.why ?? null;
  }

  report(state: NodeState, epoch: number, stops: Record<string, OperatorStop>): PeerReport {
    const b = this.balanced();
    const assignment: Record<string, (string | null)[]> = {};
    for (const [name, p] of this.placements) assignment[name] = p.assignment;
    return {
      node: this.o.nodeId,
      state,
      epoch,
      figures: this.own,
      present: b.filter((i) => i.present).map((i) => i.key),
      running: b.filter((i) => i.ready).map((i) => i.key),
      assignment,
      stops,
    };
  }

  /** The peer's report, checked (it came over the network); an error string when it is not one. */
  acceptReport(x: Record<string, unknown>): PeerReport | string {
    const r = checkReport(x);
    if (typeof r === "string") return r;
    this.peerReport = { r, at: this.o.now() };
    return r;
  }

  /**
   * The pool's figures with `instances` counted from the assignments (this
   * service's `current` and the others' as decided), not from a sample: the
   * placement takes this service's own instances out of them and must find
   * exactly those there.
   */
  private withAssignedCounts(figures: NodeFigures[], service: string, current: (string | null)[]): NodeFigures[] {
    return figures.map((f) => {
      let n = current.filter((x) => x === f.nodeId).length;
      for (const [name, p] of this.placements) if (name !== service) n += p.assignment.filter((x) => x === f.nodeId).length;
      return { ...f, instances: n };
    });
  }

  /** instances assigned to a node that does not run them yet (a move or a restart in flight), over every service */
  private movesInFlight(peer: PeerReport | null): number {
    let n = 0;
    for (const [name, p] of this.placements) {
      p.assignment.forEach((node, k) => {
        const key = `${name}#${k + 1}`;
        if (node === this.o.nodeId && !this.o.instances.find((i) => i.key === key)?.ready) n++;
        else if (node !== null && node !== this.o.nodeId && peer && !peer.running.includes(key)) n++;
      });
    }
    return n;
  }

  /** after a restart of this node: where instances run now, from what runs here and what the peer reports */
  private currentFromPresence(name: string, peer: PeerReport | null): (string | null)[] {
    const c = this.o.services[name]!;
    return Array.from({ length: c.instances! }, (_, k) => {
      const key = `${name}#${k + 1}`;
      if (this.o.instances.find((i) => i.key === key)?.present) return this.o.nodeId;
      if (peer?.present.includes(key)) return peer.node;
      return null;
    });
  }

  private perInstance(): { memBytes: number; cpuPercent: number; eventsPerSec: number; netBytesPerSec: number } {
    const mine = this.balanced().filter((i) => i.present);
    const avg = (f: (i: ServiceInstance) => number) => (mine.length ? mine.reduce((a, i) => a + f(i), 0) / mine.length : 0);
    return { memBytes: avg((i) => i.figures.rssBytes), cpuPercent: avg((i) => i.figures.cpuPercent), eventsPerSec: avg((i) => i.figures.eventsPerSec), netBytesPerSec: 0 };
  }
}

const isActive = (s: string) => s === "active" || s === "active-held";

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf("#");
  return at < 0 ? [key, 1] : [key.slice(0, at), Number(key.slice(at + 1))];
}

const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x) && x >= 0;
const isKeyList = (x: unknown): x is string[] => Array.isArray(x) && x.length <= 10_000 && x.every((k) => typeof k === "string" && k.length <= 64);

function checkReport(x: Record<string, unknown>): PeerReport | string {
  if (typeof x.node !== "string" || typeof x.state !== "string" || !Number.isSafeInteger(x.epoch)) return "node, state or epoch missing";
  const f = x.figures as Record<string, unknown> | undefined;
  if (!f || typeof f !== "object") return "no figures";
  for (const k of ["capacity", "freeMemBytes", "cpuPercent", "eventsPerSec", "netBytesPerSec", "instances"]) if (!isNum(f[k])) return `figures.${k} is not a number ≥ 0`;
  if (f.nodeId !== x.node) return "figures.nodeId differs from node";
  if (!isKeyList(x.present) || !isKeyList(x.running)) return "present or running is not a list of instance names";
  const a = x.assignment as Record<string, unknown> | undefined;
  if (!a || typeof a !== "object" || Array.isArray(a)) return "no assignment";
  for (const [k, v] of Object.entries(a)) {
    if (!Array.isArray(v) || v.length > 64 || !v.every((n) => n === null || (typeof n === "string" && n.length <= 64))) return `assignment.${k.slice(0, 48)} is not a list of node ids`;
  }
  let stops: Record<string, OperatorStop> | undefined;
  if (x.stops !== undefined) {
    const s = checkStops(x.stops);
    if (typeof s === "string") return s;
    stops = s;
  }
  return {
    node: x.node,
    state: x.state,
    epoch: x.epoch as number,
    figures: { nodeId: x.node, capacity: f.capacity as number, freeMemBytes: f.freeMemBytes as number, cpuPercent: f.cpuPercent as number, eventsPerSec: f.eventsPerSec as number, netBytesPerSec: f.netBytesPerSec as number, instances: f.instances as number },
    present: x.present,
    running: x.running,
    assignment: a as Record<string, (string | null)[]>,
    ...(stops ? { stops } : {}),
  };
}
