// The witness's decoders, fuzzed (fast-check): parseWitnessRequestBody (the
// server's reading of a request), parseWitnessReplyBody (the node's reading
// of an answer), and the two receive paths end to end — WitnessServer and
// WitnessClient on an in-memory network and clock (redundancy/net.ts), fed
// arbitrary bytes, forged and tampered datagrams, and authenticated
// envelopes of any shape. What it proves (S1, S4, S5): nothing throws; a
// refused datagram gets no answer and leaves the witness's grants, leases
// and heard-from times exactly as they were; only a request the parser
// accepts is answered; and a node waiting for an answer is never satisfied
// by anything but the witness's matching reply (garbage ends in a timeout).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HostPort } from "../../core/types.js";
import { nullLogger } from "../../core/logger.js";
import type { Clock, Network, UdpSocket } from "../../redundancy/net.js";
import { encode, keyFromSecret, open, Sender, type Envelope } from "../../redundancy/wire.js";
import { parseWitnessReplyBody, WitnessClient, type WitnessResult } from "../../redundancy/witness-client.js";
import { WITNESS_OPS, WITNESS_REFUSALS } from "../../redundancy/witness-core.js";
import { parseWitnessRequestBody, WITNESS_CHANNEL, WITNESS_REPLY, WITNESS_REQ, WitnessServer } from "../../redundancy/witness-server.js";

const KEY = keyFromSecret("line1-secret-0123456789abcdef-0123456789");
const WRONG = keyFromSecret("line1-secret-0123456789abcdef-wrong-key");
const logs = { get: () => nullLogger };

/** any JSON value, objects biased towards the fields of witness requests and replies */
const anyJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.constantFrom(0, -1, 1, 1.5, 2 ** 53, 3_600_001, Number.MAX_SAFE_INTEGER),
    fc.string(),
    fc.constantFrom(...WITNESS_OPS, ...WITNESS_REFUSALS, "__proto__", "constructor"),
    fc.array(tie("value"), { maxLength: 4 }),
    tie("object"),
  ),
  object: fc.dictionary(
    fc.oneof(fc.constantFrom("op", "epoch", "leaseMs", "silenceMs", "granted", "reason", "holder", "holderEpoch", "remainingMs", "retryInMs", "reqSeq", "reqInc", "__proto__"), fc.string({ maxLength: 8 })),
    tie("value"),
    { maxKeys: 8 },
  ),
})).object as fc.Arbitrary<Record<string, unknown>>;

/** a request body the way a well-meaning node writes one, each field sometimes replaced */
const requestish = fc
  .record({ op: fc.constantFrom(...WITNESS_OPS), epoch: fc.nat(20), leaseMs: fc.integer({ min: 1, max: 5000 }), silenceMs: fc.option(fc.nat(5000), { nil: undefined }) })
  .chain((b) => fc.tuple(fc.constant(b), anyJson, fc.subarray(["op", "epoch", "leaseMs", "silenceMs"])))
  .map(([b, noise, replace]) => {
    const o: Record<string, unknown> = { ...b };
    if (o.silenceMs === undefined) delete o.silenceMs;
    for (const k of replace) o[k] = noise[k];
    return o;
  });

/** a clock whose time only moves when the test says, and whose timers run when it passes them */
class FakeClock implements Clock {
  t = 10_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => void this.timers.delete(h as number);
  defer = (fn: () => void) => fn();
  advance(ms: number): void {
    this.t += ms;
    for (const [id, x] of [...this.timers]) {
      if (x.at <= this.t && this.timers.delete(id)) x.fn();
    }
  }
}

/** one UDP endpoint of the in-memory network: what it was sent to, and a way to deliver to it */
function fakeNetwork() {
  const sent: { bytes: Buffer; to: HostPort }[] = [];
  let deliver: ((bytes: Buffer, from: HostPort) => void) | null = null;
  const net = {
    async bindUdp(addr: HostPort, onMessage: (bytes: Buffer, from: HostPort) => void): Promise<UdpSocket> {
      deliver = onMessage;
      return { address: { host: addr.host, port: addr.port || 7400 }, send: (bytes, to) => void sent.push({ bytes: Buffer.from(bytes), to }), close: async () => {} };
    },
  } as unknown as Network;
  return { net, sent, deliver: (b: Buffer) => deliver!(b, { host: "192.0.2.66", port: 40000 }) };
}

