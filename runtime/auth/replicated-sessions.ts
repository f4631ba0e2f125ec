// HMI sessions shared by the pair through the replicated store: a login on
// the active writes its session to the `_sessions` table (a keyed row, the key
// a hash of the token: the database never holds a usable cookie), a logout a
// delete; both nodes apply the rows to the sessions they hold in memory, so
// after a takeover the new active takes the cookie the old one issued.
//
// Only the active writes the store. A login on the standby is that node's
// own, in memory, as before this table existed; so is every login when
// replication.mode is none. A session lasts http.sessionTtlMs from its login,
// so a session is written twice at most (login, logout), never per request.
// The writes are Tandem's own (internal): whenPeerAway: refuse never refuses
// them, so an operator can log in on an active whose peer is away; the
// session reaches the peer with the catch-up. The active purges expired rows.
import type { Logger } from "../../core/logger.js";
import type { ReadOptions, Row, RowWrite } from "../../redundancy/storage.js";
import type { Role } from "../node-api.js";
import { SessionStore, type Session, type SessionHooks } from "./sessions.js";

export const SESSIONS_TABLE = "_sessions";

/** how often the active purges expired sessions from the store */
const PURGE_EVERY_MS = 10 * 60_000;
const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

/** what a session's row holds (never the token) */
interface SessionBody {
  user: string;
  role: Role;
  createdAt: number;
  expiresAt: number;
  pw: string;
}

export function sessionPut(s: Session): RowWrite {
  const body: SessionBody = { user: s.actor.user, role: s.actor.role, createdAt: s.createdAt, expiresAt: s.expiresAt, pw: s.pw };
  return { table: SESSIONS_TABLE, kind: "put", key: s.id, body: JSON.stringify(body) };
}

export function sessionDel(id: string): RowWrite {
  return { table: SESSIONS_TABLE, kind: "del", key: id, body: null };
}

/** drops the rows of sessions that ended by now: a row is written at its login, so one older than the lifetime has expired */
export function sessionPurge(now: number, ttlMs: number): RowWrite {
  return { table: SESSIONS_TABLE, kind: "purge", key: null, body: JSON.stringify({ before: now - ttlMs }) };
}

/** The session a replicated row holds, or null (a tombstone, another table, a row this build cannot read). */
export function sessionOfRow(r: Row): Session | null {
  if (r.table !== SESSIONS_TABLE || r.kind !== "put" || !r.key || r.body === null) return null;
  let b: Partial<SessionBody>;
  try {
    b = JSON.parse(r.body) as Partial<SessionBody>;
  } catch {
    return null;
  }
  if (typeof b !== "object" || b === null || typeof b.user !== "string" || !ROLES.includes(b.role as Role) || typeof b.pw !== "string") return null;
  if (!Number.isFinite(b.createdAt) || !Number.isFinite(b.expiresAt)) return null;
  return { id: r.key, actor: { user: b.user, role: b.role as Role }, createdAt: b.createdAt!, expiresAt: b.expiresAt!, pw: b.pw, stored: true };
}

/** What applied rows do to the sessions in memory: a put adds (unless expired), a delete removes. */
export function applySessionRows(store: SessionStore, rows: readonly Row[], now: number): void {
  for (const r of rows) {
    if (r.table !== SESSIONS_TABLE) continue;
    if (r.kind === "del" && r.key) store.remove(r.key);
    else if (r.kind === "put") {
      const s = sessionOfRow(r);
      if (s && s.expiresAt > now) store.put(s);
    }
    // a purge removes expired rows only: memory drops those on its own
  }
}

/** The node's database and replication as the sessions use them (node-data.ts wires it to Records). */
export interface SessionStorePort {
  /** this node writes the store now (it leads replication) */
  leads(): boolean;
  /** an internal write: never refused by whenPeerAway; resolves once acknowledged as the mode says */
  write(writes: RowWrite[]): Promise<unknown>;
  read(table: string, opts: ReadOptions): Promise<Row[]>;
  /** follows the rows applied on this node: its own writes and the peer's */
  onApplied(fn: (rows: readonly Row[]) => void): void;
}

export class ReplicatedSessions implements SessionHooks {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly store: SessionStore,
    private readonly port: SessionStorePort,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads the sessions the database holds and follows what is applied; before replication starts. */
  async open(): Promise<void> {
    this.port.onApplied((rows) => applySessionRows(this.store, rows, this.now()));
    for (let after = 0; ; ) {
      const rows = await this.port.read(SESSIONS_TABLE, { afterSeq: after, limit: 1000 });
      applySessionRows(this.store, rows, this.now());
      if (rows.length < 1000) break;
      after = rows[rows.length - 1].seq;
    }
    this.timer = setInterval(() => void this.purge(), PURGE_EVERY_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async created(s: Session): Promise<void> {
    // a standby's login stays its own: only the active writes the store
    if (!this.port.leads()) return;
    try {
      await this.port.write([sessionPut(s)]);
      s.stored = true;
    } catch (err) {
      this.log.warn({ user: s.actor.user }, `the HMI session of '${s.actor.user}' was not written to the replicated store (${(err as Error).message}): it holds on this node only and ends with a takeover`);
    }
  }

  async ended(s: Session): Promise<void> {
    if (!s.stored) return;
    if (!this.port.leads()) {
      this.log.info({ user: s.actor.user }, `the HMI session of '${s.actor.user}' ended on this node, which is not active: the active's copy lasts until it expires`);
      return;
    }
    try {
      await this.port.write([sessionDel(s.id)]);
    } catch (err) {
      this.log.warn({ user: s.actor.user }, `the end of the HMI session of '${s.actor.user}' was not written to the replicated store (${(err as Error).message}): the peer's copy lasts until it expires`);
    }
  }

  /** the active drops expired sessions from both databases */
  async purge(): Promise<void> {
    this.store.sweep();
    if (!this.port.leads()) return;
    try {
      await this.port.write([sessionPurge(this.now(), this.store.ttlMs)]);
    } catch (err) {
      this.log.warn(`retention: expired HMI sessions were not purged (${(err as Error).message}); the next try is in ${PURGE_EVERY_MS / 60_000} min`);
    }
  }
}

/** The part of the node's Records the sessions use (runtime/records.ts). */
export interface RecordsLike {
  replicator: { status(): { role: string }; write(writes: RowWrite[], internal: boolean): Promise<Row[]> };
  storage: { read(table: string, opts: ReadOptions): Promise<Row[]> };
  onApplied(fn: (rows: readonly Row[]) => void): void;
}

/** The node's shared sessions, loaded; null when replication.mode is none (each node keeps its own, in memory). */
export async function openReplicatedSessions(records: RecordsLike, o: { mode: string; ttlMs: number; log: Logger }): Promise<ReplicatedSessions | null> {
  if (o.mode === "none") return null;
  const sessions = new ReplicatedSessions(
    new SessionStore({ ttlMs: o.ttlMs }),
    {
      leads: () => records.replicator.status().role === "leader",
      write: (writes) => records.replicator.write(writes, true),
      read: (table, opts) => records.storage.read(table, opts),
      onApplied: (fn) => records.onApplied(fn),
    },
    o.log,
  );
  await sessions.open();
  return sessions;
}
