// The gate in front of every route: a request that changes something must
// not come from another site's page (origin-check.ts); a password is checked
// only when the brute-force limits admit the attempt (login-limits.ts); the
// role must suffice. Every refusal here is counted (metrics), logged, and
// audited at a bounded rate (refusal-audit.ts) through the controller.
import type { FastifyReply, FastifyRequest } from "fastify";
import { TandemError } from "../../core/errors.js";
import { COUNT_CHANNELS, counterFor } from "../../core/diagnostics.js";
import type { Logger } from "../../core/logger.js";
import type { Actor, NodeController, Role } from "../node-api.js";
import { Authenticator, hasRole, parseBasic, sessionCookieName, type HttpUser } from "./auth.js";
import { LoginLimits, type LoginLimitOptions } from "./login-limits.js";
import { HMI_HEADER, crossSiteReason, hasNoBody, notJsonReason } from "./origin-check.js";
import { RefusalAuditor, type Refusal, type RefusalAuditOptions } from "./refusal-audit.js";

export interface GateOptions {
  controller: NodeController;
  auth: Authenticator;
  log: Logger;
  pairId: string;
  nodeId: string;
  /** the peer's id: its session cookie is taken too, for a session the pair shares (replicated-sessions.ts) */
  peerId?: string;
  http: { users: HttpUser[]; trustedAddresses?: string[] };
  loginLimits?: Partial<LoginLimitOptions>;
  refusalAudit?: Partial<RefusalAuditOptions>;
  /** the server's counters the gate moves */
  counts: { loginFailures: number; loginsThrottled: number };
}

export class RequestGate {
  readonly sessionCookie: string;
  /** the cookie names a session is looked for under: this node's, then the peer's */
  private readonly cookieNames: string[];
  readonly limits: LoginLimits;
  private readonly refusals: RefusalAuditor;
  private readonly auth: Authenticator;
  private readonly log: Logger;
  private readonly counts: GateOptions["counts"];
  private readonly count: (name: string) => void;

  constructor(o: GateOptions) {
    this.auth = o.auth;
    this.log = o.log;
    this.counts = o.counts;
    this.sessionCookie = sessionCookieName(o.pairId, o.nodeId);
    this.cookieNames = o.peerId ? [this.sessionCookie, sessionCookieName(o.pairId, o.peerId)] : [this.sessionCookie];
    this.limits = new LoginLimits(
      { ...o.loginLimits, trusted: [...(o.http.trustedAddresses ?? []), ...(o.loginLimits?.trusted ?? [])] },
      o.http.users.map((u) => u.name),
    );
    const countEvent = counterFor(COUNT_CHANNELS.http);
    this.count = (name) => countEvent(name, { pair: o.pairId, node: o.nodeId });
    this.refusals = new RefusalAuditor((r) => {
      try {
        o.controller.recordRefusal(r);
      } catch (err) {
        o.log.error({ err }, `cannot audit a refused request: ${(err as Error).message}`);
      }
    }, o.refusalAudit);
  }

  private refused(req: FastifyRequest, r: Omit<Refusal, "from" | "tried"> & { tried?: string }): void {
    this.refusals.record({ ...r, user: clipName(r.user), from: req.ip, tried: r.tried ?? `${req.method} ${req.url.split("?")[0]!.slice(0, 200)}` });
  }

  /**
   * Checks a password, admitted by the brute-force limits first: a refused
   * attempt is answered 429 with Retry-After and runs no scrypt.
   */
  async checkPassword(req: FastifyRequest, reply: FastifyReply, user: string, password: string, how: "basic" | "form"): Promise<Actor> {
    const tried = how === "form" ? "log in (HMI form)" : undefined;
    const remembered = this.auth.remembered(user, password, req.ip);
    const adm = this.limits.admit(req.ip, user, remembered === null);
    if (!adm.ok) {
      this.counts.loginsThrottled++;
      this.count(`throttled_${adm.limit}`);
      const why = {
        address: `too many failed logins from ${req.ip}`,
        account: `too many failed logins for '${clipName(user)}' from addresses it never logged in from`,
        in_flight: "too many logins at once",
      }[adm.limit];
      this.log.warn({ user: clipName(user), from: req.ip, how, limit: adm.limit, retryAfterS: adm.retryAfterS }, `login for '${clipName(user)}' from ${req.ip} throttled: ${why}`);
      this.refused(req, { kind: "login-throttled", user, tried, code: "TANDEM_ERR_LOGIN_THROTTLED", reason: why });
      reply.header("retry-after", String(adm.retryAfterS));
      throw new TandemError("TANDEM_ERR_LOGIN_THROTTLED", [why, adm.retryAfterS]);
    }
    if (remembered) {
      this.limits.succeeded(adm.ticket);
      return remembered;
    }
    let actor: Actor | null = null;
    try {
      actor = await this.auth.check(user, password, req.ip);
    } finally {
      if (actor) this.limits.succeeded(adm.ticket);
      else this.limits.failed(adm.ticket);
    }
    if (!actor) {
      this.counts.loginFailures++;
      this.count(`login_failed_${how}`);
      this.log.warn({ user: clipName(user), from: req.ip, how, known: adm.known }, `failed login for '${clipName(user)}' from ${req.ip}`);
      this.refused(req, { kind: "login-failed", user, tried, code: "TANDEM_ERR_UNAUTHORIZED", reason: "wrong user name or password" });
      throw new TandemError("TANDEM_ERR_UNAUTHORIZED", ["wrong user name or password"]);
    }
    return actor;
  }

