// The `services` config section: the programs a node supervises beside it,
// keyed by name (zod 4, strict: unknown keys are errors). Checks across
// services (unknown or cyclic dependsOn, a dependency that does not run where
// its dependant does) are in checkServices, run by runtime/config/schema.ts,
// so each problem names its key path.
import { z } from "zod";
import { hostPort as address } from "../config/host-port.js";
import { SCHEMES } from "./placement.js";

export const PLACEMENTS = ["active", "standby", "both", "balanced"] as const;
export type Placement = (typeof PLACEMENTS)[number];

const ms = (min: number, max: number) => z.number().int("expected whole milliseconds").min(min).max(max);

const serviceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/, "expected 1–48 letters, digits, '_', '.', '-' starting with a letter or digit");

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name (letters, digits, '_')");

const healthSchema = z
  .strictObject({
    /** healthy when a TCP connection to host:port opens */
    tcp: address.optional(),
    /** healthy when a GET answers 2xx (or expectStatus) */
    http: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }).optional(),
    expectStatus: z.number().int().min(100).max(599).optional(),
    /** healthy when the command exits 0 (argv, no shell) */
    command: z.array(z.string().min(1)).min(1).optional(),
    intervalMs: ms(100, 3_600_000).default(2000),
    timeoutMs: ms(50, 600_000).default(1000),
    /** failures while the service starts up do not count for this long */
    startGraceMs: ms(0, 3_600_000).default(10_000),
    /** this many failed checks in a row after the grace: the service is hung, killed and restarted */
    failures: z.number().int().min(1).max(100).default(3),
  })
  .superRefine((h, ctx) => {
    const kinds = (["tcp", "http", "command"] as const).filter((k) => h[k] !== undefined);
    if (kinds.length !== 1) ctx.addIssue({ code: "custom", message: `needs exactly one of tcp, http or command (got ${kinds.length ? kinds.join(", ") : "none"})` });
    if (h.expectStatus !== undefined && h.http === undefined) ctx.addIssue({ code: "custom", path: ["expectStatus"], message: "only with http" });
    if (h.timeoutMs > h.intervalMs) ctx.addIssue({ code: "custom", path: ["timeoutMs"], message: `must not exceed intervalMs (${h.intervalMs})` });
  });

export const serviceSchema = z
  .strictObject({
    /** the program: an absolute path, or a name looked up in PATH */
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(envName, z.string()).default({}),
    /** working directory; relative paths are resolved against the config file */
    cwd: z.string().min(1).optional(),
    /** run as this user (and its group); only a node running as root can switch */
    user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}\$?$/, "expected a user name").optional(),
    placement: z.enum(PLACEMENTS),
    /** balanced: how many instances over the pair */
    instances: z.number().int().min(1).max(64).optional(),
    /** balanced: how instances are spread */
    scheme: z.enum(SCHEMES).optional(),
    /** started after these (on this node), stopped before them */
    dependsOn: z.array(serviceName).default([]),
    restart: z.enum(["always", "on-failure", "never"]).default("always"),
    /** first wait before a restart; doubles after each failed run up to restartMaxDelayMs */
    restartDelayMs: ms(0, 600_000).default(200),
    restartMaxDelayMs: ms(0, 3_600_000).default(30_000),
    /** restarted at most this many times in a row after failed runs (shorter than stableAfterMs, hung, over memory); one more: failed, an alarm, no more restarts */
    restartLimit: z.number().int().min(0).max(1000).default(5),
    /** a run this long resets the backoff */
    stableAfterMs: ms(0, 86_400_000).default(10_000),
    /** SIGTERM to the whole process group, then SIGKILL after this */
    stopTimeoutMs: ms(0, 600_000).default(10_000),
    health: healthSchema.optional(),
    /** restarted when its processes' resident memory stays above this */
    memoryMaxMB: z.number().int().min(1).max(1_048_576).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.placement === "balanced" && s.instances === undefined) ctx.addIssue({ code: "custom", path: ["instances"], message: "a balanced service needs instances: N" });
    if (s.placement !== "balanced") {
      if (s.instances !== undefined) ctx.addIssue({ code: "custom", path: ["instances"], message: `only for placement balanced (this one is ${s.placement})` });
      if (s.scheme !== undefined) ctx.addIssue({ code: "custom", path: ["scheme"], message: `only for placement balanced (this one is ${s.placement})` });
    }
    if (s.restartMaxDelayMs < s.restartDelayMs) ctx.addIssue({ code: "custom", path: ["restartMaxDelayMs"], message: `must be at least restartDelayMs (${s.restartDelayMs})` });
  });

export const servicesSection = z.record(serviceName, serviceSchema);

export type ServiceConfig = z.output<typeof serviceSchema>;
export type ServicesConfig = z.output<typeof servicesSection>;
export type HealthConfig = NonNullable<ServiceConfig["health"]>;

/** where a dependency must run so that it is there wherever its dependant runs */
function dependencyFits(dependant: Placement, dep: Placement): boolean {
  return dep === "both" || (dep === dependant && dep !== "balanced");
}

/** Checks across services: each problem with its key path under `services`. */
export function checkServices(services: ServicesConfig): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const names = Object.keys(services);
  for (const [name, s] of Object.entries(services)) {
    s.dependsOn.forEach((dep, i) => {
      const path = ["services", name, "dependsOn", i];
      const target = services[dep];
      if (dep === name) return void out.push({ path, message: `'${name}' cannot depend on itself` });
      if (!target) return void out.push({ path, message: `unknown service '${dep}' (services here: ${names.join(", ")})` });
      if (!dependencyFits(s.placement, target.placement))
        out.push({ path, message: `'${dep}' is placed ${target.placement} and would not run everywhere '${name}' (placed ${s.placement}) runs: a dependency must be placed both, or placed like its dependant (not balanced)` });
    });
  }
  const cycle = findCycle(services);
  if (cycle) out.push({ path: ["services", cycle[0]!, "dependsOn"], message: `dependency cycle: ${cycle.join(" → ")}` });
  return out;
}

/** One dependency cycle as a path that returns to its start, or null. */
function findCycle(services: ServicesConfig): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === "done" || !services[n]) return null;
    if (state.get(n) === "visiting") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "visiting");
    stack.push(n);
    for (const d of services[n]!.dependsOn) {
      if (d === n) continue; // reported on its own
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return null;
  };
  for (const n of Object.keys(services).sort()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

/** Names in an order where every service comes after its dependencies (config checked: no cycles). */
export function startOrder(services: ServicesConfig): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n) || !services[n]) return;
    seen.add(n);
    for (const d of services[n]!.dependsOn) visit(d);
    out.push(n);
  };
  for (const n of Object.keys(services)) visit(n);
  return out;
}
