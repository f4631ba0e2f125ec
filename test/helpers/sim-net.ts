// A deterministic discrete-event world for the simulated pair: one clock, one
// queue of timed items, processes that can be killed or paused, and an
// in-memory network that implements redundancy/net.ts for each process.
//
// What the network models, as a kernel and a wire would:
//  - datagrams take a link's latency (plus seeded jitter, so they reorder);
//    a cut link, a one-way cut or a node cut from the witness drops them
//    silently; a datagram to a port nobody listens on (the process is gone)
//    comes back "port unreachable" to a connected sender, and so does one
//    a REJECT rule refuses;
//  - stream connections keep order; while their path is cut, segments wait
//    and are delivered once it heals (retransmission); a process that dies
//    has its connections closed by its kernel (the peer sees the close); a
//    connect to a port nobody listens on is refused;
//  - a paused process (SIGSTOP) runs nothing: its timers and everything that
//    arrives for it wait until it resumes, then run in order.
import type { HostPort } from "../../core/types.js";
import type { Clock, Network, StreamConn, StreamServer, UdpSender, UdpSocket } from "../../redundancy/net.js";

/** one process: a node or the witness; a new one per start */
export interface Proc {
  readonly name: string;
  /** the host part of its addresses ("a", "b", "w") */
  readonly host: string;
  alive: boolean;
  pausedUntil: number | null;
  /** killed, but its heartbeat ports still take datagrams (never read, never refused) until then */
  portsOpenUntil?: number;
}

interface Item {
  at: number;
  seq: number;
  fn: () => void;
  proc: Proc | null;
  cancelled: boolean;
}

/** A binary heap on (at, seq): items due at the same time run in the order they were queued. */
class Queue {
  private h: Item[] = [];
  get size(): number {
    return this.h.length;
  }
  peek(): Item | undefined {
    return this.h[0];
  }
  push(q: Item): void {
    const h = this.h;
    h.push(q);
    let i = h.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (less(h[up]!, h[i]!)) break;
      [h[up], h[i]] = [h[i]!, h[up]!];
      i = up;
    }
  }
  pop(): Item | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
const less = (x: Item, y: Item): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq);

export interface PathRules {
  /** may a packet from host `from` to host `to` on `link` pass now? "reject": refused by a firewall rule */
  verdict(link: string, from: string, to: string): "pass" | "drop" | "reject";
  /** one-way latency on `link`, ms */
  latency(link: string): number;
}

const key = (a: HostPort) => `${a.host}:${a.port}`;
/** "a.lan" → host "a", link "lan" */
export function splitHost(h: string): { host: string; link: string } {
  const i = h.indexOf(".");
  return i < 0 ? { host: h, link: "any" } : { host: h.slice(0, i), link: h.slice(i + 1) };
}

interface UdpEnd {
  proc: Proc;
  onMessage: (b: Buffer, from: HostPort) => void;
}

interface Listener {
  proc: Proc;
  onConn: (c: StreamConn) => void;
}

export class SimWorld {
  now = 0;
  steps = 0;
  private readonly q = new Queue();
  private seq = 0;
  private nextPort = 40000;
  private readonly udp = new Map<string, UdpEnd>();
  private readonly listeners = new Map<string, Listener>();
  private readonly conns = new Set<SimConn>();
  /** called after every item that ran (the simulated pair checks its invariants here) */
  afterStep: (() => void) | null = null;

  constructor(readonly rules: PathRules) {}

  // ----------------------------------------------------------------- time

  schedule(at: number, fn: () => void, proc: Proc | null = null): Item {
    const item: Item = { at, seq: this.seq++, fn, proc, cancelled: false };
    this.q.push(item);
    return item;
  }

  /** runs the next item due by `end`; false when there is none */
  stepOnce(end: number): boolean {
    const top = this.q.peek();
    if (!top || top.at > end) return false;
    this.q.pop();
    this.now = Math.max(this.now, top.at);
    if (top.cancelled) return true;
    const p = top.proc;
    if (p && !p.alive) return true;
    if (p && p.pausedUntil !== null && p.pausedUntil > this.now) {
      // frozen: it runs when the process resumes, after what was queued before
      this.schedule(p.pausedUntil, top.fn, p);
      return true;
    }
    this.steps++;
    top.fn();
    this.afterStep?.();
    return true;
  }

  clockFor(proc: Proc): Clock {
    return {
      now: () => this.now,
      setTimeout: (fn, ms) => this.schedule(this.now + Math.max(0, ms), fn, proc),
      clearTimeout: (h) => void ((h as Item).cancelled = true),
      defer: (fn) => void this.schedule(this.now, fn, proc),
    };
  }

  // -------------------------------------------------------------- network

