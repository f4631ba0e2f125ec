// The node's HTTP API (/api/v1, JSON) and the operator HMI (/), on fastify.
// The API only calls the NodeController; it never changes node state itself.
// The controller writes the audit entries from the Actor it is given.
//
// Auth: HTTP Basic (scripts, the CLI) or the HMI's session cookie. Roles are
// ordered viewer < operator < admin; each route names the least role it needs.
// Before any login is checked, a request that changes something must show it
// does not come from another site's page (origin-check.ts); password checks
// are admitted by the brute-force limits (login-limits.ts); requests refused
// here are audited at a bounded rate (refusal-audit.ts) and counted.
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import fastifyCookie from "@fastify/cookie";
import { TandemError } from "../../core/errors.js";
import type { LogManager } from "../logging.js";
import type { Actor, NodeController, Role } from "../node-api.js";
import type { LogLevel } from "../config/schema.js";
import { LOG_LEVELS, isActiveState } from "../../core/types.js";
import type { SessionStore } from "../auth/sessions.js";
import { Authenticator, parseBasic, type HttpUser, type SessionHooks } from "./auth.js";
import type { LoginLimitOptions } from "./login-limits.js";
import { HMI_HEADER, isSafeMethod } from "./origin-check.js";
import type { RefusalAuditOptions } from "./refusal-audit.js";
import { RequestGate } from "./gate.js";
import { formatSchemaErrors, toTandemError } from "./error-mapping.js";
import { MisdirectedRepeats, misdirectedAnswer, type MisdirectedAnswer } from "./misdirected.js";
import { HMI_PATHS, loadHmi } from "./hmi-files.js";
import { depthLimitedJsonParser } from "./json-body.js";
import { ConnectionGuard, DEFAULT_HTTP_LIMITS, MAX_PARAM_LENGTH, nodeServerOptions, refusalLogGate, type HttpLimits } from "./limits.js";
import { clientErrorHandler, frameworkErrorsHandler, securityHeaders } from "./raw-replies.js";
import type { TlsMaterial } from "./tls.js";
import { registerRecordRoutes } from "./record-routes.js";
import { registerHistoryRoutes } from "./history-routes.js";
import { DEFAULT_EVENT_STREAM, EventStreamHub, type EventStreamOptions } from "./event-stream.js";
import { registerServiceRoutes } from "./service-routes.js";
import { registerBackupRoutes } from "./backup-routes.js";
import { registerConfigRoutes } from "./config-routes.js";
import { registerSiteRoutes } from "./site-routes.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** the least role the route needs; absent means no login */
    role?: Role;
    /** what the route does, in words, for 403 messages */
    action?: string;
  }
}

/**
 * The HMI sends this header on every fetch. It decides two things:
 * - 401 answers carry `WWW-Authenticate: Basic` (so browsers and curl know to
 *   send credentials) unless the request has this header and no Basic
 *   credentials: the HMI shows its own login form instead of the browser's
 *   Basic dialog.
 * - A request authenticated by the session cookie that changes something must
 *   carry it. A page on another site cannot add a custom header without a CORS
 *   preflight, which this server never approves, so this (with SameSite=Strict)
 *   stops cross-site request forgery.
 * Any value of it (the CLI sends "cli") also passes the origin check of a
 * request that changes something, whatever its login.
 */
export { HMI_HEADER };

export interface HttpServerOptions {
  controller: NodeController;
  http: { listen: { host: string; port: number }; users: HttpUser[]; metricsAuth: boolean; sessionTtlMs: number; limits?: Partial<HttpLimits>; trustedAddresses?: string[] };
  /** HTTPS when given (runtime/http/tls.ts loads it); plain HTTP when absent */
  tls?: TlsMaterial | null;
  logs: LogManager;
  pairId: string;
  nodeId: string;
  /** the peer's id: a session the pair shares is taken under the peer's cookie too */
  peerId?: string;
  /** the node's sessions and what a login or logout tells the pair (runtime/auth/replicated-sessions.ts); this server's own when absent */
  sessions?: { store: SessionStore; hooks: SessionHooks };
  /** the event stream's limits over the defaults (tests shorten them) */
  eventStream?: Partial<Omit<EventStreamOptions, "tls">>;
  /** brute-force limits over the defaults (tests shorten them); trusted comes from http.trustedAddresses */
  loginLimits?: Partial<LoginLimitOptions>;
  /** how refusals are aggregated in the audit log (tests shorten the interval) */
  refusalAudit?: Partial<RefusalAuditOptions>;
  /** where the HMI files are; found next to package.json when absent */
  hmiDir?: string | null;
}

