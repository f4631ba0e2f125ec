// Limits on password guessing, decided before any password is checked (a
// refused attempt costs no scrypt run, so a flood cannot buy CPU either).
//
// Every attempt that needs a password check (a Basic request, a form login)
// is admitted or refused by three budgets:
// - per address: a bucket of `addressBurst` attempts that refills one every
//   `addressEveryMs`. An attempt takes a token; a successful login gives it
//   back, so only failures use the budget up. Parallel attempts take their
//   tokens up front: 30 at once from one address get `addressBurst` checks.
// - per account: the same kind of bucket for each claimed user name, used
//   only by addresses that are not known for that account. Many addresses
//   guessing one password share it: fresh source addresses buy nothing.
// - in flight: at most `inFlightPerAddress` checks running for one address,
//   and at most `inFlightUnknown` running in all from addresses not known for
//   the account they try (credentials verified a moment ago run no scrypt and
//   skip this limit: a script's parallel requests keep working).
//
// A known workstation is an address that logged in successfully as that user
// while this node runs (remembered `knownForMs`, at most `knownPerAccount` per
// user), or an address in `trusted` (configured, for control-room
// workstations; addresses and CIDR networks). It skips the account budget and
// the shared in-flight limit, so the operator at the usual desk logs in while
// an attacker elsewhere hammers the same account; its own failures still use
// its address budget.
//
// A success does not wipe the address's past failures (an attacker with one
// valid low login must not reset its budget by interleaving it): the budget
// refills with time alone. Names that are no user get buckets like real users
// (bounded, oldest dropped), so the answers do not tell which names exist.
import { BlockList, isIP } from "node:net";
import { z } from "zod";

export interface LoginLimitOptions {
  addressBurst: number;
  addressEveryMs: number;
  accountBurst: number;
  accountEveryMs: number;
  inFlightPerAddress: number;
  inFlightUnknown: number;
  knownForMs: number;
  knownPerAccount: number;
  /** addresses and name buckets kept at most; the least recently used are dropped */
  maxTracked: number;
  /** addresses or CIDR networks treated as known workstations for every account */
  trusted: string[];
}

export const DEFAULT_LOGIN_LIMITS: LoginLimitOptions = {
  addressBurst: 10,
  addressEveryMs: 30_000,
  accountBurst: 10,
  accountEveryMs: 60_000,
  inFlightPerAddress: 2,
  inFlightUnknown: 4,
  knownForMs: 30 * 86_400_000,
  knownPerAccount: 32,
  maxTracked: 10_000,
  trusted: [],
};

export type LimitName = "address" | "account" | "in_flight";

export type Admission =
  | { ok: true; known: boolean; ticket: Ticket }
  | { ok: false; limit: LimitName; retryAfterS: number; known: boolean };

/** An admitted attempt; exactly one of succeeded()/failed() ends it. */
export interface Ticket {
  readonly addr: string;
  readonly user: string;
}

interface Bucket {
  tokens: number;
  at: number;
}

class Buckets {
  private readonly map = new Map<string, Bucket>();
  constructor(
    private readonly burst: number,
    private readonly everyMs: number,
    private readonly max: number,
    /** keys never dropped (the configured users) */
    private readonly pinned: ReadonlySet<string> = new Set(),
  ) {}

  private get(key: string, now: number): Bucket {
    let b = this.map.get(key);
    if (b) {
      // a clock that went back (a wall clock stepped by NTP or an operator) refills nothing, and takes nothing either
      b.tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) / this.everyMs);
      b.at = now;
      this.map.delete(key); // re-insert: Map order is least recently used first
    } else {
      b = { tokens: this.burst, at: now };
    }
    this.map.set(key, b);
    if (this.map.size > this.max + this.pinned.size) {
      for (const k of this.map.keys()) {
        if (this.map.size <= this.max + this.pinned.size) break;
        if (!this.pinned.has(k)) this.map.delete(k);
      }
    }
    return b;
  }

  /** ms until one token is there (0 when there is one now) */
  waitMs(key: string, now: number): number {
    const b = this.get(key, now);
    return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) * this.everyMs);
  }

  take(key: string, now: number): void {
    this.get(key, now).tokens -= 1;
  }

  give(key: string, now: number): void {
    const b = this.get(key, now);
    b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  get size(): number {
    return this.map.size;
  }
}

export class LoginLimits {
  readonly opts: LoginLimitOptions;
  private readonly byAddress: Buckets;
  private readonly byAccount: Buckets;
  private readonly inFlight = new Map<string, number>();
  private inFlightUnknown = 0;
  /** user → address → last successful login */
  private readonly known = new Map<string, Map<string, number>>();
  private readonly trusted = new BlockList();
  /** which tickets count against the shared in-flight limit */
  private readonly unknownTickets = new WeakSet<Ticket>();