  networkFor(proc: Proc): Network {
    const world = this;
    const local = (host: string) => (host === "0.0.0.0" || host === "::" ? `${proc.host}.wit` : host);
    return {
      async bindUdp(addr, onMessage) {
        const a = { host: local(addr.host), port: addr.port === 0 ? world.nextPort++ : addr.port };
        if (world.udp.has(key(a)) && world.udp.get(key(a))!.proc.alive) throw new Error(`EADDRINUSE ${key(a)}`);
        world.udp.set(key(a), { proc, onMessage });
        return {
          address: a,
          send: (bytes, to) => world.sendDatagram(proc, a, to, bytes, null),
          close: async () => void (world.udp.get(key(a))?.proc === proc && world.udp.delete(key(a))),
        } satisfies UdpSocket;
      },
      async connectUdp(host, peer, onRefused) {
        const a = { host: local(host), port: world.nextPort++ };
        world.udp.set(key(a), { proc, onMessage: () => {} });
        return {
          send: (bytes) => world.sendDatagram(proc, a, peer, bytes, onRefused),
          close: async () => void world.udp.delete(key(a)),
        } satisfies UdpSender;
      },
      async listenTcp(addr, onConn) {
        if (world.listeners.has(key(addr)) && world.listeners.get(key(addr))!.proc.alive) throw new Error(`EADDRINUSE ${key(addr)}`);
        world.listeners.set(key(addr), { proc, onConn });
        return { close: async () => void (world.listeners.get(key(addr))?.proc === proc && world.listeners.delete(key(addr))) } satisfies StreamServer;
      },
      connectTcp(addr) {
        return world.connect(proc, addr);
      },
    };
  }

  /** what a datagram from `proc` at `from` to `to` sees on the way; `refused` when the sender is a connected socket */
  private sendDatagram(proc: Proc, from: HostPort, to: HostPort, bytes: Buffer, refused: (() => void) | null): void {
    if (!proc.alive) return;
    this.tap?.(proc, to, bytes);
    if (this.dropDatagram?.(proc, bytes)) return;
    const src = splitHost(from.host);
    const dst = splitHost(to.host);
    const verdict = this.rules.verdict(dst.link, src.host, dst.host);
    const lat = this.rules.latency(dst.link);
    if (verdict === "drop") return;
    const bounce = () => refused && this.schedule(this.now + 2 * lat, refused, proc);
    if (verdict === "reject") return void bounce();
    this.schedule(this.now + lat, () => {
      const end = this.udp.get(key(to));
      if (end && !end.proc.alive && (end.proc.portsOpenUntil ?? -1) > this.now) return; // its kernel has not closed that socket yet
      if (!end || !end.proc.alive) return void bounce(); // the host answers "port unreachable"
      if (end.proc.pausedUntil !== null && end.proc.pausedUntil > this.now) {
        this.schedule(end.proc.pausedUntil, () => end.onMessage(bytes, from), end.proc);
        return;
      }
      end.onMessage(bytes, from);
    });
  }

  /** sees every datagram and stream write a live process sends (the simulated pair checks epochs here) */
  tap: ((proc: Proc, to: HostPort, bytes: Buffer) => void) | null = null;
  /** drops the datagrams it returns true for (lost on the wire) */
  dropDatagram: ((proc: Proc, bytes: Buffer) => boolean) | null = null;
  /** drops (and breaks the connection of) stream writes it returns true for */
  dropStream: ((proc: Proc, bytes: Buffer) => boolean) | null = null;

  private connect(proc: Proc, addr: HostPort): StreamConn {
    const client = new SimConn(this, proc, splitHost(addr.host));
    this.conns.add(client);
    const attempt = () => {
      if (!proc.alive || client.closed) return;
      const v = this.rules.verdict("tcp", proc.host, client.remote.host);
      if (v === "drop") return void this.schedule(this.now + 50, attempt); // the SYN is retransmitted
      const l = this.listeners.get(key(addr));
      if (v === "reject" || !l || !l.proc.alive) {
        this.schedule(this.now + this.rules.latency("tcp"), () => client.fail("ECONNREFUSED"), proc);
        return;
      }
      const server = new SimConn(this, l.proc, { host: proc.host, link: "tcp" });
      this.conns.add(server);
      client.peer = server;
      server.peer = client;
      this.schedule(this.now, () => l.onConn(server), l.proc);
      client.established();
      server.established();
    };
    this.schedule(this.now + this.rules.latency("tcp"), attempt);
    return client;
  }

