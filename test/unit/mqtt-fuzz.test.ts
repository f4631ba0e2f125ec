// What an MQTT client controls, fuzzed (fast-check): the topic rules of
// runtime/mqtt/topics.ts (topic names and filters of any text — Unicode,
// wildcards, empty levels, NUL, very long), the payload of a tag write
// request (parseSetPayload: any bytes, any JSON), and the packet-size guard
// of runtime/mqtt/packet-guard.ts (any bytes in any chunks). What it proves
// (S5): nothing throws but the guard's two refusals; a topic is refused with
// a reason or allowed only as the rules say — a filter allowed to anyone
// matches nothing outside the pair's prefix, a publish is allowed only as an
// operator's write request whose topic maps back to one tag name — and a
// payload gives a value or a reason; the guard's verdict does not depend on
// how the bytes are cut.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Role } from "../../core/types.js";
import { MalformedLength, PacketScanner, PacketTooLarge } from "../../runtime/mqtt/packet-guard.js";
import { parseSetPayload, prefixOf, publishProblem, subscribeProblem, tagOfSetTopic, tagTopic, topicProblem } from "../../runtime/mqtt/topics.js";

const P = prefixOf("line1");
const ROLES: Role[] = ["viewer", "operator", "admin"];

/** one topic level: text of any kind, the wildcards, the separators Tandem uses, nothing */
const level = fc.oneof(
  fc.constantFrom("", "+", "#", "tags", "set", "line1", "tandem", "a.b", "$SYS", "\u0000", "ü", "😀", " "),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: "grapheme", maxLength: 4 }),
  fc.string({ unit: "binary", maxLength: 4 }),
);
/** a topic or filter: levels joined by '/', often under the pair's prefix, sometimes very long */
const topic = fc.oneof(
  fc.array(level, { maxLength: 8 }).map((l) => l.join("/")),
  fc.array(level, { maxLength: 6 }).map((l) => P + l.join("/")),
  fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => `${P}tags/${l.join("/")}/set`),
  fc.integer({ min: 1, max: 70_000 }).map((n) => P + "x".repeat(n)),
  fc.string({ unit: "binary", maxLength: 40 }),
);

/** whether an MQTT topic filter matches a topic name (MQTT 3.1.1 §4.7) */
function matches(filter: string, name: string): boolean {
  const f = filter.split("/");
  const t = name.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** topic names a filter matches: each '+' a level, a '#' any levels (or none) */
function namesOf(filter: string, fill: string[]): string[] {
  const f = filter.split("/");
  const one = f.map((x, i) => (x === "+" ? fill[i % fill.length]! : x === "#" ? fill.slice(0, 1 + (i % 3)).join("/") : x)).join("/");
  const out = [one];
  if (filter.endsWith("/#")) out.push(filter.slice(0, -2)); // "a/#" matches "a" too
  return out.filter((n) => !n.includes("+") && !n.includes("#"));
}

describe("MQTT topics fuzzed", () => {
  it("topicProblem: a reason exactly for empty, over-long and NUL topics; never a throw, for any value", () => {
    fc.assert(
      fc.property(fc.oneof(topic, fc.anything() as fc.Arbitrary<string>), fc.integer({ min: 1, max: 65_535 }), (t, max) => {
        const p = topicProblem(t, max);
        const bad = typeof t !== "string" || t.length === 0 || t.length > max || t.includes("\u0000");
        if (bad) expect(typeof p).toBe("string");
        else expect(p).toBeNull();
      }),
      { numRuns: 400 },
    );
  });

  it("subscribeProblem: a filter allowed matches no topic outside the prefix", () => {
    fc.assert(
      fc.property(topic, fc.array(fc.oneof(level, fc.constant("x")), { minLength: 1, maxLength: 4 }), (filter, fill) => {
        const p = subscribeProblem(P, filter);
        if (p !== null) {
          expect(p).toMatch(/only topics under tandem\/line1\//);
          return;
        }
        for (const name of namesOf(filter, fill)) {
          if (!matches(filter, name)) continue;
          expect(name.startsWith(P) || name === P.slice(0, -1), `${filter} matches ${name}`).toBe(true);
        }
        // and the catch-alls outside the prefix are never allowed
        for (const other of ["tandem/line2/x", "site/x", "$SYS/broker", "tandem/line1x/y"]) if (matches(filter, other)) throw new Error(`${filter} allowed but matches ${other}`);
      }),
      { numRuns: 400 },
    );
  });

  it("publishProblem: allowed only to an operator or admin, only for a write request naming one tag, which maps back to the same topic", () => {
    fc.assert(
      fc.property(topic, fc.constantFrom(...ROLES), (t, role) => {
        const p = publishProblem(P, role, t);
        const tag = tagOfSetTopic(P, t);
        if (p !== null) {
          expect(typeof p).toBe("string");
          return;
        }
        expect(role).not.toBe("viewer");
        expect(tag).not.toBeNull();
        expect(tag!.split(".").every((s) => s.length > 0 && !/[+#/]/.test(s))).toBe(true);
        expect(`${tagTopic(P, tag!)}/set`).toBe(t);
      }),
      { numRuns: 400 },
    );
  });

  it("tagOfSetTopic inverts tagTopic for every tag name made of levels Tandem can publish", () => {
    const segment = fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/[./+#\u0000]/.test(s));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (parts) => {
        const tag = parts.join(".");
        expect(tagOfSetTopic(P, `${tagTopic(P, tag)}/set`)).toBe(tag);
        expect(tagOfSetTopic(P, tagTopic(P, tag))).toBeNull(); // the value topic is not a write request
      }),
      { numRuns: 300 },
    );
  });
});

describe("MQTT write payloads fuzzed", () => {
  it("any bytes: a value or a reason, never a throw", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 100 }).map((s) => Buffer.from(s, "utf8"))), (b) => {
        const r = parseSetPayload(Buffer.from(b));
        expect("value" in r !== "problem" in r).toBe(true);
        if ("problem" in r) expect(typeof r.problem).toBe("string");
      }),
      { numRuns: 400 },
    );
  });

  it("any JSON: {value: V} gives V; an object without 'value' is refused; anything else is the value itself", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (v, wrap) => {
        const text = JSON.stringify(wrap ? { value: v } : v);
        const r = parseSetPayload(Buffer.from(text, "utf8"));
        const expected = JSON.parse(JSON.stringify(v)) as unknown; // -0 travels as 0
        if (wrap) expect(r).toEqual({ value: expected });
        else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
          if (Object.prototype.hasOwnProperty.call(v, "value")) expect(r).toEqual({ value: (expected as Record<string, unknown>).value });
          else expect(r).toEqual({ problem: expect.stringMatching(/without a 'value'/) });
        } else expect(r).toEqual({ value: expected });
      }),
      { numRuns: 400 },
    );
  });
});