export interface HttpServer {
  /** fastify's own start-up work (plugins, routes, schemas), without listening yet */
  prepare(): Promise<void>;
  start(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
  counters(): Record<string, number>;
}

const BODY_LIMIT = 64 * 1024;
/** how long requests in flight may take when the node stops */
const STOP_GRACE_MS = 2_000;
const ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

const noFields = { type: "object", additionalProperties: false, properties: {} } as const;

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const { controller } = opts;
  const log = opts.logs.get("http");
  const auth = new Authenticator({ users: opts.http.users, sessionTtlMs: opts.http.sessionTtlMs, sessions: opts.sessions?.store, hooks: opts.sessions?.hooks });
  const hmi = loadHmi(opts.hmiDir === undefined ? undefined : opts.hmiDir);
  const actors = new WeakMap<FastifyRequest, Actor & { via: "basic" | "cookie" }>();
  const counts = {
    requests: 0,
    requestErrors: 0,
    internalErrors: 0,
    loginsOk: 0,
    loginFailures: 0,
    loginsThrottled: 0,
    unauthorized: 0,
    forbidden: 0,
    connectionsRefused: 0,
    clientErrors: 0,
    misdirected: 0,
  };
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...(opts.http.limits ?? {}) };
  const tlsOn = !!opts.tls;
  const transport = nodeServerOptions(limits);
  const gate = new RequestGate({ ...opts, auth, log, counts });
  const SESSION_COOKIE = gate.sessionCookie;

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Time to receive a whole request; slow senders do not hold sockets forever.
    requestTimeout: limits.requestTimeoutMs,
    // headers timeout, its check interval, header size (runtime/http/limits.ts)
    ...(opts.tls ? { https: { ...transport, cert: opts.tls.cert, key: opts.tls.key } } : { http: transport }),
    // a tag name may be 200 characters (longer ones get a 414 in the API's format)
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorsHandler(tlsOn),
    clientErrorHandler: clientErrorHandler(tlsOn, (err, te) => {
      counts.clientErrors++;
      log.debug({ code: err.code, status: te.status }, `client error: ${te.message}`);
    }),
    return503OnClosing: true,
    // short keep-alive: a stopping node must not wait on clients' idle connections
    keepAliveTimeout: 5_000,
    ajv: {
      // Refuse what we do not understand instead of silently dropping or
      // coercing it; `verbose` gives the error formatter the offending value.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, verbose: true },
    },
    schemaErrorFormatter: formatSchemaErrors,
  });

  void app.register(fastifyCookie);
  // JSON only: a text/plain body is refused as the wrong content type rather
  // than parsed into a string and refused as the wrong shape.
  app.removeContentTypeParser("text/plain");
  // JSON nested too deep is refused before any validator or handler walks it.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, depthLimitedJsonParser(app.getDefaultJsonParser("error", "error")));

  const logRefusal = refusalLogGate();
  const guard = new ConnectionGuard(limits, (because, address, cap) => {
    counts.connectionsRefused++;
    const n = logRefusal();
    if (n === null) return;
    const why = because === "per-address" ? `${address} already holds ${cap} connections (http.limits.maxConnectionsPerAddress)` : `the node already holds ${cap} connections (http.limits.maxConnections)`;
    log.warn({ because, address, cap, refused: n }, `HTTP connection refused: ${why}; ${n} refused since the last such line`);
  });
  guard.attach(app.server);

  const actorOf = (req: FastifyRequest): Actor => {
    const a = actors.get(req);
    if (!a) throw new TandemError("TANDEM_ERR_UNAUTHORIZED", ["no login on this request"]);
    return { user: a.user, role: a.role, from: a.from };
  };

  app.addHook("onRequest", async (req, reply) => {
    counts.requests++;
    // an unknown route changes nothing: it gets its 404
    if (!isSafeMethod(req.method) && !req.is404) gate.guardStateChange(req);
    const need = req.routeOptions.config?.role;
    if (!need) return;
    const actor = await gate.authenticate(req, reply);
    gate.checkRole(req, actor, need, req.routeOptions.config.action ?? `${req.method} ${req.url}`);
    actors.set(req, actor);
  });

  // POST/PUT without a body are checked as {}, so "no fields" and "{}" mean the same.
  app.addHook("preValidation", async (req) => {
    if ((req.method === "POST" || req.method === "PUT") && req.body === undefined) req.body = {};
  });

  // the Fetch standard's one repeat of a request answered 421: the same answer, the node not asked (nor audited) again
  const repeats = new MisdirectedRepeats();
  const sendMisdirected = (reply: FastifyReply, m: MisdirectedAnswer) => {
    counts.misdirected++;
    if (m.location) reply.header("location", m.location);
    return reply.code(m.status).type("application/json; charset=utf-8").send(m.body);
  };
  app.addHook("preHandler", async (req, reply) => {
    const a = actors.get(req);
    if (!a || isSafeMethod(req.method)) return;
    const again = repeats.repeat(MisdirectedRepeats.keyOf(a.user, req.ip, req.method, req.url, req.body));
    if (again) return sendMisdirected(reply, again);
  });

  app.addHook("onSend", async (req, reply, payload) => {
    for (const [k, v] of securityHeaders(tlsOn)) reply.header(k, v);
    if (req.url.startsWith("/api/")) reply.header("cache-control", "no-store");
    return payload;
  });

  app.addHook("onResponse", async (req, reply) => {
    if (reply.statusCode >= 400) counts.requestErrors++;
    if (req.method === "GET" || req.method === "HEAD") return;
    const a = actors.get(req);
    log.info(
      { method: req.method, url: req.url, status: reply.statusCode, user: a?.user, role: a?.role, from: req.ip, ms: Math.round(reply.elapsedTime) },
      `${req.method} ${req.url} → ${reply.statusCode}${a ? ` by ${a.user}` : ""}`,
    );
  });

  app.setErrorHandler((err, req, reply) => {
    let te = toTandemError(err, req.headers["content-type"]);
    if (!te) {
      counts.internalErrors++;
      log.error({ err, method: req.method, url: req.url, reqId: req.id }, `unexpected error in ${req.method} ${req.url}: ${(err as Error)?.message}`);
      te = new TandemError("TANDEM_ERR_INTERNAL", [
        `${req.method} ${req.url} failed unexpectedly; the node keeps running and the details are in its log (request ${req.id})`,
      ]);
    }
    if (te.status === 401) {
      counts.unauthorized++;
      const fromHmi = req.headers[HMI_HEADER] === "hmi";
      if (!fromHmi || parseBasic(req.headers.authorization)) reply.header("www-authenticate", 'Basic realm="tandem", charset="UTF-8"');
    }
    if (te.status === 403) counts.forbidden++;
    // only the active does this: 421 with the active's address, or no active known (misdirected.ts)
    const elsewhere = misdirectedAnswer(te, req.url);
    if (elsewhere) {
      const a = actors.get(req);
      if (a && !isSafeMethod(req.method)) repeats.remember(MisdirectedRepeats.keyOf(a.user, req.ip, req.method, req.url, req.body), elsewhere);
      return sendMisdirected(reply, elsewhere);
    }
    return reply.code(te.status).type("application/json; charset=utf-8").send(te.toJSON());
  });

  app.setNotFoundHandler((req, reply) => {
    const te = new TandemError("TANDEM_ERR_NOT_FOUND", [`${req.method} ${req.url.split("?")[0]}`]);
    return reply.code(404).type("application/json; charset=utf-8").send(te.toJSON());
  });

  // ---- the API ----
  const api = "/api/v1";

  // What a load balancer needs and no more: the node answers, whether it is the
  // one to send traffic to (active, or active and held), its service level.
  // State, epoch and node id are in /status, behind a viewer login.
  app.get(`${api}/health`, async () => {
    const h = controller.health();
    return { up: true, serving: isActiveState(h.state), serviceLevel: h.serviceLevel };
  });

  app.get(`${api}/metrics`, { config: opts.http.metricsAuth ? { role: "viewer", action: "read metrics" } : {} }, async (_req, reply) => {
    const text = await controller.metrics();
    return reply.type("text/plain; version=0.0.4; charset=utf-8").send(text);
  });

  app.get(`${api}/status`, { config: { role: "viewer", action: "read the status" } }, async () => controller.status());

  app.post(`${api}/confirm`, { config: { role: "operator", action: "confirm a held takeover" }, schema: { body: noFields } }, async (req) =>
    controller.confirm(actorOf(req)),
  );

  app.post(`${api}/reject`, { config: { role: "operator", action: "reject a held takeover" }, schema: { body: noFields } }, async (req) =>
    controller.reject(actorOf(req)),
  );

  app.post<{ Body: { to?: string; acceptConfig?: boolean } }>(
    `${api}/switchover`,
    {
      config: { role: "admin", action: "switch over" },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            to: { type: "string", pattern: ID_PATTERN, description: "a node id (letters, digits, '_', '.', '-')" },
            acceptConfig: { type: "boolean", description: "switch over although the nodes run different configurations" },
          },
        },
      },
    },
    async (req) => controller.switchover(actorOf(req), req.body.to, req.body.acceptConfig === true),
  );

  app.post<{ Body: { confirmActiveIsDown?: boolean } }>(
    `${api}/promote`,
    {
      config: { role: "operator", action: "promote this node" },
      schema: { body: { type: "object", additionalProperties: false, properties: { confirmActiveIsDown: { type: "boolean" } } } },
    },
    async (req) => {
      if (req.body.confirmActiveIsDown !== true) {
        throw new TandemError("TANDEM_ERR_BAD_REQUEST", [
          'promote needs the body { "confirmActiveIsDown": true }: promoting while the other node is still active would make two actives; ' +
            "first check that the active server is switched off or cut off from the plant",
        ]);
      }
      return controller.promote(actorOf(req));
    },
  );

  app.post<{ Body: { enter: boolean; force?: boolean } }>(
    `${api}/maintenance`,
    {
      config: { role: "admin", action: "enter or leave maintenance" },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["enter"],
          properties: { enter: { type: "boolean" }, force: { type: "boolean" } },
        },
      },
    },
    async (req) => controller.maintenance(actorOf(req), req.body.enter, req.body.force),
  );

  app.get<{ Querystring: { limit?: string; since?: string; source?: "node" | "pair" } }>(
    `${api}/audit`,
    {
      config: { role: "viewer", action: "read the audit log" },
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: { type: "string", pattern: "^[0-9]{1,9}$", description: "a whole number 1–1000" },
            since: { type: "string", pattern: "^[0-9]{1,15}$", description: "a sequence number (whole number ≥ 0)" },
            source: { type: "string", enum: ["node", "pair"], description: "node: this node's audit log (the default); pair: the replicated _audit table" },
          },
        },
      },
    },
    async (req) => {
      const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
      if (limit !== undefined && (limit < 1 || limit > 1000)) {
        throw new TandemError("TANDEM_ERR_BAD_REQUEST", [`querystring.limit: expected a whole number 1–1000, got ${limit}`]);
      }
      const since = req.query.since === undefined ? undefined : Number(req.query.since);
      if (req.query.source === "pair") return { source: "pair", ...(await controller.pairAudit({ limit, since })) };
      return { source: "node", entries: controller.audit({ limit, since }) };
    },
  );

  // viewer: a monitoring account checks the chain on a schedule; the answer
  // shows nothing GET /audit does not (line numbers and reasons), and
  // concurrent checks share one walk of the file, done in slices
  app.get(`${api}/audit/verify`, { config: { role: "viewer", action: "verify the audit log" } }, async () => controller.verifyAudit());

  app.get(`${api}/log-level`, { config: { role: "viewer", action: "read log levels" } }, async () => controller.logLevels());

  app.get(`${api}/tags`, { config: { role: "viewer", action: "read tags" } }, async () => ({ tags: controller.tags() }));

  registerServiceRoutes(app, api, controller, actorOf);
  registerBackupRoutes(app, api, controller, actorOf);
  registerConfigRoutes(app, api, controller, actorOf);
  registerRecordRoutes(app, api, controller, actorOf);
  registerHistoryRoutes(app, api, controller);
  registerSiteRoutes(app, api, controller);
  const stream = new EventStreamHub(controller, { ...DEFAULT_EVENT_STREAM, ...(opts.eventStream ?? {}), tls: tlsOn });
  stream.register(app, api);

  const tagName = { type: "object", required: ["name"], properties: { name: { type: "string", pattern: "^[A-Za-z0-9_./:-]{1,200}$" } } } as const;

  app.get<{ Params: { name: string } }>(`${api}/tags/:name`, { config: { role: "viewer", action: "read a tag" }, schema: { params: tagName } }, async (req) =>
    controller.tag(req.params.name),
  );

  app.post<{ Params: { name: string }; Body: { value: unknown } }>(
    `${api}/tags/:name`,
    {
      config: { role: "operator", action: "write a tag" },
      schema: {
        params: tagName,
        body: { type: "object", additionalProperties: false, required: ["value"], properties: { value: { description: "the value to write, of the tag's type (docs/drivers.md, Value rules); the answer's value is the value as written" } } },
      },
    },
    async (req) => controller.writeTag(actorOf(req), req.params.name, req.body.value),
  );

  app.put<{ Body: { level: LogLevel; component?: string } }>(
    `${api}/log-level`,
    {
      config: { role: "admin", action: "change log levels" },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["level"],
          properties: {
            level: { type: "string", enum: [...LOG_LEVELS] },
            component: { type: "string", pattern: "^[A-Za-z0-9_.-]{1,64}$", description: "a component name (letters, digits, '_', '.', '-')" },
          },
        },
      },
    },
    async (req) => controller.setLogLevel(actorOf(req), req.body.level, req.body.component),
  );

  app.post<{ Body: { user: string; password: string } }>(
    `${api}/login`,
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["user", "password"],
          properties: { user: { type: "string", minLength: 1, maxLength: 64 }, password: { type: "string", maxLength: 1024 } },
        },
      },
    },
    async (req, reply) => {
      const actor = await gate.checkPassword(req, reply, req.body.user, req.body.password, "form");
      await auth.logout(req.cookies[SESSION_COOKIE]);
      const token = await auth.login(actor);
      counts.loginsOk++;
      actors.set(req, { ...actor, via: "cookie" });
      reply.setCookie(SESSION_COOKIE, token, {
        secure: tlsOn,
        httpOnly: true,
        sameSite: "strict",
        path: "/",
        maxAge: Math.floor(opts.http.sessionTtlMs / 1000),
      });
      return { user: actor.user, role: actor.role };
    },
  );

  app.post(`${api}/logout`, { schema: { body: noFields } }, async (req, reply) => {
    const s = gate.sessionOf(req);
    if (s) actors.set(req, { ...s.actor, from: req.ip, via: "cookie" });
    await auth.logout(s?.token ?? req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "strict", secure: tlsOn });
    // a session of the peer's cookie (a takeover, one address for the pair) ends with it
    if (s && s.cookie !== SESSION_COOKIE) reply.clearCookie(s.cookie, { path: "/", httpOnly: true, sameSite: "strict", secure: tlsOn });
    return { ok: true };
  });

  app.get(`${api}/whoami`, { config: { role: "viewer", action: "ask who is logged in" } }, async (req) => {
    const a = actors.get(req)!;
    return { user: a.user, role: a.role, via: a.via, nodeId: opts.nodeId, pairId: opts.pairId };
  });

  // ---- the HMI ----
  const sendHmi = (name: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
    const f = hmi.get(name);
    if (!f) throw new TandemError("TANDEM_ERR_UNAVAILABLE", [`the HMI file ${name} is missing from this installation (${name.startsWith("vendor/") ? "its npm package: run npm install" : "runtime/hmi"}); the API still works`]);
    return reply.type(f.type).header("cache-control", "no-cache").send(f.body);
  };
  app.get("/", sendHmi("index.html"));
  app.get("/index.html", sendHmi("index.html"));
  for (const name of HMI_PATHS) if (name !== "index.html") app.get(`/${name}`, sendHmi(name));

  let started = false;
  return {
    async prepare() {
      await app.ready();
    },
    async start() {
      if (started) throw new Error("http server already started");
      started = true;
      await app.listen({ host: opts.http.listen.host, port: opts.http.listen.port });
      const addr = app.server.address() as AddressInfo;
      log.info({ host: addr.address, port: addr.port, users: opts.http.users.length, hmi: hmi.has("index.html") }, `${tlsOn ? "HTTPS" : "HTTP"} API and HMI listening on ${addr.address}:${addr.port}`);
      return { host: addr.address, port: addr.port };
    },
    async stop() {
      auth.close();
      // Requests in flight get a moment to finish; then every connection is
      // closed. A keep-alive connection that was busy when closing began is not
      // idle-swept, and waiting on it would hold up the node's stop.
      const closing = app.close();
      let grace: NodeJS.Timeout | undefined;
      const late = await Promise.race([closing.then(() => false), new Promise<boolean>((r) => (grace = setTimeout(() => r(true), STOP_GRACE_MS)))]);
      clearTimeout(grace);
      if (late) {
        log.warn(`HTTP connections still open ${STOP_GRACE_MS} ms after stop began: closing them`);
        app.server.closeAllConnections();
        await closing;
      }
      // the refusals not yet written one by one: a summary, before the node closes its audit log
      gate.close();
    },
    counters() {
      return { ...counts, sessions: auth.sessions.size, passwordChecks: auth.passwordChecks, eventStreams: stream.counters.streams, eventStreamsClosedSlow: stream.counters.closedSlow };
    },
  };
}
