// The words an operator reads about the process context: each process
// module's state, the held line (what a confirm resumes), and every label of
// the HMI's process panel. Defined once here; the CLI (cli-context.ts) prints
// the state and held lines and the HMI reads all of them from /words.js
// (words.ts), so the panel's script holds no text of its own. The state list
// comes from ProcessState: one added there without words here fails to compile.
import type { NodeState } from "../core/types.js";
import type { ProcessState, ProcessView } from "./processes/host.js";

export interface ProcessStateWords {
  /** the host's own word, which its log lines use too */
  label: string;
  /** what it means for the batch */
  meaning: string;
  /** what it means on a standby node, where it differs */
  standby?: string;
}

export const PROCESS_STATE_WORDS: Readonly<Record<ProcessState, ProcessStateWords>> = {
  loading: { label: "loading", meaning: "its module is being loaded" },
  idle: { label: "idle", meaning: "loaded; it runs only while this node is active", standby: "runs on the active" },
  held: { label: "held", meaning: "held after the takeover: confirm resumes it at this step, reject restarts it from the beginning" },
  waiting: { label: "waiting", meaning: "waiting for the process context to arrive from the old active" },
  running: { label: "running", meaning: "runs on this node" },
  stopping: { label: "stopping", meaning: "told to stop; waits for it to end" },
  stopped: { label: "stopped", meaning: "finished its run" },
  failed: { label: "failed", meaning: "stopped by an error: see the node's log" },
};

/** Lines and labels the CLI and the panel share; {name} marks are filled in. */
export const CONTEXT_PANEL_WORDS = {
  title: "Process",
  /** a module's rows under its step, in this order */
  labels: { content: "Context", timers: "Timers", seq: "Context sequence", written: "Last written", resumed: "Resumed from" },
  step: "Step",
  /** a step not set yet */
  noStep: "–",
  /** a state with what it means */
  phrase: "{label}: {meaning}",
  /** the context's keys and values, compactly */
  pair: "{key}: {value}",
  joiner: " · ",
  /** a value cut to fit */
  cut: "…",
  written: "{age} ago in epoch {epoch}",
  notWritten: "not yet: it starts from its initial context",
  resumed: "context sequence {seq}",
  timerLeft: "{name}: {left} left",
  timerDue: "{name}: due",
  /** in the held banner, beside confirm and reject: what confirm resumes */
  heldTitle: "What confirm resumes",
  held: "{name}: held at step {step}, context sequence {seq}, written {age} ago in epoch {epoch}",
  heldEmpty: "{name}: held with no context written yet: it starts from the beginning either way",
  /** a module that is not held on a held node (one that failed) */
  heldOther: "{name}: {state}",
  /** a duration: the first whose `under` (ms) it is below, counted in `unit` ms; the last takes the rest */
  durations: [
    { under: 120_000, unit: 1000, text: "{n} s" },
    { under: 7_200_000, unit: 60_000, text: "{n} min" },
    { unit: 3_600_000, text: "{n} h" },
  ],
} as const;

/** The process part of the HMI's words (/words.js). */
export const CONTEXT_WORDS = {
  states: PROCESS_STATE_WORDS,
  panel: CONTEXT_PANEL_WORDS,
} as const;

const say = (template: string, values: Record<string, string | number>): string => template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));

/** A duration in words: 12 s, 5 min, 3 h (the panel counts the same way). */
export function duration(ms: number): string {
  const all = CONTEXT_PANEL_WORDS.durations;
  const d = all.find((x) => !("under" in x) || ms < x.under)!;
  return say(d.text, { n: Math.max(0, Math.round(ms / d.unit)) });
}

/** What a module's state means here: on a standby some states say where the batch runs. */
export function processStateText(state: ProcessState, nodeState: NodeState): string {
  const w = PROCESS_STATE_WORDS[state];
  return say(CONTEXT_PANEL_WORDS.phrase, { label: w.label, meaning: (nodeState === "standby" && w.standby) || w.meaning });
}

/** A module's line on a held node: the step, sequence, age and epoch a confirm resumes from. */
export function heldLine(p: ProcessView, nodeState: NodeState): string {
  const W = CONTEXT_PANEL_WORDS;
  if (p.state !== "held") return say(W.heldOther, { name: p.name, state: processStateText(p.state, nodeState) });
  if (p.seq === null) return say(W.heldEmpty, { name: p.name });
  return say(W.held, { name: p.name, step: p.step ?? W.noStep, seq: p.seq, age: duration(p.ageMs ?? 0), epoch: p.epoch ?? W.noStep });
}