describe("MQTT packet guard fuzzed", () => {
  /** one packet as a client would frame it: type byte, remaining length (1–4 bytes), body */
  const packet = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3000 })).map(([type, n]) => {
    const len: number[] = [];
    let x = n;
    do {
      let b = x % 128;
      x = Math.floor(x / 128);
      if (x > 0) b |= 0x80;
      len.push(b);
    } while (x > 0);
    return Buffer.concat([Buffer.from([type, ...len]), Buffer.alloc(n, 0x55)]);
  });

  /** the scanner's verdict on `chunks`: ok, or the refusal and what it says */
  function verdict(max: number, chunks: Buffer[]): string {
    const s = new PacketScanner(max);
    try {
      for (const c of chunks) s.scan(c);
      return "ok";
    } catch (e) {
      if (e instanceof PacketTooLarge) return `too-large ${e.bytes} ${e.limit}`;
      if (e instanceof MalformedLength) return "malformed";
      throw e;
    }
  }

  function cut(b: Buffer, at: number[]): Buffer[] {
    const points = [...new Set(at.map((x) => x % (b.length + 1)))].sort((x, y) => x - y);
    const out: Buffer[] = [];
    let from = 0;
    for (const p of [...points, b.length]) {
      out.push(b.subarray(from, p));
      from = p;
    }
    return out;
  }

  it("well-formed packets: passed while each fits the limit, refused at the first that does not, naming its size — however the bytes are cut", () => {
    fc.assert(
      fc.property(fc.array(packet, { maxLength: 8 }), fc.integer({ min: 2, max: 4000 }), fc.array(fc.nat(), { maxLength: 20 }), (packets, max, at) => {
        const stream = Buffer.concat(packets);
        const first = packets.find((p) => p.length > max);
        expect(verdict(max, cut(stream, at))).toBe(first ? `too-large ${first.length} ${max}` : "ok");
      }),
      { numRuns: 300 },
    );
  });

  it("any bytes: ok or one of the two refusals, the same one whole or cut in pieces", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), fc.integer({ min: 1, max: 1 << 28 }), fc.array(fc.nat(), { maxLength: 30 }), (bytes, max, at) => {
        const b = Buffer.from(bytes);
        const whole = verdict(max, [b]);
        expect(whole).toMatch(/^(ok|malformed|too-large \d+ \d+)$/);
        expect(verdict(max, cut(b, at))).toBe(whole);
      }),
      { numRuns: 300 },
    );
  });
});
