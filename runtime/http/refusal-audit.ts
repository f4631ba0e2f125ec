// Audit entries for requests refused before they reach the controller (a
// failed or throttled login, a role too low, a cross-site request), written
// at a bounded rate so that a flood cannot fill the disk.
//
// Within each interval (`intervalMs`, default a minute):
// - the first refusal of each kind from each address is written at once,
//   with who it claimed to be, what it tried and why it was refused; at most
//   `firstPerInterval` such entries per kind (a flood of failed logins does
//   not hide the first cross-site request);
// - everything else is counted, and when the interval ends one summary entry
//   says how many refusals were not written one by one, with the busiest
//   addresses (at most `topAddresses`) and kinds.
// So a flood writes at most 4 × `firstPerInterval` + 1 entries per interval,
// whatever its rate and however many source addresses it uses. Memory is
// bounded too: at most `maxKeys` address/kind pairs are told apart per
// interval; the rest are counted together.
import type { RefusalRecord, Role } from "../node-api.js";

export type RefusalKind = "login-failed" | "login-throttled" | "forbidden" | "cross-site";

export interface Refusal {
  kind: RefusalKind;
  /** the user name the request claimed (Basic, form, session), or "" when none */
  user: string;
  /** the role, when the login was checked (a 403 for a role too low) */
  role?: Role;
  from: string;
  /** what was tried: "POST /api/v1/switchover", "login" … */
  tried: string;
  /** why it was refused: the error code and a few words */
  code: string;
  reason: string;
}

export interface RefusalAuditOptions {
  intervalMs: number;
  firstPerInterval: number;
  maxKeys: number;
  topAddresses: number;
}

export const DEFAULT_REFUSAL_AUDIT: RefusalAuditOptions = { intervalMs: 60_000, firstPerInterval: 20, maxKeys: 1000, topAddresses: 10 };

export class RefusalAuditor {
  private readonly o: RefusalAuditOptions;
  private readonly seen = new Set<string>();
  private readonly written = new Map<RefusalKind, number>();
  private suppressed = 0;
  private readonly byAddress = new Map<string, number>();
  private readonly byKind = new Map<string, number>();
  private readonly users = new Set<string>();
  private overflow = 0;
  private timer: NodeJS.Timeout | null = null;
  private windowStart = 0;

  constructor(
    private readonly write: (r: RefusalRecord) => void,
    opts: Partial<RefusalAuditOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.o = { ...DEFAULT_REFUSAL_AUDIT, ...opts };
  }

  record(r: Refusal): void {
    if (this.timer === null) this.startWindow();
    const key = `${r.kind}\0${r.from}`;
    const written = this.written.get(r.kind) ?? 0;
    if (!this.seen.has(key) && written < this.o.firstPerInterval) {
      if (this.seen.size < this.o.maxKeys) this.seen.add(key);
      this.written.set(r.kind, written + 1);
      this.write({
        action: `refused-${r.kind}`,
        user: r.user,
        ...(r.role ? { role: r.role } : {}),
        from: r.from,
        details: { tried: r.tried, code: r.code, reason: r.reason },
      });
      return;
    }
    this.suppressed++;
    this.byKind.set(r.kind, (this.byKind.get(r.kind) ?? 0) + 1);
    if (r.user && this.users.size < this.o.topAddresses) this.users.add(r.user);
    if (this.byAddress.has(r.from) || this.byAddress.size < this.o.maxKeys) this.byAddress.set(r.from, (this.byAddress.get(r.from) ?? 0) + 1);
    else this.overflow++;
  }

  /** Writes the summary of the interval now (stop, and the interval's end). */
  flush(): void {
    if (this.suppressed > 0) {
      const top = [...this.byAddress.entries()].sort((a, b) => b[1] - a[1]).slice(0, this.o.topAddresses);
      const addresses = this.byAddress.size + (this.overflow > 0 ? 1 : 0);
      this.write({
        action: "refused-summary",
        user: "",
        from: top.length === 1 && this.overflow === 0 ? top[0]![0] : `${addresses} addresses`,
        details: {
          count: this.suppressed,
          sinceMs: Math.round(this.now() - this.windowStart),
          kinds: Object.fromEntries(this.byKind),
          top: Object.fromEntries(top),
          ...(this.overflow > 0 ? { otherAddresses: this.overflow } : {}),
          users: [...this.users],
          reason: "refusals after the first of each kind from each address in this interval, counted rather than written one by one",
        },
      });
    }
    this.seen.clear();
    this.byAddress.clear();
    this.byKind.clear();
    this.users.clear();
    this.written.clear();
    this.suppressed = 0;
    this.overflow = 0;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
  }

  private startWindow(): void {
    this.windowStart = this.now();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.o.intervalMs);
    this.timer.unref();
  }
}
