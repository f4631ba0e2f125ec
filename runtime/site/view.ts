// The site view as people read it (GET /api/v1/site, `tandem site`, the
// HMI's site page): per pair its active node, epoch, state, health, a held
// takeover, alarms and each node with its HMI address — computed, purely,
// from the model (model.ts) and the time now.
//
// Health is never "good" on old news: a pair is `stale` when nothing was
// heard from its active within staleMs (or this node has lost the site
// broker), `no-active` when the active's own status says offline (its last
// will) or not active, `unknown` when no node of the pair has said which one
// is active; `degraded` when it runs but something needs an eye (held, a low
// service level, the peer away, alarms); `good` otherwise.
//
// This node's own pair is not taken from the broker: the node knows it
// first hand (ownEntry); the broker adds only what the peer says of itself
// (its HMI address, its alarms).
import { isActiveState, type NodeState } from "../../core/types.js";
import { NODE_STATES } from "../../core/types.js";
import type { NodeStatusMsg, PairEntry, PairStateMsg, SiteCounters, SiteNodeState } from "./model.js";

export type PairHealth = "good" | "degraded" | "no-active" | "stale" | "unknown";

export interface SiteNodeView {
  nodeId: string;
  state: SiteNodeState;
  epoch: number | null;
  serviceLevel: number | null;
  alarms: number | null;
  warnings: number | null;
  /** its HMI, as the node itself says (http(s):// only) */
  hmi: string | null;
  /** ms since it was last heard; null: never (since this node subscribed) */
  heardMsAgo: number | null;
  /** not heard within staleMs (or the site broker is away): what it last said may no longer be so */
  stale: boolean;
}

export interface SitePairView {
  pairId: string;
  /** this node's own pair */
  self: boolean;
  /** the active node's id, null when none is known */
  active: string | null;
  /** the active's state (active, active-held …), or what is known of it */
  state: SiteNodeState;
  epoch: number | null;
  /** a takeover waits for an operator's confirm on the active */
  held: boolean;
  health: PairHealth;
  /** the active's service level */
  serviceLevel: number | null;
  alarms: number | null;
  warnings: number | null;
  /** ms since the active (or the pair's state) was last heard */
  heardMsAgo: number | null;
  /** what is not right, in words, the first first */
  problems: string[];
  /** the active's HMI */
  hmi: string | null;
  nodes: SiteNodeView[];
}

export interface SiteView {
  /** the node answering */
  pairId: string;
  nodeId: string;
  at: string;
  /** site-broker: every pair on the site broker; own-pair-only: no site broker to read (embedded MQTT broker, no mqtt section, or the view switched off) */
  source: "site-broker" | "own-pair-only";
  broker: { url: string | null; connected: boolean; changedAt: string | null };
  /** one sentence on where the view comes from and what it cannot show */
  note: string;
  staleMs: number;
  pairs: SitePairView[];
  counters: SiteCounters;
}

export const HEALTH_WORDS: Record<PairHealth, string> = { good: "good", degraded: "degraded", "no-active": "no active", stale: "stale", unknown: "unknown" };

const secs = (ms: number) => (ms < 120_000 ? `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s` : `${Math.round(ms / 60_000)} min`);
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
const asNodeState = (s: string): SiteNodeState => ((NODE_STATES as readonly string[]).includes(s) || s === "offline" ? (s as SiteNodeState) : "unknown");

export interface PairViewOptions {
  now: number;
  staleMs: number;
  /** connected to the site broker (always true for this node's own pair) */
  connected: boolean;
  self?: boolean;
}