  constructor(
    opts: Partial<LoginLimitOptions>,
    users: string[],
    /** a monotonic clock by default: a wall-clock step must neither lock the operators out nor open the door */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.opts = { ...DEFAULT_LOGIN_LIMITS, ...opts };
    const o = this.opts;
    this.byAddress = new Buckets(o.addressBurst, o.addressEveryMs, o.maxTracked);
    this.byAccount = new Buckets(o.accountBurst, o.accountEveryMs, o.maxTracked, new Set(users));
    for (const t of o.trusted) addTrusted(this.trusted, t);
  }

  /** Whether `addr` counts as a known workstation for `user`. */
  isKnown(addr: string, user: string): boolean {
    if (this.isTrusted(addr)) return true;
    const at = this.known.get(user)?.get(addr);
    return at !== undefined && this.now() - at < this.opts.knownForMs;
  }

  /**
   * Admits an attempt by `addr` to log in as `user`, or says which limit
   * refuses it and for how long. `needsCheck: false` (the credentials were
   * verified a moment ago and are remembered: no scrypt will run) skips the
   * in-flight limits, which are there for the CPU, but not the budgets: a
   * remembered password is no way around them.
   */
  admit(addr: string, user: string, needsCheck = true): Admission {
    const o = this.opts;
    const now = this.now();
    const known = this.isKnown(addr, user);
    const refuse = (limit: LimitName, ms: number): Admission => ({ ok: false, limit, retryAfterS: Math.max(1, Math.ceil(ms / 1000)), known });
    if (needsCheck && (this.inFlight.get(addr) ?? 0) >= o.inFlightPerAddress) return refuse("in_flight", 1000);
    if (needsCheck && !known && this.inFlightUnknown >= o.inFlightUnknown) return refuse("in_flight", 1000);
    const addrWait = this.byAddress.waitMs(addr, now);
    if (addrWait > 0) return refuse("address", addrWait);
    if (!known) {
      const accWait = this.byAccount.waitMs(user, now);
      if (accWait > 0) return refuse("account", accWait);
      this.byAccount.take(user, now);
    }
    this.byAddress.take(addr, now);
    this.inFlight.set(addr, (this.inFlight.get(addr) ?? 0) + 1);
    const ticket: Ticket = { addr, user };
    if (!known) {
      this.inFlightUnknown++;
      this.unknownTickets.add(ticket);
    }
    return { ok: true, known, ticket };
  }

  /** The password was right: the tokens come back and the address becomes known for the user. */
  succeeded(t: Ticket): void {
    const now = this.now();
    const wasKnown = !this.unknownTickets.has(t);
    this.release(t);
    this.byAddress.give(t.addr, now);
    if (!wasKnown) this.byAccount.give(t.user, now);
    let m = this.known.get(t.user);
    if (!m) this.known.set(t.user, (m = new Map()));
    m.delete(t.addr);
    m.set(t.addr, now);
    while (m.size > this.opts.knownPerAccount) {
      const oldest = m.keys().next().value;
      if (oldest === undefined) break;
      m.delete(oldest);
    }
    // bounded: only real users get here, and each keeps knownPerAccount addresses
  }

  /** The password was wrong: the tokens stay spent. */
  failed(t: Ticket): void {
    this.release(t);
  }

  private release(t: Ticket): void {
    const n = (this.inFlight.get(t.addr) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(t.addr);
    else this.inFlight.set(t.addr, n);
    if (this.unknownTickets.delete(t)) this.inFlightUnknown--;
  }

  private isTrusted(addr: string): boolean {
    const v = isIP(addr);
    if (v === 0) return false;
    if (v === 6 && addr.toLowerCase().startsWith("::ffff:") && isIP(addr.slice(7)) === 4) return this.trusted.check(addr.slice(7), "ipv4");
    return this.trusted.check(addr, v === 4 ? "ipv4" : "ipv6");
  }

  get tracked(): { addresses: number; accounts: number; inFlight: number } {
    let inFlight = 0;
    for (const n of this.inFlight.values()) inFlight += n;
    return { addresses: this.byAddress.size, accounts: this.byAccount.size, inFlight };
  }
}

/** Adds an address or CIDR network; throws with a message naming the entry when it is neither. */
export function addTrusted(list: BlockList, entry: string): void {
  const [ip, bits, ...rest] = entry.trim().split("/");
  const v = isIP(ip ?? "");
  if (v === 0 || rest.length > 0) throw new Error(`'${entry}' is not an IP address or a network (a.b.c.d, a.b.c.d/nn, or IPv6)`);
  const type = v === 4 ? "ipv4" : "ipv6";
  if (bits === undefined) {
    list.addAddress(ip!, type);
    return;
  }
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (v === 4 ? 32 : 128)) throw new Error(`'${entry}': the prefix length must be 0–${v === 4 ? 32 : 128}`);
  list.addSubnet(ip!, prefix, type);
}

/** A config entry of http.trustedAddresses: checked at load, so a typo is a config error naming the key. */
export const trustedAddress = z.string().superRefine((s, ctx) => {
  try {
    addTrusted(new BlockList(), s);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});
