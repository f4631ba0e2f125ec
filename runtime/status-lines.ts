// Lines for a terminal: the node's view and its device connections and paths
// (`tandem status`), a probe's result (`tandem status --probe`), audit entries and log
// levels. Pure.
import { isActiveState } from "../core/types.js";
import type { AuditEntry, NodeStatus } from "./node-api.js";
import { STATE_WORDS, serviceLevelWord, stateLabel } from "./words.js";
import type { ProbeDevice } from "./probe.js";

/** Device connections and paths: one line per device, the endpoint in use first. */
export function formatDevices(rows: NodeStatus["devices"]): string[] {
  if (!rows?.length) return [];
  const byDevice = new Map<string, NonNullable<NodeStatus["devices"]>>();
  for (const r of rows) byDevice.set(r.device, [...(byDevice.get(r.device) ?? []), r]);
  const lines = ["  devices:"];
  for (const [device, eps] of byDevice) {
    const used = eps.find((e) => e.path !== undefined && e.connected);
    const others = eps.filter((e) => e !== used).map((e) => e.endpoint);
    if (used) lines.push(`    ${device}: connected via ${used.endpoint} (${used.path})${others.length ? `; also ${others.join(", ")}` : ""}`);
    else lines.push(`    ${device}: NOT connected (${eps.map((e) => e.endpoint).join(", ")})`);
  }
  return lines;
}

/** Lines for a terminal. */
export function formatProbe(result: ProbeDevice[]): string[] {
  if (result.length === 0) return ["no devices in the config's drivers section"];
  const lines: string[] = [];
  for (const d of result) {
    const where = d.connected ? `connected via ${d.path}` : `NOT reachable${d.lastError ? `: ${d.lastError}` : ""}`;
    lines.push(`device ${d.device} (${d.driver}): ${where}; ${d.good} of ${d.tags} tags read good`);
    for (const t of d.refused) lines.push(`  ${t.name}: ${t.quality}, ${t.reason}`);
  }
  return lines;
}

/** Entries of a node's file; the pair's (with `row`) start with the row's sequence number and the node that wrote it. */
export function formatAudit(entries: (AuditEntry & { row?: { seq: number } })[]): string[] {
  if (entries.length === 0) return ["no audit entries"];
  return entries.map((e) => {
    const details = e.details && Object.keys(e.details).length ? ` ${JSON.stringify(e.details)}` : "";
    const where = e.row ? `${String(e.row.seq).padStart(7)} node ${e.nodeId} ` : "";
    return `${where}${String(e.seq).padStart(5)} ${e.ts} ${e.user} (${e.role}) ${e.action} ${e.result} epoch ${e.epoch}${e.from ? ` from ${e.from}` : ""}${details}`;
  });
}

export function formatLevels(l: { default: string; components: Record<string, string> }): string[] {
  const lines = [`default: ${l.default}`];
  for (const [c, v] of Object.entries(l.components).sort()) lines.push(`${c}: ${v}`);
  return lines;
}

function seen(ms: number | null): string {
  if (ms === null) return "never seen";
  return ms < 1000 ? `seen ${Math.round(ms)} ms ago` : `seen ${(ms / 1000).toFixed(1)} s ago`;
}

export function formatStatus(s: NodeStatus): string[] {
  const lines: string[] = [];
  const words = STATE_WORDS[s.state];
  lines.push(`node ${s.nodeId} (${s.role}) of pair ${s.pairId}: ${stateLabel(s.state)}${words ? ` (${words.meaning})` : ""}`);
  lines.push(`  epoch ${s.epoch}, service level ${s.serviceLevel} (${serviceLevelWord(s.serviceLevel)})`);
  if (s.message) lines.push(`  ${s.message}`);
  if (s.awaitingOperator) {
    lines.push(`  ! the active is not visible on any link and there is no witness: an operator decides`);
    lines.push(`    (check that the active server is down, then: tandem promote --yes-the-active-is-down)`);
  }
  const acting = isActiveState(s.state);
  lines.push(`  lease: ${acting ? `${(s.leaseRemainingMs / 1000).toFixed(2)} s left` : "none (not active)"}`);
  const p = s.peer;
  const links = p.links.map((l) => `${l.name} ${l.up ? "up" : "DOWN"}`).join(", ") || "none";
  lines.push(`  peer ${p.nodeId}: ${stateLabel(p.state)}${p.epoch !== null ? `, epoch ${p.epoch}` : ""}, ${p.connected ? "connected" : "not connected"}, ${seen(p.lastSeenMs)}; links: ${links}`);
  const w = s.witness;
  lines.push(
    `  witness: ${!w.configured ? "none configured" : `${w.reachable ? "reachable" : "NOT reachable"}${w.address ? ` at ${w.address}` : ""}${w.holder ? `, lease holder ${w.holder}${w.holderEpoch != null ? ` (epoch ${w.holderEpoch})` : ""}` : ""}`}`,
  );
  const c = s.context;
  lines.push(`  process context: seq ${c.seq}${c.held ? `, HELD${c.heldSince ? ` since ${c.heldSince}` : ""}${c.autoConfirmAt ? `, auto-confirm at ${c.autoConfirmAt}` : ""}` : ""}`);
  const r = s.replication;
  lines.push(`  replication: ${r.mode}${r.mode === "none" ? "" : `, ${r.lagRecords} behind, ${r.journalRecords} journalled`}`);
  const cf = s.config;
  if (cf) {
    lines.push(`  Tandem ${cf.tandem}${cf.peerTandem === null ? "" : cf.peerTandem === cf.tandem ? `, the same on ${p.nodeId}` : `; ${p.nodeId} runs ${cf.peerTandem} (an upgrade under way)`}`);
    if (cf.match === false) {
      lines.push(`  ! configuration ${cf.version}, but ${p.nodeId} runs ${cf.peerVersion}: ${cf.differs.join(", ")} differ`);
      lines.push(`    automatic failback and switchover wait until both run the same (tandem switchover --accept-config moves the plant anyway)`);
    } else lines.push(`  configuration ${cf.version}${cf.match ? `, the same on ${p.nodeId}` : `, ${p.nodeId}'s not known yet`}`);
  }
  lines.push(...formatDevices(s.devices));
  return lines;
}
