// Reads the MQTT fixed headers as a client's bytes arrive and stops the
// connection at the first packet declared bigger than the limit, before the
// parser buffers it: aedes has no limit of its own (an MQTT packet may
// declare up to 256 MB). Only the headers are read; the bodies pass through.
import { Transform, type TransformCallback } from "node:stream";

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
