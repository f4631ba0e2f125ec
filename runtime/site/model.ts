// The site view's model: what the site broker says of every pair, kept by a
// pure reducer — siteStep(model, input) → model — that imports no socket,
// timer or clock (time comes in with each input). The inputs are the
// messages of `tandem/+/state` and `tandem/+/node/+/status` (retained or
// live) and the connection to the site broker coming and going.
//
// Every message is a stranger's: a topic that is not one of the two, a
// payload that is not UTF-8 JSON of the documented shape, an id that is not
// an id, a pair beyond maxPairs or a node beyond MAX_NODES_PER_PAIR is
// counted and ignored, never thrown. Optional fields of a wrong shape are
// dropped, not trusted (an HMI address must be http(s)://, so a link can
// never run script). An empty payload clears what the broker held (a
// retained message deleted).
//
// When a message was heard matters more than what it says: a live message
// is heard now; a retained one delivered on subscribing is as old as its
// own `at` (never later than now), and without a usable `at` it counts as
// not heard at all — so an old retained "all good" is never shown as good.
import { z } from "zod";
import { NODE_STATES, type NodeState } from "../../core/types.js";

/** a bigger payload is ignored unread (a state or status is a few hundred bytes) */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** a pair has two nodes; a few more ids are tolerated, then ignored (a hostile publisher cannot grow the model) */
export const MAX_NODES_PER_PAIR = 4;
const MAX_REASONS = 5;
export const ID_FORM = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** what a node's status may say of it: one of the node states, or offline (its last will, or a clean stop) */
export type SiteNodeState = NodeState | "offline" | "unknown";

/** what a pair's state and a node's status both report */
interface Reported {
  serviceLevel: number | null;
  alarms: number | null;
  warnings: number | null;
  reasons: string[];
  hmi: string | null;
  /** when it was heard, this node's clock (ms); null: a retained message without a usable time */
  heardAt: number | null;
}

export interface PairStateMsg extends Reported {
  active: string;
  epoch: number;
  state: NodeState;
  held: boolean;
  peer: { nodeId: string; state: string } | null;
}

export interface NodeStatusMsg extends Reported {
  state: SiteNodeState;
  epoch: number | null;
}

export interface PairEntry {
  state: PairStateMsg | null;
  nodes: ReadonlyMap<string, NodeStatusMsg>;
}

export interface SiteCounters {
  /** messages taken into the model */
  messages: number;
  /** retained messages cleared (an empty payload) */
  cleared: number;
  /** ignored: a topic that is not tandem/<pair>/state or tandem/<pair>/node/<node>/status with ids */
  badTopic: number;
  /** ignored: not UTF-8 JSON */
  badJson: number;
  /** ignored: JSON of the wrong shape (or naming another pair or node than its topic) */
  badShape: number;
  /** ignored: over MAX_PAYLOAD_BYTES */
  tooLarge: number;
  /** ignored: a pair beyond maxPairs, a node beyond MAX_NODES_PER_PAIR */
  tooMany: number;
}

export interface SiteModel {
  readonly pairs: ReadonlyMap<string, PairEntry>;
  readonly maxPairs: number;
  /** connected to the site broker now */
  readonly connected: boolean;
  /** when `connected` last changed (this node's clock, ms); null before the first try ended */
  readonly connectedChangedAt: number | null;
  readonly counters: Readonly<SiteCounters>;
}

export type SiteInput =
  | { type: "message"; topic: string; payload: Uint8Array | string; retained: boolean; now: number }
  | { type: "connection"; up: boolean; now: number };

export function emptySite(maxPairs: number): SiteModel {
  return { pairs: new Map(), maxPairs, connected: false, connectedChangedAt: null, counters: { messages: 0, cleared: 0, badTopic: 0, badJson: 0, badShape: 0, tooLarge: 0, tooMany: 0 } };
}

