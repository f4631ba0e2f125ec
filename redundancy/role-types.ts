// Types of the role state machine (redundancy/role-machine.ts): its state,
// the events it steps on and the effects it asks the adapter to run, in order.
import type { ErrorCode } from "../core/errors.js";
import type { Actor, NodeState, PreferredRole } from "../core/types.js";
import type { WitnessOp, WitnessReply } from "./witness-core.js";

export type { NodeState, PreferredRole, WitnessOp, WitnessReply };

export interface RoleParams {
  nodeId: string;
  peerId: string;
  role: PreferredRole;
  links: string[];
  intervalMs: number;
  timeoutMs: number;
  deadProcessMisses: number;
  leaseMs: number;
  leaseSafetyMs: number;
  autoConfirmMs: number;
  startupWaitMs: number;
  serviceLevelMargin: number;
  serviceLevelForMs: number;
  switchoverTimeoutMs: number;
  failback: "manual" | "automatic";
  failbackHealthyForMs: number;
  witness: boolean;
  /** a PLC watchdog/fence is configured: its counter can stand in for the witness */
  plcWatchdog: boolean;
}

/** What a heartbeat says about its sender. */
export interface Heartbeat {
  state: NodeState;
  epoch: number;
  level: number;
  role: PreferredRole;
  /** the sender asks for a lease: it is active, or a candidate for it */
  leaseReq: boolean;
  candidate: boolean;
  leaseMs: number;
  /**
   * the sender's service level counts (its start-up grace is over: its
   * drivers had their first connect attempt); an unsettled level is not
   * compared in an election. Absent from older senders: settled.
   */
  settled: boolean;
}

export type PeerMessage =
  | { type: "switchover-offer"; epoch: number; reason: string }
  | { type: "switchover-accept"; epoch: number }
  | { type: "switchover-refuse"; epoch: number; reason: string }
  | { type: "handover"; epoch: number; leaseMs: number; contextSeq: number }
  | { type: "switchover-request"; epoch: number; by: string }
  | { type: "lease-refuse"; epoch: number; reason: string }
  | { type: "bye"; epoch: number; state: NodeState };

export type OpAction = "confirm" | "reject" | "switchover" | "promote" | "maintenance-enter" | "maintenance-leave" | "shutdown";

export type Event =
  | { type: "tick" }
  /** `inc`, `seq`: the sender's incarnation and message number (a grant answers exactly these) */
  | { type: "heartbeat"; link: string; seq: number; inc: number; hb: Heartbeat }
  /** a lease grant from the peer for a request we sent at `sentAt` (our clock) */
  | { type: "grant"; sentAt: number; leaseMs: number; epoch: number }
  | { type: "witness-reply"; sentAt: number; reply: WitnessReply }
  | { type: "witness-timeout"; op: WitnessOp; sentAt: number }
  /** peer connection: up; down = closed or reset by the peer's kernel; refused = nothing listens there */
  | { type: "tcp"; status: "up" | "down" | "refused" }
  /** a datagram to the peer on `link` brought ICMP "port unreachable": nothing listens on its heartbeat port */
  | { type: "link-refused"; link: string }
  /** `sentAt`: for a handover, when we sent the accept it answers (our clock) */
  | { type: "peer-message"; msg: PeerMessage; sentAt?: number }
  /** own service level; `settled` once the start-up grace is over */
  | { type: "level"; level: number; settled?: boolean }
  /**
   * What the PLC watchdog read: the epoch in the fence register, and whether
   * the active's counter has stopped (read fine, not moving for staleAfterMs).
   */
  | { type: "plc"; epoch: number | null; counterStale: boolean }
  /** the node's services placed `active` are running (or not yet confirmed gone): true; all gone: false */
  | { type: "services"; up: boolean }
  /** whether the standby holds every write this node acknowledged (replication) */
  | { type: "drained"; drained: boolean }
  /** the pair-wide configurations of both nodes differ (what differs), or match (null) */
  | { type: "config"; mismatch: string | null }
  /** the sequence number of the latest process-context write this node holds (replication) */
  | { type: "context-seq"; seq: number }
  | { type: "op"; id: number; action: OpAction; actor: Actor; to?: string; force?: boolean }
  /**
   * The adapter could not carry out an effect (the epoch could not be
   * persisted): the node stops acting at once and takes no role again; the
   * adapter then stops the process (exit 1).
   */
  | { type: "fault"; reason: string };

