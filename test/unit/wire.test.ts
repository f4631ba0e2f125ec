// S4 (only the pair talks to the pair) and S5 (bad input never takes the plant
// down) for the envelope format every peer and witness message uses.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encode, keyFromSecret, open, peekPair, REJECT_REASONS, Sender, type Envelope, type RejectReason } from "../../redundancy/wire.js";
import { prng, randomBytes } from "../helpers/prng.js";

const KEY = keyFromSecret("0123456789abcdef0123456789abcdef-line1");
const OTHER = keyFromSecret("0123456789abcdef0123456789abcdef-other");
const keyFor = (pair: string) => (pair === "line1" ? KEY : pair === "ünï" ? OTHER : undefined);

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce. */


/** Builds a datagram with a correct MAC around arbitrary JSON text: reaches the checks after the MAC. */
function sealRaw(key: Buffer, pair: string, jsonText: string | Buffer): Buffer {
  const p = Buffer.from(pair, "utf8");
  const head = Buffer.concat([Buffer.from("TDM1"), Buffer.from([p.length]), p]);
  const json = typeof jsonText === "string" ? Buffer.from(jsonText, "utf8") : jsonText;
  const mac = createHmac("sha256", key).update(head).update(json).digest();
  return Buffer.concat([head, mac, json]);
}

function env(over: Partial<Envelope> = {}): Envelope {
  return { v: 1, pair: "line1", from: "a", inc: 3, seq: 7, ts: 1_700_000_000_000, ch: "lan", type: "hb", body: { state: "active", epoch: 4 }, ...over };
}

function reasonOf(buf: Buffer, opts?: { maxBytes?: number }): RejectReason | "ok" {
  const r = open(buf, keyFor, opts);
  return r.ok ? "ok" : r.reason;
}

describe("wire: round trip", () => {
  it("encode → open gives the same envelope", () => {
    const e = env();
    const r = open(encode(KEY, e), keyFor);
    expect(r).toEqual({ ok: true, env: e });
  });

  it("Sender numbers from 1, carries pair/from/inc/ch/type and a wall-clock ts", () => {
    const s = new Sender({ pair: "line1", from: "b", inc: 42, key: KEY, wallClock: () => 1234.7 });
    const one = s.seal("lan", "hb", { x: 1 });
    const two = s.seal("tcp", "cmd", { y: [1, 2] });
    expect([one.seq, two.seq, s.lastSeq]).toEqual([1, 2, 2]);
    const r1 = open(one.bytes, keyFor);
    const r2 = open(two.bytes, keyFor);
    expect(r1.ok && r1.env).toEqual({ v: 1, pair: "line1", from: "b", inc: 42, seq: 1, ts: 1234, ch: "lan", type: "hb", body: { x: 1 } });
    expect(r2.ok && r2.env).toMatchObject({ seq: 2, ch: "tcp", type: "cmd", body: { y: [1, 2] } });
  });

  it("a non-ASCII pair id and body survive", () => {
    const e = env({ pair: "ünï", body: { text: "Förderband 3 – Störung ✓" } });
    const r = open(encode(OTHER, e), keyFor);
    expect(r.ok && r.env).toEqual(e);
    expect(peekPair(encode(OTHER, e))).toBe("ünï");
  });

  it("peekPair reads the clear pair id and returns null for junk", () => {
    expect(peekPair(encode(KEY, env()))).toBe("line1");
    expect(peekPair(Buffer.from("nope"))).toBeNull();
    expect(peekPair(Buffer.alloc(0))).toBeNull();
    expect(peekPair(Buffer.from([0x54, 0x44, 0x4d, 0x31, 0]))).toBeNull();
  });

  it("keyFromSecret: 32 bytes, stable, different secrets give different keys", () => {
    const a = keyFromSecret("s".repeat(40));
    expect(a.length).toBe(32);
    expect(keyFromSecret("s".repeat(40)).equals(a)).toBe(true);
    expect(keyFromSecret("t".repeat(40)).equals(a)).toBe(false);
  });

  it("encode and Sender refuse an envelope the receiver would reject (programming errors throw)", () => {
    expect(() => encode(KEY, env({ from: "" }))).toThrow(TypeError);
    expect(() => encode(KEY, env({ pair: "p".repeat(65) }))).toThrow(TypeError);
    expect(() => encode(KEY, env({ seq: 0 }))).toThrow(TypeError);
    expect(() => encode(KEY, env({ body: [] as unknown as Record<string, unknown> }))).toThrow(TypeError);
    expect(() => new Sender({ pair: "line1", from: "a", inc: 0, key: KEY })).toThrow(TypeError);
    const s = new Sender({ pair: "line1", from: "a", inc: 1, key: KEY });
    expect(() => s.seal("", "hb", {})).toThrow(TypeError);
    expect(s.seal("lan", "hb", {}).seq).toBe(1); // the refused seal used no seq
  });
});

