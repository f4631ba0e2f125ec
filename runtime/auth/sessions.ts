// HMI login sessions, in memory: a node restart logs everybody out, which is
// acceptable for an operator screen and means no session secret on disk.
// Expired sessions are swept lazily on access and when the table is full, so
// there is no timer to leak.
import { randomBytes } from "node:crypto";
import type { Actor } from "../node-api.js";

export interface Session {
  token: string;
  actor: Actor;
  createdAt: number;
  expiresAt: number;
}

export interface SessionStoreOptions {
  ttlMs: number;
  /** the oldest sessions are dropped beyond this many */
  maxSessions?: number;
  now?: () => number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(opts: SessionStoreOptions) {
    this.ttlMs = opts.ttlMs;
    this.max = opts.maxSessions ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  create(actor: Actor): Session {
    if (this.sessions.size >= this.max) this.sweep();
    // Still full: drop the oldest (Map keeps insertion order).
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const t = this.now();
    const session: Session = { token: randomBytes(32).toString("base64url"), actor: { ...actor }, createdAt: t, expiresAt: t + this.ttlMs };
    this.sessions.set(session.token, session);
    return session;
  }

  /** The live session for a token, or undefined (unknown, expired or malformed). */
  get(token: string | undefined): Session | undefined {
    if (typeof token !== "string" || token.length === 0 || token.length > 100) return undefined;
    const s = this.sessions.get(token);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(token);
      return undefined;
    }
    return s;
  }

  destroy(token: string | undefined): boolean {
    if (typeof token !== "string") return false;
    return this.sessions.delete(token);
  }

  /** Drops every session of one user (e.g. when the user is removed). */
  destroyUser(user: string): number {
    let n = 0;
    for (const [k, s] of this.sessions) if (s.actor.user === user && this.sessions.delete(k)) n++;
    return n;
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
