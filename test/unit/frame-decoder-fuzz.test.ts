// redundancy/frame-decoder.ts (the length-prefixed framing of peer-link
// connections), fuzzed (fast-check). What it proves (S5):
//  - any chunking of a valid stream, including chunks of 0 and 1 byte and
//    cuts inside the length prefix, gives back the same frames in order,
//    through push() and through feed()+next() alike;
//  - a stream whose next length prefix is 0 or above maxFrame is refused
//    with a FrameError as soon as the 4 prefix bytes are in, after exactly
//    the frames before it, and with nothing of the bad frame kept: the
//    decoder's pending bytes never exceed one allowed frame plus its prefix,
//    whatever a stranger claims or sends;
//  - arbitrary bytes only ever give frames of 1..maxFrame bytes or a
//    FrameError — no other exception — and a broken decoder stays broken.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameDecoder, FrameError, frame, frameHeaderBytes } from "../../redundancy/frame-decoder.js";

/** `bytes` cut at the given points (sorted, deduplicated by the caller's choice; repeats give empty chunks) */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  return out;
}

const payload = (max: number) => fc.uint8Array({ minLength: 1, maxLength: max }).map((b) => Buffer.from(b));
const cuts = fc.array(fc.nat(), { maxLength: 30 });

describe("FrameDecoder fuzzed", () => {
  it("any chunking of a valid stream gives the same frames, by push() and by feed()/next()", () => {
    fc.assert(
      fc.property(fc.array(payload(300), { maxLength: 20 }), cuts, fc.boolean(), (frames, at, byFeed) => {
        const stream = Buffer.concat(frames.map(frame));
        const d = new FrameDecoder(300);
        const got: Buffer[] = [];
        for (const c of chunked(stream, at)) {
          if (byFeed) {
            d.feed(c);
            for (let f = d.next(); f; f = d.next()) got.push(Buffer.from(f));
          } else got.push(...d.push(c).map((f) => Buffer.from(f)));
          expect(d.pending).toBeLessThanOrEqual(300 + frameHeaderBytes);
        }
        expect(got).toEqual(frames);
        expect(d.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("a bad length prefix (0, or over maxFrame up to 2³²-1) after valid frames: exactly those frames, then a FrameError, and nothing of the bad frame is kept", () => {
    const limit = fc.integer({ min: 1, max: 1 << 20 });
    fc.assert(
      fc.property(
        limit,
        fc.array(payload(64), { maxLength: 8 }),
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffff_ffff })),
        fc.uint8Array({ maxLength: 200 }),
        cuts,
        (maxFrame, frames, badLength, tail, at) => {
          const max = Math.max(maxFrame, 64); // the good frames fit
          if (badLength !== 0 && badLength <= max) badLength = max + 1 + (badLength % 1000);
          if (badLength > 0xffff_ffff) badLength = 0xffff_ffff;
          const prefix = Buffer.alloc(4);
          prefix.writeUInt32BE(badLength, 0);
          const stream = Buffer.concat([...frames.map(frame), prefix, Buffer.from(tail)]);
          const d = new FrameDecoder(max);
          const got: Buffer[] = [];
          let err: unknown = null;
          // feed() and next() one frame at a time, as the peer link reads (push() would throw the frames of the same chunk away with the error)
          read: for (const c of chunked(stream, at)) {
            try {
              d.feed(c);
              for (let f = d.next(); f; f = d.next()) got.push(Buffer.from(f));
            } catch (e) {
              err = e;
              break read;
            }
            expect(d.pending).toBeLessThanOrEqual(max + frameHeaderBytes);
          }
          expect(err).toBeInstanceOf(FrameError);
          expect((err as FrameError).length).toBe(badLength);
          expect((err as FrameError).limit).toBe(max);
          expect((err as Error).message).toContain(String(badLength === 0 ? "length 0" : badLength));
          expect(got).toEqual(frames);
          // broken for good, and holding nothing
          expect(d.pending).toBe(0);
          expect(() => d.push(frame(Buffer.from("ok")))).toThrow(FrameError);
          expect(() => d.next()).toThrow(FrameError);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("arbitrary bytes in arbitrary chunks: frames of 1..maxFrame bytes or a FrameError, never another exception, never more buffered than one frame", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4096 }), fc.uint8Array({ maxLength: 2000 }), cuts, (maxFrame, bytes, at) => {
        const d = new FrameDecoder(maxFrame);
        let broken = false;
        for (const c of chunked(Buffer.from(bytes), at)) {
          try {
            for (const f of d.push(c)) {
              expect(f.length).toBeGreaterThanOrEqual(1);
              expect(f.length).toBeLessThanOrEqual(maxFrame);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(FrameError);
            broken = true;
            break;
          }
          expect(d.pending).toBeLessThanOrEqual(maxFrame + frameHeaderBytes);
        }
        if (broken) expect(() => d.push(Buffer.alloc(1))).toThrow(FrameError);
      }),
      { numRuns: 300 },
    );
  });

  it("a limit raised between frames (the peer gate after authentication) takes effect at the next header, never for the frame under way", () => {
    fc.assert(
      fc.property(payload(16), payload(200), cuts, (first, second, at) => {
        const stream = Buffer.concat([frame(first), frame(second)]);
        const d = new FrameDecoder(16);
        const got: Buffer[] = [];
        for (const c of chunked(stream, at)) {
          d.feed(c);
          for (let f = d.next(); f; f = d.next()) {
            got.push(Buffer.from(f));
            if (got.length === 1) d.maxFrame = 200;
          }
        }
        expect(got).toEqual([first, second]);
      }),
      { numRuns: 200 },
    );
  });
});
