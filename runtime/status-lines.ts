// Lines for a terminal: the node's device connections and paths (`tandem
// status`), a probe's result (`tandem status --probe`), audit entries and log
// levels. Pure.
import type { AuditEntry, NodeStatus } from "./node-api.js";
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

export function formatAudit(entries: AuditEntry[]): string[] {
  if (entries.length === 0) return ["no audit entries"];
  return entries.map((e) => {
    const details = e.details && Object.keys(e.details).length ? ` ${JSON.stringify(e.details)}` : "";
    return `${String(e.seq).padStart(5)} ${e.ts} ${e.user} (${e.role}) ${e.action} ${e.result} epoch ${e.epoch}${e.from ? ` from ${e.from}` : ""}${details}`;
  });
}

export function formatLevels(l: { default: string; components: Record<string, string> }): string[] {
  const lines = [`default: ${l.default}`];
  for (const [c, v] of Object.entries(l.components).sort()) lines.push(`${c}: ${v}`);
  return lines;
}
