// The words every part of Tandem shares (DESIGN.md, words and node states):
// defined once here, used by redundancy/, drivers/ and runtime/ alike. This
// folder imports nothing from the others.

/** A node's current state; `starting` until it knows its place in the pair. */
export const NODE_STATES = ["starting", "standby", "active-held", "active", "isolated", "maintenance"] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** The preferred role from config (not the current state). */
export type PreferredRole = "main" | "secondary";

/** HMI and API roles, lowest first. */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who asked for an action (audited with it). */
export interface Actor {
  user: string;
  role: Role;
  /** where the request came from (remote address, "hmi", "peer b" …) */
  from?: string;
}

export interface HostPort {
  host: string;
  port: number;
}

/** Log levels, most severe first; `silent` turns a component off. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** States in which a node drives the plant (an active-held one only for operator writes). */
export const isActiveState = (s: NodeState | "unknown"): boolean => s === "active" || s === "active-held";
