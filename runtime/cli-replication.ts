// `tandem replication [status | verify | resync [--from-active]]` and
// `tandem divergence [list | export | discard ID]`: what the requests are, and
// how their answers read in a terminal. The words are replication-words.ts's,
// the ones the HMI shows too.
import type { DivergenceView, NodeStatus } from "./node-api.js";
import type { VerifyResult } from "../redundancy/replication/verify.js";
import { DIVERGENCE_WORDS, PEER_PHASE_WORDS, REPLICATION_PANEL_WORDS as W, REPLICATION_ROLE_WORDS, ackText, catchUpText, count, say } from "./replication-words.js";

const TIMEOUT_MS = 10_000;
/** a checksum of both databases, or a rebuild, takes as long as the databases are big */
const LONG_TIMEOUT_MS = 120_000;
/** the most records the API gives in one page */
const PAGE = 1000;

export interface ClientPlan {
  method: "GET" | "POST";
  path: string;
  body?: Record<string, unknown>;
  timeoutMs: number;
  format: (json: unknown) => string[];
  /** the path of the page after this answer, or null at the last one; each page is printed as it comes (export) */
  next?: (json: unknown) => string | null;
  /** an answer that is not what was asked for: the reason, printed after the answer, and the command exits 1 */
  failed?: (json: unknown) => string | null;
  /** said instead of the node's 404 when the node has no such endpoint (an older node, or one without it yet) */
  missing: string;
}

const missing = (what: string, method: string, path: string) => `this node does not offer ${what} yet (it has no ${method} /api/v1${path}; a later Tandem version brings it)`;

/** The request for the words after `tandem replication`, or a usage problem as a string. */
export function replicationRequest(words: string[], fromActive: boolean): ClientPlan | string {
  const [what = "status", ...rest] = words;
  if (rest.length) return `unexpected argument '${rest[0]}'`;
  if (what !== "status" && what !== "verify" && what !== "resync") return `expected status, verify or resync, got '${what}'`;
  if (fromActive && what !== "resync") return `--from-active is for resync`;
  if (what === "status") {
    return { method: "GET", path: "/replication", timeoutMs: TIMEOUT_MS, format: (j) => formatReplication(j as NodeStatus["replication"]), missing: missing("replication", "GET", "/replication") };
  }
  const path = `/replication/${what}`;
  return {
    method: "POST",
    path,
    body: fromActive ? { fromActive: true } : {},
    timeoutMs: LONG_TIMEOUT_MS,
    format: (j) => (what === "verify" ? formatVerify(j as VerifyResult) : outcome(j, "resync started: the standby empties its database and rebuilds it from the active's (progress: tandem replication status)")),
    failed: (j) => (what === "verify" ? verifyFailure(j as VerifyResult) : (j as { started?: unknown }).started === false ? "the resync did not start" : null),
    missing: missing(what === "verify" ? "a replication check" : "a replication resync", "POST", path),
  };
}

/** The request for the words after `tandem divergence`, or a usage problem as a string. */
export function divergenceRequest(words: string[]): ClientPlan | string {
  const [what = "list", id, ...rest] = words;
  if (rest.length) return `unexpected argument '${rest[0]}'`;
  const miss = missing("a divergence table", "GET", "/divergence");
  if (what === "list" || what === "export") {
    if (id !== undefined) return `unexpected argument '${id}' (${what} takes none)`;
    const page = (after: number) => `/divergence?after=${after}&limit=${PAGE}`;
    if (what === "list") return { method: "GET", path: page(0), timeoutMs: TIMEOUT_MS, format: (j) => formatDivergence(j as DivergenceView), missing: miss };
    // JSON lines, one record a line, whatever --json says: what a script or a spreadsheet import reads
    return {
      method: "GET",
      path: page(0),
      timeoutMs: TIMEOUT_MS,
      format: (j) => (j as DivergenceView).records.map((r) => JSON.stringify(r)),
      next: (j) => ((j as DivergenceView).next === null ? null : page((j as DivergenceView).next!)),
      missing: miss,
    };
  }
  if (what !== "discard") return `expected list, export or discard ID, got '${what}'`;
  if (id === undefined) return "discard needs the record's ID (tandem divergence list shows them)";
  if (!/^[1-9]\d{0,14}$/.test(id)) return `'${id}' is not a divergent record's ID (a whole number from tandem divergence list)`;
  const path = `/divergence/${id}/discard`;
  return {
    method: "POST",
    path,
    body: {},
    timeoutMs: TIMEOUT_MS,
    format: (j) => ((j as { discarded: boolean }).discarded ? [say(DIVERGENCE_WORDS.discarded, { id })] : []),
    failed: (j) => ((j as { discarded: boolean }).discarded ? null : say(DIVERGENCE_WORDS.notThere, { id })),
    missing: missing("a divergence table", "POST", path),
  };
}

/** One request to the node: its answer, or a thrown error carrying the HTTP status and the API's error code. */
export type Send = (method: string, path: string, body: unknown, timeoutMs: number) => Promise<{ text: string; json: unknown }>;

