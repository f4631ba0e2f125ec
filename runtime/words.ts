// The words operators read for the node states, the service level, the log
// levels and the audited actions (and the services', from service-words.ts,
// replication's, from replication-words.ts, and the process context's, from
// context-words.ts): defined once here, printed by the CLI (cli-client.ts,
// cli-services.ts, cli-replication.ts, cli-context.ts) and
// served to the HMI as /words.js, so the terminal and the browser never
// disagree. The state and level lists themselves come from
// core/types.ts; a state added there without words here fails to compile.
import { LOG_LEVELS, NODE_STATES, isActiveState, type NodeState } from "../core/types.js";
import { SERVICE_WORDS } from "./service-words.js";
import { REPLICATION_WORDS } from "./replication-words.js";
import { CONTEXT_WORDS } from "./context-words.js";
import { TREND_WORDS } from "./trend-words.js";

export interface StateWords {
  /** the state as shown big: upper case, what an operator scans for */
  label: string;
  /** one line on what it means for the plant, shown beside the label */
  meaning: string;
}

export const STATE_WORDS: Readonly<Record<NodeState | "unknown", StateWords>> = {
  starting: { label: "STARTING", meaning: "listening for the peer before claiming anything" },
  standby: { label: "STANDBY", meaning: "mirrors the active, ready to take over" },
  "active-held": { label: "ACTIVE — HELD", meaning: "process paused until an operator confirms" },
  active: { label: "ACTIVE", meaning: "drives the plant" },
  isolated: { label: "ISOLATED", meaning: "lost its lease: does not act, waits for the peer" },
  maintenance: { label: "MAINTENANCE", meaning: "taken out of the pair by an admin" },
  unknown: { label: "UNKNOWN", meaning: "not known" },
};

/** The label of a state word, or the word itself in capitals when it is not one we know. */
export function stateLabel(state: string): string {
  return (STATE_WORDS as Record<string, StateWords>)[state]?.label ?? String(state).toUpperCase();
}

/** Service level bands (DESIGN.md: 0 maintenance, 1 no data, 2–199 degraded, 200–255 healthy). */
export const SERVICE_LEVEL_BANDS: readonly { upTo: number; word: string }[] = [
  { upTo: 0, word: "maintenance" },
  { upTo: 1, word: "no data" },
  { upTo: 199, word: "degraded" },
  { upTo: 255, word: "healthy" },
];

export function serviceLevelWord(level: number): string {
  return SERVICE_LEVEL_BANDS.find((b) => level <= b.upTo)?.word ?? "healthy";
}

/** Audited actions in words (the audit log keeps the short action code). */
export const ACTION_WORDS: Readonly<Record<string, string>> = {
  confirm: "Confirm held takeover",
  reject: "Reject held takeover",
  switchover: "Switchover",
  promote: "Promote (manual fencing)",
  "maintenance-enter": "Enter maintenance",
  "maintenance-leave": "Leave maintenance",
  maintenance: "Maintenance",
  "log-level": "Change log level",
  setLogLevel: "Change log level",
  "write-tag": "Write a tag",
  writeTag: "Write a tag",
  "node-start": "Node started",
  "node-stop": "Node stopped",
  "service-start": "Start a service",
  "service-stop": "Stop a service",
  "service-restart": "Restart a service",
  "discard-divergent": "Discard a divergent record",
  discardDivergent: "Discard a divergent record",
};

/** Everything above as one object, the shape the HMI reads. */
export const HMI_WORDS = {
  states: NODE_STATES,
  /** the states in which a node drives the plant (and holds a lease) */
  actingStates: NODE_STATES.filter(isActiveState),
  stateWords: STATE_WORDS,
  serviceLevelBands: SERVICE_LEVEL_BANDS,
  logLevels: LOG_LEVELS,
  actionWords: ACTION_WORDS,
  services: SERVICE_WORDS,
  replication: REPLICATION_WORDS,
  context: CONTEXT_WORDS,
  trends: TREND_WORDS,
} as const;

/**
 * The HMI's words as a classic script (the page loads it before app.js; CSP
 * allows only scripts from this origin, so it cannot be inline).
 */
export function hmiWordsScript(): string {
  return (
    "// Served by the Tandem node from runtime/words.ts: the words the CLI prints too. Do not edit.\n" +
    `"use strict";\nglobalThis.TANDEM_WORDS = Object.freeze(${JSON.stringify(HMI_WORDS, null, 2)});\n`
  );
}