  /**
   * a process is gone: nothing of it runs again; its kernel closes its
   * connections, and its datagram sockets `portsAfterMs` later (the kernel
   * closes a process's files one by one, a connection may go first)
   */
  killProc(proc: Proc, portsAfterMs = 0): void {
    proc.alive = false;
    proc.pausedUntil = null;
    if (portsAfterMs > 0) proc.portsOpenUntil = this.now + portsAfterMs;
    for (const c of [...this.conns]) if (c.proc === proc) c.kernelClose();
  }

  /** the connections of `proc` are reset by its kernel (a REJECT rule, a reset): it sees the error, the peer sees nothing */
  resetConns(proc: Proc, code = "ECONNRESET"): void {
    for (const c of [...this.conns]) if (c.proc === proc && !c.closed) c.fail(code);
  }

  /** a datagram arrives at `to` right now (a test putting it on the wire), if anyone listens there */
  deliverNow(to: HostPort, from: HostPort, bytes: Buffer): void {
    const end = this.udp.get(key(to));
    if (end?.proc.alive) end.onMessage(bytes, from);
  }

  forget(c: SimConn): void {
    this.conns.delete(c);
  }
}

/** One end of a simulated stream connection. */
export class SimConn implements StreamConn {
  peer: SimConn | null = null;
  closed = false;
  private up = false;
  private readonly pending: Buffer[] = [];
  /** deliveries keep their order: none is scheduled before the previous one */
  private lastAt = 0;
  private dataFns: ((b: Buffer) => void)[] = [];
  private closeFns: (() => void)[] = [];
  private errorFns: ((code: string) => void)[] = [];

  constructor(
    private readonly world: SimWorld,
    readonly proc: Proc,
    readonly remote: { host: string; link: string },
  ) {}

  get remoteAddress(): string {
    return this.remote.host;
  }

  onData(fn: (b: Buffer) => void): void {
    this.dataFns.push(fn);
  }
  onClose(fn: () => void): void {
    this.closeFns.push(fn);
  }
  onError(fn: (code: string) => void): void {
    this.errorFns.push(fn);
  }

  established(): void {
    this.up = true;
    for (const b of this.pending.splice(0)) this.write(b);
  }

  write(bytes: Buffer): void {
    if (this.closed || !this.proc.alive) return;
    if (!this.up) return void this.pending.push(bytes);
    this.world.tap?.(this.proc, { host: `${this.remote.host}.tcp`, port: 0 }, bytes);
    if (this.world.dropStream?.(this.proc, bytes)) {
      // a message lost with its connection: both ends see it break
      const peer = this.peer;
      this.fail("ECONNRESET");
      if (peer) this.world.schedule(this.world.now + this.world.rules.latency("tcp"), () => peer.fail("ECONNRESET"), peer.proc);
      return;
    }
    this.segment((peer) => {
      for (const fn of peer.dataFns) fn(bytes);
    });
  }

  /** our side closes it (FIN): the peer sees the close once the path lets the FIN through */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.world.forget(this);
    this.segment((peer) => peer.remoteClosed());
    this.world.schedule(this.world.now, () => this.fire(this.closeFns), this.proc);
  }

  /** the process died: its kernel sends FIN/RST; nothing runs on our side any more */
  kernelClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.world.forget(this);
    this.segment((peer) => peer.remoteClosed());
  }

  remoteClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.world.forget(this);
    this.fire(this.closeFns);
  }

  /** an error on our side (refused, reset), then close */
  fail(code: string): void {
    if (this.closed) return;
    this.closed = true;
    this.world.forget(this);
    for (const fn of this.errorFns) fn(code);
    this.fire(this.closeFns);
  }

  private fire(fns: (() => void)[]): void {
    for (const fn of fns) fn();
  }

  /**
   * One segment to the peer, in order, waiting (retransmitted) while the path
   * is cut. A segment for a connection the peer no longer has is answered by
   * its kernel with a reset.
   */
  private segment(deliver: (peer: SimConn) => void): void {
    const w = this.world;
    const from = this.proc.host;
    const to = this.remote.host;
    const at = Math.max(this.lastAt, w.now + w.rules.latency("tcp"));
    this.lastAt = at;
    const attempt = () => {
      const v = w.rules.verdict("tcp", from, to);
      if (v === "pass") {
        const peer = this.peer;
        if (peer && !peer.closed) w.schedule(w.now, () => (peer.closed ? undefined : deliver(peer)), peer.proc);
        else if (!this.closed) w.schedule(w.now + w.rules.latency("tcp"), () => this.fail("ECONNRESET"), this.proc);
        return;
      }
      if (v === "reject") return; // refused on the way: the writer learns it from its own reset
      const next = w.now + 50;
      this.lastAt = Math.max(this.lastAt, next);
      w.schedule(next, attempt);
    };
    w.schedule(at, attempt);
  }
}
