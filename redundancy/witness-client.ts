// A node's side of the witness: sends one authenticated request per call and
// waits for its answer or a timeout. The caller counts its lease from
// `sentAt` (taken just before the send, on the monotonic clock), so the node
// always believes its lease ends no later than the witness does.
//
// A reply is accepted only if it is authenticated, comes from "witness" on the
// witness channel, is not a replay, and answers a request still outstanding
// (reqInc is ours and reqSeq is waiting). That last check is what really binds
// a reply to its request: our seqs never repeat within an incarnation and our
// incarnation grows at every start, so an old reply can match nothing.
import { isIPv6 } from "node:net";
import { systemClock, systemNetwork, type Clock, type Network, type UdpSocket } from "./net.js";
import { COUNT_CHANNELS, counterFor } from "../core/diagnostics.js";
import { ReplayGuard } from "./replay-guard.js";
import { open, Sender } from "./wire.js";
import {
  WITNESS_CHANNEL,
  WITNESS_FROM,
  WITNESS_OPS,
  WITNESS_REFUSALS,
  WITNESS_REPLY,
  WITNESS_REQ,
  type WitnessOp,
  type WitnessRefusal,
  type WitnessReply,
} from "./witness-core.js";

export interface WitnessClientOptions {
  address: { host: string; port: number };
  pair: string;
  from: string;
  inc: number;
  key: Buffer;
  timeoutMs: number;
  bind?: { host: string; port: number };
  /** the real network and clock unless a simulation supplies its own */
  network?: Network;
  clock?: Clock;
}

export type WitnessResult = { reply: WitnessReply; sentAt: number; rtt: number } | { timeout: true; sentAt: number };

const publishCount = counterFor(COUNT_CHANNELS.witnessClient);

interface Outstanding {
  sentAt: number;
  timer: unknown;
  resolve: (r: WitnessResult) => void;
}

function isNonNegative(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x) && x >= 0;
}

/** The reply part of a witness-reply body, or a reason it is not one. */
export function parseWitnessReplyBody(b: Record<string, unknown>): { reply: WitnessReply; reqSeq: number; reqInc: number } | string {
  const { op, granted, reason, leaseMs, holder, holderEpoch, remainingMs, retryInMs, reqSeq, reqInc } = b;
  if (typeof op !== "string" || !WITNESS_OPS.includes(op as WitnessOp)) return "bad op";
  if (typeof granted !== "boolean") return "bad granted";
  if (reason !== undefined && (typeof reason !== "string" || !WITNESS_REFUSALS.includes(reason as WitnessRefusal))) return "bad reason";
  if (!isNonNegative(leaseMs)) return "bad leaseMs";
  if (holder !== null && typeof holder !== "string") return "bad holder";
  if (!isNonNegative(holderEpoch) || !Number.isSafeInteger(holderEpoch)) return "bad holderEpoch";
  if (!isNonNegative(remainingMs)) return "bad remainingMs";
  if (retryInMs !== undefined && !isNonNegative(retryInMs)) return "bad retryInMs";
  if (typeof reqSeq !== "number" || !Number.isSafeInteger(reqSeq)) return "bad reqSeq";
  if (typeof reqInc !== "number" || !Number.isSafeInteger(reqInc)) return "bad reqInc";
  const reply: WitnessReply = {
    op: op as WitnessOp,
    granted,
    ...(reason === undefined ? {} : { reason: reason as WitnessRefusal }),
    leaseMs,
    holder: holder as string | null,
    holderEpoch,
    remainingMs,
    ...(retryInMs === undefined ? {} : { retryInMs }),
  };
  return { reply, reqSeq, reqInc };
}

export class WitnessClient {
  private readonly opts: WitnessClientOptions;
  private readonly sender: Sender;
  private readonly guard = new ReplayGuard(64);
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly counts: Record<string, number> = Object.create(null) as Record<string, number>;
  private socket: UdpSocket | null = null;
  private stopped = false;
  private readonly clock: Clock;
  private readonly net: Network;

