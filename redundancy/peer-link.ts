// The I/O side of talking to the peer: one UDP socket per heartbeat link and
// an authenticated TCP peer connection (which later carries replication).
// Every datagram and frame is an HMAC-authenticated envelope (wire.ts) and
// passes the replay guard; anything else is dropped and counted, never acted on.
//
// The TCP connection is also kernel evidence: when the peer's process dies
// its kernel closes the sockets (FIN/RST) and refuses new connections, which
// a partition never does. The role machine combines that with heartbeat
// silence on every link (the dead-process path).
import { COUNT_CHANNELS, counterFor } from "../core/diagnostics.js";
import type { Logger } from "../core/logger.js";
import { NODE_STATES, type HostPort } from "../core/types.js";
import { FrameDecoder, FrameError, frame, frameHeader } from "./frame-decoder.js";
import { AUTHED_MAX_FRAME, PreAuthGate, type PreAuthLimits, type Ticket } from "./peer-gate.js";
import { tlsNetwork, type PeerTlsOptions } from "./peer-tls.js";
import { systemClock, systemNetwork, type Clock, type Network, type StreamConn, type StreamServer, type UdpSender, type UdpSocket } from "./net.js";
import { ReplayGuard } from "./replay-guard.js";
import type { Heartbeat, NodeState, PeerMessage } from "./role-types.js";
import { open, Sender, type Envelope } from "./wire.js";

/** One heartbeat link: the local address to bind and the peer's address on that network. */
export interface LinkConfig {
  name: string;
  bind: HostPort;
  peer: HostPort;
}

export interface PeerLinkOptions {
  pairId: string;
  nodeId: string;
  peerId: string;
  key: Buffer;
  incarnation: number;
  links: LinkConfig[];
  listen: HostPort;
  peerAddress: HostPort;
  replayWindow: number;
  /** reconnect cadence of the outbound peer connection */
  reconnectMs: number;
  log: Logger;
  /** the real network and clock unless a simulation supplies its own */
  network?: Network;
  clock?: Clock;
  /** what the peer port allows a connection before it authenticated (peer-gate.ts); defaults when absent */
  preAuth?: Partial<PreAuthLimits>;
  /** mutual TLS on the peer connection (peer-tls.ts), under the HMAC; plain TCP when absent */
  tls?: PeerTlsOptions;
}

export interface PeerLinkHandlers {
  /** a heartbeat from the peer's incarnation `inc`, its message number `seq` */
  heartbeat(link: string, seq: number, inc: number, hb: Heartbeat): void;
  /**
   * A grant answering our own request `reqSeq`, sent at `sentAt` (our clock)
   * on `link`: only a grant naming this process's incarnation and a request
   * it sent on that link gets here.
   */
  grant(link: string, sentAt: number, leaseMs: number, epoch: number): void;
  message(msg: PeerMessage, via: string): void;
  tcp(status: "up" | "down" | "refused"): void;
  /** a datagram to the peer on `link` came back ICMP "port unreachable": nothing listens on its heartbeat port */
  linkRefused(link: string): void;
  /** a message for the node's own parts (topic, body), authenticated; the receiver checks the body */
  app?(topic: string, data: Record<string, unknown>): void;
}

const publishCount = counterFor(COUNT_CHANNELS.peerLink);
const TCP_REPLAY_WINDOW = 1 << 16;
const STATES: ReadonlySet<string> = new Set(NODE_STATES);
const PEER_TYPES = new Set(["switchover-offer", "switchover-accept", "switchover-refuse", "handover", "switchover-request", "lease-refuse", "bye"]);

const isInt = (x: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): x is number => Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max;
const isStr = (x: unknown, max = 500): x is string => typeof x === "string" && x.length <= max;

export function parseHeartbeat(b: Record<string, unknown>): Heartbeat | string {
  if (!isStr(b.state) || !STATES.has(b.state)) return "state";
  if (!isInt(b.epoch)) return "epoch";
  if (!isInt(b.level, 0, 255)) return "level";
  if (b.role !== "main" && b.role !== "secondary") return "role";
  if (typeof b.leaseReq !== "boolean" || typeof b.candidate !== "boolean") return "flags";
  if (!isInt(b.leaseMs, 0, 600_000)) return "leaseMs";
  if (b.settled !== undefined && typeof b.settled !== "boolean") return "settled";
  return { state: b.state as NodeState, epoch: b.epoch, level: b.level, role: b.role, leaseReq: b.leaseReq, candidate: b.candidate, leaseMs: b.leaseMs, settled: b.settled ?? true };
}

