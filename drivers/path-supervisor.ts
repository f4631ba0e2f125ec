// One device's connection over one or more paths, the part the Modbus and
// OPC UA drivers share: the mode this node asks for (read / connect / off), a
// connect round over the paths (from the one last used, or in the order the
// driver gives), the next path first when the one in use is lost, every tag
// bad the moment it is, a doubling wait when every path failed (Reconnect)
// with a cheap probe of the paths while it waits, and the status the API shows. The driver supplies the protocol through
// hooks: open and close a connection, watch it, start and stop reading.
import { COUNT_CHANNELS, counterFor } from "../core/diagnostics.js";
import type { Logger } from "../core/logger.js";
import { Reconnect, type Clock, type DeviceStatus, type DriverMode, type EndpointStatus } from "./driver-api.js";
import type { DriverKind } from "./tag-model.js";

export interface PathHooks<C> {
  /** opens a connection on path i; throws when it cannot */
  open(index: number): Promise<C>;
  close(c: C, why: string): Promise<void>;
  /** calls lost(why) when the connection fails */
  watch(c: C, lost: (why: string) => void): void;
  /** the connection is the device's now: start what the mode needs on it */
  adopted(c: C): void | Promise<void>;
  /** reading on or off on the connection in use (mode read / connect) */
  setReading(c: C, on: boolean): void | Promise<void>;
  /** the connection is no longer in use (lost or dropped): forget what lived on it */
  released?(c: C): void;
  /** stops what runs beside reading (a poll) when the mode goes off or the driver stops */
  halt?(): void;
  /** every tag of the device turns bad with this reason */
  allBad(reason: string): void;
  /** the paths to try this round, in order; default: from the one last used, round the list */
  order?(from: number): Promise<number[]>;
  /**
   * whether the connection in use counts as connected (default: yes). A
   * connection lost before it ever counted (a frozen PLC whose kernel still
   * accepts TCP) is a failed attempt: the next one waits out the backoff.
   */
  up?(c: C): boolean;
  /**
   * A cheap look at path i while the backoff runs (a bare TCP connect that is
   * closed at once: no Modbus request, no OPC UA session): true when the
   * device accepts connections again, which ends the wait.
   */
  probe?(index: number, signal: AbortSignal): Promise<boolean>;
}

export interface PathSupervisorOptions {
  kind: DriverKind;
  device: string;
  /** one label per path (the configured endpoint or serial port) */
  paths: string[];
  clock: Clock;
  log: Logger;
  reconnect: { initialMs: number; maxMs: number };
  /** called when the path in use changes (null: none) */
  onPath: (path: string | null) => void;
}

const publishCount = counterFor(COUNT_CHANNELS.driver);

export class PathSupervisor<C> {
  mode: DriverMode = "off";
  stopped = false;
  /** the connection in use */
  conn: C | null = null;
  lastError: string | null = null;
  everConnected = false;
  reconnects = 0;
  /** connect rounds that have ended (connected, or every path failed) */
  private roundsDone = 0;
  /** the path in use, or the one to try first */
  private index = 0;
  private connecting: Promise<void> | null = null;
  private readonly reconnect: Reconnect;
  /** the probe loop while the backoff runs */
  private probeTimer: unknown = null;
  private probeAbort: AbortController | null = null;
  private readonly log: Logger;

  constructor(
    private readonly o: PathSupervisorOptions,
    private readonly hooks: PathHooks<C>,
  ) {
    this.log = o.log;
    this.reconnect = new Reconnect(o.clock, o.reconnect, () => {
      this.stopProbing();
      this.ensureConnected();
    });
  }

  setMode(mode: DriverMode): void {
    if (this.stopped || mode === this.mode) return;
    this.log.info({ from: this.mode, to: mode }, `${this.o.kind} device mode`);
    this.mode = mode;
    if (mode === "off") {
      this.cancelRetry();
      this.hooks.halt?.();
      void this.drop("standby cold: not connected");
      this.hooks.allBad("not_reading");
      return;
    }
    const c = this.conn;
    if (c) {
      // connected already: reading on or off without a new connection; a connection that cannot do it is lost
      const failed = (e: Error) => this.lost(c, `cannot switch reading ${mode === "read" ? "on" : "off"}: ${e.message}`);
      try {
        this.hooks.setReading(c, mode === "read")?.catch(failed);
      } catch (e) {
        failed(e as Error);
      }
    } else this.hooks.allBad(mode === "connect" ? "not_reading" : this.everConnected ? "comm_lost" : "no_data");
    this.ensureConnected();
  }

  /** stopped, or nothing wanted of the device */
  private get idle(): boolean {
    return this.stopped || this.mode === "off";
  }

  /** Starts a connect round unless one runs, a retry waits, or nothing is wanted. */
  ensureConnected(): void {
    if (this.idle || this.conn || this.connecting || this.reconnect.pending) return;
    this.connecting = this.connectRound().finally(() => {
      this.connecting = null;
      this.roundsDone++;
      // a connection lost while the round still ran found it busy: start again
      if (!this.conn) this.ensureConnected();
    });
  }

