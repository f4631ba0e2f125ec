// The operators' actions on a node, each audited (node-audit.ts: no record,
// no action): the role operations (confirm, reject, promote, switchover,
// maintenance), log levels, services, manual tag writes and the replication
// checks. What only the active does is refused elsewhere with the active's
// name and address (active-hint.ts). The node (node.ts) makes one and its
// NodeController methods hand over to it.
import { performance } from "node:perf_hooks";
import { TandemError } from "../core/errors.js";
import { isActiveState } from "../core/types.js";
import type { DriverManager } from "../drivers/manager.js";
import { peerVisible } from "../redundancy/failure-detector.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { VerifyResult } from "../redundancy/replication/verify.js";
import { notActiveError } from "./active-hint.js";
import type { LogLevel, TandemConfig } from "./config/schema.js";
import type { LogManager } from "./logging.js";
import type { Actor, NodeState, ServicesView, SwitchoverResult } from "./node-api.js";
import type { NodeAudit } from "./node-audit.js";
import type { NodeData } from "./node-data.js";
import type { Supervisor } from "./services/supervisor.js";

export interface NodeActionsOptions {
  config: TandemConfig;
  runtime: PairRuntime;
  audit: NodeAudit;
  logs: LogManager;
  supervisor: Supervisor;
  data: NodeData;
  drivers: () => DriverManager | null;
}

type RoleAnswer = { state: NodeState; epoch: number };

export class NodeActions {
  private readonly runtime: PairRuntime;
  private readonly audit: NodeAudit;

  constructor(private readonly o: NodeActionsOptions) {
    this.runtime = o.runtime;
    this.audit = o.audit;
  }

  async confirm(actor: Actor): Promise<RoleAnswer> {
    const r = await this.audit.audited(actor, "confirm", undefined, async () => {
      // a standby awaiting an operator is promoted by a confirm; otherwise only the active has a takeover to confirm
      const s = this.runtime.state;
      if (!(s.awaitingOperator && (s.state === "standby" || s.state === "starting"))) this.requireActive("confirm");
      return this.runtime.op("confirm", actor);
    });
    return { state: r.state as NodeState, epoch: r.epoch as number };
  }

  async reject(actor: Actor): Promise<RoleAnswer> {
    const r = await this.audit.audited(actor, "reject", undefined, async () => {
      this.requireActive("reject");
      return this.runtime.op("reject", actor);
    });
    return { state: r.state as NodeState, epoch: r.epoch as number };
  }

  async promote(actor: Actor): Promise<RoleAnswer> {
    const r = await this.audit.audited(actor, "promote", undefined, () => this.runtime.op("promote", actor));
    return { state: r.state as NodeState, epoch: r.epoch as number };
  }

  async switchover(actor: Actor, to?: string, acceptConfig = false): Promise<SwitchoverResult> {
    const c = this.o.config;
    const t0 = performance.now();
    const details = { ...(to === undefined ? {} : { to }), ...(acceptConfig ? { acceptConfig } : {}) };
    const r = await this.audit.audited(actor, "switchover", Object.keys(details).length ? details : undefined, async () => {
      // a standby connected to the active it hears asks it to hand over (the role machine, which checks the same);
      // one that cannot ask points to the active, or says none is known
      this.runtime.refresh();
      const s = this.runtime.state;
      const canAsk = s.state === "standby" && s.peer.tcpUp && isActiveState(s.peer.state) && peerVisible(s.peer, this.runtime.now(), c.heartbeat.timeoutMs);
      if (!canAsk) this.requireActive("switchover");
      return this.runtime.op("switchover", actor, { to, force: acceptConfig });
    });
    return {
      from: String(r.from ?? c.node.id),
      to: String(r.to ?? c.peer.id),
      epoch: Number(r.epoch ?? this.runtime.state.epoch),
      durationMs: typeof r.durationMs === "number" ? r.durationMs : Math.round(performance.now() - t0),
    };
  }

  async maintenance(actor: Actor, enter: boolean, force?: boolean): Promise<{ state: NodeState }> {
    const action = enter ? "maintenance-enter" : "maintenance-leave";
    const r = await this.audit.audited(actor, action, force === undefined ? undefined : { force }, () => this.runtime.op(action, actor, { force }));
    return { state: (r.state as NodeState) ?? this.runtime.state.state };
  }

