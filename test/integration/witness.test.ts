// The witness over real UDP on loopback: leases with real time (S1), hostile
// datagrams dropped and counted without an answer (S4, S5), the client's own
// checks on replies, and the `tandem witness` entry point as a process.
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogs } from "../../runtime/logging.js";
import { keyFromSecret, open, Sender } from "../../redundancy/wire.js";
import { WitnessClient, type WitnessResult } from "../../redundancy/witness-client.js";
import type { WitnessReply } from "../../redundancy/witness-core.js";
import { runWitness } from "../../runtime/witness-main.js";
import { WitnessServer } from "../../redundancy/witness-server.js";
import { sleep, waitUntil } from "../helpers/cluster.js";
import { prng } from "../helpers/prng.js";

const SECRET1 = "line1-secret-0123456789abcdef-0123456789";
const SECRET2 = "line2-secret-0123456789abcdef-0123456789";
const K1 = keyFromSecret(SECRET1);
const K2 = keyFromSecret(SECRET2);
const MAX_LEASE = 400;
/** clients bind to loopback too: nothing in these tests listens beyond this host */
const LOOPBACK = { host: "127.0.0.1", port: 0 };

/** In-process counters move within microseconds: poll often. */
const waitFor = (what: string, cond: () => boolean, timeoutMs = 2000) => waitUntil(what, cond, { timeoutMs, everyMs: 2 });


function replyOf(r: WitnessResult): WitnessReply {
  if ("timeout" in r) throw new Error("witness did not answer");
  return r.reply;
}