/** Runs a plan: each page in turn; `json` prints the node's answer as is (not for paged output, already JSON lines). */
export async function runPlan(plan: ClientPlan, send: Send, out: (line: string) => void, json: boolean): Promise<void> {
  let path: string | null = plan.path;
  while (path !== null) {
    let a: { text: string; json: unknown };
    try {
      a = await send(plan.method, path, plan.body, plan.timeoutMs);
    } catch (e) {
      // a 404 of the node itself (no such route), not one of its answers about a thing that is not there
      const x = e as { status?: number; code?: string };
      if (x.status === 404 && (x.code === undefined || x.code === "TANDEM_ERR_NOT_FOUND")) throw new Error(plan.missing);
      throw e;
    }
    if (json && !plan.next) out(a.text);
    else for (const l of plan.format(a.json)) out(l);
    const why = plan.failed?.(a.json);
    if (why) throw new Error(why);
    const next: string | null = plan.next?.(a.json) ?? null;
    path = next === path ? null : next;
  }
}

/** The replication view for a plant engineer: mode, what an acknowledgement means now, the peer, lag, journal, catch-up. */
export function formatReplication(r: NodeStatus["replication"]): string[] {
  const lines = [`replication: ${r.mode === "none" ? W.modeOff : say(W.mode, { mode: r.mode, whenPeerAway: r.whenPeerAway ?? "accept" })}`, `  ${ackText(r)}`];
  if (r.role) lines.push(`  role: ${say(W.phrase, { ...REPLICATION_ROLE_WORDS[r.role] })}`);
  if (r.peer && r.peer !== "n/a") lines.push(`  peer: ${say(W.phrase, { ...PEER_PHASE_WORDS[r.peer] })}`);
  // lag and journal are the active's view of its peer; a standby knows how far it has applied
  if (r.role === "follower") lines.push(`  ${say(W.applied, { last: count(r.lastSeq ?? 0) })}`);
  else if (r.mode !== "none") {
    const seqs = r.lastSeq !== undefined ? ` (${say(W.seqs, { last: count(r.lastSeq), peer: r.peerSeq == null ? W.unknown : count(r.peerSeq) })})` : "";
    lines.push(`  lag: ${say(W.lag, { records: count(r.lagRecords), ms: count(r.lagMs ?? 0) })}${seqs}`);
    lines.push(`  journal: ${say(W.journal, { n: count(r.journalRecords) })}`);
  }
  const c = catchUpText(r.catchUp);
  if (c) lines.push(`  ${c}`);
  if (r.engine) lines.push(`  database: ${say(W.database, { engine: r.engine, database: r.database ?? W.unknown })}`);
  if (r.divergentSetAside) lines.push(`  set aside: ${say(W.setAside, { n: count(r.divergentSetAside) })}`);
  if (r.refused) lines.push(`  refused: ${say(W.refused, { n: count(r.refused) })}`);
  return lines;
}

/** An answer whose shape the endpoint defines (verify, resync): its summary or message when it has one. */
function outcome(j: unknown, done: string): string[] {
  const o = (j ?? {}) as { summary?: unknown; message?: unknown; started?: unknown };
  if (typeof o.summary === "string") return [o.summary];
  if (typeof o.message === "string") return [o.message];
  if (o.started === true) return [done];
  return [`${done}: ${JSON.stringify(j)}`];
}

/** a verify's answer: identical up to a point, the ranges that differ, or why nothing was compared */
export function formatVerify(r: VerifyResult): string[] {
  if (r.error) return [`nothing compared: ${r.error}`];
  const head = `compared both databases as they were at sequence ${count(r.upTo)}: ${count(r.rows)} rows in ${count(r.ranges)} ranges, ${count(r.durationMs)} ms`;
  if (r.ok) return [head, "identical"];
  return [
    head,
    `they differ in ${r.mismatches.length} range(s) of sequence numbers:`,
    ...r.mismatches.slice(0, 20).map((m) => `  ${m.fromSeq}–${m.toSeq}: ${m.rowsHere === null ? "no" : count(m.rowsHere)} rows on the active, ${m.rowsPeer === null ? "no" : count(m.rowsPeer)} on the standby`),
    ...(r.mismatches.length > 20 ? [`  … and ${r.mismatches.length - 20} more`] : []),
    "repair the standby's copy from the active's: tandem replication resync (admin)",
  ];
}

function verifyFailure(r: VerifyResult): string | null {
  if (r.error) return "nothing was compared";
  return r.ok ? null : "the two databases differ";
}

const time = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$/, "Z");

function dataText(r: DivergenceView["records"][number]): string {
  const s = r.data === null ? `(${r.kind})` : JSON.stringify(r.data);
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}

export function formatDivergence(v: DivergenceView): string[] {
  if (!v.records.length) return [DIVERGENCE_WORDS.empty];
  const rows = v.records.map((r) => [String(r.id), r.table, String(r.seq), String(r.epoch), time(r.at), time(r.foundAt), dataText(r)]);
  const header = [...DIVERGENCE_WORDS.columns];
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (r: string[]) => r.map((c, k) => c.padEnd(widths[k]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line), ...(v.next !== null ? ["", say(DIVERGENCE_WORDS.more, { n: count(v.records.length) })] : [])];
}