/** http(s)://host[:port][/path], nothing a link could run or break out of */
function httpUrl(u: string): boolean {
  if (!/^https?:\/\/[^\s"'<>`\\]+$/.test(u)) return false;
  try {
    const p = new URL(u);
    return (p.protocol === "http:" || p.protocol === "https:") && p.username === "" && p.password === "";
  } catch {
    return false;
  }
}

const nodeId = z.string().regex(ID_FORM);
// optional fields: a wrong shape is dropped, not a reason to refuse the message
const opt = <T extends z.ZodTypeAny>(t: T) => t.optional().catch(undefined);
const level = z.number().int().min(0).max(255);
const count = z.number().int().min(0).max(1_000_000_000);
const extras = {
  at: opt(z.string().max(64)),
  serviceLevel: opt(level),
  alarms: opt(count),
  warnings: opt(count),
  reasons: opt(z.array(z.string().max(200)).max(50)),
  hmi: opt(z.string().max(300).refine(httpUrl)),
};
const stateSchema = z.object({
  pairId: z.string().max(64).optional(),
  active: nodeId,
  epoch: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  state: z.enum(NODE_STATES),
  held: opt(z.boolean()),
  peer: opt(z.object({ nodeId, state: z.string().max(32) }).nullable()),
  ...extras,
});
const statusSchema = z.object({
  nodeId: z.string().max(64).optional(),
  state: z.union([z.enum(NODE_STATES), z.literal("offline")]),
  epoch: opt(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)),
  ...extras,
});

type Topic = { kind: "state"; pairId: string } | { kind: "status"; pairId: string; nodeId: string };

export function parseSiteTopic(topic: string): Topic | null {
  if (typeof topic !== "string" || topic.length > 200) return null;
  const p = topic.split("/");
  if (p[0] !== "tandem" || !ID_FORM.test(p[1] ?? "")) return null;
  if (p.length === 3 && p[2] === "state") return { kind: "state", pairId: p[1]! };
  if (p.length === 5 && p[2] === "node" && p[4] === "status" && ID_FORM.test(p[3] ?? "")) return { kind: "status", pairId: p[1]!, nodeId: p[3]! };
  return null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** when a message counts as heard: now for a live one; a retained one as of its own time, never later than now */
function heardAt(at: string | undefined, retained: boolean, now: number): number | null {
  if (!retained) return now;
  const t = at === undefined ? NaN : Date.parse(at);
  return Number.isFinite(t) ? Math.min(t, now) : null;
}

function bump(m: SiteModel, key: keyof SiteCounters): SiteModel {
  return { ...m, counters: { ...m.counters, [key]: m.counters[key] + 1 } };
}

export function siteStep(m: SiteModel, e: SiteInput): SiteModel {
  if (e.type === "connection") return e.up === m.connected && m.connectedChangedAt !== null ? m : { ...m, connected: e.up, connectedChangedAt: e.now };
  const topic = parseSiteTopic(e.topic);
  if (!topic) return bump(m, "badTopic");
  const size = typeof e.payload === "string" ? Buffer.byteLength(e.payload) : e.payload?.byteLength;
  if (typeof size !== "number") return bump(m, "badJson");
  if (size > MAX_PAYLOAD_BYTES) return bump(m, "tooLarge");
  const old = m.pairs.get(topic.pairId);
  if (size === 0) return clear(m, topic, old);
  let json: unknown;
  try {
    json = JSON.parse(typeof e.payload === "string" ? e.payload : utf8.decode(e.payload));
  } catch {
    return bump(m, "badJson");
  }
  if (!old && m.pairs.size >= m.maxPairs) return bump(m, "tooMany");
  const entry: PairEntry = old ?? { state: null, nodes: new Map() };
  let next: PairEntry;
  if (topic.kind === "state") {
    const r = stateSchema.safeParse(json);
    if (!r.success || (r.data.pairId !== undefined && r.data.pairId !== topic.pairId)) return bump(m, "badShape");
    const d = r.data;
    const state: PairStateMsg = {
      active: d.active,
      epoch: d.epoch,
      state: d.state,
      held: d.held ?? d.state === "active-held",
      peer: d.peer ?? null,
      serviceLevel: d.serviceLevel ?? null,
      alarms: d.alarms ?? null,
      warnings: d.warnings ?? null,
      reasons: (d.reasons ?? []).slice(0, MAX_REASONS),
      hmi: d.hmi ?? null,
      heardAt: heardAt(d.at, e.retained, e.now),
    };
    next = { ...entry, state };
  } else {
    const r = statusSchema.safeParse(json);
    if (!r.success || (r.data.nodeId !== undefined && r.data.nodeId !== topic.nodeId)) return bump(m, "badShape");
    if (!entry.nodes.has(topic.nodeId) && entry.nodes.size >= MAX_NODES_PER_PAIR) return bump(m, "tooMany");
    const d = r.data;
    const status: NodeStatusMsg = {
      state: d.state,
      epoch: d.epoch ?? null,
      serviceLevel: d.serviceLevel ?? null,
      alarms: d.alarms ?? null,
      warnings: d.warnings ?? null,
      reasons: (d.reasons ?? []).slice(0, MAX_REASONS),
      // an offline will says no address: the one the node said last stays (its HMI is where to look first)
      hmi: d.hmi ?? entry.nodes.get(topic.nodeId)?.hmi ?? null,
      heardAt: heardAt(d.at, e.retained, e.now),
    };
    next = { ...entry, nodes: new Map(entry.nodes).set(topic.nodeId, status) };
  }
  const pairs = new Map(m.pairs).set(topic.pairId, next);
  return { ...m, pairs, counters: { ...m.counters, messages: m.counters.messages + 1 } };
}

/** an empty payload: the broker no longer holds that message; a pair with nothing left is gone */
function clear(m: SiteModel, topic: Topic, old: PairEntry | undefined): SiteModel {
  if (!old) return bump(m, "cleared");
  let next: PairEntry;
  if (topic.kind === "state") next = { ...old, state: null };
  else {
    const nodes = new Map(old.nodes);
    nodes.delete(topic.nodeId);
    next = { ...old, nodes };
  }
  const pairs = new Map(m.pairs);
  if (next.state === null && next.nodes.size === 0) pairs.delete(topic.pairId);
  else pairs.set(topic.pairId, next);
  return bump({ ...m, pairs }, "cleared");
}
