// What the peer port allows a connection before it has authenticated (S4, S5).
//
// Anyone on the plant network can open a TCP connection to the peer port.
// Until its first frame passes the pair's HMAC (wire.ts) a connection:
//   - must authenticate within `timeoutMs` (2 s): the real peer sends its
//     hello the moment it connects, so it needs one round trip;
//   - may send a first frame of at most `maxFrame` bytes: the hello, whose
//     largest legitimate form (64-character pair and node ids, every number
//     at its largest) is 360 bytes; a longer length prefix closes the
//     connection as soon as its 4 bytes arrive, before any payload is kept;
//   - counts against `maxConns` unauthenticated connections at once, and
//     `maxPerAddress` from one remote address: extra ones are closed at
//     accept. The real peer connects from its own address, so one host
//     filling its share cannot keep it out; and the peer's configured
//     address keeps its share even when others filled `maxConns`.
// Every closed connection is counted by reason (conn_dropped_<reason> on the
// peer link's counters → tandem_peer_connections_dropped_total) and logged
// with the remote address, at most one line per reason every 5 s.
import type { Logger } from "../core/logger.js";
import type { Clock } from "./net.js";
import { RateLimitedLog } from "./witness-server.js";

export interface PreAuthLimits {
  /** an inbound connection with no authenticated frame after this long is closed */
  timeoutMs: number;
  /** the longest first frame (payload bytes) read before the connection authenticated */
  maxFrame: number;
  /** unauthenticated inbound connections held at once; more are closed at accept */
  maxConns: number;
  /** unauthenticated inbound connections held at once from one remote address */
  maxPerAddress: number;
}

/** The hello a node sends first on every peer connection is at most this long (measured: test/unit/peer-gate.test.ts). */
export const LARGEST_HELLO_BYTES = 360;

export const PREAUTH_DEFAULTS: Readonly<PreAuthLimits> = {
  timeoutMs: 2000,
  maxFrame: 384,
  maxConns: 64,
  maxPerAddress: 4,
};

/** frames of an authenticated peer connection (replication will use the room) */
export const AUTHED_MAX_FRAME = 1 << 20;

export type DropReason =
  /** no authenticated frame within timeoutMs */
  | "preauth_timeout"
  /** first frame longer than maxFrame, or a zero length */
  | "preauth_frame_too_large"
  /** first frame did not authenticate (bad MAC, wrong pair, not an envelope …) */
  | "preauth_not_authenticated"
  /** maxConns unauthenticated connections were already open */
  | "preauth_too_many"
  /** maxPerAddress unauthenticated connections from this address were already open */
  | "preauth_too_many_from_address"
  /** the TLS handshake failed: no certificate, one not from the site CA, or the wrong name */
  | "tls_refused";

const WHY: Record<DropReason, (l: PreAuthLimits) => string> = {
  preauth_timeout: (l) => `no authenticated frame within ${l.timeoutMs} ms`,
  preauth_frame_too_large: (l) => `its first frame announced more than the ${l.maxFrame} bytes allowed before authentication`,
  preauth_not_authenticated: () => "its first frame did not authenticate with the pair key",
  preauth_too_many: (l) => `${l.maxConns} unauthenticated peer connections were already open`,
  preauth_too_many_from_address: (l) => `${l.maxPerAddress} unauthenticated peer connections from that address were already open`,
  tls_refused: () => "TLS refused it",
};

const LOG_EVERY_MS = 5000;

/** A connection the gate admitted: tell it when the connection authenticated or closed. */
export interface Ticket {
  /** the first frame authenticated: the connection leaves the gate (no timer, no count) */
  authenticated(): void;
  /** the connection closed (for any reason); idempotent */
  closed(): void;
}

export class PreAuthGate {
  readonly limits: PreAuthLimits;
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly logs = new RateLimitedLog(LOG_EVERY_MS);

  constructor(
    limits: Partial<PreAuthLimits> | undefined,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** counts one dropped connection (the peer link's count helper) */
    private readonly count: (name: string) => void,
    /** the peer's configured address: its share is kept even when others filled maxConns */
    private readonly peerHost?: string,
  ) {
    this.limits = { ...PREAUTH_DEFAULTS, ...limits };
  }

  /** unauthenticated inbound connections open now */
  get pending(): number {
    return this.open;
  }

  /**
   * An inbound connection was accepted from `remote` ("host:port"; `host` is
   * what the per-address share is counted by). Returns null when it must be
   * closed now (counted and logged); otherwise a ticket whose timer closes
   * the connection with `close` unless it authenticates in time.
   */
  admit(host: string, remote: string, close: () => void): Ticket | null {
    host = host.startsWith("::ffff:") ? host.slice(7) : host; // an IPv4 peer on a dual-stack listener
    const fromHere = this.perAddress.get(host) ?? 0;
    if (this.open >= this.limits.maxConns && host !== this.peerHost) return this.refuse("preauth_too_many", remote);
    if (fromHere >= this.limits.maxPerAddress) return this.refuse("preauth_too_many_from_address", remote);
    this.open++;
    this.perAddress.set(host, fromHere + 1);
    let done = false;
    const release = () => {
      if (done) return false;
      done = true;
      this.clock.clearTimeout(timer);
      this.open--;
      const n = (this.perAddress.get(host) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(host);
      else this.perAddress.set(host, n);
      return true;
    };
    // When the timer fires, bytes may already wait in the socket (a node
    // that was stalled runs its timers before it reads): judge only after
    // what has arrived was handled, so a hello that came in time counts.
    const timer = this.clock.setTimeout(
      () =>
        this.clock.defer(() => {
          if (!release()) return;
          this.dropped("preauth_timeout", remote);
          close();
        }),
      this.limits.timeoutMs,
    );
    return { authenticated: () => void release(), closed: () => void release() };
  }

  /**
   * A connection closed before it authenticated, for `reason`; `detail` adds
   * the specific cause; `outbound` when this node had connected to `remote`.
   */
  dropped(reason: DropReason, remote: string, detail?: string, outbound = false): void {
    this.count(`conn_dropped_${reason}`);
    this.logs.run(reason, this.clock.now(), (suppressed) =>
      this.log.warn(
        { remote, reason },
        `closed a peer connection ${outbound ? `to ${remote} (this node connecting to the peer)` : `from ${remote}`} before it authenticated: ${WHY[reason](this.limits)}${detail ? `: ${detail}` : ""}` +
          (suppressed > 0 ? `; ${suppressed} more closed for this reason since the last line` : "") +
          ` (logged at most every ${LOG_EVERY_MS / 1000} s per reason; counted in tandem_peer_connections_dropped_total)`,
      ),
    );
  }

  private refuse(reason: DropReason, remote: string): null {
    this.dropped(reason, remote);
    return null;
  }
}