const FROM = { host: "192.0.2.66", port: 40000 };

/** a started witness that has granted a lease to a (epoch 3) and heard from b */
async function witnessWithAGrant() {
  const clock = new FakeClock();
  const { net, sent, deliver } = fakeNetwork();
  const w = new WitnessServer({ listen: { host: "127.0.0.1", port: 7400 }, keys: new Map([["line1", KEY]]), maxLeaseMs: 1000, logs, network: net, clock });
  await w.start();
  clock.advance(1500); // past the quiet period after a start
  const a = new Sender({ pair: "line1", from: "a", inc: 5, key: KEY });
  const b = new Sender({ pair: "line1", from: "b", inc: 6, key: KEY });
  deliver(a.seal(WITNESS_CHANNEL, WITNESS_REQ, { op: "acquire", epoch: 3, leaseMs: 1000 }).bytes);
  deliver(b.seal(WITNESS_CHANNEL, WITNESS_REQ, { op: "probe", epoch: 0, leaseMs: 1 }).bytes);
  expect(sent).toHaveLength(2);
  expect(w.record("line1")).toMatchObject({ holder: "a", epoch: 3 });
  sent.length = 0;
  return { w, clock, sent, deliver };
}

describe("witness decoders fuzzed", () => {
  it("parseWitnessRequestBody: any object → a reason, or a request whose every field is in range", () => {
    fc.assert(
      fc.property(fc.oneof(anyJson, requestish), (body) => {
        const r = parseWitnessRequestBody(body);
        if (typeof r === "string") return;
        expect(WITNESS_OPS).toContain(r.op);
        expect(Number.isSafeInteger(r.epoch) && r.epoch >= 0).toBe(true);
        expect(Number.isSafeInteger(r.leaseMs) && r.leaseMs >= 1 && r.leaseMs <= 3_600_000).toBe(true);
        if (r.silenceMs !== undefined) expect(Number.isSafeInteger(r.silenceMs) && r.silenceMs >= 0).toBe(true);
        if (r.op === "announce") expect(r.silenceMs).toBeDefined();
        for (const k of Object.keys(body)) expect(["op", "epoch", "leaseMs", "silenceMs"]).toContain(k);
      }),
      { numRuns: 500 },
    );
  });

  it("parseWitnessReplyBody: any object → a reason, or a reply whose every field is in range", () => {
    fc.assert(
      fc.property(anyJson, (body) => {
        const r = parseWitnessReplyBody(body);
        if (typeof r === "string") return;
        expect(WITNESS_OPS).toContain(r.reply.op);
        expect(typeof r.reply.granted).toBe("boolean");
        if (r.reply.reason !== undefined) expect(WITNESS_REFUSALS).toContain(r.reply.reason);
        for (const k of ["leaseMs", "remainingMs", "holderEpoch"] as const) expect(Number.isFinite(r.reply[k]) && r.reply[k] >= 0).toBe(true);
        expect(Number.isSafeInteger(r.reqSeq) && Number.isSafeInteger(r.reqInc)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("WitnessServer fed hostile datagrams", () => {
  it("arbitrary bytes, a wrong key, a byte changed: no answer, and the grants and heard-from times unchanged", async () => {
    const { w, sent, deliver } = await witnessWithAGrant();
    const before = JSON.stringify(w.snapshot());
    const good = new Sender({ pair: "line1", from: "b", inc: 7, key: KEY }).seal(WITNESS_CHANNEL, WITNESS_REQ, { op: "acquire", epoch: 9, leaseMs: 1000 }).bytes;
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const b = Buffer.from(good);
        b[at % b.length] ^= x;
        return b;
      }),
      fc.nat().map((n) => good.subarray(0, n % good.length)),
      requestish.map((body) => new Sender({ pair: "line1", from: "b", inc: 8, key: WRONG }).seal(WITNESS_CHANNEL, WITNESS_REQ, body as object).bytes),
    );
    fc.assert(
      fc.property(datagram, (d) => {
        expect(() => deliver(d)).not.toThrow();
        expect(sent).toHaveLength(0);
        expect(JSON.stringify(w.snapshot())).toBe(before);
      }),
      { numRuns: 300 },
    );
    expect(w.counters().internal_errors).toBeUndefined();
  });

  it("authenticated envelopes of any shape: answered only when the parser accepts the request; a refused one changes nothing", async () => {
    const { w, sent, deliver } = await witnessWithAGrant();
    let inc = 100;
    const envelope = fc.record({
      from: fc.constantFrom("a", "b", "c", "witness"),
      ch: fc.oneof({ arbitrary: fc.constant(WITNESS_CHANNEL), weight: 6 }, fc.constantFrom("lan", "tcp")),
      type: fc.oneof({ arbitrary: fc.constant(WITNESS_REQ), weight: 6 }, fc.constantFrom(WITNESS_REPLY, "hb")),
      body: fc.oneof(anyJson, { arbitrary: requestish, weight: 3 }),
      // a sender's seq is its own: a stale one is a replay
      seq: fc.integer({ min: 1, max: 5 }),
      newInc: fc.boolean(),
    });
    fc.assert(
      fc.property(envelope, (e) => {
        if (e.newInc) inc++;
        const env: Envelope = { v: 1, pair: "line1", from: e.from, inc, seq: e.seq, ts: 0, ch: e.ch, type: e.type, body: e.body };
        const before = JSON.stringify(w.snapshot());
        expect(() => deliver(encode(KEY, env))).not.toThrow();
        const answered = sent.splice(0);
        const parsed = parseWitnessRequestBody(e.body);
        if (answered.length === 0) {
          expect(JSON.stringify(w.snapshot())).toBe(before);
          return;
        }
        // answered: only a well-formed request on the witness channel, and with a reply a node accepts
        expect(answered).toHaveLength(1);
        expect(typeof parsed).not.toBe("string");
        expect([e.ch, e.type]).toEqual([WITNESS_CHANNEL, WITNESS_REQ]);
        expect(e.from).not.toBe("witness");
        expect(answered[0]!.to).toEqual(FROM);
        const r = open(answered[0]!.bytes, () => KEY);
        expect(r.ok).toBe(true);
        if (r.ok) expect(typeof parseWitnessReplyBody(r.env.body)).not.toBe("string");
      }),
      { numRuns: 300 },
    );
    expect(w.counters().internal_errors).toBeUndefined();
  });
});

describe("WitnessClient fed hostile datagrams", () => {
  it("while a request waits: nothing but the witness's matching reply answers it; garbage ends in a timeout", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
            // a reply-shaped body from someone else, on another channel, with another key, or for another request
            fc.record({ from: fc.constantFrom("witness", "b"), ch: fc.constantFrom(WITNESS_CHANNEL, "lan"), type: fc.constantFrom(WITNESS_REPLY, WITNESS_REQ), body: anyJson, wrongKey: fc.boolean() }).map((x) =>
              new Sender({ pair: "line1", from: x.from, inc: 77, key: x.wrongKey ? WRONG : KEY }).seal(x.ch, x.type, x.body).bytes,
            ),
            fc.record({ reqSeq: fc.integer({ min: 2, max: 9 }), reqInc: fc.constantFrom(1, 2) }).map(({ reqSeq, reqInc }) =>
              // well-formed, but for a request this client is not waiting for
              new Sender({ pair: "line1", from: "witness", inc: 78, key: KEY }).seal(WITNESS_CHANNEL, WITNESS_REPLY, { op: "renew", granted: true, leaseMs: 1000, holder: "a", holderEpoch: 3, remainingMs: 1000, reqSeq, reqInc }).bytes,
            ),
          ),
          { minLength: 1, maxLength: 10 },
        ),
        async (datagrams) => {
          const clock = new FakeClock();
          const { net, sent, deliver } = fakeNetwork();
          const c = new WitnessClient({ address: { host: "127.0.0.1", port: 7400 }, pair: "line1", from: "a", inc: 1, key: KEY, timeoutMs: 100, network: net, clock });
          await c.start();
          let result: WitnessResult | null = null;
          const waiting = c.request("renew", 3, 1000).then((r) => (result = r));
          expect(sent).toHaveLength(1);
          for (const d of datagrams) expect(() => deliver(d)).not.toThrow();
          await Promise.resolve();
          expect(result).toBeNull();
          expect(c.pending).toBe(1);
          clock.advance(100);
          await waiting;
          expect(result).toMatchObject({ timeout: true });
          expect(c.counters().internal_errors).toBeUndefined();
          await c.stop();
        },
      ),
      { numRuns: 200 },
    );
  });
});
