// What the driver manager sees of a protocol driver (one instance per device).
import { TandemError } from "../core/errors.js";
import type { DriverKind, TagSample } from "./tag-model.js";

/**
 * What this node asks of a device's connection:
 *  read    connected and reading (active, or standby `hot`)
 *  connect connected, not reading (standby `warm`): takes over in one connect-free step
 *  off     not connected (standby `cold`, or stopped)
 */
export type DriverMode = "read" | "connect" | "off";

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface EndpointStatus {
  endpoint: string;
  connected: boolean;
  /** OPC UA non-transparent redundancy: the server's ServiceLevel, when read */
  serviceLevel?: number;
}

export interface DeviceStatus {
  device: string;
  driver: DriverKind;
  mode: DriverMode;
  connected: boolean;
  /** the endpoint (path) in use, or null */
  path: string | null;
  endpoints: EndpointStatus[];
  /** connections this node holds to the device right now */
  connections: number;
  requests: number;
  errors: number;
  reconnects: number;
  lastError: string | null;
  /** a first connect round has ended in something definite: connected and answering, or failed with a reason */
  attempted: boolean;
}

export type SampleSink = (tag: string, sample: TagSample) => void;
/**
 * The device confirmed, at `at`, that these samples (the last it sent for each
 * tag) still hold: no change, only fresher. Cheaper than a SampleSink call per
 * tag for a driver that hears "nothing changed" for thousands of tags at once
 * (an OPC UA publish response).
 */
export type ConfirmSink = (samples: ReadonlyMap<string, TagSample>, at: number) => void;

/** process: a service or script; operator: a person (allowed while active-held). */
export type WriteKind = "process" | "operator";

export interface WriteGate {
  /**
   * Throws TandemError when this node may not write now: not acting, lease
   * not valid, or (needMs > 0) a lease that may run out before a request
   * taking needMs has left. Drivers ask it at the moment a write request is
   * sent (after the request slot is theirs, after any lookup), with the
   * request's timeout as needMs.
   */
  check(kind: WriteKind, needMs?: number): void;
  /**
   * The longest request timeout a freshly renewed lease leaves room for
   * (lease, less its safety margin and one renewal interval). When given, a
   * device whose write timeout does not fit is a config error: every write
   * to it would be refused.
   */
  readonly leaseBudgetMs?: number;
}

/** What a driver built without a gate uses: no write ever leaves it. */
export const closedGate: WriteGate = {
  check(kind) {
    throw new TandemError("TANDEM_ERR_NOT_ACTIVE", [`${kind} write`, "the driver has no write gate"]);
  },
};

export interface DeviceDriver {
  readonly device: string;
  readonly kind: DriverKind;
  /** Starts in mode `off`; setMode connects. */
  setMode(mode: DriverMode): void;
  /**
   * Writes an engineering value as it came from the API (JSON): the driver
   * converts it (drivers/tag-value.ts), asks the gate right before the request
   * leaves, and sends it. Resolves with the value the PLC now holds, as JSON
   * in engineering units (after float32 rounding, integer conversion and
   * scaling: tag-value.ts writtenValue). Throws TandemError.
   */
  write(tag: string, value: unknown, kind: WriteKind): Promise<unknown>;
  status(): DeviceStatus;
  stop(): Promise<void>;
  /** The built-in type name (OPC UA: Double, UInt16 …) the device gave a tag's value, once it did; Modbus types come from the config */
  sourceType?(tag: string): string | undefined;
  /** Raw integer read/write for the PLC watchdog and fence (holding register address or node id); writes pass the gate as operator writes. */
  readWatchdogWord(where: string, words: 1 | 2): Promise<number>;
  writeWatchdogWord(where: string, words: 1 | 2, value: number): Promise<void>;
}

/**
 * Reconnection after every path failed: one pending retry at a time, the
 * delay doubling from initialMs to maxMs, back to initialMs once connected.
 */
export class Reconnect {
  private timer: unknown = null;
  private delayMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly cfg: { initialMs: number; maxMs: number },
    private readonly retry: () => void,
  ) {
    this.delayMs = cfg.initialMs;
  }

  get pending(): boolean {
    return this.timer !== null;
  }

  schedule(): void {
    if (this.timer !== null) return;
    const wait = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.cfg.maxMs);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.retry();
    }, wait);
  }

  /** connected: the next outage starts again from initialMs */
  reset(): void {
    this.delayMs = this.cfg.initialMs;
  }

  cancel(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
