// The service supervisor: which services run on this node, decided from the
// pair's state, and kept running. A service placed `active` runs only while
// this node may act (it holds the lease under its epoch, also while held),
// is killed at once when the node loses that right unplanned, and is stopped
// gracefully — and confirmed gone — before a planned handover; the pair's
// role machine does not say standby while one is still there
// (RoleState.servicesUp). Services start in dependency order and stop in
// reverse; balanced instances follow balance.ts.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../core/logger.js";
import type { NodeState } from "../../core/types.js";
import { Balancer, type PeerReport } from "./balance.js";
import { startOrder, type ServicesConfig } from "./config-schema.js";
import { describeExit, ServiceInstance } from "./instance.js";
import type { ServiceView } from "../node-api.js";
import { cleanupLeftovers } from "./leftovers.js";
import { OperatorStops } from "./operator-stops.js";
import { serviceEnv, resolveUser, type ServiceUser } from "./service-env.js";

/** What the supervisor needs to know of the pair, and may tell it. */
export interface PairView {
  state(): NodeState;
  epoch(): number;
  /** services placed `active` may run: active (or held) under a valid lease, not handing over */
  activeAllowed(): boolean;
  /** a planned handover is under way: services placed `active` stop gracefully, then the role moves */
  handingOver(): boolean;
  /** how long this node may still act without another renewal (lease less its safety margin); null = no deadline */
  actDeadlineMs(): number | null;
  setServicesUp(up: boolean): void;
  /** the peer as balanced services see it: in the pool when visible and running */
  peer(): { id: string; inPool: boolean; state: string; down?: boolean };
  sendPeer(topic: string, data: Record<string, unknown>): boolean;
}

export interface SupervisorOptions {
  services: ServicesConfig;
  pairId: string;
  nodeId: string;
  capacity: number;
  dataDir: string;
  /** relative cwd values were resolved against the config file; services without one run here */
  defaultCwd: string;
  log: Logger;
  /** told when a service is given up on, besides the log (the node stores it as an event) */
  alarm?: (text: string) => void;
  pair: PairView;
  /** the node's API, for TANDEM_API */
  apiUrl?: () => string | undefined;
  now?: () => number;
}

const RECONCILE_MS = 100;
const SAMPLE_MS = 2000;
const REPORT_MS = 1000;

export class Supervisor {
  readonly instances: ServiceInstance[] = [];
  private readonly byName = new Map<string, ServiceInstance[]>();
  /** services that run as another user than the node's */
  private readonly users = new Map<string, ServiceUser>();
  private readonly order: string[];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly runDir: string;
  private readonly tmpRoot: string;
  readonly stops: OperatorStops;
  readonly balancer: Balancer;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private reconciling = false;
  private again = false;
  private servicesUp = false;
  private presentSent = "";
  private backoffTimer: NodeJS.Timeout | null = null;
  private backoffAt = 0;

  constructor(private readonly o: SupervisorOptions) {
    this.log = o.log;
    this.now = o.now ?? (() => performance.now());
    this.runDir = join(o.dataDir, "services", "run");
    this.tmpRoot = serviceTmpRoot(o.dataDir);
    this.order = startOrder(o.services);
    this.stops = new OperatorStops(join(o.dataDir, "services", "operator-stops.json"), o.nodeId);
    for (const name of this.order) {
      const c = o.services[name]!;
      const user = c.user === undefined ? undefined : resolveUser(c.user, `services.${name}.user`);
      if (user) this.users.set(name, user);
      const n = c.placement === "balanced" ? c.instances! : 1;
      const list: ServiceInstance[] = [];
      for (let i = 1; i <= n; i++) {
        const key = c.placement === "balanced" ? `${name}#${i}` : name;
        list.push(
          new ServiceInstance({
            key,
            name,
            index: i,
            config: c,
            log: o.log.child({ service: key }),
            ...(o.alarm ? { alarm: o.alarm } : {}),
            runDir: this.runDir,
            tmpRoot: this.tmpRoot,
            now: this.now,
            changed: () => this.reconcile(),
            cwd: c.cwd ?? o.defaultCwd,
            ...(user ? { uid: user.uid, gid: user.gid } : {}),
          }),
        );
      }
      this.byName.set(name, list);
      this.instances.push(...list);
    }
    this.balancer = new Balancer({ pairId: o.pairId, nodeId: o.nodeId, capacity: o.capacity, services: o.services, instances: this.instances, now: this.now });
  }

