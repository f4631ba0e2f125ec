// What the node says of itself: the service level it offers in an election
// (with the reasons it is below 255) and the status the API, the CLI and the
// HMI show. Computed from the role machine's state and what the node's parts
// report; the node (node.ts) calls these, they keep nothing.
import type { ConfigView } from "./config/config-watch.js";
import { linkStatus, peerVisible } from "../redundancy/failure-detector.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { RoleState } from "../redundancy/role-types.js";
import { apiBaseOf } from "./active-hint.js";
import type { TandemConfig } from "./config/schema.js";
import type { NodeState, NodeStatus } from "./node-api.js";
import { describeState } from "./node-message.js";
import type { MqttStatus } from "./node-mqtt.js";

/** Something whose health lowers the service level (drivers, database …). */
export interface HealthSource {
  name: string;
  health(): { penalty: number; reasons: string[] };
}

/** 255 less a penalty per link down, the witness unreachable and each part's own; 0 in maintenance, never below 2 otherwise */
export function serviceLevel(s: RoleState, now: number, config: TandemConfig, sources: readonly HealthSource[]): { level: number; reasons: string[] } {
  if (s.state === "maintenance") return { level: 0, reasons: ["maintenance"] };
  const reasons: string[] = [];
  let level = 255;
  if (s.peer.heardAt !== null) {
    for (const l of linkStatus(s.peer, now, config.heartbeat.timeoutMs)) {
      if (!l.up) {
        level -= 10;
        reasons.push(`link ${l.name} down`);
      }
    }
    if (!s.peer.tcpUp) {
      level -= 10;
      reasons.push("peer connection down");
    }
  }
  if (config.witness && !s.witness.reachable) {
    level -= 25;
    reasons.push("witness unreachable");
  }
  for (const src of sources) {
    const h = src.health();
    level -= h.penalty;
    reasons.push(...h.reasons.map((r) => `${src.name}: ${r}`));
  }
  return { level: Math.max(2, Math.min(255, level)), reasons };
}

/** the node's own API base, for its services (TANDEM_API); none before it listens on a port */
export function ownApiUrl(a: { host: string; port: number }, tls: boolean): string | undefined {
  return a.port ? `${tls ? "https" : "http"}://${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}/api/v1` : undefined;
}

/** the short answer of GET /health */
export function nodeHealth(runtime: PairRuntime, nodeId: string): { state: NodeState; serviceLevel: number; epoch: number; nodeId: string } {
  runtime.refresh();
  const s = runtime.state;
  return { state: s.state, serviceLevel: s.level, epoch: s.epoch, nodeId };
}

/** what the node's parts add to its status */
export interface StatusParts {
  /** why the level is below 255 (serviceLevel()'s reasons) */
  levelReasons: string[];
  /** when the node entered its state (wall clock, ISO) */
  since: string;
  replication: NodeStatus["replication"];
  devices?: NodeStatus["devices"];
  mqtt?: MqttStatus;
  opcua?: NodeStatus["opcua"];
  config?: ConfigView & { onDisk: string | null };
  attention?: NodeStatus["attention"];
}

/** the status, from a state just refreshed (runtime.refresh()) and the parts' figures taken after it */
export function nodeStatus(config: TandemConfig, runtime: PairRuntime, parts: StatusParts): NodeStatus {
  const c = config;
  const s = runtime.state;
  const now = runtime.now();
  const wall = Date.now();
  const iso = (mono: number | null) => (mono === null ? null : new Date(wall - (now - mono)).toISOString());
  const visible = peerVisible(s.peer, now, c.heartbeat.timeoutMs);
  return {
    pairId: c.pair.id,
    nodeId: c.node.id,
    pid: process.pid,
    role: c.node.role,
    state: s.state,
    epoch: s.epoch,
    serviceLevel: s.level,
    serviceLevelReasons: [
      ...parts.levelReasons,
      ...(s.levelSettled ? [] : ["start-up grace: the drivers' first connect attempts are not done, so this level does not count in an election yet"]),
    ],
    leaseRemainingMs: runtime.leaseRemainingMs(),
    message: describeState(runtime.state, c.peer.id, visible),
    since: parts.since,
    peer: {
      nodeId: c.peer.id,
      // a peer not heard on any link is not "active", whatever it said last
      state: visible ? s.peer.state : "unknown",
      epoch: s.peer.heardAt === null ? null : s.peer.epoch,
      serviceLevel: s.peer.heardAt === null ? null : s.peer.level,
      lastSeenMs: s.peer.heardAt === null ? null : Math.round(now - s.peer.heardAt),
      connected: s.peer.tcpUp,
      links: linkStatus(s.peer, now, c.heartbeat.timeoutMs),
      api: apiBaseOf(c.peer.api),
    },
    witness: c.witness
      ? { configured: true, reachable: s.witness.reachable, address: `${c.witness.address.host}:${c.witness.address.port}`, holder: s.witness.holder, holderEpoch: s.witness.holderEpoch }
      : { configured: false, reachable: false },
    context: { held: s.state === "active-held", seq: s.context.seq, heldSince: iso(s.heldSince), autoConfirmAt: iso(s.autoConfirmAt) },
    replication: parts.replication,
    ...(parts.devices ? { devices: parts.devices } : {}),
    ...(parts.config ? { config: parts.config } : {}),
    ...(parts.attention ? { attention: parts.attention } : {}),
    ...(parts.opcua ? { opcua: parts.opcua } : {}),
    ...(parts.mqtt ? { mqtt: (({ broker, listen, serving, clients, sparkplug }) => ({ broker, listen, serving, clients, ...(sparkplug ? { sparkplug } : {}) }))(parts.mqtt) } : {}),
    awaitingOperator: s.awaitingOperator,
    counters: runtime.counters(),
  };
}
