// Length-prefixed frames over a TCP stream: 4-byte big-endian length, then the
// payload. A length of 0 or above the limit means the stream is not ours or is
// corrupt; the decoder throws a FrameError and stays broken, and the caller
// closes the connection (S5: drop it, log why, keep running).

export class FrameError extends Error {
  readonly length: number;
  readonly limit: number;

  constructor(length: number, limit: number) {
    super(length === 0 ? `frame length 0 is not allowed (frames carry 1–${limit} bytes)` : `frame length ${length} exceeds the limit of ${limit} bytes`);
    this.name = "FrameError";
    this.length = length;
    this.limit = limit;
  }
}

/** bytes of the length prefix before each frame's payload */
export const frameHeaderBytes = 4;
const HEADER = frameHeaderBytes;
const MAX_LENGTH = 0xffff_ffff;

function checkMax(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LENGTH) throw new RangeError(`maxFrame must be 1–${MAX_LENGTH}, got ${n}`);
  return n;
}

/** One frame: length prefix + payload. */
export function frame(payload: Buffer): Buffer {
  if (payload.length === 0 || payload.length > MAX_LENGTH) throw new RangeError(`frame payload must be 1–${MAX_LENGTH} bytes, got ${payload.length}`);
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, HEADER);
  return out;
}

/** The length prefix alone: a large payload is written after it as it is, not copied into one buffer with it. */
export function frameHeader(payloadBytes: number): Buffer {
  if (payloadBytes < 1 || payloadBytes > MAX_LENGTH) throw new RangeError(`frame payload must be 1–${MAX_LENGTH} bytes, got ${payloadBytes}`);
  const out = Buffer.allocUnsafe(HEADER);
  out.writeUInt32BE(payloadBytes, 0);
  return out;
}

export class FrameDecoder {
  private limit: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** payload length of the frame being read, or -1 while reading its header */
  private need = -1;
  private broken: FrameError | null = null;

  constructor(maxFrame = 1 << 20) {
    this.limit = checkMax(maxFrame);
  }

  /**
   * The longest payload accepted. It may change between frames: the peer
   * link reads an unauthenticated connection's first frame under a tiny
   * limit and raises it once that frame authenticated (peer-gate.ts).
   */
  get maxFrame(): number {
    return this.limit;
  }

  set maxFrame(n: number) {
    this.limit = checkMax(n);
  }

  /** Bytes of incomplete frames received so far (a header already read counts). */
  get pending(): number {
    return this.buffered + (this.need >= 0 ? HEADER : 0);
  }

  /**
   * Feeds bytes from the stream; returns the frames they complete, in order.
   * Payloads may share memory with the chunks passed in.
   */
  push(chunk: Buffer): Buffer[] {
    this.feed(chunk);
    const out: Buffer[] = [];
    for (let f = this.next(); f; f = this.next()) out.push(f);
    return out;
  }

  /** Adds bytes from the stream without decoding them; take the frames with next(). */
  feed(chunk: Buffer): void {
    if (this.broken) throw this.broken;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete frame, or null until more bytes arrive. A length of 0
   * or above maxFrame throws a FrameError as soon as its 4-byte header is
   * read, before any of its payload is kept.
   */
  next(): Buffer | null {
    if (this.broken) throw this.broken;
    if (this.need < 0) {
      if (this.buffered < HEADER) return null;
      const length = this.take(HEADER).readUInt32BE(0);
      if (length === 0 || length > this.limit) {
        this.broken = new FrameError(length, this.limit);
        this.chunks = [];
        this.buffered = 0;
        throw this.broken;
      }
      this.need = length;
    }
    if (this.buffered < this.need) return null;
    const out = this.take(this.need);
    this.need = -1;
    return out;
  }

  /** Removes the first n buffered bytes (n ≤ buffered); copies only when they span chunks. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
