// Lines for a terminal about devices: the node's connections and paths
// (`tandem status`) and a probe's result (`tandem status --probe`). Pure.
import type { NodeStatus } from "./node-api.js";
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
