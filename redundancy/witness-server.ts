// The witness over UDP: authenticates each request (wire.ts), drops replays,
// runs WitnessCore on the process's monotonic clock and answers. Anything
// wrong is dropped without an answer, counted by reason and logged (rate
// limited): a witness never tells an unauthenticated sender anything, and bad
// datagrams never stop it (S4, S5).
import { randomInt } from "node:crypto";
import type { Logger, LogSource } from "../core/logger.js";
import type { HostPort } from "../core/types.js";
import { systemClock, systemNetwork, type Clock, type Network, type UdpSocket } from "./net.js";
import { COUNT_CHANNELS, counterFor } from "../core/diagnostics.js";
import { ReplayGuard } from "./replay-guard.js";
import { open, Sender, type Envelope } from "./wire.js";
import { WITNESS_CHANNEL, WITNESS_FROM, WITNESS_OPS, WITNESS_REPLY, WITNESS_REQ, WitnessCore, type WitnessOp, type WitnessReply, type WitnessRequest } from "./witness-core.js";

export const DEFAULT_MAX_LEASE_MS = 5000;
/** the longest lease a request may ask for; the witness grants at most maxLeaseMs anyway */
const MAX_REQUEST_LEASE_MS = 3_600_000;
const LOG_EVERY_MS = 1000;
const publishCount = counterFor(COUNT_CHANNELS.witnessServer);

export interface WitnessServerOptions {
  listen: { host: string; port: number };
  /** pairId → key */
  keys: Map<string, Buffer>;
  /** key for any pair not in keys */
  defaultKey?: Buffer;
  maxLeaseMs?: number;
  logs: LogSource;
  replayWindow?: number;
  /** the real network and clock unless a simulation supplies its own */
  network?: Network;
  clock?: Clock;
}

/** Body of a witness request envelope, or why it is not one. */
export function parseWitnessRequestBody(body: Record<string, unknown>): { op: WitnessOp; epoch: number; leaseMs: number; silenceMs?: number } | string {
  for (const k of Object.keys(body)) if (k !== "op" && k !== "epoch" && k !== "leaseMs" && k !== "silenceMs") return `unknown field '${k.slice(0, 32)}'`;
  const { op, epoch, leaseMs, silenceMs } = body;
  if (typeof op !== "string" || !WITNESS_OPS.includes(op as WitnessOp)) return "op must be one of " + WITNESS_OPS.join(", ");
  if (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0) return "epoch must be a non-negative safe integer";
  if (typeof leaseMs !== "number" || !Number.isSafeInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_REQUEST_LEASE_MS) return `leaseMs must be an integer 1–${MAX_REQUEST_LEASE_MS}`;
  if (silenceMs !== undefined && (typeof silenceMs !== "number" || !Number.isSafeInteger(silenceMs) || silenceMs < 0)) return "silenceMs must be a non-negative safe integer";
  if (op === "announce" && silenceMs === undefined) return "announce needs silenceMs";
  return { op: op as WitnessOp, epoch, leaseMs, ...(silenceMs === undefined ? {} : { silenceMs }) };
}

export { WITNESS_CHANNEL, WITNESS_FROM, WITNESS_REPLY, WITNESS_REQ };

/** Logs at most one line per key per interval, with the count of lines it held back. */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly everyMs = LOG_EVERY_MS) {}

  /** Calls emit(suppressedSinceLast) unless a line with this key was logged less than everyMs ago. */
  run(key: string, now: number, emit: (suppressed: number) => void): void {
    const e = this.last.get(key);
    if (e && now - e.at < this.everyMs) {
      e.suppressed++;
      return;
    }
    if (this.last.size > 256) this.last.clear(); // keys are reason names; this never triggers in practice
    this.last.set(key, { at: now, suppressed: 0 });
    emit(e?.suppressed ?? 0);
  }
}

export class WitnessServer {
  private readonly opts: WitnessServerOptions;
  private readonly log: Logger;
  private readonly maxLeaseMs: number;
  private readonly guard: ReplayGuard;
  private readonly inc = randomInt(1, 2 ** 47);
  private readonly senders = new Map<string, Sender>();
  private readonly counts: Record<string, number> = Object.create(null) as Record<string, number>;
  private readonly limiter = new RateLimitedLog();
  private core: WitnessCore | null = null;
  private socket: UdpSocket | null = null;
  private readonly clock: Clock;
  private readonly net: Network;
  private address: { host: string; port: number } | null = null;

