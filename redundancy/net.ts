// The clock and the network as the pair's adapters see them, so the same
// code runs on the real ones (node:dgram, node:net, performance.now) and
// under the simulated pair in test/helpers/pair-sim.ts, where time is
// stepped and the network can be cut, delayed, one-way or REJECTing.
// Only what the peer link, the witness client and the witness server use.
import dgram from "node:dgram";
import net from "node:net";
import { isIPv6 } from "node:net";
import { performance } from "node:perf_hooks";
import type { HostPort } from "../core/types.js";

/** Monotonic milliseconds and timers. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** run fn once what has already arrived (sockets) has been handled */
  defer(fn: () => void): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  defer: (fn) => void setImmediate(fn),
};

/** A datagram socket bound to an address (receives, and sends to anyone). */
export interface UdpSocket {
  readonly address: HostPort;
  send(bytes: Buffer, to: HostPort): void;
  close(): Promise<void>;
}

/** A datagram socket connected to one peer address: told when a datagram comes back "port unreachable". */
export interface UdpSender {
  send(bytes: Buffer): void;
  close(): Promise<void>;
}

/** One stream connection. Errors carry the system code (ECONNREFUSED, ECONNRESET …). */
export interface StreamConn {
  /** the remote end's address, when known (logged and counted by the peer port's gate) */
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  write(bytes: Buffer): void;
  destroy(): void;
  onData(fn: (chunk: Buffer) => void): void;
  onClose(fn: () => void): void;
  onError(fn: (code: string) => void): void;
}

export interface StreamServer {
  close(): Promise<void>;
}

export interface Network {
  bindUdp(addr: HostPort, onMessage: (bytes: Buffer, from: HostPort) => void, onError?: (message: string) => void): Promise<UdpSocket>;
  /** bound on `host` (any port), connected to `peer`; `onRefused` on ICMP port unreachable */
  connectUdp(host: string, peer: HostPort, onRefused: () => void, onError?: (message: string) => void): Promise<UdpSender>;
  listenTcp(addr: HostPort, onConn: (c: StreamConn) => void, onError?: (message: string) => void): Promise<StreamServer>;
  connectTcp(addr: HostPort): StreamConn;
}

const family = (host: string) => (isIPv6(host) ? "udp6" : "udp4");

function closeUdp(s: dgram.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** Binds (and, with `peer`, connects) a datagram socket; on failure the socket is closed, never left open. */
function bindSocket(s: dgram.Socket, port: number, host: string, peer?: HostPort): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      try {
        s.close();
      } catch {
        // never bound
      }
      reject(err);
    };
    s.once("error", fail);
    s.bind(port, host, () => {
      if (!peer) {
        s.off("error", fail);
        return resolve();
      }
      s.connect(peer.port, peer.host, () => {
        s.off("error", fail);
        resolve();
      });
    });
  });
}

export function wrapStream(socket: net.Socket): StreamConn {
  socket.setNoDelay(true);
  return {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    write: (b) => void socket.write(b),
    destroy: () => void socket.destroy(),
    onData: (fn) => void socket.on("data", fn),
    onClose: (fn) => void socket.on("close", () => fn()),
    onError: (fn) => void socket.on("error", (err: NodeJS.ErrnoException) => fn(err.code ?? "ERROR")),
  };
}

/** The real network. */
/** Listens with `server` on `addr`: a listen error rejects, later errors go to `onError`. */
export async function listenStreamServer(server: net.Server, addr: HostPort, onError?: (message: string) => void): Promise<StreamServer> {
  server.on("error", (err) => onError?.(err.message));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { close: () => new Promise<void>((r) => server.close(() => r())) };
}

export const systemNetwork: Network = {
  async bindUdp(addr, onMessage, onError) {
    // a large receive buffer: a burst of junk must not crowd out real heartbeats
    const sock = dgram.createSocket({ type: family(addr.host), recvBufferSize: 1 << 20 });
    await bindSocket(sock, addr.port, addr.host);
    sock.on("error", (err) => onError?.(err.message));
    sock.on("message", (buf, rinfo) => onMessage(buf, { host: rinfo.address, port: rinfo.port }));
    const a = sock.address();
    return {
      address: { host: a.address, port: a.port },
      send(bytes, to) {
        try {
          sock.send(bytes, to.port, to.host, (err) => err && onError?.(err.message));
        } catch (err) {
          onError?.((err as Error).message);
        }
      },
      close: () => closeUdp(sock),
    };
  },

  async connectUdp(host, peer, onRefused, onError) {
    const sock = dgram.createSocket({ type: family(host) });
    await bindSocket(sock, 0, host, peer);
    // The kernel reports an ICMP "port unreachable" on a connected socket as
    // ECONNREFUSED, either as a socket error or as the result of the next
    // send (when the error was still pending as that send was made): both are
    // the same answer.
    const failed = (err: NodeJS.ErrnoException) => (err.code === "ECONNREFUSED" ? onRefused() : onError?.(err.message));
    sock.on("error", failed);
    sock.on("message", () => {}); // nothing is expected on a sending socket
    return {
      send(bytes) {
        try {
          sock.send(bytes, (err) => err && failed(err));
        } catch (err) {
          failed(err as NodeJS.ErrnoException);
        }
      },
      close: () => closeUdp(sock),
    };
  },

  async listenTcp(addr, onConn, onError) {
    return listenStreamServer(
      net.createServer((s) => onConn(wrapStream(s))),
      addr,
      onError,
    );
  },

  connectTcp(addr) {
    return wrapStream(net.connect({ host: addr.host, port: addr.port }));
  },
};