  /** Cleans up what a previous run left behind, then supervises. */
  start(): void {
    mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    ensureTmpRoot(this.tmpRoot);
    const reports = cleanupLeftovers(this.runDir, { log: this.log, tmpRoot: this.tmpRoot });
    if (reports.length) this.log.info(`cleaned up after the previous run: ${reports.length} record(s) of service instances`);
    this.stops.load(this.log);
    if (!this.instances.length) return;
    this.balancer.sample(); // the first report carries real figures
    this.timers.push(setInterval(() => this.reconcile(), RECONCILE_MS));
    this.timers.push(setInterval(() => this.sample(), SAMPLE_MS));
    this.timers.push(setInterval(() => this.report(), REPORT_MS));
    this.reconcile();
  }

  /** Stops every service, in reverse dependency order, each within its stopTimeoutMs. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.reconcile();
    await Promise.all(this.instances.map((i) => (i.present ? new Promise<void>((r) => this.waitGone(i, r)) : undefined)));
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    this.setUp(false);
    // a clean stop leaves nothing in the system's temp dir: the root goes once its instances' directories have
    rmEmptyDir(this.tmpRoot);
  }

  /** The last resort of a stop that ran out of time: SIGKILL to every instance still there. */
  killAll(): void {
    for (const i of this.instances) if (i.present) void i.stop("the node's stop ran out of time", { kill: true });
  }

  /** The pair's state changed: a lost right to act kills services placed `active` now, before anything says so. */
  onPairChange(): void {
    this.reconcile();
    this.feedDeadlines();
    this.report();
  }

  /** The lease was renewed (or ended): tell the launchers of services placed `active`. */
  feedDeadlines(): void {
    const ms = this.o.pair.actDeadlineMs();
    for (const i of this.instances) if (i.config.placement === "active" && i.present) i.setDeadline(ms);
  }

  /** The peer's report (load figures, balanced instances it runs, operator stops); checked here: it came from the network. */
  onPeerReport(data: Record<string, unknown>): void {
    const r = this.balancer.acceptReport(data);
    if (typeof r === "string") return void this.log.warn(`dropped the peer's services report: ${r}`);
    if (r.stops && this.stops.merge(r.stops)) this.log.info("operator stops of services updated from the peer");
    this.reconcile();
  }

  // ------------------------------------------------------------ operator

  /** An operator's start, stop or restart of a service (all its instances on this node; stop and start hold pair-wide). */
  async act(name: string, action: "start" | "stop" | "restart", by: string): Promise<{ name: string; action: string; instances: string[] }> {
    const list = this.byName.get(name);
    if (!list) throw new Error(`unknown service '${name}'`);
    if (action === "stop") {
      this.stops.set(name, true, by);
      this.report();
      this.reconcile();
      await Promise.all(list.map((i) => (i.present ? new Promise<void>((r) => this.waitGone(i, r)) : undefined)));
    } else {
      this.stops.set(name, false, by);
      for (const i of list) i.resetFailures();
      this.report();
      if (action === "restart") await Promise.all(list.filter((i) => i.present).map((i) => i.stop(`restart by ${by}`)));
      this.reconcile();
    }
    return { name, action, instances: list.map((i) => i.key) };
  }