  constructor(opts: WitnessClientOptions) {
    if (!Number.isSafeInteger(opts.timeoutMs) || opts.timeoutMs < 1) throw new RangeError(`timeoutMs must be a positive integer, got ${opts.timeoutMs}`);
    const port = opts.address.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`witness port must be 1–65535, got ${port}`);
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.net = opts.network ?? systemNetwork;
    this.sender = new Sender({ pair: opts.pair, from: opts.from, inc: opts.inc, key: opts.key });
  }

  async start(): Promise<void> {
    if (this.socket) throw new Error("witness client already started");
    if (this.stopped) throw new Error("witness client was stopped; make a new one");
    const v6 = isIPv6(this.opts.bind?.host ?? this.opts.address.host);
    const bind = this.opts.bind ?? { host: v6 ? "::" : "0.0.0.0", port: 0 };
    this.socket = await this.net.bindUdp(bind, (msg) => this.onMessage(msg), () => this.count("socket_errors"));
  }

  /** Resolves every outstanding request as a timeout and closes the socket. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [seq, o] of this.outstanding) {
      this.clock.clearTimeout(o.timer);
      this.outstanding.delete(seq);
      o.resolve({ timeout: true, sentAt: o.sentAt });
    }
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    await socket.close();
  }

  counters(): Record<string, number> {
    return { ...this.counts };
  }

  /** Requests currently waiting for an answer. */
  get pending(): number {
    return this.outstanding.size;
  }

  request(op: WitnessOp, epoch: number, leaseMs: number, extra?: { silenceMs?: number }): Promise<WitnessResult> {
    if (!WITNESS_OPS.includes(op)) throw new RangeError(`unknown witness op '${op}'`);
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) throw new RangeError(`leaseMs must be a positive integer, got ${leaseMs}`);
    if (op === "announce" && extra?.silenceMs === undefined) throw new RangeError("announce needs silenceMs");
    const socket = this.socket;
    if (!socket) {
      if (this.stopped) return Promise.resolve({ timeout: true, sentAt: this.clock.now() });
      throw new Error("witness client not started");
    }
    const body = { op, epoch, leaseMs, ...(extra?.silenceMs === undefined ? {} : { silenceMs: extra.silenceMs }) };
    const { bytes, seq } = this.sender.seal(WITNESS_CHANNEL, WITNESS_REQ, body);
    return new Promise<WitnessResult>((resolve) => {
      const sentAt = this.clock.now();
      const timer = this.clock.setTimeout(() => {
        this.outstanding.delete(seq);
        this.count("timeouts");
        resolve({ timeout: true, sentAt });
      }, this.opts.timeoutMs);
      this.outstanding.set(seq, { sentAt, timer, resolve });
      this.count("sent");
      // On a send error the timer still decides: a caller retrying at once would spin.
      socket.send(bytes, this.opts.address);
    });
  }

  private count(name: string): void {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    publishCount(name, { pair: this.opts.pair, node: this.opts.from });
  }

  private onMessage(msg: Buffer): void {
    try {
      this.count("received");
      const r = open(msg, (pair) => (pair === this.opts.pair ? this.opts.key : undefined));
      if (!r.ok) return this.count(`rejected_${r.reason.replace(/-/g, "_")}`);
      const env = r.env;
      if (env.from !== WITNESS_FROM || env.ch !== WITNESS_CHANNEL || env.type !== WITNESS_REPLY) return this.count("rejected_not_witness_reply");
      const parsed = parseWitnessReplyBody(env.body);
      if (typeof parsed === "string") return this.count("rejected_bad_body");
      const waiting = parsed.reqInc === this.opts.inc ? this.outstanding.get(parsed.reqSeq) : undefined;
      let verdict = this.guard.check(WITNESS_FROM, WITNESS_CHANNEL, env.inc, env.seq);
      if (verdict === "old-incarnation" && waiting) {
        // The witness restarted with a (random) lower incarnation. The reply answers a
        // request we are waiting for, so it is fresh: follow the new incarnation.
        this.guard.forget(WITNESS_FROM);
        verdict = this.guard.check(WITNESS_FROM, WITNESS_CHANNEL, env.inc, env.seq);
        this.count("witness_incarnation_changed");
      }
      if (verdict !== "ok") return this.count(`rejected_${verdict.replace(/-/g, "_")}`);
      if (!waiting) return this.count("rejected_unmatched");
      this.outstanding.delete(parsed.reqSeq);
      this.clock.clearTimeout(waiting.timer);
      this.count("replies");
      waiting.resolve({ reply: parsed.reply, sentAt: waiting.sentAt, rtt: this.clock.now() - waiting.sentAt });
    } catch {
      this.count("internal_errors");
    }
  }
}