export function parsePeerMessage(type: string, b: Record<string, unknown>): PeerMessage | string {
  if (!PEER_TYPES.has(type)) return "type";
  if (!isInt(b.epoch)) return "epoch";
  switch (type) {
    case "switchover-offer":
    case "switchover-refuse":
    case "lease-refuse":
      return isStr(b.reason) ? ({ type, epoch: b.epoch, reason: b.reason } as PeerMessage) : "reason";
    case "switchover-accept":
      return { type, epoch: b.epoch };
    case "handover":
      return isInt(b.leaseMs, 1, 600_000) && isInt(b.contextSeq) ? { type, epoch: b.epoch, leaseMs: b.leaseMs, contextSeq: b.contextSeq } : "handover fields";
    case "switchover-request":
      return isStr(b.by, 64) ? { type, epoch: b.epoch, by: b.by } : "by";
    case "bye":
      return isStr(b.state) && STATES.has(b.state) ? { type, epoch: b.epoch, state: b.state as NodeState } : "state";
  }
  return "type";
}

interface Conn {
  socket: StreamConn;
  decoder: FrameDecoder;
  authed: boolean;
  outbound: boolean;
  /** "host:port" of the other end, for the log */
  remote: string;
  /** an inbound connection's place at the pre-auth gate, until it authenticated */
  ticket: Ticket | null;
}

const showAddress = (host: string | undefined, port: number | undefined): string =>
  host === undefined ? "an unknown address" : `${host.includes(":") ? `[${host}]` : host}${port === undefined ? "" : `:${port}`}`;

export class PeerLink {
  private readonly sender: Sender;
  private readonly guard: ReplayGuard;
  /**
   * The peer connection's own window: TCP keeps each connection in order, but
   * two connections (ours and the peer's) share one sequence space, and
   * replication sends bursts of frames on one while a frame is in flight on
   * the other; a heartbeat-sized window would call that frame a replay.
   */
  private readonly tcpGuard = new ReplayGuard(TCP_REPLAY_WINDOW);
  private readonly net: Network;
  private readonly clock: Clock;
  /** per link: the socket heartbeats arrive on (bound to the link's address) */
  private readonly udp = new Map<string, UdpSocket>();
  /**
   * per link: the socket we send on, connected to the peer's heartbeat
   * address. A connected UDP socket is told when its datagram came back ICMP
   * "port unreachable" (ECONNREFUSED): the kernel's word that no process
   * listens there any more, within one round trip.
   */
  private readonly out = new Map<string, UdpSender>();
  private server: StreamServer | null = null;
  private readonly conns = new Set<Conn>();
  private outbound: Conn | null = null;
  private reconnectTimer: unknown = null;
  private tcpUp = false;
  private stopped = false;
  private readonly counts: Record<string, number> = {};
  private lastWarn = -Infinity;
  /** seq → when and on which link we sent a lease request, for the grant that answers it */
  private readonly sentAt = new Map<number, { at: number; link: string }>();
  private readonly gate: PreAuthGate;

  constructor(
    private readonly opts: PeerLinkOptions,
    private readonly on: PeerLinkHandlers,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.gate = new PreAuthGate(opts.preAuth, this.clock, opts.log, (name) => this.count(name), opts.peerAddress.host);
    const net = opts.network ?? systemNetwork;
    this.net = opts.tls ? tlsNetwork(net, opts.tls, (remote, why, outbound) => this.gate.dropped("tls_refused", remote, why, outbound)) : net;
    this.sender = new Sender({ pair: opts.pairId, from: opts.nodeId, inc: opts.incarnation, key: opts.key });
    this.guard = new ReplayGuard(opts.replayWindow);
  }