/** A raw UDP socket that records what it receives: a hostile sender, or a fake witness. */
async function rawSocket(): Promise<{ sock: dgram.Socket; got: { msg: Buffer; port: number }[]; port: number; close: () => Promise<void> }> {
  const sock = dgram.createSocket("udp4");
  const got: { msg: Buffer; port: number }[] = [];
  sock.on("message", (msg, rinfo) => got.push({ msg, port: rinfo.port }));
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  return { sock, got, port: sock.address().port, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

function send(sock: dgram.Socket, buf: Buffer, port: number): Promise<void> {
  return new Promise((r, j) => sock.send(buf, port, "127.0.0.1", (e) => (e ? j(e) : r())));
}

describe("witness over UDP", () => {
  let server: WitnessServer;
  let addr: { host: string; port: number };
  const clients: WitnessClient[] = [];

  async function client(pair: string, from: string, key: Buffer, opts: { inc?: number; timeoutMs?: number; address?: { host: string; port: number } } = {}): Promise<WitnessClient> {
    const c = new WitnessClient({ bind: LOOPBACK, address: opts.address ?? addr, pair, from, inc: opts.inc ?? 1, key, timeoutMs: opts.timeoutMs ?? 1000 });
    await c.start();
    clients.push(c);
    return c;
  }

  const count = (name: string) => server.counters()[name] ?? 0;

  beforeAll(async () => {
    server = new WitnessServer({ listen: { host: "127.0.0.1", port: 0 }, keys: new Map([["line1", K1], ["line2", K2], ["warm-up", K2]]), maxLeaseMs: MAX_LEASE, logs: silentLogs() });
    addr = await server.start();
    expect(addr.port).toBeGreaterThan(0);
    // past the start-up quiet period: the witness grants (and this lease on a
    // pair of its own is released at once)
    const warm = await client("warm-up", "w", K2);
    await waitUntil("the witness past its quiet period", async () => {
      const r = await warm.request("acquire", 1, 100);
      return !("timeout" in r) && r.reply.granted;
    }, { timeoutMs: MAX_LEASE * 10, everyMs: 50 });
    expect(replyOf(await warm.request("release", 1, 100))).toMatchObject({ granted: true, holder: null });
  });

  afterAll(async () => {
    for (const c of clients) await c.stop();
    await server.stop();
  });

  it("grants, refuses, renews and lets a lease run out, in real time (S1)", async () => {
    const a = await client("line1", "a", K1);
    const b = await client("line1", "b", K1);
    const L = MAX_LEASE;

    const r1 = await a.request("acquire", 1, L);
    expect(replyOf(r1)).toMatchObject({ op: "acquire", granted: true, leaseMs: L, holder: "a", holderEpoch: 1 });
    if ("timeout" in r1) return;
    expect(r1.sentAt).toBeLessThanOrEqual(performance.now());
    expect(r1.rtt).toBeGreaterThanOrEqual(0);

    const r2 = replyOf(await b.request("acquire", 2, L));
    expect(r2).toMatchObject({ granted: false, reason: "held", holder: "a", holderEpoch: 1, leaseMs: 0 });
    expect(r2.retryInMs).toBeGreaterThan(0);
    expect(r2.retryInMs).toBeLessThanOrEqual(L);

    const r3 = await a.request("renew", 1, L);
    expect(replyOf(r3)).toMatchObject({ granted: true, leaseMs: L, holder: "a" });
    if ("timeout" in r3) return;

    // Once a's lease has surely run out at the witness (it was granted after sentAt, before sentAt + rtt):
    const expiredAt = r3.sentAt + r3.rtt + L + 20;
    // what is under test is the lease running out in real time: wait out its computed end, no longer
    await sleep(Math.max(0, expiredAt - performance.now()));
    expect(replyOf(await b.request("acquire", 2, L))).toMatchObject({ granted: true, holder: "b", holderEpoch: 2, leaseMs: L });
    expect(replyOf(await a.request("renew", 1, L))).toMatchObject({ granted: false, reason: "stale-epoch", holder: "b", holderEpoch: 2 });
    expect(replyOf(await a.request("probe", 0, L))).toMatchObject({ granted: true, holder: "b" });

    // Planned switchover: b releases, a takes over at once.
    expect(replyOf(await b.request("release", 2, L))).toMatchObject({ granted: true, holder: null });
    expect(replyOf(await b.request("renew", 2, L))).toMatchObject({ granted: false, reason: "released" });
    expect(replyOf(await a.request("acquire", 3, 10_000))).toMatchObject({ granted: true, holder: "a", leaseMs: MAX_LEASE }); // capped
    expect(a.counters()).toMatchObject({ sent: 5, replies: 5 });

    // The dead-process path: silenceMs travels to the witness and decides.
    expect(replyOf(await b.request("announce", 4, L, { silenceMs: 60_000 }))).toMatchObject({ granted: false, reason: "holder-alive", holder: "a" });
    expect(replyOf(await b.request("announce", 4, L, { silenceMs: 0 }))).toMatchObject({ granted: true, holder: "b", holderEpoch: 4 });
  });

  it("client: programming errors throw at once", async () => {
    const base = { address: addr, pair: "line1", from: "x", inc: 1, key: K1, timeoutMs: 100 };
    expect(() => new WitnessClient({ ...base, timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new WitnessClient({ ...base, address: { host: "127.0.0.1", port: 0 } })).toThrow(RangeError);
    expect(() => new WitnessClient({ ...base, inc: 0 })).toThrow(TypeError);
    const c = new WitnessClient({ ...base, bind: LOOPBACK });
    expect(() => c.request("probe", 0, 100)).toThrow(/not started/);
    await c.start();
    clients.push(c);
    expect(() => c.request("announce", 1, 100)).toThrow(/silenceMs/);
    expect(() => c.request("renew", -1, 100)).toThrow(RangeError);
    expect(() => c.request("renew", 1, 0)).toThrow(RangeError);
    expect(() => c.request("steal" as "renew", 1, 100)).toThrow(RangeError);
    expect(c.counters()).toEqual({});
  });

  it("a freshly started witness refuses acquire during its quiet period (it may have granted a lease before it restarted), but takes a renew (S1)", async () => {
    const w = new WitnessServer({ listen: { host: "127.0.0.1", port: 0 }, keys: new Map(), defaultKey: K2, maxLeaseMs: 2000, logs: silentLogs() });
    const at = await w.start();
    try {
      const a = await client("any-pair", "a", K2, { address: at });
      const b = await client("any-pair", "b", K2, { address: at });
      const r = replyOf(await b.request("acquire", 5, 400));
      expect(r).toMatchObject({ granted: false, reason: "witness-starting" });
      expect(r.retryInMs).toBeGreaterThan(0);
      expect(r.retryInMs).toBeLessThanOrEqual(2000);
      expect(replyOf(await a.request("renew", 4, 400))).toMatchObject({ granted: true, holder: "a", holderEpoch: 4, leaseMs: 400 });
      expect(w.counters()).toMatchObject({ granted: 1, refused: 1, replied: 2 });
    } finally {
      await w.stop();
    }
  });

  it("forged, wrong-key, unknown-pair, replayed, misrouted and malformed requests are dropped unanswered and counted (S4)", async () => {
    const raw = await rawSocket();
    try {
      const s = new Sender({ pair: "line2", from: "r", inc: 1000, key: K2 });
      const probe = { op: "probe", epoch: 0, leaseMs: 100 };
      const expectDrop = async (counter: string, bytes: Buffer) => {
        const before = count(counter);
        await send(raw.sock, bytes, addr.port);
        await waitFor(counter, () => count(counter) === before + 1);
      };

      const first = s.seal("witness", "witness-req", probe);
      await send(raw.sock, first.bytes, addr.port);
      await waitFor("first reply", () => raw.got.length === 1);
      const rep = open(raw.got[0]!.msg, (p) => (p === "line2" ? K2 : undefined));
      expect(rep.ok && rep.env).toMatchObject({ from: "witness", ch: "witness", type: "witness-reply", body: { op: "probe", granted: true, reqSeq: first.seq, reqInc: 1000 } });

      await expectDrop("rejected_replay", first.bytes);
      const forged = Buffer.from(s.seal("witness", "witness-req", probe).bytes);
      forged[4 + 1 + "line2".length + 5] ^= 0x01; // a bit inside the MAC
      await expectDrop("rejected_bad_mac", forged);
      await expectDrop("rejected_bad_mac", new Sender({ pair: "line2", from: "r2", inc: 1, key: K1 }).seal("witness", "witness-req", probe).bytes);
      await expectDrop("rejected_unknown_pair", new Sender({ pair: "line9", from: "r", inc: 1, key: K2 }).seal("witness", "witness-req", probe).bytes);
      await expectDrop("rejected_wrong_channel", s.seal("lan", "witness-req", probe).bytes);
      await expectDrop("rejected_bad_type", s.seal("witness", "heartbeat", probe).bytes);
      await expectDrop("rejected_bad_body", s.seal("witness", "witness-req", { op: "steal", epoch: 1, leaseMs: 100 }).bytes);
      await expectDrop("rejected_bad_body", s.seal("witness", "witness-req", { op: "acquire", epoch: 1, leaseMs: 0 }).bytes);
      await expectDrop("rejected_bad_body", s.seal("witness", "witness-req", { op: "announce", epoch: 1, leaseMs: 100 }).bytes);
      await expectDrop("rejected_bad_body", s.seal("witness", "witness-req", { ...probe, extra: true }).bytes);
      await expectDrop("rejected_bad_shape", new Sender({ pair: "line2", from: "witness", inc: 1, key: K2 }).seal("witness", "witness-req", probe).bytes);
      await expectDrop("rejected_old_incarnation", new Sender({ pair: "line2", from: "r", inc: 999, key: K2 }).seal("witness", "witness-req", probe).bytes);
      // Node ids are per pair: "r" of line1 is someone else and not a replay of line2's "r".
      await send(raw.sock, new Sender({ pair: "line1", from: "r", inc: 1, key: K1 }).seal("witness", "witness-req", probe).bytes, addr.port);
      await waitFor("line1 r's reply", () => raw.got.length === 2);

      const last = s.seal("witness", "witness-req", probe);
      await send(raw.sock, last.bytes, addr.port);
      await waitFor("last reply", () => raw.got.length >= 3);
      const lastRep = open(raw.got[2]!.msg, (p) => (p === "line2" ? K2 : undefined));
      expect(lastRep.ok && lastRep.env.body).toMatchObject({ reqSeq: last.seq });
      // Replies come from one socket in order: nothing dropped above was answered.
      expect(raw.got.length).toBe(3);
    } finally {
      await raw.close();
    }
  });

  it("hundreds of garbage and truncated datagrams are dropped and counted; the witness still answers (S5)", async () => {
    const raw = await rawSocket();
    try {
      const rnd = prng(20240611);
      const valid = new Sender({ pair: "line1", from: "g", inc: 1, key: K1 }).seal("witness", "witness-req", { op: "probe", epoch: 0, leaseMs: 100 }).bytes;
      const junk: Buffer[] = [Buffer.alloc(0)];
      for (let n = 0; n < valid.length; n++) junk.push(valid.subarray(0, n)); // every truncation
      while (junk.length < 600) {
        const kind = junk.length % 3;
        if (kind === 0) junk.push(Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256))));
        else if (kind === 1) {
          const b = Buffer.from(valid);
          b[Math.floor(rnd() * b.length)] ^= 1 + Math.floor(rnd() * 255);
          junk.push(b);
        } else junk.push(Buffer.concat([Buffer.from("TDM1"), Buffer.from([5]), Buffer.from("line1"), Buffer.from(Array.from({ length: Math.floor(rnd() * 100) }, () => Math.floor(rnd() * 256)))]));
      }
      const before = server.counters();
      const rejectedSum = (c: Record<string, number>) => Object.entries(c).reduce((s, [k, v]) => (k.startsWith("rejected_") ? s + v : s), 0);
      // Batches, each drained before the next, so the kernel's socket buffer never overflows.
      for (let i = 0; i < junk.length; i += 50) {
        for (const b of junk.slice(i, i + 50)) await send(raw.sock, b, addr.port);
        const target = (before.received ?? 0) + Math.min(i + 50, junk.length);
        await waitFor(`batch ${i}`, () => count("received") === target);
      }
      const after = server.counters();
      expect(rejectedSum(after) - rejectedSum(before)).toBe(junk.length);
      expect(after.replied ?? 0).toBe(before.replied ?? 0);
      expect(after.internal_errors).toBeUndefined();
      expect(raw.got).toHaveLength(0);

      const c = await client("line1", "after-garbage", K1);
      expect(replyOf(await c.request("probe", 0, 100))).toMatchObject({ granted: true });
    } finally {
      await raw.close();
    }
  });

  it("client: a stopped witness means a timeout; stop() ends what is still waiting", async () => {
    const w = new WitnessServer({ listen: { host: "127.0.0.1", port: 0 }, keys: new Map([["line1", K1]]), maxLeaseMs: 100, logs: silentLogs() });
    const at = await w.start();
    const c = new WitnessClient({ bind: LOOPBACK, address: at, pair: "line1", from: "t", inc: 1, key: K1, timeoutMs: 150 });
    await c.start();
    try {
      expect(replyOf(await c.request("probe", 0, 100))).toMatchObject({ granted: true });
      await w.stop();
      const t0 = performance.now();
      const r = await c.request("renew", 1, 100);
      expect(r).toEqual({ timeout: true, sentAt: expect.any(Number) });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
      expect(c.counters()).toMatchObject({ sent: 2, replies: 1, timeouts: 1 });

      const p = c.request("renew", 1, 100);
      expect(c.pending).toBe(1);
      const t1 = performance.now();
      await c.stop();
      expect(await p).toMatchObject({ timeout: true });
      expect(performance.now() - t1).toBeLessThan(100);
      expect(c.pending).toBe(0);
      expect(await c.request("probe", 0, 100)).toMatchObject({ timeout: true });
    } finally {
      await c.stop();
      await w.stop();
    }
  });

  it("the client accepts only an authentic, fresh reply to an outstanding request (S4)", async () => {
    const fake = await rawSocket();
    const c = new WitnessClient({ bind: LOOPBACK, address: { host: "127.0.0.1", port: fake.port }, pair: "line1", from: "n", inc: 5, key: K1, timeoutMs: 2000 });
    await c.start();
    try {
      const cc = (name: string) => c.counters()[name] ?? 0;
      const witness = new Sender({ pair: "line1", from: "witness", inc: 77, key: K1 });
      const body = (reqSeq: number, reqInc = 5) => ({ op: "probe", granted: true, leaseMs: 0, holder: "a", holderEpoch: 3, remainingMs: 120, reqSeq, reqInc });
      const reply = async (bytes: Buffer, counter: string) => {
        const before = cc(counter);
        await send(fake.sock, bytes, fake.got[fake.got.length - 1]!.port);
        await waitFor(counter, () => cc(counter) === before + 1);
      };

      const p = c.request("probe", 0, 100);
      await waitFor("request", () => fake.got.length === 1);
      const req = open(fake.got[0]!.msg, () => K1);
      expect(req.ok && req.env).toMatchObject({ pair: "line1", from: "n", inc: 5, ch: "witness", type: "witness-req", body: { op: "probe", epoch: 0, leaseMs: 100 } });
      const seq = req.ok ? req.env.seq : -1;

      await reply(new Sender({ pair: "line1", from: "witness", inc: 77, key: K2 }).seal("witness", "witness-reply", body(seq)).bytes, "rejected_bad_mac");
      await reply(new Sender({ pair: "line1", from: "mallory", inc: 1, key: K1 }).seal("witness", "witness-reply", body(seq)).bytes, "rejected_not_witness_reply");
      await reply(witness.seal("lan", "witness-reply", body(seq)).bytes, "rejected_not_witness_reply");
      await reply(witness.seal("witness", "witness-reply", body(seq + 1)).bytes, "rejected_unmatched");
      await reply(witness.seal("witness", "witness-reply", body(seq, 4)).bytes, "rejected_unmatched");
      await reply(witness.seal("witness", "witness-reply", { ...body(seq), granted: "yes" }).bytes, "rejected_bad_body");
      expect(c.pending).toBe(1);

      const good = witness.seal("witness", "witness-reply", body(seq)).bytes;
      await send(fake.sock, good, fake.got[0]!.port);
      const r = await p;
      expect(replyOf(r)).toEqual({ op: "probe", granted: true, leaseMs: 0, holder: "a", holderEpoch: 3, remainingMs: 120 });
      await reply(good, "rejected_replay");

      // The witness restarts with a lower (random) incarnation: its answer to a waiting request is taken.
      const p2 = c.request("renew", 3, 100);
      await waitFor("second request", () => fake.got.length === 2);
      const req2 = open(fake.got[1]!.msg, () => K1);
      const seq2 = req2.ok ? req2.env.seq : -1;
      const restarted = new Sender({ pair: "line1", from: "witness", inc: 3, key: K1 });
      await send(fake.sock, restarted.seal("witness", "witness-reply", { ...body(seq2), op: "renew", leaseMs: 100 }).bytes, fake.got[1]!.port);
      expect(replyOf(await p2)).toMatchObject({ op: "renew", granted: true, leaseMs: 100 });
      expect(cc("witness_incarnation_changed")).toBe(1);
      // …but an even older incarnation answering nothing is refused.
      await reply(new Sender({ pair: "line1", from: "witness", inc: 1, key: K1 }).seal("witness", "witness-reply", body(seq2)).bytes, "rejected_old_incarnation");
      expect(cc("replies")).toBe(2);
    } finally {
      await c.stop();
      await fake.close();
    }
  });
});

describe("tandem witness (runWitness)", () => {
  it("usage errors return 2 with the reason and never echo a key (S5)", async () => {
    const cases: [string[], RegExp][] = [
      [[], /--listen HOST:PORT is required/],
      [["--listen", "nope", "--key", SECRET1], /--listen: expected HOST:PORT/],
      [["--listen", "127.0.0.1:70000", "--key", SECRET1], /port must be 0–65535/],
      [["--listen", "127.0.0.1:0"], /no key given/],
      [["--listen", "127.0.0.1:0", "--key", "too-short-secret"], /default key is too short.*32/],
      [["--listen", "127.0.0.1:0", "--key", "line1=short"], /key for pair 'line1' is too short/],
      [["--listen", "127.0.0.1:0", "--key", `line1=${SECRET1}`, "--key", `line1=${SECRET2}`], /pair 'line1' has more than one key/],
      [["--listen", "127.0.0.1:0", "--key", SECRET1, "--max-lease-ms", "5s"], /--max-lease-ms/],
      [["--listen", "127.0.0.1:0", "--key", SECRET1, "--log-level", "loud"], /--log-level/],
      [["--listen", "127.0.0.1:0", "--key", SECRET1, "--bogus"], /bogus/],
    ];
    for (const [argv, message] of cases) {
      const err: string[] = [];
      const code = await runWitness(argv, { stderr: (l) => err.push(l), stdout: () => {}, env: {} });
      expect(code, argv.join(" ")).toBe(2);
      expect(err.join("\n"), argv.join(" ")).toMatch(message);
      expect(err.join("\n")).not.toContain(SECRET1);
      expect(err.join("\n")).not.toContain(SECRET2);
    }
  });

  it("runs in process with keys from TANDEM_WITNESS_KEY, answers, and stops with 0", async () => {
    const out: string[] = [];
    const stop = new AbortController();
    let at: { host: string; port: number } | undefined;
    const done = runWitness(["--listen", "127.0.0.1:0", "--max-lease-ms", "100"], {
      stdout: (l) => out.push(l),
      stderr: (l) => out.push(l),
      env: { TANDEM_WITNESS_KEY: `line1=${SECRET1},line2=${SECRET2}` },
      logs: silentLogs(),
      signal: stop.signal,
      onListening: (a) => (at = a),
    });
    await waitFor("listening", () => at !== undefined);
    const c = new WitnessClient({ bind: LOOPBACK, address: at!, pair: "line2", from: "a", inc: 1, key: K2, timeoutMs: 1000 });
    await c.start();
    try {
      expect(replyOf(await c.request("probe", 0, 100))).toMatchObject({ granted: true });
    } finally {
      await c.stop();
    }
    stop.abort();
    expect(await done).toBe(0);
    expect(out).toEqual([`tandem witness listening on 127.0.0.1:${at!.port} for pairs: line1, line2`]);
  });

  it("cannot listen: returns 1 with the reason", async () => {
    const busy = dgram.createSocket("udp4");
    await new Promise<void>((r) => busy.bind(0, "127.0.0.1", () => r()));
    try {
      const err: string[] = [];
      const code = await runWitness(["--listen", `127.0.0.1:${busy.address().port}`, "--key", SECRET1], { stderr: (l) => err.push(l), stdout: () => {}, env: {}, logs: silentLogs() });
      expect(code).toBe(1);
      expect(err.join("\n")).toMatch(/cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });
});

const MAIN_JS = resolve(import.meta.dirname, "../../dist/runtime/witness-main.js");
const haveDist = existsSync(MAIN_JS);
if (!haveDist) console.warn(`witness.test.ts: skipping the process tests: ${MAIN_JS} is missing (run \`npm run build\`; \`npm test\` builds first)`);

function runMain(args: string[], env: Record<string, string>): { child: ReturnType<typeof spawn>; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN_JS, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
  const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, out: () => text, exit };
}

describe.skipIf(!haveDist)("tandem witness as a process (dist/)", () => {
  it("prints where it listens, answers, and exits 0 on SIGTERM", async () => {
    const p = runMain(["--listen", "127.0.0.1:0", "--max-lease-ms", "5000", "--log-level", "warn"], { TANDEM_WITNESS_KEY: `line1=${SECRET1}` });
    let c: WitnessClient | undefined;
    try {
      await waitFor("the listening line", () => /listening on 127\.0\.0\.1:\d+/.test(p.out()), 15_000);
      const m = /tandem witness listening on 127\.0\.0\.1:(\d+) for pairs: line1\n/.exec(p.out());
      expect(m, p.out()).not.toBeNull();
      c = new WitnessClient({ bind: LOOPBACK, address: { host: "127.0.0.1", port: Number(m![1]) }, pair: "line1", from: "a", inc: 1, key: K1, timeoutMs: 1000 });
      await c.start();
      expect(replyOf(await c.request("acquire", 1, 200))).toMatchObject({ granted: false, reason: "witness-starting" });
      expect(replyOf(await c.request("renew", 1, 200))).toMatchObject({ granted: true, holder: "a" });
      p.child.kill("SIGTERM");
      expect(await p.exit).toBe(0);
      expect(p.out()).not.toContain(SECRET1);
    } finally {
      await c?.stop();
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill("SIGKILL");
        await p.exit;
      }
    }
  });

  it("a bad --listen exits 2 with the reason (S5)", async () => {
    const p = runMain(["--listen", "plc1", "--key", SECRET1], {});
    expect(await p.exit).toBe(2);
    expect(p.out()).toMatch(/--listen: expected HOST:PORT \(e\.g\. 127\.0\.0\.1:7400\), got 'plc1'/);
    expect(p.out()).not.toContain(SECRET1);
  });
});
