// The words an operator reads about supervised services: the instance states,
// health and placement, what a stop means for the pair, and every line of the
// HMI's services panel. Defined once here; the CLI (cli-services.ts) prints
// the shared ones and the HMI reads all of them from /words.js (words.ts), so
// the panel's script holds no text of its own. The state, health and placement
// lists come from the supervisor's types: one added there without words here
// fails to compile.
import type { InstanceState } from "./services/instance.js";
import type { ServiceView } from "./node-api.js";

export interface ServiceStateWords {
  /** the state as the table and the CLI show it: the supervisor's own word, which its log lines use too */
  label: string;
  /** what it means, shown on hover */
  meaning: string;
}

export const SERVICE_STATE_WORDS: Readonly<Record<InstanceState, ServiceStateWords>> = {
  stopped: { label: "stopped", meaning: "not running on this node" },
  waiting: { label: "waiting", meaning: "waits for the services it depends on to run" },
  backoff: { label: "backoff", meaning: "exited; started again after a pause that grows with each failed run in a row" },
  starting: { label: "starting", meaning: "started; waits for its first good health check" },
  running: { label: "running", meaning: "running on this node" },
  stopping: { label: "stopping", meaning: "asked to end; waits for it to exit" },
  failed: { label: "failed", meaning: "failed too many runs in a row; not restarted until an operator starts it" },
};

export const SERVICE_HEALTH_WORDS: Readonly<Record<ServiceView["health"], string>> = {
  ok: "ok",
  failing: "failing",
  unknown: "not checked yet",
  none: "no check",
};

export const SERVICE_PLACEMENT_WORDS: Readonly<Record<ServiceView["placement"], ServiceStateWords>> = {
  active: { label: "active", meaning: "runs on the active node only" },
  standby: { label: "standby", meaning: "runs on the standby node only" },
  both: { label: "both", meaning: "runs on both nodes" },
  balanced: { label: "balanced", meaning: "its instances are spread over the pair by a scheme" },
};

/** Why a stop needs a second thought: it is kept pair-wide (runtime/services/operator-stops.ts). */
export const SERVICE_STOP_STAYS = "it stays stopped on both nodes, also after a takeover, until it is started again";

export type ServiceAction = "start" | "stop" | "restart";

/** What the CLI and the HMI say after an action the node carried out. */
export const SERVICE_ACTION_DONE: Readonly<Record<ServiceAction, string>> = {
  start: "started",
  stop: `stopped (${SERVICE_STOP_STAYS})`,
  restart: "restarted",
};

/** The state as the CLI's STATE column shows it: the label, and a failing health check beside it. */
export function serviceStateText(s: Pick<ServiceView, "state" | "health">): string {
  const label = (SERVICE_STATE_WORDS as Record<string, ServiceStateWords>)[s.state]?.label ?? s.state;
  return s.health === "failing" ? `${label} (health ${SERVICE_HEALTH_WORDS.failing})` : label;
}

/**
 * Every line of the HMI's services panel. `{name}` marks where the panel puts
 * a value; the panel fills in nothing but values.
 */
export const SERVICE_PANEL_WORDS = {
  title: "Services",
  /** after the title: how many instances, how many failed and how many fail their health check */
  summary: "· {count} instances",
  summaryOne: "· 1 instance",
  summaryFailed: "· {n} FAILED",
  summaryUnhealthy: "· {n} health failing",
  unreadable: "Cannot read the services: {message}",
  knownAt: "The list shows what was known at {at}.",
  columns: {
    instance: "Service",
    placement: "Placement",
    state: "State",
    node: "Node",
    pid: "PID",
    uptime: "Up",
    restarts: "Restarts",
    cpu: "CPU",
    rss: "Memory",
    events: "Events/s",
    health: "Health",
  },
  /** the heading line of one service, above its instances */
  instances: "{count} instances",
  scheme: "balanced by {scheme}",
  dependsOn: "needs {names}",
  between: " · ",
  /** between the names in a list */
  list: ", ",
  /** beside the state of an instance whose health check fails (the CLI says the same) */
  healthFailing: `health ${SERVICE_HEALTH_WORDS.failing}`,
  healthDetail: "Health {health}: {detail}.",
  stoppedBy: "Stopped by {by} at {at}: {stays}.",
  stays: SERVICE_STOP_STAYS,
  lastExit: "Last exit at {at}: {description}.",
  thisNode: "{node} (this node)",
  nowhere: "nowhere",
  /** a figure that does not apply (no process here) */
  empty: "–",
  figures: {
    line: "Load shared for balanced services: {nodes}",
    node: "{node}: {figures}",
    nodesBetween: " · ",
    peerOut: "the peer is not in the pool",
    instances: "instances {n}",
    capacity: "capacity {n}",
    cpu: "CPU {n} %",
    freeMem: "{n} free",
    events: "{n} events/s",
    net: "{n}/s network",
  },
  percent: "{n} %",
  bytes: ["{n} B", "{n} kB", "{n} MB", "{n} GB"],
  uptime: { s: "{n} s", min: "{n} min", h: "{h} h {min} min", d: "{d} d {h} h" },
  buttons: { start: "Start", stop: "Stop", restart: "Restart" },
  /** the second confirmation before each action */
  ask: {
    start: {
      title: "Start {name}?",
      text: "{name} starts wherever its placement says it runs. A stop by an operator is lifted on both nodes; a failed instance on this node gets a new chance.",
      yes: "Yes, start {name}",
    },
    stop: {
      title: "Stop {name}?",
      text: "All instances of {name} are stopped, and {stays}: neither a switchover nor a restart of a node starts it.",
      yes: "Yes, stop {name}",
    },
    restart: {
      title: "Restart {name}?",
      text: "Each instance of {name} that runs on this node is stopped and started again: it is down for a moment. A failed instance on this node gets a new chance.",
      yes: "Yes, restart {name}",
    },
  },
  /** the notice after an action: the service, what was done (SERVICE_ACTION_DONE), and its instances when it has more than one */
  done: "Service {name} {done}.",
  doneInstances: "Service {name} {done}: {instances}.",
  refused: "{action} {name} refused: {message}",
  /** while the node carries an action out (a stop waits for the service to end) */
  pending: "{action} asked at {at}; waiting for the node's answer …",
  viewerNote: "You are logged in as a viewer. An operator can start, stop or restart a service.",
} as const;

/** The services part of the HMI's words (/words.js). */
export const SERVICE_WORDS = {
  states: SERVICE_STATE_WORDS,
  health: SERVICE_HEALTH_WORDS,
  placement: SERVICE_PLACEMENT_WORDS,
  actionDone: SERVICE_ACTION_DONE,
  panel: SERVICE_PANEL_WORDS,
} as const;
