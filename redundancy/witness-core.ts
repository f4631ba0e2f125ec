// The witness's decisions, pure: no socket, no clock. The server feeds it
// authenticated requests and its monotonic time; tests feed it a fake clock.
//
// The promise it keeps (DESIGN.md, Lease rules): a grant (or renewal) at local
// time t of length L means nobody else gets a grant for that pair before t + L.
// After a restart the witness does not know what it granted, so for
// maxLeaseMs it grants no new holder (acquire/announce), only renewals, which
// is how the real active re-establishes itself.

/** How witness requests and replies travel (wire.ts envelopes). */
export const WITNESS_CHANNEL = "witness";
export const WITNESS_FROM = "witness";
export const WITNESS_REQ = "witness-req";
export const WITNESS_REPLY = "witness-reply";

export type WitnessOp = "acquire" | "renew" | "release" | "announce" | "probe";
export const WITNESS_OPS: readonly WitnessOp[] = ["acquire", "renew", "release", "announce", "probe"];

export type WitnessRefusal = "held" | "stale-epoch" | "not-holder" | "holder-alive" | "witness-starting" | "released";
export const WITNESS_REFUSALS: readonly WitnessRefusal[] = ["held", "stale-epoch", "not-holder", "holder-alive", "witness-starting", "released"];

export interface WitnessRequest {
  pair: string;
  from: string;
  op: WitnessOp;
  epoch: number;
  leaseMs: number;
  /** announce only: how long the witness must not have heard from a valid holder */
  silenceMs?: number;
}

export interface WitnessReply {
  op: WitnessOp;
  granted: boolean;
  reason?: WitnessRefusal;
  /** granted lease length, 0 if not granted (and for release/probe, which grant no lease) */
  leaseMs: number;
  holder: string | null;
  holderEpoch: number;
  /** the holder's lease left at the witness, 0 if none */
  remainingMs: number;
  retryInMs?: number;
}

export interface PairRecord {
  holder: string | null;
  epoch: number;
  expiresAt: number;
  released: boolean;
  /** last time any authenticated request came from each node */
  heard: Record<string, number>;
}

export interface WitnessCoreOptions {
  maxLeaseMs: number;
  /** the witness's own start, on the clock passed to handle() */
  startedAt: number;
}

export class WitnessCore {
  readonly maxLeaseMs: number;
  readonly startedAt: number;
  private readonly pairs = new Map<string, PairRecord>();

  constructor(opts: WitnessCoreOptions) {
    if (!(opts.maxLeaseMs > 0) || !Number.isFinite(opts.maxLeaseMs)) throw new RangeError(`maxLeaseMs must be a positive number, got ${opts.maxLeaseMs}`);
    this.maxLeaseMs = opts.maxLeaseMs;
    this.startedAt = opts.startedAt;
  }

  handle(req: WitnessRequest, now: number): WitnessReply {
    let rec = this.pairs.get(req.pair);
    if (!rec) {
      rec = { holder: null, epoch: 0, expiresAt: 0, released: false, heard: Object.create(null) as Record<string, number> };
      this.pairs.set(req.pair, rec);
    }
    rec.heard[req.from] = now;
    const L = Math.max(0, Math.min(req.leaseMs, this.maxLeaseMs));
    const quietUntil = this.startedAt + this.maxLeaseMs;
    const otherValid = rec.holder !== null && rec.holder !== req.from && now < rec.expiresAt;

    const grant = (leaseMs: number): WitnessReply => reply(rec!, req.op, now, { granted: true, leaseMs });
    const refuse = (reason: WitnessRefusal, retryAt?: number): WitnessReply =>
      reply(rec!, req.op, now, { granted: false, leaseMs: 0, reason, ...(retryAt === undefined ? {} : { retryInMs: Math.max(0, Math.ceil(retryAt - now)) }) });
    const take = (): WitnessReply => {
      // Never shorten a promise already made: a holder renewing with a shorter lease
      // may still count on the longer one (replies can arrive out of order). For a
      // new holder the old expiry is past (or, on announce over a silent holder,
      // kept: the witness waits at least as long as it promised).
      rec!.expiresAt = Math.max(rec!.expiresAt, now + L);
      rec!.holder = req.from;
      rec!.epoch = req.epoch;
      rec!.released = false;
      return grant(L);
    };

    switch (req.op) {
      case "probe":
        return grant(0);

      case "renew":
        if (rec.holder === req.from) {
          if (req.epoch < rec.epoch) return refuse("stale-epoch");
          return take();
        }
        if (rec.holder === null) {
          if (rec.released) return refuse("released");
          if (req.epoch < rec.epoch) return refuse("stale-epoch");
          return take(); // re-establishes the active after a witness restart
        }
        if (req.epoch < rec.epoch) return refuse("stale-epoch");
        if (otherValid) return refuse("held", rec.expiresAt);
        return refuse("not-holder");

      case "acquire":
      case "announce":
        if (now < quietUntil) return refuse("witness-starting", quietUntil);
        if (rec.holder === req.from && req.epoch === rec.epoch) return take(); // a retransmitted grant: renew it
        if (otherValid) {
          if (req.op === "acquire") return refuse("held", rec.expiresAt);
          const last = rec.heard[rec.holder!];
          const silence = req.silenceMs ?? Number.POSITIVE_INFINITY;
          // It may succeed once the holder has been silent long enough, or its lease has run out.
          if (last !== undefined && now - last < silence) return refuse("holder-alive", Math.min(last + silence, rec.expiresAt));
        }
        if (req.epoch <= rec.epoch) return refuse("stale-epoch");
        return take();

      case "release":
        if (rec.holder === req.from && req.epoch === rec.epoch) {
          rec.holder = null;
          rec.expiresAt = 0;
          rec.released = true;
          return grant(0);
        }
        return refuse("not-holder");
    }
  }

  /** One pair's record (a copy), or undefined if the witness never heard of it. */
  record(pair: string): PairRecord | undefined {
    const r = this.pairs.get(pair);
    return r && { ...r, heard: { ...r.heard } };
  }

  /** Everything the witness knows, for status pages and logs. */
  snapshot(): { maxLeaseMs: number; startedAt: number; pairs: Record<string, PairRecord> } {
    const pairs: Record<string, PairRecord> = {};
    for (const [name, r] of this.pairs) pairs[name] = { ...r, heard: { ...r.heard } };
    return { maxLeaseMs: this.maxLeaseMs, startedAt: this.startedAt, pairs };
  }
}

function reply(rec: PairRecord, op: WitnessOp, now: number, r: { granted: boolean; leaseMs: number; reason?: WitnessRefusal; retryInMs?: number }): WitnessReply {
  const valid = rec.holder !== null && now < rec.expiresAt;
  return {
    op,
    ...r,
    holder: rec.holder,
    holderEpoch: rec.epoch,
    remainingMs: valid ? Math.ceil(rec.expiresAt - now) : 0,
  };
}