  addEvents(name: string, n: number): boolean {
    const list = this.byName.get(name)?.filter((i) => i.present) ?? [];
    for (const i of list) i.addEvents(n / list.length);
    return list.length > 0;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The service level falls by 20 for each failed service (at most 60), with the reasons. */
  health(): { penalty: number; reasons: string[] } {
    const failed = [...new Set(this.instances.filter((i) => i.state === "failed").map((i) => i.name))];
    return { penalty: Math.min(60, failed.length * 20), reasons: failed.map((n) => `service ${n} failed`) };
  }

  /** Every instance as the API shows it (runtime/node-api.ts ServiceView). */
  views(): ServiceView[] {
    const now = this.now();
    return this.instances.map((i) => {
      const c = i.config;
      const stop = this.stops.get(i.name);
      const assigned = c.placement === "balanced" ? this.balancer.assigned(i.key) : null;
      const e = i.lastExit;
      return {
        name: i.name,
        instance: i.key,
        placement: c.placement,
        state: i.state,
        pid: i.present ? i.pid : null,
        node: i.present ? this.o.nodeId : (assigned?.node ?? null),
        reason: i.present || !assigned ? i.reason : `${i.reason}${assigned.node && assigned.node !== this.o.nodeId ? ` (runs on ${assigned.node}: ${assigned.why})` : ""}`,
        dependsOn: c.dependsOn,
        health: i.health,
        healthDetail: i.healthDetail,
        startedAt: i.present ? i.startedAtWall : null,
        uptimeMs: i.present && i.startedAt !== null ? Math.round(now - i.startedAt) : null,
        restarts: i.restarts,
        lastExit: e ? { code: e.code, signal: e.signal, at: e.at, description: describeExit(e.code, e.signal) } : null,
        cpuPercent: i.figures.cpuPercent,
        rssBytes: i.figures.rssBytes,
        readBytes: i.figures.readBytes,
        writeBytes: i.figures.writeBytes,
        eventsPerSec: i.figures.eventsPerSec,
        lastOutputAt: i.lastOutputAt,
        stoppedByOperator: stop?.stopped ? { by: stop.by, at: stop.at } : null,
        ...(c.placement === "balanced" ? { scheme: c.scheme ?? "fewest-instances" } : {}),
      };
    });
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  // ----------------------------------------------------------- deciding

  /** Why an instance should run here now, or null when it should not. */
  wanted(i: ServiceInstance): string | null {
    if (this.stopping) return null;
    if (this.operatorStopped(i.name) !== null) return null;
    const state = this.o.pair.state();
    switch (i.config.placement) {
      case "active":
        return this.o.pair.activeAllowed() ? `this node is ${state} (epoch ${this.o.pair.epoch()})` : null;
      case "standby":
        return state === "standby" ? "this node is standby" : null;
      case "both":
        return "runs on both nodes";
      case "balanced":
        return this.balancer.runsHere(i.key, state) ? (this.balancer.why(i.key) ?? "assigned here") : null;
    }
  }

  /**
   * The service an operator stopped that keeps this one from running: itself,
   * or one it depends on (directly or not) — its dependants stop with it,
   * first, as they would on a stop of the node. Null when none.
   */
  private operatorStopped(name: string, seen = new Set<string>()): string | null {
    if (this.stops.stopped(name)) return name;
    seen.add(name);
    for (const d of this.o.services[name]?.dependsOn ?? []) {
      if (seen.has(d)) continue;
      const s = this.operatorStopped(d, seen);
      if (s !== null) return s;
    }
    return null;
  }

  /** Why it does not run here, for the operator. */
  notWantedWhy(i: ServiceInstance): string {
    if (this.stopping) return "the node is stopping";
    const stopped = this.operatorStopped(i.name);
    if (stopped !== null) {
      const s = this.stops.get(stopped)!;
      return stopped === i.name ? `stopped by ${s.by} at ${s.at}` : `${stopped}, which it depends on, was stopped by ${s.by} at ${s.at}`;
    }
    const state = this.o.pair.state();
    switch (i.config.placement) {
      case "active":
        return isActiveWord(state) ? "this node is handing over or has no valid lease" : `this node is ${state}, not active`;
      case "standby":
        return `this node is ${state}, not standby`;
      case "both":
        return "";
      case "balanced":
        return this.balancer.why(i.key) ?? "assigned to the peer";
    }
  }

  /** Starts what should run and whose dependencies are ready; stops what should not run, dependants first. */
  reconcile(): void {
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = true;
    try {
      do {
        this.again = false;
        this.reconcileOnce();
      } while (this.again);
    } finally {
      this.reconciling = false;
    }
  }

  private reconcileOnce(): void {
    const now = this.now();
    this.balancer.update(this.o.pair.state(), this.o.pair.peer());
    const unplanned = !this.stopping && !this.o.pair.activeAllowed() && !this.o.pair.handingOver();
    // stops first, dependants before their dependencies (reverse start order)
    for (const i of [...this.instances].reverse()) {
      if (this.wanted(i) !== null) continue;
      if (i.state === "backoff" || i.state === "failed" || i.state === "waiting") {
        i.resetFailures();
        i.state = "stopped";
      }
      if (!i.present) {
        if (i.state === "stopped") i.reason = `not running here: ${this.notWantedWhy(i)}`;
        continue;
      }
      if (i.state === "stopping" && !(i.config.placement === "active" && unplanned)) continue;
      // the node lost its right to act without a handover: no grace, the peer may start its own copy soon
      if (i.config.placement === "active" && unplanned) {
        void i.stop(`this node may no longer act (${this.o.pair.state()})`, { kill: true });
        continue;
      }
      if (this.dependantsPresent(i)) {
        i.reason = "stopping after the services that depend on it";
        continue;
      }
      void i.stop(this.stopping ? "the node is stopping" : this.notWantedWhy(i));
    }
    // then starts, dependencies before their dependants
    this.armBackoff(now);
    for (const i of this.instances) {
      const why = this.wanted(i);
      if (why === null || i.present || i.state === "failed") continue;
      if (i.state === "backoff" && now < i.nextStartAt) continue;
      const missing = this.missingDependencies(i);
      if (missing.length) {
        i.state = "waiting";
        i.reason = `waiting for ${missing.join(", ")}`;
        continue;
      }
      if (i.config.placement === "active") this.setUp(true); // before the process exists
      i.start(serviceEnv(i, { pairId: this.o.pairId, nodeId: this.o.nodeId, epoch: this.o.pair.epoch(), state: this.o.pair.state(), api: this.o.apiUrl?.() }, this.users.get(i.name)));
      if (i.config.placement === "active") i.setDeadline(this.o.pair.actDeadlineMs());
      i.reason = why;
    }
    this.setUp(this.instances.some((i) => i.config.placement === "active" && i.present));
    // the peer learns at once which balanced instances run here (a move waits for it)
    const present = this.instances.filter((i) => i.config.placement === "balanced" && i.present).map((i) => i.key).join(",");
    if (present !== this.presentSent) {
      this.presentSent = present;
      this.report();
    }
  }

  /** a restart is due before the next periodic look: be there on time */
  private armBackoff(now: number): void {
    const due = Math.min(...this.instances.filter((i) => i.state === "backoff" && i.nextStartAt > now).map((i) => i.nextStartAt));
    if (!Number.isFinite(due) || due - now >= RECONCILE_MS || (this.backoffTimer && this.backoffAt <= due)) return;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffAt = due;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      this.reconcile();
    }, Math.ceil(due - now));
  }

