// The words an operator reads about replication: what a write's
// acknowledgement means now, the peer's phase, the node's part in it, the
// catch-up line, the divergence table, and every line of the HMI's replication
// panel. Defined once here; the CLI (cli-replication.ts) prints them and the
// HMI reads them from /words.js (words.ts), so the panel's script holds no text
// of its own. The phase and role lists come from ReplicationStatus: one added
// there without words here fails to compile.
import type { ReplicationStatus } from "../redundancy/replication/replicator.js";
import type { NodeStatus } from "./node-api.js";

/** What decides what an acknowledgement means: the mode, this node's part, the peer's phase. */
export interface AckFacts {
  mode: ReplicationStatus["mode"];
  role: ReplicationStatus["role"];
  acknowledging: ReplicationStatus["acknowledging"];
  peer: ReplicationStatus["peer"];
}

/**
 * What a write's acknowledgement means now: the first rule whose fields all
 * match wins, `{peer}` is the peer's phase in words. Kept as data so that the
 * CLI (ackText below) and the HMI (hmi/replication.js) choose the same line
 * with the same few lines of code, and neither decides on its own.
 */
export const ACK_RULES: readonly { when: Partial<AckFacts>; text: string }[] = [
  { when: { role: "starting" }, text: "starting: the database is opening; no writes yet" },
  { when: { role: "follower" }, text: "standby: this node applies the active's writes and takes none of its own" },
  { when: { mode: "none" }, text: "replication off: a write is acknowledged once this node's database holds it; the peer gets none" },
  { when: { mode: "async" }, text: "async: a write is acknowledged once this node's database holds it; the peer gets it a moment later (see the lag)" },
  { when: { acknowledging: "both" }, text: "sync: a write is acknowledged once both databases hold it" },
  { when: { acknowledging: "refusing" }, text: "refusing writes: the peer is {peer} and whenPeerAway is refuse" },
  { when: { peer: "away" }, text: "peer away: writes are acknowledged on this node only (whenPeerAway: accept) and reach the peer when it returns" },
  { when: {}, text: "peer {peer}: writes are acknowledged on this node only (whenPeerAway: accept) until the peer has caught up" },
];

export interface PhraseWords {
  label: string;
  meaning: string;
}

export const PEER_PHASE_WORDS: Readonly<Record<ReplicationStatus["peer"], PhraseWords>> = {
  live: { label: "live", meaning: "holds every acknowledged write and takes each new one as it is made" },
  "catching-up": { label: "catching up", meaning: "is sent the records it missed, oldest first" },
  resuming: { label: "resuming", meaning: "is back; finding where its copy ends" },
  away: { label: "away", meaning: "not connected: it gets nothing until it returns" },
  "n/a": { label: "not tracked here", meaning: "the active tracks its peer; this node follows it" },
};

export const REPLICATION_ROLE_WORDS: Readonly<Record<ReplicationStatus["role"], PhraseWords>> = {
  leader: { label: "leader", meaning: "this node is active: it orders, commits and sends every write" },
  follower: { label: "follower", meaning: "this node applies the active's writes in order" },
  starting: { label: "starting", meaning: "the database is opening" },
};

/** Lines and labels the CLI and the panel share; {name} marks are filled in. */
export const REPLICATION_PANEL_WORDS = {
  title: "Replication",
  /** the panel's rows, in this order */
  labels: { mode: "Mode", role: "This node", peer: "Peer", lag: "Lag", seq: "Sequence", journal: "Journal", catchup: "Catch-up", database: "Database", setaside: "Set aside", refused: "Refused" },
  /** a role or a peer phase with what it means */
  phrase: "{label} ({meaning})",
  /** how counts are written (12,345), in the terminal and the browser alike */
  numbers: "en-US",
  mode: "{mode} (when the peer is away: {whenPeerAway})",
  modeOff: "off",
  /** a figure not known (the peer's seq while it is away) */
  unknown: "–",
  lag: "{records} records, {ms} ms",
  seqs: "last seq {last}, the peer's {peer}",
  applied: "applied up to seq {last}",
  journal: "{n} records not yet on the peer",
  catchUp: "catching up: {records} of {total} records ({percent}%)",
  catchUpSnapshot: "catching up from a snapshot: {records} of {total} records ({percent}%)",
  noCatchUp: "none running",
  database: "{engine} at {database}",
  setAside: "{n} divergent records (tandem divergence list)",
  refused: "{n} replication messages refused from an active in an older epoch",
} as const;

/** The divergence table in the terminal. */
export const DIVERGENCE_WORDS = {
  columns: ["ID", "TABLE", "SEQ", "EPOCH", "WRITTEN AT", "FOUND AT", "DATA"],
  empty: "no divergent records: nothing was set aside",
  more: "showing the first {n}; tandem divergence export prints them all",
  discarded: "divergent record {id} discarded",
  notThere: "no divergent record {id}: nothing discarded (tandem divergence list shows what is there)",
} as const;

/** The replication part of the HMI's words (/words.js). */
export const REPLICATION_WORDS = {
  ackRules: ACK_RULES,
  peer: PEER_PHASE_WORDS,
  roles: REPLICATION_ROLE_WORDS,
  panel: REPLICATION_PANEL_WORDS,
} as const;

/** A word with its {name} marks filled in. */
export function say(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}

/** A count as an engineer reads it: 12,345 (the HMI formats the same way). */
export const count = (n: number): string => n.toLocaleString(REPLICATION_PANEL_WORDS.numbers);

/** The facts the rules match on; a node whose database is not open yet is starting. */
export function ackFacts(r: NodeStatus["replication"]): AckFacts {
  return { mode: r.mode, role: r.role ?? "starting", acknowledging: r.acknowledging ?? "n/a", peer: r.peer ?? "n/a" };
}

/** What an acknowledgement means now, in words. */
export function ackText(r: NodeStatus["replication"]): string {
  const facts = ackFacts(r);
  const rule = ACK_RULES.find((x) => Object.entries(x.when).every(([k, v]) => facts[k as keyof AckFacts] === v))!;
  return say(rule.text, { peer: PEER_PHASE_WORDS[facts.peer].label });
}

/** The catch-up line, or null when none runs. */
export function catchUpText(c: ReplicationStatus["catchUp"] | undefined): string | null {
  if (!c) return null;
  const W = REPLICATION_PANEL_WORDS;
  return say(c.snapshot ? W.catchUpSnapshot : W.catchUp, { records: count(c.records), total: count(c.total), percent: c.percent });
}
