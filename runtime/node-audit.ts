// The node's audit, composed: its own hash-chained log (audit-log.ts), the
// copy sent to syslog (audit/syslog.ts), the pair's copy in the replicated
// store (audit/replicated-audit.ts, while this node is active) and the event
// stream's followers. The node (node.ts) makes one first, opens it on start
// and closes it last; an operator's action runs through audited(): no
// record, no action.
import { join } from "node:path";
import { TandemError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { AuditLog } from "./audit-log.js";
import type { AuditVerifyResult } from "./audit/chain.js";
import type { ReplicatedAudit } from "./audit/replicated-audit.js";
import { loadAuditKey } from "./audit/secret.js";
import { SyslogSender } from "./audit/syslog.js";
import type { TandemConfig } from "./config/schema.js";
import type { Actor, AuditEntry } from "./node-api.js";

/** who an audit entry names: an operator, or a refused request whose login was never checked (role "none") */
export type AuditActor = { user: string; role: AuditEntry["role"]; from?: string };

export interface NodeAuditOptions {
  config: TandemConfig;
  /** the node's log: every entry is a line there too */
  log: Logger;
  /** the syslog sender's own log */
  syslogLog: Logger;
  /** the epoch an entry is stamped with */
  epoch: () => number;
  /** the pair's copy, when the database is open and replication keeps one */
  pair: () => ReplicatedAudit | null;
}

export class NodeAudit {
  /** follow()'s listeners of audit entries */
  readonly followers = new Set<(e: AuditEntry) => void>();
  private readonly file: AuditLog;
  private readonly syslog: SyslogSender | null;
  private readonly log: Logger;

  constructor(private readonly o: NodeAuditOptions) {
    const c = o.config;
    this.log = o.log;
    const sl = c.audit.syslog;
    this.syslog = sl ? new SyslogSender({ host: sl.address.host, port: sl.address.port, facility: sl.facility, appName: sl.appName, log: o.syslogLog }) : null;
    this.file = new AuditLog(join(c.node.dataDir, "audit.log"), {
      key: loadAuditKey(c.node.dataDir, c.audit.key, { create: true }),
      onLine: (line, entry) => {
        this.syslog?.send(line, entry);
        for (const fn of this.followers) fn(entry);
        // the pair's copy, when this node is active (runtime/audit/replicated-audit.ts)
        o.pair()?.line(line);
      },
    });
  }

  open(): void {
    this.syslog?.start();
    this.file.open();
  }

  async close(): Promise<void> {
    this.file.close();
    await this.syslog?.stop();
  }

  /** this node's own entries */
  list(opts: { limit?: number; since?: number }): AuditEntry[] {
    return this.file.list(opts);
  }

  /** the pair's entries, from the replicated store */
  async pairList(opts: { limit?: number; since?: number }): Promise<{ entries: AuditEntry[]; next: number | null }> {
    const a = this.o.pair();
    if (!a) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["replication.mode is none: the pair's audit is not kept; this node's own is (source=node)"]);
    return a.list(opts.since ?? 0, Math.max(1, Math.min(1000, opts.limit ?? 100)));
  }

  verify(): Promise<AuditVerifyResult> {
    return this.file.verify();
  }

  /**
   * An operator's action, audited: the "requested" entry is on disk before the
   * action runs, and an action that cannot be recorded is refused
   * (TANDEM_ERR_AUDIT_UNAVAILABLE, 503) without running. The outcome follows:
   * the role machine records its own (with its reasons); when it did not,
   * this records ok, or refused/failed with the error.
   */
  async audited<T>(actor: Actor, action: string, details: Record<string, unknown> | undefined, run: () => Promise<T>): Promise<T> {
    const intent = this.intent(actor, action, details);
    const recorded = (results: string[]) => this.file.list({ since: intent.seq, limit: 1000 }).some((e) => e.action === action && e.user === actor.user && results.includes(e.result));
    try {
      const r = await run();
      if (!recorded(["ok"])) this.write(action, actor, "ok", details);
      return r;
    } catch (err) {
      if (!recorded(["refused", "failed"])) {
        const te = err instanceof TandemError ? err : null;
        this.write(action, actor, te && te.status < 500 ? "refused" : "failed", { ...(details ?? {}), code: te?.code ?? "TANDEM_ERR_INTERNAL", reason: (err as Error).message });
      }
      throw err;
    }
  }

  /** The "requested" entry; throws TANDEM_ERR_AUDIT_UNAVAILABLE when it cannot be written. */
  intent(actor: Actor, action: string, details: Record<string, unknown> | undefined): AuditEntry {
    try {
      return this.append(action, actor, "requested", details);
    } catch (err) {
      this.log.error({ err, user: actor.user, from: actor.from, action }, `cannot write the audit log: ${(err as Error).message}; ${action} by ${actor.user} refused`);
      throw err instanceof TandemError ? err : new TandemError("TANDEM_ERR_AUDIT_UNAVAILABLE", [(err as Error).message]);
    }
  }

  /**
   * An entry for what already happened (an outcome, the node's own doings): it
   * cannot be taken back, so a failure is logged and counted, not thrown. The
   * "requested" entry before it is on disk.
   */
  write(action: string, actor: AuditActor | "system", result: "ok" | "refused" | "failed", details?: Record<string, unknown>): void {
    try {
      this.append(action, actor, result, details);
    } catch (err) {
      this.log.error({ err, action, result }, `cannot write the audit log: ${(err as Error).message} (${action} ${result} is not recorded)`);
    }
  }

  private append(action: string, actor: AuditActor | "system", result: AuditEntry["result"], details?: Record<string, unknown>): AuditEntry {
    const a = actor === "system" ? { user: "system", role: "system" as const, from: "local" } : { user: actor.user, role: actor.role, from: actor.from ?? "local" };
    const entry = this.file.append({
      user: a.user,
      role: a.role,
      from: a.from,
      action,
      result,
      nodeId: this.o.config.node.id,
      epoch: this.o.epoch(),
      ...(details === undefined ? {} : { details }),
    });
    this.log.info({ audit: entry.seq, user: a.user, from: a.from, action, result }, `audit: ${a.user} ${action} ${result}`);
    return entry;
  }
}