  private missingDependencies(i: ServiceInstance): string[] {
    return i.config.dependsOn.filter((d) => !(this.byName.get(d) ?? []).some((x) => x.ready));
  }

  private dependantsPresent(i: ServiceInstance): boolean {
    return this.instances.some((x) => x.present && x.config.dependsOn.includes(i.name));
  }

  private setUp(up: boolean): void {
    if (up === this.servicesUp) return;
    this.servicesUp = up;
    this.o.pair.setServicesUp(up);
  }

  private waitGone(i: ServiceInstance, done: () => void): void {
    const t = setInterval(() => {
      if (i.present) return;
      clearInterval(t);
      done();
    }, 10);
  }

  private sample(): void {
    for (const i of this.instances) i.sample();
    this.balancer.sample();
  }

  private report(): void {
    const body = this.balancer.report(this.o.pair.state(), this.o.pair.epoch(), this.stops.all());
    this.o.pair.sendPeer("services", body as unknown as Record<string, unknown>);
  }
}

const isActiveWord = (s: string) => s === "active" || s === "active-held";

export type { PeerReport };

/**
 * Where the instances' temporary directories live: under the system's temp
 * dir (a service run as another user cannot reach into the node's private
 * data dir), one root per data dir so that two nodes on one host never clean
 * up each other's.
 */
export function serviceTmpRoot(dataDir: string): string {
  return join(tmpdir(), `tandem-svc-${createHash("sha256").update(dataDir).digest("hex").slice(0, 12)}`);
}

/** removes a directory if it is empty; one that still holds something (or is gone) stays as it is */
function rmEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty (an instance's directory left for the next start's cleanup), or not there
  }
}

/** Made 0711 (others may pass, not list) and checked: a directory of ours, not a link someone planted. */
function ensureTmpRoot(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const st = lstatSync(dir);
  const me = process.getuid?.();
  if (!st.isDirectory() || (me !== undefined && st.uid !== me)) throw new Error(`${dir} is not a directory of this user: refusing to keep service temporary directories there`);
}
