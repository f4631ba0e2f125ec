// Limits on the HTTP server as a transport, before any request is routed:
// how many connections it holds (overall and per remote address) and how long
// a client may take to send its headers and its whole request. Slowloris
// connections were held 57 s (node's default headers timeout is 60 s, checked
// every 30 s), and 200 busy keep-alive clients from one host pushed every
// other client's answers to 5 s.
import type { Server } from "node:net";
import type { Socket } from "node:net";

export interface HttpLimits {
  /** connections held at once, from all addresses; more are closed at accept */
  maxConnections: number;
  /** connections held at once from one remote address; more are closed at accept */
  maxConnectionsPerAddress: number;
  /** a request's line and headers must arrive within this (TLS: the handshake too) */
  headersTimeoutMs: number;
  /** the whole request, body included, must arrive within this */
  requestTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 256,
  maxConnectionsPerAddress: 32,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/** Request line plus headers (node's default); more is answered 431. */
export const MAX_HEADER_BYTES = 16 * 1024;
/**
 * The longest path parameter the router accepts (a tag name: 200 characters
 * in config, see drivers/config-schema.ts); more is answered 414.
 */
export const MAX_PARAM_LENGTH = 256;

/**
 * Options for node's http.createServer / https.createServer. The timeouts are
 * checked every `connectionsCheckingInterval`: node's 30 s default would let
 * a 10 s headers timeout hold a connection for 40 s.
 */
export function nodeServerOptions(l: HttpLimits): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
  maxHeaderSize: number;
  /** TLS only: a client that opens a connection and never finishes the handshake */
  handshakeTimeout: number;
} {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(l.headersTimeoutMs / 4))),
    maxHeaderSize: MAX_HEADER_BYTES,
    handshakeTimeout: l.headersTimeoutMs,
  };
}

export type RefusedBecause = "per-address" | "overall";

/**
 * Counts connections per remote address on a listening server and closes,
 * at accept, those over the caps. A closed connection gets no answer: on TLS
 * there is no way to send one before the handshake, and a client flooding us
 * is not reading answers anyway.
 */
export class ConnectionGuard {
  private readonly perAddress = new Map<string, number>();
  refused = 0;

  constructor(
    private readonly limits: Pick<HttpLimits, "maxConnections" | "maxConnectionsPerAddress">,
    private readonly onRefuse: (because: RefusedBecause, address: string | undefined, count: number) => void,
  ) {}

  /** Called before listen(); the overall cap is node's own `maxConnections` (dropped before any JS runs). */
  attach(server: Server): void {
    server.maxConnections = this.limits.maxConnections;
    server.on("drop", (data?: { remoteAddress?: string }) => {
      this.refused++;
      this.onRefuse("overall", data?.remoteAddress, this.limits.maxConnections);
    });
    server.on("connection", (socket: Socket) => this.accept(socket));
  }

  /** connections now held from `address` */
  heldFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  private accept(socket: Socket): void {
    const addr = socket.remoteAddress;
    if (addr === undefined) return; // already gone
    const n = (this.perAddress.get(addr) ?? 0) + 1;
    if (n > this.limits.maxConnectionsPerAddress) {
      this.refused++;
      socket.destroy();
      this.onRefuse("per-address", addr, this.limits.maxConnectionsPerAddress);
      return;
    }
    this.perAddress.set(addr, n);
    socket.once("close", () => {
      const left = (this.perAddress.get(addr) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(addr);
      else this.perAddress.set(addr, left);
    });
  }
}

/**
 * Says when to log a refusal: the first, then at most one line per `everyMs`
 * with the number refused meanwhile, so a flood does not flood the log.
 */
export function refusalLogGate(everyMs = 10_000, now: () => number = Date.now): () => number | null {
  let last = -Infinity;
  let since = 0;
  return () => {
    since++;
    const t = now();
    if (t - last < everyMs) return null;
    last = t;
    const n = since;
    since = 0;
    return n;
  };
}
