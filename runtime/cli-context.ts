// `tandem context`: the process context as the node holds it — each process
// module's state, step, content and timers, the sequence number and epoch of
// its last write and its age, and whether the node holds the process for an
// operator, with each module's held line (the words the HMI shows, from
// context-words.ts).
import type { ContextView } from "./node-api.js";
import { PROCESS_STATE_WORDS, duration, heldLine } from "./context-words.js";
import type { ClientPlan } from "./cli-replication.js";

export function contextRequest(words: string[]): ClientPlan | string {
  if (words.length) return `unexpected argument '${words[0]}'`;
  return {
    method: "GET",
    path: "/context",
    timeoutMs: 10_000,
    format: (j) => formatContext(j as ContextView),
    missing: "this node does not offer the process context yet (it has no GET /api/v1/context; a later Tandem version brings it)",
  };
}

const short = (v: unknown, n = 100) => {
  const s = JSON.stringify(v);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
};

export function formatContext(v: ContextView): string[] {
  const head = `node ${v.nodeId} is ${v.state} (epoch ${v.epoch}); context sequence ${v.seq}`;
  const held = v.held
    ? ["the process is HELD after a takeover: `tandem confirm` resumes it from this context, `tandem reject` restarts it from the beginning", ...v.processes.map((p) => `  ${heldLine(p, v.state)}`)]
    : [];
  if (!v.processes.length) return [head, ...held, "no process modules configured (the processes section of the config)"];
  const header = ["PROCESS", "STATE", "STEP", "SEQ", "EPOCH", "AGE"];
  const rows = v.processes.map((p) => [p.name, PROCESS_STATE_WORDS[p.state]?.label ?? p.state, p.step ?? "-", p.seq === null ? "-" : String(p.seq), p.epoch === null ? "-" : String(p.epoch), p.ageMs === null ? "-" : duration(p.ageMs)]);
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (r: string[]) => r.map((c, k) => c.padEnd(widths[k]!)).join("  ").trimEnd();
  const details = v.processes.flatMap((p) => [
    ...(Object.keys(p.content).length ? [`  ${p.name}: ${short(p.content)}`] : []),
    ...Object.entries(p.timers).map(([t, due]) => `  ${p.name}: timer ${t} due ${due}`),
    ...(p.resumedFrom !== null ? [`  ${p.name}: resumed from context sequence ${p.resumedFrom}`] : []),
    ...(p.error ? [`  ${p.name}: ${p.error}`] : []),
  ]);
  return [head, ...held, line(header), ...rows.map(line), ...(details.length ? ["", ...details] : [])];
}
