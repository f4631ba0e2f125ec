// HMI login sessions, in memory, keyed by a hash of the session token: the
// token itself is handed to the browser once and kept nowhere, so neither this
// map nor the replicated `_sessions` table (replicated-sessions.ts) holds a
// usable cookie. A session lasts ttlMs from its login (the cookie's Max-Age
// is the same), so nothing is written while it is used.
// Expired sessions are swept lazily on access and when the table is full, so
// there is no timer to leak.
import { createHash, randomBytes } from "node:crypto";
import type { Actor } from "../node-api.js";

export interface Session {
  /** sha256 of the token, base64url: the map's key and the replicated row's key */
  id: string;
  actor: Actor;
  createdAt: number;
  expiresAt: number;
  /** a fingerprint of the user's password hash at login: a changed password ends the session */
  pw: string;
  /** written to the replicated store (the login was on the active); false: this node's alone */
  stored: boolean;
}

/** What a login and a logout tell the pair (replicated-sessions.ts). */
export interface SessionHooks {
  /** a login: resolves once the session is written where it must be (never rejects) */
  created(s: Session): Promise<void>;
  /** a logout (answered once this resolves), or a session its user no longer matches; never rejects */
  ended(s: Session): Promise<void>;
}

export interface SessionStoreOptions {
  ttlMs: number;
  /** the oldest sessions are dropped beyond this many */
  maxSessions?: number;
  now?: () => number;
}

/** The id a token is kept under. */
export function sessionId(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

/** A short fingerprint of a password hash (not the hash: a database row must not help a guesser). */
export function passwordTag(passwordHash: string): string {
  return createHash("sha256").update(`tandem-session\0${passwordHash}`).digest("base64url").slice(0, 16);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  readonly ttlMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(opts: SessionStoreOptions) {
    this.ttlMs = opts.ttlMs;
    this.max = opts.maxSessions ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** A new session; the token is returned here only. */
  create(actor: Actor, pw = ""): { token: string; session: Session } {
    const t = this.now();
    const token = randomBytes(32).toString("base64url");
    const session: Session = { id: sessionId(token), actor: { user: actor.user, role: actor.role }, createdAt: t, expiresAt: t + this.ttlMs, pw, stored: false };
    this.put(session);
    return { token, session };
  }

  /** Adds or replaces a session by id (a login, or a row replicated from the active). */
  put(session: Session): void {
    this.sessions.delete(session.id);
    if (this.sessions.size >= this.max) this.sweep();
    // Still full: drop the oldest (Map keeps insertion order).
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    this.sessions.set(session.id, session);
  }

  /** The live session for a token, or undefined (unknown, expired or malformed). */
  get(token: string | undefined): Session | undefined {
    if (typeof token !== "string" || token.length === 0 || token.length > 100) return undefined;
    const id = sessionId(token);
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  /** Removes the session of a token; returns it when there was one. */
  destroy(token: string | undefined): Session | undefined {
    if (typeof token !== "string" || token.length === 0 || token.length > 100) return undefined;
    return this.remove(sessionId(token));
  }

  /** Removes a session by id; returns it when there was one. */
  remove(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (s) this.sessions.delete(id);
    return s;
  }

  /** Drops every session of one user (e.g. when the user is removed); returns them. */
  destroyUser(user: string): Session[] {
    const out: Session[] = [];
    for (const [k, s] of this.sessions) if (s.actor.user === user && this.sessions.delete(k)) out.push(s);
    return out;
  }

  /** The sessions this node alone holds (logged in while it was not active). */
  local(): Session[] {
    const t = this.now();
    return [...this.sessions.values()].filter((s) => !s.stored && s.expiresAt > t);
  }

  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const [k, s] of this.sessions) if (s.expiresAt <= t && this.sessions.delete(k)) n++;
    return n;
  }

  get size(): number {
    return this.sessions.size;
  }

  clear(): void {
    this.sessions.clear();
  }
}
