// `tandem services [list | start NAME | stop NAME | restart NAME]`: what the
// request is, and how its answer reads in a terminal.
import type { ServiceView, ServicesView } from "./node-api.js";
import { SERVICE_ACTION_DONE, serviceStateText } from "./service-words.js";

/** a stop waits for the service to end, up to its stopTimeoutMs (and a dependant's before it) */
export const SERVICE_ACTION_TIMEOUT_MS = 120_000;

export interface ServicesRequest {
  method: "GET" | "POST";
  path: string;
  body?: Record<string, never>;
  format: (json: unknown) => string[];
}

/** The request for the words after `tandem services`, or a usage problem as a string. */
export function servicesRequest(words: string[]): ServicesRequest | string {
  const [what = "list", name, ...rest] = words;
  if (rest.length) return `unexpected argument '${rest[0]}'`;
  if (what === "list") {
    if (name !== undefined) return `unexpected argument '${name}' (list takes none)`;
    return { method: "GET", path: "/services", format: (j) => formatServices(j as ServicesView) };
  }
  if (what !== "start" && what !== "stop" && what !== "restart") return `expected list, start NAME, stop NAME or restart NAME, got '${what}'`;
  if (name === undefined) return `${what} needs the service's NAME`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/.test(name)) return `'${name}' is not a service name`;
  return {
    method: "POST",
    path: `/services/${encodeURIComponent(name)}/${what}`,
    body: {},
    format: (j) => {
      const r = j as { name: string; instances: string[] };
      return [`service ${r.name} ${SERVICE_ACTION_DONE[what]}${r.instances.length > 1 ? `: ${r.instances.join(", ")}` : ""}`];
    },
  };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(b < 10 * 1024 * 1024 ? 1 : 0)} MB`;

function uptime(ms: number | null): string {
  if (ms === null) return "-";
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export function formatServices(v: ServicesView): string[] {
  const head = `node ${v.nodeId} is ${v.state} (epoch ${v.epoch})`;
  if (!v.services.length) return [head, "no services configured (the services section of the config)"];
  const rows = v.services.map((s: ServiceView) => [
    s.instance,
    s.placement,
    serviceStateText(s),
    s.node ?? "-",
    s.pid === null ? "-" : String(s.pid),
    uptime(s.uptimeMs),
    String(s.restarts),
    s.pid === null ? "-" : `${s.cpuPercent}%`,
    s.pid === null ? "-" : mb(s.rssBytes),
  ]);
  const header = ["SERVICE", "PLACEMENT", "STATE", "NODE", "PID", "UP", "RESTARTS", "CPU", "RSS"];
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (r: string[]) => r.map((c, k) => c.padEnd(widths[k]!)).join("  ").trimEnd();
  const notes = v.services.filter((s) => s.state !== "running" || s.stoppedByOperator).map((s) => `  ${s.instance}: ${s.reason}`);
  return [head, line(header), ...rows.map(line), ...(notes.length ? ["", ...notes] : [])];
}