describe("wire: every RejectReason is reachable", () => {
  const good = encode(KEY, env());
  const cases: [RejectReason, Buffer, { maxBytes?: number }?][] = [
    ["too-short", Buffer.alloc(0)],
    ["too-short", Buffer.from("TDM1")],
    ["too-short", good.subarray(0, 4 + 1 + 5 + 32 + 1)],
    ["too-large", Buffer.alloc(65537)],
    ["too-large", good, { maxBytes: good.length - 1 }],
    ["bad-magic", Buffer.concat([Buffer.from("TDM2"), good.subarray(4)])],
    ["unknown-pair", Buffer.concat([Buffer.from("TDM1"), Buffer.from([0]), Buffer.alloc(40)])],
    ["unknown-pair", encode(keyFromSecret("x".repeat(32)), env({ pair: "line9" }))],
    ["unknown-pair", Buffer.concat([Buffer.from("TDM1"), Buffer.from([2, 0xc3, 0x28]), Buffer.alloc(40)])], // invalid UTF-8
    ["bad-mac", encode(OTHER, env())],
    ["bad-json", sealRaw(KEY, "line1", "{not json")],
    ["bad-json", sealRaw(KEY, "line1", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))],
    ["bad-shape", sealRaw(KEY, "line1", "[]")],
    ["bad-shape", sealRaw(KEY, "line1", "null")],
    ["pair-mismatch", sealRaw(KEY, "line1", JSON.stringify(env({ pair: "line2" })))],
  ];
  for (const [reason, buf, opts] of cases) {
    it(`${reason} (${buf.length} bytes)`, () => {
      const r = open(buf, keyFor, opts);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe(reason);
        expect(typeof r.detail).toBe("string");
      }
    });
  }

  it("covers the whole union", () => {
    expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(REJECT_REASONS));
  });

  it("bad-shape: every field is checked strictly", () => {
    const base = env() as unknown as Record<string, unknown>;
    const bad: Record<string, unknown>[] = [
      { ...base, v: 2 },
      { ...base, v: "1" },
      { ...base, from: "" },
      { ...base, from: "f".repeat(65) },
      { ...base, from: 7 },
      { ...base, inc: 0 },
      { ...base, inc: 1.5 },
      { ...base, inc: 2 ** 53 },
      { ...base, seq: -1 },
      { ...base, seq: "8" },
      { ...base, ts: -5 },
      { ...base, ts: 1.25 },
      { ...base, ch: "" },
      { ...base, ch: "c".repeat(65) },
      { ...base, type: null },
      { ...base, body: [] },
      { ...base, body: null },
      { ...base, body: "x" },
      { ...base, extra: 1 },
      (({ body: _b, ...rest }) => rest)(base),
    ];
    for (const b of bad) expect(reasonOf(sealRaw(KEY, "line1", JSON.stringify(b)))).toBe("bad-shape");
    // The limits themselves are allowed.
    expect(reasonOf(encode(KEY, env({ from: "f".repeat(64), ch: "c".repeat(64), type: "t".repeat(64), inc: Number.MAX_SAFE_INTEGER })))).toBe("ok");
  });

  it("a key lookup that throws is an unknown pair, not a crash", () => {
    const r = open(encode(KEY, env()), () => {
      throw new Error("boom");
    });
    expect(r.ok === false && r.reason).toBe("unknown-pair");
  });

  it("the channel and type are covered by the MAC: rewriting them breaks it", () => {
    const bytes = encode(KEY, env({ ch: "lan" }));
    const swapped = Buffer.from(bytes.toString("latin1").replace('"ch":"lan"', '"ch":"wan"'), "latin1");
    expect(swapped.length).toBe(bytes.length);
    expect(reasonOf(swapped)).toBe("bad-mac");
  });
});

describe("wire: tampering and fuzz never get through and never throw", () => {
  const good = new Sender({ pair: "line1", from: "a", inc: 9, key: KEY }).seal("witness", "witness-req", { op: "renew", epoch: 3, leaseMs: 1000 }).bytes;

  it("a single flipped bit anywhere is rejected", () => {
    for (let i = 0; i < good.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(good);
        b[i] ^= 1 << bit;
        expect(open(b, keyFor).ok, `byte ${i} bit ${bit}`).toBe(false);
      }
    }
  });

  it("truncation at every offset is rejected", () => {
    for (let n = 0; n < good.length; n++) {
      const r = open(good.subarray(0, n), keyFor);
      expect(r.ok, `length ${n}`).toBe(false);
    }
    expect(reasonOf(Buffer.concat([good, Buffer.from(" ")]))).toBe("bad-mac");
  });

  it("10,000 random buffers (seeded) are rejected without throwing", () => {
    const rnd = prng(0x7a3d3);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      let buf: Buffer;
      const kind = i % 4;
      if (kind === 0) buf = randomBytes(rnd, Math.floor(rnd() * 200));
      else if (kind === 1) {
        // a valid header for a known pair: reaches the MAC check
        const p = Buffer.from("line1");
        buf = Buffer.concat([Buffer.from("TDM1"), Buffer.from([p.length]), p, randomBytes(rnd, Math.floor(rnd() * 150))]);
      } else if (kind === 2) {
        // the good message with a few random bytes overwritten
        buf = Buffer.from(good);
        for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
        if (buf.equals(good)) continue;
      } else {
        // random JSON-ish text under a correct MAC: reaches the parser and the shape check
        const alphabet = '{}[]":,0123456789.-eEtrufalsn vpairfomincsqtschypbody\\u';
        let s = "";
        for (let k = Math.floor(rnd() * 80); k > 0; k--) s += alphabet[Math.floor(rnd() * alphabet.length)];
        buf = sealRaw(KEY, "line1", s.length >= 2 ? s : "{}");
      }
      const r = open(buf, keyFor);
      expect(r.ok).toBe(false);
      if (!r.ok) seen.add(r.reason);
    }
    expect(seen).toEqual(new Set(["too-short", "bad-magic", "unknown-pair", "bad-mac", "bad-json", "bad-shape"]));
  });

  it("non-Buffer input is refused, not thrown", () => {
    expect(open(undefined as unknown as Buffer, keyFor).ok).toBe(false);
    expect(open("TDM1" as unknown as Buffer, keyFor).ok).toBe(false);
    expect(peekPair(null as unknown as Buffer)).toBeNull();
  });
});
