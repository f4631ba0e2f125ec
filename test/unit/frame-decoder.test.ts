// S5 for the TCP peer link: any chunking decodes the same frames; a corrupt
// length stops the stream with an error that says why.
import { describe, expect, it } from "vitest";
import { FrameDecoder, FrameError, frame } from "../../redundancy/frame-decoder.js";
import { prng, randomBytes } from "../helpers/prng.js";



describe("frame()", () => {
  it("prefixes the big-endian length", () => {
    expect(frame(Buffer.from("hi"))).toEqual(Buffer.from([0, 0, 0, 2, 0x68, 0x69]));
  });
  it("refuses an empty payload (the decoder would refuse it)", () => {
    expect(() => frame(Buffer.alloc(0))).toThrow(RangeError);
  });
});

describe("FrameDecoder", () => {
  it("decodes one frame delivered whole", () => {
    const d = new FrameDecoder();
    expect(d.push(frame(Buffer.from("hello")))).toEqual([Buffer.from("hello")]);
    expect(d.pending).toBe(0);
  });

  it("decodes a frame split at every possible offset, header included", () => {
    const f = Buffer.concat([frame(Buffer.from("first frame")), frame(Buffer.from("2nd"))]);
    for (let cut = 0; cut <= f.length; cut++) {
      const d = new FrameDecoder();
      const got = [...d.push(f.subarray(0, cut)), ...d.push(f.subarray(cut))];
      expect(got.map(String), `cut ${cut}`).toEqual(["first frame", "2nd"]);
      expect(d.pending).toBe(0);
    }
  });

  it("decodes byte by byte", () => {
    const f = Buffer.concat([frame(Buffer.from("abc")), frame(Buffer.from("d"))]);
    const d = new FrameDecoder();
    const got: Buffer[] = [];
    for (const byte of f) got.push(...d.push(Buffer.from([byte])));
    expect(got.map(String)).toEqual(["abc", "d"]);
  });

  it("decodes many frames in one chunk and holds a trailing partial", () => {
    const frames = Array.from({ length: 100 }, (_, i) => Buffer.from(`frame-${i}`));
    const all = Buffer.concat(frames.map(frame));
    const d = new FrameDecoder();
    const got = d.push(Buffer.concat([all, Buffer.from([0, 0, 0, 9, 1, 2])]));
    expect(got).toEqual(frames);
    expect(d.pending).toBe(6);
    expect(d.push(Buffer.from([3, 4, 5, 6, 7, 8, 9]))).toEqual([Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9])]);
  });

  it("random chunking of 2,000 random frames gives back the same frames (seeded)", () => {
    for (const seed of [1, 2, 3]) {
      const rnd = prng(seed);
      const frames = Array.from({ length: 2000 }, () => randomBytes(rnd, 1 + Math.floor(rnd() * (rnd() < 0.05 ? 5000 : 60))));
      const stream = Buffer.concat(frames.map(frame));
      const d = new FrameDecoder(8192);
      const got: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = Math.min(stream.length - at, Math.floor(rnd() * (rnd() < 0.1 ? 20_000 : 40)));
        got.push(...d.push(stream.subarray(at, at + n)));
        at += n;
      }
      expect(got.length).toBe(frames.length);
      for (let i = 0; i < frames.length; i++) expect(got[i]!.equals(frames[i]!), `seed ${seed} frame ${i}`).toBe(true);
      expect(d.pending).toBe(0);
    }
  });

  it("accepts a frame of exactly maxFrame bytes", () => {
    const d = new FrameDecoder(16);
    expect(d.push(frame(Buffer.alloc(16, 7)))).toEqual([Buffer.alloc(16, 7)]);
  });

  it("throws FrameError naming the length and the limit for an oversize frame, and stays broken", () => {
    const d = new FrameDecoder(16);
    const bad = Buffer.from([0, 0, 0, 17, 1]);
    let err: unknown;
    try {
      d.push(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FrameError);
    expect((err as FrameError).message).toMatch(/17.*16/);
    expect((err as FrameError).length).toBe(17);
    expect((err as FrameError).limit).toBe(16);
    expect(() => d.push(frame(Buffer.from("ok")))).toThrow(FrameError);
  });

  it("throws on a huge length before buffering the payload (a 4 GiB claim costs nothing)", () => {
    const d = new FrameDecoder();
    expect(() => d.push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/4294967295.*1048576/);
  });

  it("throws FrameError for a zero length, even when it arrives split", () => {
    const d = new FrameDecoder();
    expect(d.push(frame(Buffer.from("fine")))).toHaveLength(1);
    expect(d.push(Buffer.from([0, 0]))).toEqual([]);
    expect(() => d.push(Buffer.from([0, 0]))).toThrow(/length 0/);
  });

  it("an empty chunk is a no-op", () => {
    const d = new FrameDecoder();
    expect(d.push(Buffer.alloc(0))).toEqual([]);
  });

  it("rejects an unusable limit", () => {
    expect(() => new FrameDecoder(0)).toThrow(RangeError);
  });
});
