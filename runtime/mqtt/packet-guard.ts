// Reads the MQTT fixed headers as a client's bytes arrive and stops the
// connection at the first packet declared bigger than the limit, before the
// parser buffers it: aedes has no limit of its own (an MQTT packet may
// declare up to 256 MB). Only the headers are read; the bodies pass through.
// guardedConnection() is the stream aedes gets: reads through the guard,
// writes straight to the socket.
import type { Socket } from "node:net";
import { Duplex, Transform, type TransformCallback } from "node:stream";

export class PacketTooLarge extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`a packet of ${bytes} bytes (mqtt.maxPacketBytes is ${limit})`);
  }
}

export class MalformedLength extends Error {
  constructor() {
    super("a malformed remaining length (more than 4 bytes)");
  }
}

/** where the scanner is: in a fixed header (type byte, remaining length), or skipping a body */
export class PacketScanner {
  private inHeader = true;
  private sawType = false;
  private length = 0;
  private lengthBytes = 0;
  private skip = 0;

  constructor(private readonly maxBytes: number) {}

  /** scans a chunk; throws PacketTooLarge or MalformedLength at the first bad header */
  scan(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (!this.inHeader) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        if (this.skip === 0) this.startHeader();
        continue;
      }
      const b = chunk[i++];
      if (!this.sawType) {
        this.sawType = true;
        continue;
      }
      this.length += (b & 0x7f) * 128 ** this.lengthBytes;
      this.lengthBytes++;
      if (b & 0x80) {
        if (this.lengthBytes === 4) throw new MalformedLength();
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      if (total > this.maxBytes) throw new PacketTooLarge(total, this.maxBytes);
      this.skip = this.length;
      this.inHeader = false;
      if (this.skip === 0) this.startHeader();
    }
  }

  private startHeader(): void {
    this.inHeader = true;
    this.sawType = false;
    this.length = 0;
    this.lengthBytes = 0;
  }
}

/** a stream stage that passes the bytes on while they hold to the limit, and errors otherwise */
export function packetGuard(maxBytes: number): Transform {
  const scanner = new PacketScanner(maxBytes);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      try {
        scanner.scan(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      cb(null, chunk);
    },
  });
}

/**
 * The connection aedes reads and writes: what it reads comes through
 * `guard`, what it writes goes to `socket`. aedes's packet writer
 * (mqtt-packet) corks the stream and writes a packet in pieces (header,
 * topic, payload); a corked batch goes to the socket corked as well, so the
 * pieces leave in one send, as from a plain socket (Duplex.from handed them
 * to the socket one by one: with no-delay, a send each, which cost the
 * broker more than half its fan-out rate; test/bench/mqtt.ts). A write
 * completes once the socket has room again (backpressure reaches aedes);
 * destroying the connection destroys the socket.
 */
export function guardedConnection(socket: Socket, guard: Transform): Duplex {
  const whenDrained = (cb: (err?: Error | null) => void) => {
    if (!socket.writableNeedDrain) cb();
    else socket.once("drain", () => cb());
  };
  const conn = new Duplex({
    read() {
      guard.resume();
    },
    write(chunk: Buffer, encoding: BufferEncoding, cb) {
      socket.write(chunk, encoding);
      whenDrained(cb);
    },
    writev(chunks, cb) {
      socket.cork();
      for (const { chunk, encoding } of chunks) socket.write(chunk, encoding as BufferEncoding);
      socket.uncork();
      whenDrained(cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      guard.destroy();
      socket.destroy();
      cb(err);
    },
  });
  guard.on("data", (d: Buffer) => {
    if (!conn.push(d)) guard.pause();
  });
  guard.on("end", () => conn.push(null));
  guard.on("error", (err) => conn.destroy(err));
  return conn;
}
