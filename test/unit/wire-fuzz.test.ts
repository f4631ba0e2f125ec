// redundancy/wire.ts open(), fuzzed (fast-check): every heartbeat datagram,
// peer-link frame and witness message goes through it. Arbitrary bytes, a
// valid envelope with one byte changed or cut short, hostile JSON under a
// correct MAC (fields of the wrong type, huge, extra, nested), and buffers
// over opts.maxBytes. What it proves (S4, S5): open() never throws; it
// refuses with a reason of its union and a short detail string, or it
// accepts a well-formed envelope MACed with its pair's key: what encode()
// wrote comes back as the same envelope (re-encoding gives the same bytes),
// and the same JSON spelt otherwise gives that same envelope, never another;
// a byte changed, cut or added anywhere is refused.
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_BYTES, encode, envelopeProblem, keyFromSecret, MAX_ID_LENGTH, MIN_JSON_BYTES, open, REJECT_REASONS, type Envelope, type OpenResult } from "../../redundancy/wire.js";

const KEY = keyFromSecret("0123456789abcdef0123456789abcdef-line1");
const OTHER = keyFromSecret("0123456789abcdef0123456789abcdef-other");
const keyFor = (pair: string) => (pair === "line1" ? KEY : pair === "ünï" ? OTHER : undefined);

/** the header, a MAC made with `key` over it and `json`, then `json`: what encode() writes, for any bytes */
function sealRaw(key: Buffer, pair: string, json: Buffer): Buffer {
  const p = Buffer.from(pair, "utf8");
  const head = Buffer.concat([Buffer.from("TDM1", "latin1"), Buffer.from([p.length]), p]);
  const mac = createHmac("sha256", key).update(head).update(json).digest();
  return Buffer.concat([head, mac, json]);
}

/** open() under the property every caller relies on: no throw, a known reason, or a well-formed envelope (re-encoding to the same bytes, for frames encode() wrote) */
function openChecked(buf: Buffer, opts?: { maxBytes?: number; encoded?: boolean }): OpenResult {
  let r: OpenResult;
  expect(() => (r = open(buf, keyFor, opts))).not.toThrow();
  r = r!;
  if (r.ok) {
    expect(envelopeProblem(r.env)).toBeNull();
    if (opts?.encoded !== false) expect(encode(keyFor(r.env.pair)!, r.env).equals(buf)).toBe(true);
  } else {
    expect(REJECT_REASONS).toContain(r.reason);
    expect(typeof r.detail).toBe("string");
    expect(r.detail.length).toBeLessThan(400); // a log line, never the datagram echoed back
  }
  return r;
}

/** a value as JSON carries it (-0 travels as 0) */
const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

// ASCII, any Unicode (graphemes) and lone surrogates: JSON.stringify escapes those, so they survive too
const id = fc.oneof(fc.string({ minLength: 1, maxLength: MAX_ID_LENGTH }), fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }), fc.string({ unit: "binary", minLength: 1, maxLength: 16 }));
const safeInt = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const envelope: fc.Arbitrary<Envelope> = fc.record({
  v: fc.constant(1 as const),
  pair: fc.constantFrom("line1", "ünï"),
  from: id,
  inc: safeInt,
  seq: safeInt,
  ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  ch: id,
  type: id,
  body: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }) as fc.Arbitrary<Record<string, unknown>>,
});
const sealed = envelope.map((e) => ({ env: e, bytes: encode(keyFor(e.pair)!, e) }));

/** a value of any JSON type, some of them hostile for an envelope field */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, -0, 1e308, "", "x".repeat(MAX_ID_LENGTH + 1), "x".repeat(5000), [], {}, null, true, "1"),
  fc.string({ unit: "binary", maxLength: 80 }),
);
const FIELDS = ["v", "pair", "from", "inc", "seq", "ts", "ch", "type", "body"] as const;

