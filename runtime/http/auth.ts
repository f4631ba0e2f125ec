// Who is asking: HTTP Basic credentials (scripts, the CLI) or an HMI session
// cookie. How many password checks an address or an account may ask for is
// decided before this runs (login-limits.ts).
import { createHash, randomBytes } from "node:crypto";
import type { Actor, Role } from "../node-api.js";
import { verifyPassword } from "../auth/passwords.js";
import { passwordTag, SessionStore, type Session, type SessionHooks } from "../auth/sessions.js";

export type { SessionHooks };

export const ROLE_RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export interface HttpUser {
  name: string;
  role: Role;
  passwordHash: string;
}

// An unknown user name still costs one scrypt run, so response time does not
// tell which names exist.
const DUMMY_HASH = `scrypt$16384$8$1$${randomBytes(16).toString("base64")}$${randomBytes(32).toString("base64")}`;

/**
 * The session cookie's name for one node: two nodes on one host (the demo
 * runs both on 127.0.0.1) share a browser's cookies, as cookies ignore the
 * port, so each node needs its own name or a login on one ends the other's.
 */
export function sessionCookieName(pairId: string, nodeId: string): string {
  return `tandem_session_${pairId}_${nodeId}`;
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
  now?: () => number;
  /** the node's sessions, when it shares them with the pair (runtime/auth/replicated-sessions.ts); a store of its own otherwise */
  sessions?: SessionStore;
  hooks?: SessionHooks;
}

/**
 * Checks user names and passwords. Basic auth runs scrypt on every request;
 * a script polling /status each second would burn a core, so successful
 * checks are remembered for a minute, keyed by a hash of the credentials and
 * the stored hash (a changed password or user list invalidates the entry).
 */
export class Authenticator {
  readonly sessions: SessionStore;
  /** scrypt runs so far (tests count them: a throttled attempt must not run one) */
  passwordChecks = 0;
  private readonly users = new Map<string, HttpUser>();
  private readonly verified = new Map<string, number>();
  /** checks under way, by the same key as `verified` */
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly now: () => number;
  private readonly hooks: SessionHooks | null;
  static readonly CACHE_MS = 60_000;
  static readonly CACHE_MAX = 256;

  constructor(opts: AuthenticatorOptions) {
    for (const u of opts.users) this.users.set(u.name, u);
    this.now = opts.now ?? Date.now;
    this.sessions = opts.sessions ?? new SessionStore({ ttlMs: opts.sessionTtlMs, now: this.now });
    this.hooks = opts.hooks ?? null;
  }

  /** A session for a checked actor; the token, for the cookie, once the pair holds it as it should. */
  async login(actor: Actor): Promise<string> {
    const u = this.users.get(actor.user);
    const { token, session } = this.sessions.create(actor, u ? passwordTag(u.passwordHash) : "");
    await this.hooks?.created(session);
    return token;
  }

  /** Ends the session of a token, on the pair as the mode says; returns it when there was one. */
  async logout(token: string | undefined): Promise<Session | undefined> {
    const s = this.sessions.destroy(token);
    if (s) await this.hooks?.ended(s);
    return s;
  }

  /**
   * The actor of a session token, or null. The user must still be in this
   * node's list with the password they logged in with (a removed user or a
   * changed password ends the session); the role is the list's, now.
   */
  session(token: string | undefined): Actor | null {
    const s = this.sessions.get(token);
    if (!s) return null;
    const u = this.users.get(s.actor.user);
    if (!u || passwordTag(u.passwordHash) !== s.pw) {
      this.sessions.remove(s.id);
      // not waited for: the request is refused either way
      void this.hooks?.ended(s);
      return null;
    }
    return { user: u.name, role: u.role };
  }

  /** The actor when these credentials were verified within CACHE_MS (no scrypt runs), else null. */
  remembered(user: string, password: string, from: string): Actor | null {
    const u = this.users.get(user);
    if (!u) return null;
    const until = this.verified.get(createHash("sha256").update(`${user}\0${password}\0${u.passwordHash}`).digest("hex"));
    return until !== undefined && until > this.now() ? { user: u.name, role: u.role, from } : null;
  }

  /**
   * The key these credentials are remembered under (a SHA-256 of the user,
   * the password and the user's stored hash: it opens nothing without the
   * password), or null for a user not in the list.
   */
  keyOf(user: string, password: string): string | null {
    const u = this.users.get(user);
    return u ? createHash("sha256").update(`${user}\0${password}\0${u.passwordHash}`).digest("hex") : null;
  }

  /**
   * Remembers keys verified elsewhere (the active's MQTT logins, sent to its
   * standby) for `forMs`: the same credentials then need no scrypt run here.
   * A key is 64 hex characters; anything else is ignored.
   */
  prime(keys: readonly unknown[], forMs: number): number {
    let n = 0;
    const until = this.now() + Math.max(0, Math.min(forMs, 10 * Authenticator.CACHE_MS));
    for (const k of keys.slice(0, Authenticator.CACHE_MAX)) {
      if (typeof k !== "string" || !/^[0-9a-f]{64}$/.test(k)) continue;
      if ((this.verified.get(k) ?? 0) >= until) continue;
      this.verified.delete(k);
      this.verified.set(k, until);
      n++;
    }
    while (this.verified.size > Authenticator.CACHE_MAX) {
      const oldest = this.verified.keys().next().value;
      if (oldest === undefined) break;
      this.verified.delete(oldest);
    }
    return n;
  }

  /** Whether a check of exactly these credentials is running now (one started by check(); a new one would wait for it). */
  pending(user: string, password: string): boolean {
    const u = this.users.get(user);
    return !!u && this.checking.has(createHash("sha256").update(`${user}\0${password}\0${u.passwordHash}`).digest("hex"));
  }

  /** The actor for a user name and password, or null. Never throws. */
  async check(user: string, password: string, from: string): Promise<Actor | null> {
    const u = this.users.get(user);
    if (!u) {
      this.passwordChecks++;
      await verifyPassword(password, DUMMY_HASH);
      return null;
    }
    const key = createHash("sha256").update(`${user}\0${password}\0${u.passwordHash}`).digest("hex");
    const until = this.verified.get(key);
    if (until !== undefined && until > this.now()) return { user: u.name, role: u.role, from };
    // the same credentials already being checked (a hundred MQTT clients of one login reconnecting at a
    // takeover, a script's parallel requests): they wait for that one check instead of running scrypt each
    let running = this.checking.get(key);
    if (!running) {
      this.passwordChecks++;
      running = verifyPassword(password, u.passwordHash).finally(() => this.checking.delete(key));
      this.checking.set(key, running);
    }
    if (!(await running)) return null;
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
    this.sessions.clear();
    this.verified.clear();
  }
}

export function hasRole(actor: Actor, needed: Role): boolean {
  return ROLE_RANK[actor.role] >= ROLE_RANK[needed];
}