  /**
   * The connection in use is gone: every tag turns bad now (with `reason`,
   * comm_lost by default: a device that stopped answering keeps the `timeout`
   * it already shows, so the reason does not alternate), then the next path is
   * tried — at once when the connection had worked, after the backoff when it
   * never did.
   */
  lost(c: C, why: string, reason = "comm_lost"): void {
    if (this.conn !== c) return;
    const proven = this.hooks.up?.(c) ?? true;
    this.conn = null;
    this.hooks.released?.(c);
    const label = this.o.paths[this.index]!;
    this.lastError = `${label}: ${why}`;
    this.log.warn({ path: label, why }, `${this.o.kind} connection lost`);
    this.o.onPath(null);
    this.hooks.allBad(this.mode === "read" ? reason : "not_reading");
    void this.hooks.close(c, why).catch(() => {});
    if (this.idle) return;
    // fail over: the next path first, the one that failed last
    if (this.o.paths.length > 1) this.index = (this.index + 1) % this.o.paths.length;
    if (proven) this.ensureConnected();
    // it accepted a connection and never answered: a TCP probe would say
    // nothing new, so this waits out the backoff
    else this.reconnect.schedule();
  }

  /** The connection in use proved itself (the device answered): the next outage starts the backoff from initialMs. */
  confirmed(): void {
    this.reconnect.reset();
  }

  /** Closes the connection in use on purpose (cold standby, stop). */
  async drop(why: string): Promise<void> {
    const c = this.conn;
    this.conn = null;
    if (!c) return;
    this.hooks.released?.(c);
    this.log.info({ why }, `${this.o.kind} disconnect`);
    await this.hooks.close(c, why).catch(() => {});
    this.o.onPath(null);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.mode = "off";
    this.cancelRetry();
    this.hooks.halt?.();
    await this.connecting?.catch(() => {});
    await this.drop("driver stopped");
  }

  status(counts: { requests: number; errors: number }, endpoint?: (label: string) => Partial<EndpointStatus>): DeviceStatus {
    const c = this.conn;
    const up = c !== null && (this.hooks.up?.(c) ?? true);
    return {
      device: this.o.device,
      driver: this.o.kind,
      mode: this.mode,
      connected: up,
      path: c ? this.o.paths[this.index]! : null,
      endpoints: this.o.paths.map((label, i) => ({ endpoint: label, connected: up && i === this.index, ...endpoint?.(label) })),
      connections: c ? 1 : 0,
      requests: counts.requests,
      errors: counts.errors,
      reconnects: this.reconnects,
      lastError: this.lastError,
      attempted: this.roundsDone > 0 && (up || this.lastError !== null),
    };
  }

  /** Tries the paths once, in order; waits (doubling) when all fail. */
  private async connectRound(): Promise<void> {
    const n = this.o.paths.length;
    let order: number[];
    try {
      order = this.hooks.order ? await this.hooks.order(this.index) : Array.from({ length: n }, (_, k) => (this.index + k) % n);
    } catch (e) {
      order = [];
      this.lastError = (e as Error).message;
    }
    for (const i of order) {
      if (this.idle) return;
      const label = this.o.paths[i]!;
      let c: C;
      try {
        c = await this.hooks.open(i);
      } catch (err) {
        this.lastError = `${label}: ${(err as Error).message}`;
        this.log.warn({ path: label, err: (err as Error).message }, `${this.o.kind} connect failed`);
        continue;
      }
      if (this.idle) {
        await this.hooks.close(c, "not needed any more").catch(() => {});
        return;
      }
      this.index = i;
      this.conn = c;
      if (this.everConnected) {
        this.reconnects++;
        publishCount("reconnects", { device: this.o.device });
      }
      this.everConnected = true;
      this.log.info({ path: label }, `${this.o.kind} connected`);
      this.o.onPath(label);
      this.hooks.watch(c, (why) => this.lost(c, why));
      try {
        await this.hooks.adopted(c);
        // the backoff starts again from initialMs once the connection proved
        // itself: now, or (Modbus) at the device's first answer, confirmed()
        if (this.conn === c && (this.hooks.up?.(c) ?? true)) this.reconnect.reset();
      } catch (e) {
        // connected but cannot read (items refused, session gone): not a path to keep hammering
        this.lost(c, (e as Error).message);
        this.reconnect.schedule();
      }
      return;
    }
    if (this.idle) return;
    // every path failed: wait, then start again with the preferred one; while
    // waiting, probe the paths so a device that is back is used at once
    this.index = 0;
    this.reconnect.schedule();
    this.startProbing();
  }

  private cancelRetry(): void {
    this.reconnect.cancel();
    this.stopProbing();
  }

  /**
   * Every reconnect.initialMs while the backoff runs: a bare TCP connect to
   * every path. The first that is accepted ends the wait, so a PLC that is
   * back is used within initialMs, while full attempts (an OPC UA secure
   * channel and session) stay as rare as the backoff says.
   */
  private startProbing(): void {
    const probe = this.hooks.probe;
    if (!probe || this.probeTimer !== null || this.probeAbort !== null) return;
    this.probeTimer = this.o.clock.setTimeout(() => {
      this.probeTimer = null;
      if (this.idle || !this.reconnect.pending) return;
      const ac = new AbortController();
      this.probeAbort = ac;
      void Promise.all(this.o.paths.map((_, i) => probe(i, ac.signal).catch(() => false))).then((answers) => {
        if (this.probeAbort === ac) this.probeAbort = null;
        if (ac.signal.aborted || this.idle || !this.reconnect.pending) return;
        if (!answers.some(Boolean)) return this.startProbing();
        this.log.info({ paths: this.o.paths.filter((_, i) => answers[i]) }, `${this.o.kind} device accepts connections again: reconnecting now`);
        this.reconnect.cancel();
        this.ensureConnected();
      });
    }, this.o.reconnect.initialMs);
  }

  private stopProbing(): void {
    if (this.probeTimer !== null) this.o.clock.clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.probeAbort?.abort();
    this.probeAbort = null;
  }
}