  async authenticate(req: FastifyRequest, reply: FastifyReply): Promise<Actor & { via: "basic" | "cookie" }> {
    const basic = parseBasic(req.headers.authorization);
    if (basic === "malformed") throw new TandemError("TANDEM_ERR_UNAUTHORIZED", ["the Authorization header is not valid HTTP Basic credentials"]);
    if (basic) return { ...(await this.checkPassword(req, reply, basic.user, basic.password, "basic")), via: "basic" };
    const session = this.sessionOf(req);
    if (session) return { ...session.actor, from: req.ip, via: "cookie" };
    if (req.cookies[this.sessionCookie]) throw new TandemError("TANDEM_ERR_UNAUTHORIZED", ["your session has ended; log in again"]);
    throw new TandemError("TANDEM_ERR_UNAUTHORIZED", ["log in first (HMI), or send HTTP Basic credentials (scripts, CLI)"]);
  }

  /**
   * The live session a request's cookies name, and under which cookie: this
   * node's own, or the peer's (the browser sends it where both nodes share a
   * host name — one address for the pair, or the demo — and after a takeover
   * the new active holds the old active's sessions).
   */
  sessionOf(req: FastifyRequest): { cookie: string; token: string; actor: Actor } | null {
    for (const cookie of this.cookieNames) {
      const token = req.cookies[cookie];
      const actor = token ? this.auth.session(token) : null;
      if (token && actor) return { cookie, token, actor };
    }
    return null;
  }

  /** Who the request says it is, unchecked: for the audit of a refusal before any login check. */
  private claimedUser(req: FastifyRequest): string {
    const basic = parseBasic(req.headers.authorization);
    if (basic && basic !== "malformed") return basic.user;
    return this.sessionOf(req)?.actor.user ?? "";
  }

  /** A request that changes something: not from another site's page, and JSON (origin-check.ts). */
  guardStateChange(req: FastifyRequest): void {
    const cross = crossSiteReason(req.headers, req.protocol, HMI_HEADER);
    const notJson = cross ? null : notJsonReason(req.headers["content-type"]);
    if (cross || notJson) {
      const code = cross ? "TANDEM_ERR_CROSS_SITE" : "TANDEM_ERR_CONTENT_TYPE";
      this.count(cross ? "refused_cross_site" : "refused_content_type");
      this.log.warn({ from: req.ip, method: req.method, url: req.url, origin: req.headers.origin, code }, `refused ${req.method} ${req.url} from ${req.ip}: ${cross ?? notJson}`);
      this.refused(req, { kind: "cross-site", user: this.claimedUser(req), code, reason: (cross ?? notJson)! });
      throw new TandemError(code, [cross ?? notJson]);
    }
    // JSON with no body at all: nothing to parse; the route checks it as {} (preValidation)
    if (hasNoBody(req.headers)) delete req.headers["content-type"];
  }

  /** 403 when the actor's role is too low, or a cookie login changes something without the HMI's header. */
  checkRole(req: FastifyRequest, actor: Actor & { via: "basic" | "cookie" }, need: Role, what: string): void {
    if (!hasRole(actor, need)) {
      this.count("refused_forbidden");
      this.refused(req, { kind: "forbidden", user: actor.user, role: actor.role, tried: what, code: "TANDEM_ERR_FORBIDDEN", reason: `role ${actor.role}, needs ${need}` });
      throw new TandemError("TANDEM_ERR_FORBIDDEN", [actor.role, what, need]);
    }
    if (actor.via === "cookie" && req.method !== "GET" && req.method !== "HEAD" && req.headers[HMI_HEADER] !== "hmi") {
      const why = `a request signed in with the HMI session cookie must come from the HMI (header ${HMI_HEADER})`;
      this.count("refused_cross_site");
      this.refused(req, { kind: "cross-site", user: actor.user, role: actor.role, code: "TANDEM_ERR_CROSS_SITE", reason: why });
      throw new TandemError("TANDEM_ERR_CROSS_SITE", [why]);
    }
  }

  close(): void {
    this.refusals.close();
  }
}

/** A claimed user name as logs and the audit show it: printable, at most 64 characters. */
function clipName(name: string): string {
  const t = name.replace(/[^\x20-\x7e]/g, "?");
  return t.length > 64 ? `${t.slice(0, 64)}…` : t;
}