  constructor(opts: WitnessServerOptions) {
    this.opts = opts;
    this.maxLeaseMs = opts.maxLeaseMs ?? DEFAULT_MAX_LEASE_MS;
    if (!Number.isSafeInteger(this.maxLeaseMs) || this.maxLeaseMs < 1) throw new RangeError(`maxLeaseMs must be a positive integer, got ${opts.maxLeaseMs}`);
    this.guard = new ReplayGuard(opts.replayWindow ?? 64);
    this.log = opts.logs.get("witness");
    this.clock = opts.clock ?? systemClock;
    this.net = opts.network ?? systemNetwork;
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.socket) throw new Error("witness server already started");
    const socket = await this.net.bindUdp(
      this.opts.listen,
      (msg, from) => this.onMessage(msg, from),
      (message) => {
        this.count("socket_errors");
        this.log.warn({ err: message }, "witness socket error");
      },
    );
    this.socket = socket;
    // The quiet period runs from here: the witness does not know what it granted before.
    this.core = new WitnessCore({ maxLeaseMs: this.maxLeaseMs, startedAt: this.clock.now() });
    const a = socket.address;
    this.address = { ...a };
    this.log.info({ listen: `${a.host}:${a.port}`, maxLeaseMs: this.maxLeaseMs, pairs: [...this.opts.keys.keys()], anyPair: !!this.opts.defaultKey }, "witness listening");
    return { ...this.address };
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    await socket.close();
    this.log.info("witness stopped");
  }

  counters(): Record<string, number> {
    return { ...this.counts };
  }

  /** One pair's record (a copy), or undefined if the witness never heard of it. */
  record(pair: string): { holder: string | null; epoch: number; expiresAt: number } | undefined {
    return this.core?.record(pair);
  }

  /** What the witness holds, for tests and status. */
  snapshot(): object {
    return this.core?.snapshot() ?? {};
  }

  private count(name: string): void {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    publishCount(name);
  }

  private keyFor = (pair: string): Buffer | undefined => this.opts.keys.get(pair) ?? this.opts.defaultKey;

  private drop(reason: string, detail: string, rinfo: HostPort, level: "debug" | "warn"): void {
    this.count(`rejected_${reason.replace(/-/g, "_")}`);
    this.limiter.run(reason, this.clock.now(), (suppressed) => {
      this.log[level]({ reason, detail, src: `${rinfo.host}:${rinfo.port}`, suppressed }, "witness dropped a datagram");
    });
  }

  private onMessage(msg: Buffer, rinfo: HostPort): void {
    try {
      this.count("received");
      const core = this.core;
      const socket = this.socket;
      if (!core || !socket) return;
      const r = open(msg, this.keyFor);
      if (!r.ok) {
        // A wrong key or a forged MAC is worth a warning; random garbage only at debug.
        this.drop(r.reason, r.detail, rinfo, r.reason === "bad-mac" || r.reason === "unknown-pair" ? "warn" : "debug");
        return;
      }
      const env = r.env;
      if (env.ch !== WITNESS_CHANNEL) return this.drop("wrong-channel", `ch '${env.ch}'`, rinfo, "warn");
      if (env.type !== WITNESS_REQ) return this.drop("bad-type", `type '${env.type}'`, rinfo, "debug");
      if (env.from === WITNESS_FROM) return this.drop("bad-shape", "a request from 'witness'", rinfo, "warn");
      // Node ids are only unique within a pair, and one witness serves many pairs.
      const verdict = this.guard.check(JSON.stringify([env.pair, env.from]), WITNESS_CHANNEL, env.inc, env.seq);
      if (verdict !== "ok") return this.drop(verdict, `${env.pair}/${env.from} inc ${env.inc} seq ${env.seq}`, rinfo, "warn");
      const body = parseWitnessRequestBody(env.body);
      if (typeof body === "string") return this.drop("bad-body", body, rinfo, "warn");
      const req: WitnessRequest = { pair: env.pair, from: env.from, ...body };
      this.answer(core, socket, env, req, rinfo);
    } catch (e) {
      // Nothing above should throw; if it does, the datagram is dropped and the witness keeps going.
      this.count("internal_errors");
      this.log.error({ err: (e as Error)?.message }, "witness failed on a datagram");
    }
  }

  private answer(core: WitnessCore, socket: UdpSocket, env: Envelope, req: WitnessRequest, rinfo: HostPort): void {
    const before = core.record(req.pair);
    const reply: WitnessReply = core.handle(req, this.clock.now());
    this.count(reply.granted ? "granted" : "refused");
    this.count(`op_${req.op}`);
    const was = before ?? { holder: null, epoch: 0 };
    if (was.holder !== reply.holder || was.epoch !== reply.holderEpoch) {
      this.log.info(
        { pair: req.pair, holder: reply.holder, epoch: reply.holderEpoch, was: { holder: was.holder, epoch: was.epoch }, op: req.op, from: req.from },
        "witness holder changed",
      );
    }
    const sender = this.senderFor(req.pair);
    if (!sender) return;
    const { bytes } = sender.seal(WITNESS_CHANNEL, WITNESS_REPLY, { ...reply, reqSeq: env.seq, reqInc: env.inc });
    socket.send(bytes, rinfo);
    this.count("replied");
  }

  private senderFor(pair: string): Sender | undefined {
    let s = this.senders.get(pair);
    if (!s) {
      const key = this.keyFor(pair);
      if (!key) return undefined;
      s = new Sender({ pair, from: WITNESS_FROM, inc: this.inc, key });
      this.senders.set(pair, s);
    }
    return s;
  }
}