/**
 * What the adapter must do, in this order. Every effect carries its own data:
 * the adapter reads nothing from the state, so what leaves the node is exactly
 * what the machine decided (etcd raft's Ready). An effect that carries an
 * epoch is preceded by the persist-epoch that put it on disk (checked over
 * every effect list: effects.ts persistOrderProblems).
 */
export type Effect =
  /** persist before anything after it in the list runs; `proposed` is the highest epoch offered the witness */
  | { type: "persist-epoch"; epoch: number; proposed: number }
  | { type: "send-heartbeat"; hb: Heartbeat }
  /** a lease grant answering request (reqInc, reqSeq) of the peer, heard on `link` */
  | { type: "send-grant"; link: string; reqSeq: number; reqInc: number; leaseMs: number; epoch: number }
  | { type: "send-lease-refuse"; epoch: number; reason: string }
  | { type: "witness"; op: WitnessOp; epoch: number; silenceMs?: number }
  /** a message over the peer connection; `everyPath`: also as a datagram on every link */
  | { type: "peer-send"; msg: PeerMessage; everyPath?: boolean }
  | { type: "state"; from: NodeState; to: NodeState; epoch: number; reason: string }
  | { type: "audit"; action: string; actor: Actor | "system"; result: "ok" | "refused" | "failed"; details?: Record<string, unknown> }
  | { type: "event"; kind: string; message: string; details?: Record<string, unknown> }
  | { type: "reply"; id: number; ok: true; value: Record<string, unknown> }
  | { type: "reply"; id: number; ok: false; code: ReplyErrorCode; args: unknown[] }
  | { type: "context-reset" }
  /** stop the services placed `active` (gracefully) and report back with a `services` event: a switchover waits for it */
  | { type: "stop-services"; reason: string }
  /** something worth counting happened (the adapter publishes it; runtime/metrics.ts counts it) */
  | { type: "count"; name: string };

/** The catalogue's codes an operator action can be refused with. */
export type ReplyErrorCode = Extract<ErrorCode, "TANDEM_ERR_NOT_HELD" | "TANDEM_ERR_SWITCHOVER" | "TANDEM_ERR_SWITCHOVER_TIMEOUT" | "TANDEM_ERR_MAINTENANCE" | "TANDEM_ERR_PROMOTE" | "TANDEM_ERR_UNAVAILABLE">;

export interface PeerView {
  state: NodeState | "unknown";
  epoch: number;
  level: number;
  /** its level counts in elections (its start-up grace is over) */
  levelSettled: boolean;
  role: PreferredRole | null;
  candidate: boolean;
  /** last valid heartbeat on each link (our monotonic clock) */
  links: Record<string, number | null>;
  /** last valid heartbeat on any link */
  heardAt: number | null;
  tcpUp: boolean;
  /** when the peer connection last went down or was refused (kernel evidence the process is gone) */
  lostAt: number | null;
  /** per link: when a datagram to the peer last came back "port unreachable" (kernel evidence too) */
  refusedAt: Record<string, number | null>;
  /** when we last sent a heartbeat out of turn to ask whether its ports still listen (after its connection went) */
  probedAt: number | null;
  /** the current run of refusals from the active peer's host (datagrams or connections): when it began and its latest */
  refusing: { since: number; last: number } | null;
  /**
   * when the active peer's heartbeat last arrived while its host kept refusing
   * us: the kernel's word that its process is gone was then false (a firewall
   * REJECT rule), and is not taken as proof for a while (kernelWordDisproved)
   */
  disprovedAt: number | null;
  /** the peer said it is stopping */
  byeAt: number | null;
  /** known down (dead-process path or an operator): the lease is not needed until a grant comes again */
  fenced: boolean;
}