export function pairView(pairId: string, e: PairEntry, o: PairViewOptions): SitePairView {
  const { now, staleMs } = o;
  const fresh = (t: number | null) => o.connected && t !== null && now - t <= staleMs;
  const ago = (t: number | null) => (t === null ? null : Math.max(0, now - t));
  const st = e.state;
  // the active: the pair's state says which; a node's own status saying it is active at a higher epoch is newer news
  let active = st?.active ?? null;
  let epoch = st?.epoch ?? null;
  for (const [id, s] of e.nodes) {
    if (isActiveState(s.state as NodeState) && s.epoch !== null && (epoch === null || s.epoch > epoch)) {
      active = id;
      epoch = s.epoch;
    }
  }
  const said: PairStateMsg | null = st && st.active === active ? st : null;
  const ids = new Set(e.nodes.keys());
  if (st) ids.add(st.active);
  if (st?.peer) ids.add(st.peer.nodeId);
  const nodeOf = (id: string): SiteNodeView => {
    const s: NodeStatusMsg | undefined = e.nodes.get(id);
    let state: SiteNodeState = s?.state ?? "unknown";
    let heard = s?.heardAt ?? null;
    if (!s && st && id === st.active) [state, heard] = [st.state, st.heardAt];
    else if (!s && st?.peer?.nodeId === id) [state, heard] = [asNodeState(st.peer.state), st.heardAt];
    const fromState = id === said?.active ? said : null;
    return {
      nodeId: id,
      state,
      epoch: s?.epoch ?? (fromState ? fromState.epoch : null),
      serviceLevel: s?.serviceLevel ?? fromState?.serviceLevel ?? null,
      alarms: s?.alarms ?? fromState?.alarms ?? null,
      warnings: s?.warnings ?? fromState?.warnings ?? null,
      hmi: s?.hmi ?? fromState?.hmi ?? null,
      heardMsAgo: ago(heard),
      stale: !fresh(heard),
    };
  };
  const nodes = [...ids].sort().map(nodeOf);
  const activeNode = active === null ? undefined : nodes.find((n) => n.nodeId === active);
  const activeStatus = active === null ? undefined : e.nodes.get(active);
  const heardTimes = [said?.heardAt ?? null, activeStatus?.heardAt ?? null].filter((t): t is number => t !== null);
  const lastHeard = heardTimes.length ? Math.max(...heardTimes) : null;
  const held = activeStatus ? activeStatus.state === "active-held" : (said?.held ?? false);
  const level = activeNode?.serviceLevel ?? null;
  const freshNodes = nodes.filter((n) => !n.stale && n.state !== "offline");
  const sum = (k: "alarms" | "warnings") => {
    const known = freshNodes.filter((n) => n[k] !== null);
    return known.length ? known.reduce((a, n) => a + (n[k] as number), 0) : (said?.[k] ?? null);
  };
  const alarms = sum("alarms");
  const warnings = sum("warnings");

  const problems: string[] = [];
  let health: PairHealth;
  if (active === null || !activeNode) {
    health = o.self ? "no-active" : "unknown";
    problems.push(o.self ? "no node of this pair is active" : "no node of this pair has said which one is active");
  } else if (activeNode.state === "offline") {
    health = "no-active";
    problems.push(`the active ${active} is offline (its last will, or a clean stop), and no other node says it is active`);
  } else if (activeStatus && !isActiveState(activeStatus.state as NodeState)) {
    health = "no-active";
    problems.push(`${active} says it is ${activeStatus.state} now, and no other node says it is active`);
  } else if (!fresh(lastHeard)) {
    health = "stale";
    problems.push(lastHeard === null ? `nothing heard from the active ${active} since this node subscribed` : `nothing heard from the active ${active} for ${secs(now - lastHeard)}`);
  } else {
    if (held) problems.push(`takeover held: an operator confirms or rejects on ${active}`);
    if (level !== null && level < 200) problems.push(`the active's service level is ${level}${activeStatus?.reasons.length || said?.reasons.length ? ` (${(activeStatus?.reasons.length ? activeStatus.reasons : said!.reasons).join("; ")})` : ""}`);
    const peers = nodes.filter((n) => n.nodeId !== active);
    if (peers.length === 0) problems.push("no other node of this pair is known");
    for (const p of peers) {
      if (p.state === "offline") problems.push(`${p.nodeId} is offline`);
      else if (p.stale) problems.push(p.heardMsAgo === null ? `nothing heard from ${p.nodeId}` : `nothing heard from ${p.nodeId} for ${secs(p.heardMsAgo)}`);
      else if (p.state !== "standby") problems.push(`${p.nodeId} is ${p.state}`);
    }
    if (alarms) problems.push(plural(alarms, "alarm"));
    health = problems.length ? "degraded" : "good";
  }
  // what comes from a broker this node has lost is old news, whatever it says
  if (!o.connected && health !== "unknown") {
    health = "stale";
    problems.unshift("this node is not connected to the site broker: this is what it last heard");
  }
  return {
    pairId,
    self: o.self === true,
    active,
    state: activeNode?.state ?? "unknown",
    epoch,
    held,
    health,
    serviceLevel: level,
    alarms,
    warnings,
    heardMsAgo: ago(lastHeard),
    problems,
    hmi: activeNode?.hmi ?? null,
    nodes,
  };
}

/** what this node knows first hand of its own pair */
export interface LocalPair {
  nodeId: string;
  state: NodeState;
  epoch: number;
  serviceLevel: number;
  serviceLevelReasons: string[];
  held: boolean;
  alarms: number;
  warnings: number;
  hmi: string | null;
  peer: { nodeId: string; state: NodeState | "unknown"; epoch: number | null; serviceLevel: number | null; lastSeenMs: number | null; hmi: string | null };
}

/** this node's own pair as a model entry: its own knowledge, and of the broker's only what the peer says of itself */
export function ownEntry(l: LocalPair, broker: PairEntry | undefined, now: number): PairEntry {
  const b = broker?.nodes.get(l.peer.nodeId);
  const self: NodeStatusMsg = { state: l.state, epoch: l.epoch, serviceLevel: l.serviceLevel, alarms: l.alarms, warnings: l.warnings, reasons: l.serviceLevelReasons.slice(0, 5), hmi: l.hmi, heardAt: now };
  const peerHeard = l.peer.lastSeenMs !== null && l.peer.state !== "unknown" ? now - l.peer.lastSeenMs : null;
  const peer: NodeStatusMsg = {
    state: l.peer.state === "unknown" && b?.state === "offline" ? "offline" : l.peer.state,
    epoch: l.peer.epoch,
    serviceLevel: l.peer.serviceLevel,
    alarms: b?.alarms ?? null,
    warnings: b?.warnings ?? null,
    reasons: [],
    hmi: b?.hmi ?? l.peer.hmi,
    heardAt: peerHeard,
  };
  const nodes = new Map([
    [l.nodeId, self],
    [l.peer.nodeId, peer],
  ]);
  const active = isActiveState(l.state) ? l.nodeId : isActiveState(l.peer.state) ? l.peer.nodeId : null;
  if (active === null) return { state: null, nodes };
  const a = nodes.get(active)!;
  const state: PairStateMsg = {
    active,
    epoch: a.epoch ?? l.epoch,
    state: a.state as NodeState,
    held: active === l.nodeId ? l.held : a.state === "active-held",
    peer: { nodeId: active === l.nodeId ? l.peer.nodeId : l.nodeId, state: active === l.nodeId ? l.peer.state : l.state },
    serviceLevel: a.serviceLevel,
    alarms: a.alarms,
    warnings: a.warnings,
    reasons: a.reasons,
    hmi: a.hmi,
    heardAt: a.heardAt,
  };
  return { state, nodes };
}