  async start(): Promise<void> {
    for (const link of this.opts.links) {
      const name = link.name;
      const sock = await this.net.bindUdp(link.bind, (buf) => this.onDatagram(name, buf), (msg) => this.warn(`link ${name}: ${msg}`, "udp_errors"));
      this.udp.set(name, sock);
      const refused = () => {
        this.count(`refused_${name}`);
        if (!this.stopped) this.on.linkRefused(name);
      };
      this.out.set(name, await this.net.connectUdp(link.bind.host, link.peer, refused, (msg) => this.warn(`link ${name} (sending): ${msg}`, "udp_errors")));
    }
    this.server = await this.net.listenTcp(this.opts.listen, (s) => this.adopt(s, false), (msg) => this.warn(`peer listener: ${msg}`, "tcp_errors"));
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer !== null) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    // stop accepting first: the peer reconnects every interval, and a
    // connection accepted after the sweep below would stay open
    const server = this.server;
    this.server = null;
    const closed = server ? server.close() : Promise.resolve();
    for (const c of this.conns) {
      c.ticket?.closed();
      c.socket.destroy();
    }
    this.conns.clear();
    this.outbound = null;
    await Promise.all([...this.udp.values(), ...this.out.values()].map((s) => s.close()));
    this.udp.clear();
    this.out.clear();
    await closed;
  }

  counters(): Record<string, number> {
    return { ...this.counts };
  }

  // ---------------------------------------------------------------- sending

  /** A heartbeat on every link; returns nothing: grants come back through the handler. */
  sendHeartbeat(hb: Heartbeat): void {
    const now = this.clock.now();
    for (const link of this.opts.links) {
      const { bytes, seq } = this.sender.seal(link.name, "hb", hb);
      if (hb.leaseReq) this.sentAt.set(seq, { at: now, link: link.name });
      this.sendUdp(link, bytes);
    }
    // keep the map small: a grant older than a few seconds is useless anyway
    if (this.sentAt.size > 4096) for (const k of [...this.sentAt.keys()].slice(0, 2048)) this.sentAt.delete(k);
  }

  /** A lease grant answering the peer's request (reqInc, reqSeq), back on the link it came by. */
  sendGrant(linkName: string, reqSeq: number, reqInc: number, leaseMs: number, epoch: number): void {
    const link = this.opts.links.find((l) => l.name === linkName);
    if (!link) return;
    this.sendUdp(link, this.sender.seal(link.name, "grant", { reqSeq, reqInc, leaseMs, epoch }).bytes);
  }

  /** A small message on every link (lease refusals, bye) */
  sendDatagram(msg: PeerMessage): void {
    for (const link of this.opts.links) this.sendUdp(link, this.sender.seal(link.name, msg.type, msg).bytes);
  }

  /**
   * A message over the peer connection; returns the seq and send time (a
   * switchover accept's send time starts the lease the handover grants).
   * false when no authenticated connection is up.
   */
  sendTcp(msg: PeerMessage): { seq: number; sentAt: number } | false {
    const conn = this.outbound?.authed ? this.outbound : [...this.conns].find((c) => c.authed);
    if (!conn) return false;
    const sentAt = this.clock.now();
    const { bytes, seq } = this.sender.seal("tcp", msg.type, msg);
    conn.socket.write(frame(bytes));
    return { seq, sentAt };
  }

  /** A message for the peer's own parts (services) over the peer connection; false when none is up. */
  sendApp(topic: string, data: Record<string, unknown>): boolean {
    const conn = this.outbound?.authed ? this.outbound : [...this.conns].find((c) => c.authed);
    if (!conn) return false;
    const bytes = this.sender.seal("tcp", "app", { topic, data }).bytes;
    if (bytes.length > AUTHED_MAX_FRAME) {
      // the peer would close the connection over it: a bug in the sender's limits, said and not sent
      this.warn(`peer connection: an app message on '${topic}' of ${bytes.length} bytes is over the ${AUTHED_MAX_FRAME}-byte frame limit; not sent`, "app_too_large");
      return false;
    }
    writeFrame(conn.socket, bytes);
    return true;
  }

  private sendUdp(link: LinkConfig, bytes: Buffer): void {
    this.out.get(link.name)?.send(bytes);
  }

  // -------------------------------------------------------------- receiving

  private accept(buf: Buffer, ch: string): Envelope | null {
    // a frame may be as large as the frame decoder lets through (replication batches); a datagram keeps wire.ts's limit
    const r = open(buf, (pair) => (pair === this.opts.pairId ? this.opts.key : undefined), ch === "tcp" ? { maxBytes: AUTHED_MAX_FRAME } : undefined);
    if (!r.ok) return this.drop(`rejected_${r.reason.replace(/-/g, "_")}`, `${ch}: ${r.reason}: ${r.detail}`);
    const env = r.env;
    if (env.from !== this.opts.peerId) return this.drop("rejected_wrong_sender", `${ch}: message from '${env.from}', expected '${this.opts.peerId}'`);
    if (env.ch !== ch) return this.drop("rejected_wrong_channel", `${ch}: message meant for channel '${env.ch}'`);
    const verdict = (ch === "tcp" ? this.tcpGuard : this.guard).check(env.from, env.ch, env.inc, env.seq);
    if (verdict !== "ok") return this.drop(`rejected_${verdict.replace(/-/g, "_")}`, `${ch}: ${verdict} (inc ${env.inc} seq ${env.seq})`);
    return env;
  }

  private onDatagram(link: string, buf: Buffer): void {
    try {
      const env = this.accept(buf, link);
      if (!env) return;
      this.count(`received_${link}`);
      if (env.type === "hb") {
        const hb = parseHeartbeat(env.body);
        if (typeof hb === "string") return void this.drop("rejected_bad_body", `${link}: heartbeat with a bad ${hb}`);
        this.on.heartbeat(link, env.seq, env.inc, hb);
      } else if (env.type === "grant") {
        const b = env.body;
        if (!isInt(b.reqSeq, 1) || !isInt(b.reqInc, 1) || !isInt(b.leaseMs, 1, 600_000) || !isInt(b.epoch)) return void this.drop("rejected_bad_body", `${link}: malformed grant`);
        // a grant answers exactly one request of this process: an older
        // incarnation's request with the same number, or one sent on another
        // link, is not ours to count a lease from
        if (b.reqInc !== this.opts.incarnation) return void this.drop("rejected_grant_not_ours", `${link}: grant for incarnation ${b.reqInc}, this process is ${this.opts.incarnation}`);
        const req = this.sentAt.get(b.reqSeq);
        if (!req || req.link !== link) return void this.drop("rejected_grant_not_ours", `${link}: grant for request ${b.reqSeq}, which this process did not send on ${link}`);
        this.on.grant(link, req.at, b.leaseMs, b.epoch);
      } else {
        const msg = parsePeerMessage(env.type, env.body);
        if (typeof msg === "string") return void this.drop("rejected_bad_body", `${link}: ${env.type}: bad ${msg}`);
        this.on.message(msg, link);
      }
    } catch (err) {
      // a handler bug must not take the socket down with it
      this.warn(`link ${link}: ${(err as Error).stack ?? err}`, "handler_errors");
    }
  }

  private adopt(socket: StreamConn, outbound: boolean): Conn {
    if (this.stopped) socket.destroy();
    const remote = outbound ? showAddress(this.opts.peerAddress.host, this.opts.peerAddress.port) : showAddress(socket.remoteAddress, socket.remotePort);
    // until its first frame authenticates, a connection may send only a hello-sized frame
    const conn: Conn = { socket, decoder: new FrameDecoder(this.gate.limits.maxFrame), authed: false, outbound, remote, ticket: null };
    if (!outbound && !this.stopped) {
      // anyone can connect to the peer port: a bounded number, for a bounded time
      conn.ticket = this.gate.admit(socket.remoteAddress ?? "?", remote, () => socket.destroy());
      if (!conn.ticket) {
        socket.onError(() => {});
        socket.destroy();
        return conn;
      }
    }
    this.conns.add(conn);
    socket.onData((chunk) => this.onData(conn, chunk));
    socket.onError((code) => {
      this.count(`tcp_${code.toLowerCase()}`);
      // nothing listens there: the peer's process is not running on a live host
      if (outbound && code === "ECONNREFUSED" && !this.stopped) this.on.tcp("refused");
    });
    socket.onClose(() => this.onClose(conn));
    // an outbound connection proves itself with a hello the peer authenticates
    if (outbound) socket.write(frame(this.sender.seal("tcp", "hello", {}).bytes));
    return conn;
  }

  /** The next frame of `conn`, or null (none yet, or the stream is broken and the connection closed). */
  private nextFrame(conn: Conn): Buffer | null {
    try {
      return conn.decoder.next();
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.drop("rejected_bad_frame", `peer connection from ${conn.remote}: ${err.message}`);
      if (!conn.authed) this.gate.dropped("preauth_frame_too_large", conn.remote, err.message);
      conn.socket.destroy();
      return null;
    }
  }

  private onData(conn: Conn, chunk: Buffer): void {
    if (!this.conns.has(conn)) return; // closed already (refused at accept, or broken)
    try {
      conn.decoder.feed(chunk);
    } catch (err) {
      if (err instanceof FrameError) return; // broken and closed: bytes still in flight
      throw err;
    }
    // one frame at a time: the first one's authentication decides the limit for the next
    for (let f = this.nextFrame(conn); f; f = this.nextFrame(conn)) {
      const env = this.accept(f, "tcp");
      if (!env) {
        if (conn.authed) continue;
        // an unauthenticated connection gets nothing and is closed
        this.gate.dropped("preauth_not_authenticated", conn.remote);
        conn.socket.destroy();
        return;
      }
      if (!conn.authed) {
        conn.authed = true;
        conn.ticket?.authenticated();
        conn.ticket = null;
        conn.decoder.maxFrame = AUTHED_MAX_FRAME;
        if (!conn.outbound) conn.socket.write(frame(this.sender.seal("tcp", "hello", {}).bytes));
        this.setTcp(true);
      }
      if (env.type === "hello") continue;
      if (env.type === "app") {
        const { topic, data } = env.body;
        if (typeof topic !== "string" || topic.length > 64 || typeof data !== "object" || data === null || Array.isArray(data)) {
          this.drop("rejected_bad_body", "peer connection: app: bad topic or data");
          continue;
        }
        try {
          this.on.app?.(topic, data as Record<string, unknown>);
        } catch (err) {
          this.warn(`peer connection: ${(err as Error).stack ?? err}`, "handler_errors");
        }
        continue;
      }
      const msg = parsePeerMessage(env.type, env.body);
      if (typeof msg === "string") {
        this.drop("rejected_bad_body", `peer connection: ${env.type}: bad ${msg}`);
        continue;
      }
      try {
        this.on.message(msg, "tcp");
      } catch (err) {
        this.warn(`peer connection: ${(err as Error).stack ?? err}`, "handler_errors");
      }
    }
  }

  private onClose(conn: Conn): void {
    conn.ticket?.closed();
    this.conns.delete(conn);
    if (conn === this.outbound) {
      this.outbound = null;
      this.scheduleReconnect();
    }
    if (this.stopped) return;
    if (![...this.conns].some((c) => c.authed)) this.setTcp(false);
  }

  private setTcp(up: boolean): void {
    if (up === this.tcpUp) return;
    this.tcpUp = up;
    this.opts.log.info({ peer: this.opts.peerId }, up ? "peer connection up" : "peer connection lost");
    this.on.tcp(up ? "up" : "down");
  }

  private connect(): void {
    if (this.stopped || this.outbound) return;
    this.outbound = this.adopt(this.net.connectTcp(this.opts.peerAddress), true);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer !== null) return;
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, this.opts.reconnectMs);
  }

  // ---------------------------------------------------------------- counting

  private drop(counter: string, why: string): null {
    this.count(counter);
    this.count("rejected_total");
    const now = this.clock.now();
    if (now - this.lastWarn > 5000) {
      this.lastWarn = now;
      this.opts.log.warn({ counter }, `dropped a peer message: ${why} (further drops counted, logged at most every 5 s)`);
    } else this.opts.log.debug({ counter }, `dropped a peer message: ${why}`);
    return null;
  }

  private warn(msg: string, counter: string): void {
    this.count(counter);
    this.opts.log.warn(msg);
  }

  private count(name: string): void {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    publishCount(name, { pair: this.opts.pairId, node: this.opts.nodeId });
  }
}

/** payloads above this go out after their length prefix as they are (a catch-up chunk: no copy of half a megabyte) */
const COPY_FRAME_BELOW = 64 * 1024;

function writeFrame(socket: { write(b: Buffer): void }, payload: Buffer): void {
  if (payload.length < COPY_FRAME_BELOW) return socket.write(frame(payload));
  socket.write(frameHeader(payload.length));
  socket.write(payload);
}
