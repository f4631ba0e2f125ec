// Who is asking: HTTP Basic credentials (scripts, the CLI) or an HMI session
// cookie. Failed logins are slowed per remote address with a growing delay and
// counted; the table of addresses is bounded so a scan cannot grow memory.
import { createHash, randomBytes } from "node:crypto";
import type { Actor, Role } from "../node-api.js";
import { verifyPassword } from "../auth/passwords.js";
import { SessionStore } from "../auth/sessions.js";

export const ROLE_RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export interface HttpUser {
  name: string;
  role: Role;
  passwordHash: string;
}

export interface LoginDelayOptions {
  /** delay after the first failure; doubles with each further failure */
  baseMs: number;
  maxMs: number;
  /** failures older than this are forgotten */
  forgetMs: number;
  /** addresses tracked at most; the oldest are dropped */
  maxAddresses: number;
}

export const DEFAULT_LOGIN_DELAY: LoginDelayOptions = { baseMs: 250, maxMs: 4000, forgetMs: 15 * 60_000, maxAddresses: 10_000 };

// An unknown user name still costs one scrypt run, so response time does not
// tell which names exist.
const DUMMY_HASH = `scrypt$16384$8$1$${randomBytes(16).toString("base64")}$${randomBytes(32).toString("base64")}`;

/** Growing delay per remote address after failed logins. */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();
  private readonly sleeping = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(
    private readonly opts: LoginDelayOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a failure from `addr` and returns how long to hold the answer back. */
  fail(addr: string): number {
    const t = this.now();
    const prev = this.failures.get(addr);
    const count = prev && t - prev.last < this.opts.forgetMs ? prev.count + 1 : 1;
    this.failures.delete(addr); // re-insert: Map order becomes least-recently-failed first
    this.failures.set(addr, { count, last: t });
    while (this.failures.size > this.opts.maxAddresses) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
    return Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(count - 1, 30));
  }

  succeed(addr: string): void {
    this.failures.delete(addr);
  }

  failuresOf(addr: string): number {
    return this.failures.get(addr)?.count ?? 0;
  }

  get tracked(): number {
    return this.failures.size;
  }

  /** A delay that stop() can cut short, so closing the server never waits on it. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeping.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.sleeping.add(entry);
    });
  }

  wakeAll(): void {
    for (const e of this.sleeping) {
      clearTimeout(e.timer);
      e.resolve();
    }
    this.sleeping.clear();
  }
}

/** Parses `Authorization: Basic …`; null when the header is not Basic. */
export function parseBasic(header: string | undefined): { user: string; password: string } | "malformed" | null {
  if (!header) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]{0,2048})\s*$/i.exec(header);
  if (!m) return /^Basic\b/i.test(header) ? "malformed" : null;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i <= 0) return "malformed";
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

export interface AuthenticatorOptions {
  users: HttpUser[];
  sessionTtlMs: number;
  loginDelay?: Partial<LoginDelayOptions>;
  now?: () => number;
}

/**
 * Checks user names and passwords. Basic auth runs scrypt on every request;
 * a script polling /status each second would burn a core, so successful
 * checks are remembered for a minute, keyed by a hash of the credentials and
 * the stored hash (a changed password or user list invalidates the entry).
 */
export class Authenticator {
  readonly sessions: SessionStore;
  readonly throttle: LoginThrottle;
  private readonly users = new Map<string, HttpUser>();
  private readonly verified = new Map<string, number>();
  private readonly now: () => number;
  static readonly CACHE_MS = 60_000;
  static readonly CACHE_MAX = 256;

  constructor(opts: AuthenticatorOptions) {
    for (const u of opts.users) this.users.set(u.name, u);
    this.now = opts.now ?? Date.now;
    this.sessions = new SessionStore({ ttlMs: opts.sessionTtlMs, now: this.now });
    this.throttle = new LoginThrottle({ ...DEFAULT_LOGIN_DELAY, ...(opts.loginDelay ?? {}) }, this.now);
  }

  /** The actor for a user name and password, or null. Never throws. */
  async check(user: string, password: string, from: string): Promise<Actor | null> {
    const u = this.users.get(user);
    if (!u) {
      await verifyPassword(password, DUMMY_HASH);
      return null;
    }
    const key = createHash("sha256").update(`${user}\0${password}\0${u.passwordHash}`).digest("hex");
    const until = this.verified.get(key);
    if (until !== undefined && until > this.now()) return { user: u.name, role: u.role, from };
    if (!(await verifyPassword(password, u.passwordHash))) return null;
    this.verified.delete(key);
    this.verified.set(key, this.now() + Authenticator.CACHE_MS);
    while (this.verified.size > Authenticator.CACHE_MAX) {
      const oldest = this.verified.keys().next().value;
      if (oldest === undefined) break;
      this.verified.delete(oldest);
    }
    return { user: u.name, role: u.role, from };
  }

  close(): void {
    this.throttle.wakeAll();
    this.sessions.clear();
    this.verified.clear();
  }
}

export function hasRole(actor: Actor, needed: Role): boolean {
  return ROLE_RANK[actor.role] >= ROLE_RANK[needed];
}