  setLogLevel(actor: Actor, level: LogLevel, component?: string): { default: LogLevel; components: Record<string, LogLevel> } {
    const logs = this.o.logs;
    const details = { level, component: component ?? "(all)" };
    this.audit.intent(actor, "log-level", details);
    try {
      logs.setLevel(level, component);
    } catch (err) {
      this.audit.write("log-level", actor, "refused", { ...details, reason: (err as Error).message });
      throw new TandemError("TANDEM_ERR_BAD_REQUEST", [(err as Error).message]);
    }
    this.audit.write("log-level", actor, "ok", details);
    return logs.levels();
  }

  services(): ServicesView {
    const s = this.runtime.state;
    const sup = this.o.supervisor;
    const f = sup.balancer.figures();
    return { nodeId: this.o.config.node.id, state: s.state, epoch: s.epoch, services: sup.views(), figures: { own: { ...f.own }, peer: f.peer ? { ...f.peer } : null } };
  }

  async serviceAction(actor: Actor, name: string, action: "start" | "stop" | "restart"): Promise<{ name: string; action: string; instances: string[] }> {
    const sup = this.o.supervisor;
    if (!sup.has(name)) throw new TandemError("TANDEM_ERR_SERVICE_UNKNOWN", [name, sup.names().join(", ") || "none"]);
    return this.audit.audited(actor, `service-${action}`, { service: name }, async () => {
      // a service placed active runs on the active only: acting on it elsewhere would not reach it
      if (sup.views().every((v) => v.name !== name || v.placement === "active")) this.requireActive(`${action} of service ${name}`);
      return sup.act(name, action, actor.user);
    });
  }

  serviceEvents(name: string, count: number): { name: string; accepted: boolean } {
    const sup = this.o.supervisor;
    if (!sup.has(name)) throw new TandemError("TANDEM_ERR_SERVICE_UNKNOWN", [name, sup.names().join(", ") || "none"]);
    return { name, accepted: sup.addEvents(name, count) };
  }

  async writeTag(actor: Actor, name: string, value: unknown): Promise<{ name: string; value: unknown }> {
    const drivers = this.o.drivers();
    // an operator's manual write: allowed on the active, also while held (S3 holds process writes only)
    // the answer carries the value as written (float32-rounded, scaled, converted), which a read then shows
    const written = await this.audit.audited(actor, "write-tag", { tag: name, value }, async () => {
      // the active judges the write (its tags, its value); the standby points there
      this.requireActive("tag write");
      if (!drivers) throw new TandemError("TANDEM_ERR_TAG_UNKNOWN", [name]);
      return drivers.write(name, value, "operator");
    });
    return { name, value: written };
  }

  async verifyReplication(actor: Actor): Promise<VerifyResult> {
    this.o.data.onActive("verify");
    return this.audit.audited(actor, "replication-verify", undefined, () => this.o.data.verify(actor.user));
  }

  async resyncReplication(actor: Actor): Promise<{ started: boolean }> {
    this.o.data.onActive("resync");
    return this.audit.audited(actor, "replication-resync", undefined, async () => this.o.data.resync());
  }

  async discardDivergent(actor: Actor, id: number): Promise<{ id: number; discarded: boolean }> {
    return this.audit.audited(actor, "discard-divergent", { id }, async () => ({ id, discarded: await this.o.data.discardDivergent(id) }));
  }

  /**
   * Throws TANDEM_ERR_NOT_ACTIVE naming the active (and its address, from
   * peer.api), or saying that none is known, when this node is not active
   * (active-held is active). The HTTP layer answers 421, 409 or 503.
   */
  requireActive(what: string): void {
    this.runtime.refresh();
    if (!isActiveState(this.runtime.state.state)) throw this.notActive(what);
  }

  notActive(what: string): TandemError {
    const c = this.o.config;
    const s = this.runtime.state;
    const visible = peerVisible(s.peer, this.runtime.now(), c.heartbeat.timeoutMs);
    return notActiveError(what, { nodeId: c.node.id, state: s.state, peerId: c.peer.id, peerState: visible ? s.peer.state : "unknown", peerApi: c.peer.api });
  }
}
