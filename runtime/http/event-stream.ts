// GET /api/v1/events: the node's live feed as server-sent events, for the
// HMI and for scripts (CONTRACT.md). One hub per server: it follows the
// node once and writes to every open stream —
//   status   the node's status: at once, when the state changes, and every
//            second (the lease, the peer's age and the lag move between changes)
//   tag      a tag's snapshot when its value or quality changes
//   event    an event or alarm the node records
//   audit    an audit entry the node writes
//   services the services' view (GET /api/v1/services) when an instance
//            changes, and every 5 s for the figures (nodes with services)
//   site     the site view (GET /api/v1/site) as it changes and every 2 s
// Each message has an id (per stream) and JSON data. A stream that falls
// behind (its client reads slower than the node writes) is closed: the
// browser's EventSource reconnects and starts from a fresh status, and the
// page says it lost the feed. Streams are bounded in number; a node that
// stops ends them all.
import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { TandemError } from "../../core/errors.js";
import type { NodeController, StreamEvent } from "../node-api.js";
import { securityHeaders } from "./raw-replies.js";

export interface EventStreamOptions {
  /** open streams at most (each an HMI page or a script) */
  maxStreams: number;
  /** a stream with more than this many bytes not yet taken by its client is closed */
  maxBufferedBytes: number;
  statusEveryMs: number;
  /** a comment line this often keeps proxies and idle timers from closing a quiet stream */
  keepAliveMs: number;
  tls: boolean;
}

export const DEFAULT_EVENT_STREAM: Omit<EventStreamOptions, "tls"> = { maxStreams: 64, maxBufferedBytes: 1024 * 1024, statusEveryMs: 1000, keepAliveMs: 15_000 };

export interface EventStreamCounters {
  streams: number;
  opened: number;
  closedSlow: number;
  refusedFull: number;
}

interface Stream {
  res: ServerResponse;
  id: number;
}

export class EventStreamHub {
  private readonly streams = new Set<Stream>();
  private unfollow: (() => void) | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  readonly counters: EventStreamCounters = { streams: 0, opened: 0, closedSlow: 0, refusedFull: 0 };

  constructor(
    private readonly controller: NodeController,
    private readonly o: EventStreamOptions,
  ) {}

  register(app: FastifyInstance, api: string): void {
    app.get(`${api}/events`, { config: { role: "viewer", action: "follow the event stream" } }, (req, reply) => {
      if (this.streams.size >= this.o.maxStreams) {
        this.counters.refusedFull++;
        throw new TandemError("TANDEM_ERR_UNAVAILABLE", [`${this.o.maxStreams} event streams are open on this node already; close one (another HMI page) or poll GET ${api}/status`]);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        connection: "keep-alive",
        // a reverse proxy must pass each message on as it comes
        "x-accel-buffering": "no",
        ...Object.fromEntries(securityHeaders(this.o.tls)),
      });
      // the browser waits this long before it reconnects a lost stream
      res.write("retry: 1000\n\n");
      const s: Stream = { res, id: 0 };
      this.add(s);
      req.raw.on("close", () => this.remove(s));
      res.on("error", () => this.remove(s));
      this.send(s, "status", this.controller.status());
    });
    // open streams would keep the server from closing: they end first
    app.addHook("preClose", async () => this.closeAll());
  }

  private add(s: Stream): void {
    this.streams.add(s);
    this.counters.opened++;
    this.counters.streams = this.streams.size;
    if (this.unfollow) return;
    this.unfollow = this.controller.follow((e) => this.broadcast(e));
    this.statusTimer = setInterval(() => this.broadcastStatus(), this.o.statusEveryMs);
    this.keepAliveTimer = setInterval(() => {
      for (const x of this.streams) this.write(x, ": keep-alive\n\n");
    }, this.o.keepAliveMs);
  }

  private remove(s: Stream): void {
    if (!this.streams.delete(s)) return;
    this.counters.streams = this.streams.size;
    if (!s.res.writableEnded) s.res.end();
    if (this.streams.size > 0) return;
    // nobody listens: the node is not followed
    this.unfollow?.();
    this.unfollow = null;
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.statusTimer = this.keepAliveTimer = null;
  }

  /** the server stops: every stream's connection is closed (an ended one would linger as an idle keep-alive) */
  closeAll(): void {
    for (const s of [...this.streams]) {
      this.remove(s);
      s.res.destroy();
    }
  }

  private broadcast(e: StreamEvent): void {
    if (e.type === "state") return this.broadcastStatus();
    const data = JSON.stringify(e.data);
    for (const s of this.streams) this.send(s, e.type, data);
  }

  private broadcastStatus(): void {
    if (this.streams.size === 0) return;
    const data = JSON.stringify(this.controller.status());
    for (const s of this.streams) this.send(s, "status", data);
  }

  private send(s: Stream, type: string, data: unknown): void {
    this.write(s, `id: ${++s.id}\nevent: ${type}\ndata: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
  }

  private write(s: Stream, text: string): void {
    if (s.res.writableEnded || s.res.destroyed) return this.remove(s);
    if (s.res.writableLength > this.o.maxBufferedBytes) {
      // the client does not keep up: it reconnects and starts from a fresh status
      this.counters.closedSlow++;
      s.res.destroy();
      return this.remove(s);
    }
    s.res.write(text);
  }
}