describe("wire open() fuzzed", () => {
  it("arbitrary bytes: refused with a reason, never thrown", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(openChecked(Buffer.from(b)).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("arbitrary bytes after a valid header of a known pair reach the MAC check and stop there", () => {
    fc.assert(
      fc.property(fc.constantFrom("line1", "ünï"), fc.uint8Array({ maxLength: 300 }), (pair, tail) => {
        const p = Buffer.from(pair, "utf8");
        const r = openChecked(Buffer.concat([Buffer.from("TDM1"), Buffer.from([p.length]), p, tail]));
        expect(r.ok).toBe(false);
        if (!r.ok) expect(["too-short", "bad-mac"]).toContain(r.reason);
      }),
      { numRuns: 300 },
    );
  });

  it("a valid envelope round-trips", () => {
    fc.assert(
      fc.property(sealed, ({ env, bytes }) => {
        const r = openChecked(bytes, { maxBytes: bytes.length });
        expect(r.ok && r.env).toEqual(asJson(env));
      }),
      { numRuns: 300 },
    );
  });

  it("a valid envelope with one byte changed is refused", () => {
    fc.assert(
      fc.property(sealed, fc.nat(), fc.integer({ min: 1, max: 255 }), ({ bytes }, at, xor) => {
        const b = Buffer.from(bytes);
        b[at % b.length] ^= xor;
        expect(openChecked(b).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("a valid envelope cut short, or with bytes added, is refused", () => {
    fc.assert(
      fc.property(sealed, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.boolean(), ({ bytes }, at, extra, cut) => {
        const b = cut ? bytes.subarray(0, at % bytes.length) : Buffer.concat([bytes, extra]);
        expect(openChecked(b).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("a frame over maxBytes is too-large, whatever it holds; under it, the limit plays no part", () => {
    fc.assert(
      fc.property(fc.oneof(sealed.map((s) => s.bytes), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))), fc.integer({ min: 0, max: 400 }), (b, maxBytes) => {
        const r = openChecked(b, { maxBytes });
        if (b.length > maxBytes) expect(r.ok === false && r.reason).toBe("too-large");
        else expect(r.ok === false && r.reason).not.toBe("too-large");
      }),
      { numRuns: 300 },
    );
    // the default limit
    expect(openChecked(Buffer.alloc(DEFAULT_MAX_BYTES + 1)).ok === false).toBe(true);
  });

  it("hostile JSON under a correct MAC (any field of any type, extra fields, not an object): bad-json, bad-shape or pair-mismatch — accepted only when it is an envelope", () => {
    const mutated = fc
      .tuple(envelope, fc.subarray([...FIELDS], { minLength: 1 }), fc.array(hostileValue, { minLength: 9, maxLength: 9 }), fc.dictionary(fc.string({ maxLength: 6 }), hostileValue, { maxKeys: 2 }), fc.boolean())
      .map(([e, fields, values, extra, addExtra]) => {
        const o: Record<string, unknown> = { ...e };
        fields.forEach((f, i) => (values[i] === undefined ? delete o[f] : (o[f] = values[i])));
        return addExtra ? { ...o, ...extra } : o;
      });
    const text = fc.oneof(
      mutated.map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"),
      fc.string({ unit: "binary", minLength: 2, maxLength: 200 }),
      // deep nesting under a valid MAC: the parser's depth is the only limit
      fc.integer({ min: 1, max: 5000 }).map((n) => `{"v":1,"body":${"[".repeat(n)}${"]".repeat(n)}}`),
    );
    fc.assert(
      fc.property(fc.constantFrom("line1", "ünï"), fc.oneof(text.map((t) => Buffer.from(t, "utf8")), fc.uint8Array({ minLength: 2, maxLength: 100 }).map((b) => Buffer.from(b))), (pair, json) => {
        const r = openChecked(sealRaw(keyFor(pair)!, pair, json), { encoded: false });
        // JSON of one byte (a digit: fc.jsonValue() makes them) is refused before it is read
        if (!r.ok) expect(json.length < MIN_JSON_BYTES ? ["too-short"] : ["bad-json", "bad-shape", "pair-mismatch"]).toContain(r.reason);
        else expect(r.env.pair).toBe(pair);
      }),
      { numRuns: 400 },
    );
  });

  it("a JSON text that is an envelope but not as encode() writes it (spacing, key order, escapes) is still accepted as that envelope, never as another", () => {
    fc.assert(
      fc.property(envelope, fc.constantFrom(0, 2, "\t"), fc.boolean(), (e, space, reverse) => {
        const o = reverse ? Object.fromEntries(Object.entries(e).reverse()) : e;
        const json = Buffer.from(JSON.stringify(o, null, space), "utf8");
        const r = open(sealRaw(keyFor(e.pair)!, e.pair, json), keyFor);
        expect(r.ok && r.env).toEqual(asJson(e));
      }),
      { numRuns: 200 },
    );
  });

  it("a MAC made with another pair's key, or for another pair id, is refused", () => {
    fc.assert(
      fc.property(envelope, fc.string({ minLength: 1, maxLength: 40 }), ({ pair, ...rest }, other) => {
        const wrongKey = openChecked(encode(pair === "line1" ? OTHER : KEY, { pair, ...rest }));
        expect(wrongKey.ok === false && wrongKey.reason).toBe("bad-mac");
        if (keyFor(other) === undefined && Buffer.byteLength(other) <= 255) {
          const unknown = encode(KEY, { pair: other.slice(0, MAX_ID_LENGTH), ...rest });
          const r = openChecked(unknown);
          expect(r.ok).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });
});