export interface SwitchoverOut {
  /**
   * initiated here, we are (or were) the active: quiescing while our
   * services placed `active` stop (when any run) → offered → (accepted) →
   * handed-over
   */
  phase: "offered" | "quiescing" | "handed-over";
  target: string;
  startedAt: number;
  deadline: number;
  epoch: number;
  reason: string;
  replyId: number | null;
  actor: Actor | "system";
  thenMaintenance: boolean;
  /** handed over: the handover as sent, and when it is sent again if the peer has not reported active */
  handover?: Extract<PeerMessage, { type: "handover" }>;
  resendAt?: number;
}

export interface SwitchoverIn {
  /** we accepted an offer and wait for the handover */
  offeredEpoch: number;
  deadline: number;
}

export interface Takeover {
  path: "witness" | "dead-process";
  epoch: number;
  /** a node that never saw an active (start-up) does not hold a context it owns */
  startup: boolean;
  /** retry the witness no earlier than this */
  retryAt: number;
  /** when we decided the peer was gone: a heartbeat after this cancels the takeover (unless it says isolated) */
  startedAt: number;
  /** the peer is heard but says it is isolated: it stopped acting and does not hear us */
  peerIsolated?: boolean;
  /** dead-process path on the kernel's evidence on every path: the witness is asked for a short silence */
  fast?: boolean;
  /**
   * dead-process path: until when a witness that still heard the active
   * ("holder-alive") is asked again. Its last renewal can reach the witness a
   * moment after its last heartbeat reached us; past this, a live active is
   * assumed and the takeover waits for its lease to run out.
   */
  announceUntil?: number;
}

export interface RoleState {
  state: NodeState;
  since: number;
  startedAt: number;
  epoch: number;
  /** highest epoch this node offered the witness (persisted with the epoch); never below epoch */
  proposed: number;
  /** own service level */
  level: number;
  /** the level counts in elections (start-up grace over) */
  levelSettled: boolean;
  /** lease end by our clock, counted from when we sent the request that was granted */
  leaseUntil: number;
  /** we promised the peer not to act before this */
  grantedUntil: number;
  peer: PeerView;
  witness: {
    reachable: boolean;
    lastOkAt: number | null;
    holder: string | null;
    holderEpoch: number;
  };
  heldSince: number | null;
  autoConfirmAt: number | null;
  nextHeartbeatAt: number;
  switchoverOut: SwitchoverOut | null;
  switchoverIn: SwitchoverIn | null;
  /** a standby's pending switchover request (asked of the active), to reply to */
  switchoverAsk: { replyId: number; deadline: number } | null;
  takeover: Takeover | null;
  /** we ask the peer to grant us a lease so that we may become active (election) */
  candidateSince: number | null;
  noActiveSince: number | null;
  lowLevelSince: number | null;
  failbackSince: number | null;
  awaitingOperator: boolean;
  /** why the state is what it is, for the operator */
  reason: string;
  /** process context: has anything been written, and by whom (held rule) */
  context: { seq: number; ownerIsMeClean: boolean };
  /** the node is shutting down: it takes no role any more (no offers, elections or takeovers) */
  stopping: boolean;
  /** set when the node can no longer keep its promises (its disk failed): isolated for good */
  fault: string | null;
  /** the PLC watchdog's last reading (when one is configured) */
  plc: { epoch: number | null; counterStale: boolean };
  /** services placed `active` run here (or are not yet confirmed gone): this node does not say standby until they are gone */
  servicesUp: boolean;
  /**
   * the standby holds every write this node acknowledged (replication live,
   * and in async mode nothing in flight): a switchover offers the role only
   * then, so a planned move loses nothing
   */
  drained: boolean;
  /**
   * the two nodes run different pair-wide configurations (runtime/config/pair-config.ts):
   * what differs, or null. Automatic failback and the service level's switchover wait while it is set.
   */
  configMismatch: string | null;
  /** a move to standby that waits for servicesUp to clear (the node says isolated meanwhile): its reason */
  standbyAfterServices: string | null;
  /** held-over counters */
  counters: Record<string, number>;
}
