// The PLC watchdog and fence. The active writes a cycle counter and its epoch
// to the PLC every interval; both nodes read them. For the standby a counter
// that stopped moving is evidence that the active no longer drives the plant
// (a witness vote); for every node the epoch in the PLC is the fence: a node
// whose epoch is lower refuses its own writes before they leave it.
//
// WatchdogCore is pure (times are inputs); WatchdogLoop runs it against a
// device driver.
import type { Logger } from "../core/logger.js";
import type { WatchdogConfig } from "./config-schema.js";
import type { Clock, DeviceDriver } from "./driver-api.js";

export interface WatchdogView {
  configured: boolean;
  /** last counter read from the PLC, null before the first read */
  counter: number | null;
  /** the epoch the PLC holds (the fence), null before the first read */
  plcEpoch: number | null;
  /** ms since the counter last moved, null before it was first seen */
  msSinceChange: number | null;
  /** the counter has not moved for staleAfterMs: the active is not driving the plant */
  counterStale: boolean;
  /** this node's epoch is lower than the PLC's: it must not write */
  fenced: boolean;
  /** the last read or write failed: why */
  error: string | null;
}

export interface CoreState {
  counter: number | null;
  plcEpoch: number | null;
  changedAt: number | null;
  startedAt: number;
  error: string | null;
}

export const initialCore = (now: number): CoreState => ({ counter: null, plcEpoch: null, changedAt: null, startedAt: now, error: null });

/** A read of the PLC's counter and epoch. */
export function observe(s: CoreState, counter: number, plcEpoch: number, now: number): CoreState {
  const changed = s.counter === null || counter !== s.counter;
  return { ...s, counter, plcEpoch, changedAt: changed ? now : s.changedAt, error: null };
}

export function failed(s: CoreState, error: string): CoreState {
  return { ...s, error };
}

export function view(s: CoreState, myEpoch: number, staleAfterMs: number, now: number, fence: boolean): WatchdogView {
  // Never seen moving counts from when we started looking: a PLC whose
  // counter never moves since our start is stale after the same time.
  const since = s.changedAt ?? s.startedAt;
  return {
    configured: true,
    counter: s.counter,
    plcEpoch: s.plcEpoch,
    msSinceChange: s.changedAt === null ? null : now - s.changedAt,
    counterStale: now - since >= staleAfterMs,
    fenced: fence && s.plcEpoch !== null && s.plcEpoch > myEpoch,
    error: s.error,
  };
}

/** What the active writes next: the counter moves on (wrapping at 16 bits), the epoch never goes down. */
export function nextWrite(s: CoreState, myEpoch: number): { counter: number; epoch: number | null } {
  const counter = ((s.counter ?? 0) + 1) & 0xffff;
  const epoch = s.plcEpoch === null || myEpoch >= s.plcEpoch ? myEpoch : null;
  return { counter, epoch };
}

export class WatchdogLoop {
  private state: CoreState;
  private timer: unknown = null;
  private running = false;
  private stopped = false;
  private acting = false;
  private epoch = 0;
  private busy: Promise<void> | null = null;

  constructor(
    private readonly cfg: WatchdogConfig,
    private readonly driver: DeviceDriver,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** asked right before every write: may this node write now (state and lease)? */
    private readonly mayWrite: () => boolean = () => true,
  ) {
    this.state = initialCore(clock.now());
  }

  /** acting: this node is active (writes the counter); epoch: this node's epoch. */
  setRole(acting: boolean, epoch: number): void {
    this.acting = acting;
    this.epoch = epoch;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.busy;
  }

  view(): WatchdogView {
    return view(this.state, this.epoch, this.cfg.staleAfterMs, this.clock.now(), this.cfg.fence);
  }

  /** Reads the fence now (before a write leaves the node); throws when it cannot. */
  async readFence(): Promise<number> {
    const e = await this.driver.readWatchdogWord(this.cfg.epoch, 2);
    this.state = { ...this.state, plcEpoch: e };
    return e;
  }

  /**
   * The first write of a new epoch: the fence takes this node's epoch before
   * any write of it leaves, so an older active that reads the fence before
   * its next write stops (the cycle would raise it only at its next turn).
   */
  async raiseFence(): Promise<void> {
    if (!this.acting || !this.mayWrite()) throw new Error("this node may not write now");
    const epoch = this.epoch;
    await this.driver.writeWatchdogWord(this.cfg.epoch, 2, epoch);
    this.state = { ...this.state, plcEpoch: epoch };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.busy = this.cycle().finally(() => {
        this.busy = null;
        this.schedule(this.cfg.intervalMs);
      });
    }, ms);
  }

  private async cycle(): Promise<void> {
    try {
      const counter = await this.driver.readWatchdogWord(this.cfg.counter, 1);
      const plcEpoch = await this.driver.readWatchdogWord(this.cfg.epoch, 2);
      this.state = observe(this.state, counter, plcEpoch, this.clock.now());
      if (!this.acting) return;
      if (this.cfg.fence && plcEpoch > this.epoch) {
        this.log.error({ plcEpoch, epoch: this.epoch }, "PLC fence holds a higher epoch: this node must not drive the plant");
        return;
      }
      const w = nextWrite(this.state, this.epoch);
      // the reads took time (or the process was frozen): check the lease now, never after
      if (!this.acting || !this.mayWrite()) return;
      if (w.epoch !== null && w.epoch !== plcEpoch) await this.driver.writeWatchdogWord(this.cfg.epoch, 2, w.epoch);
      await this.driver.writeWatchdogWord(this.cfg.counter, 1, w.counter);
      this.state = observe(this.state, w.counter, w.epoch ?? plcEpoch, this.clock.now());
    } catch (e) {
      this.state = failed(this.state, (e as Error).message);
    }
  }
}
