// Tag history and stored events (runtime/history/, runtime/events/), read
// from this node's own database: both nodes hold the same rows, so either
// answers. GET /events itself is kept for the server-sent event stream
// (CONTRACT.md); the stored list is GET /events/history.
import type { FastifyInstance } from "fastify";
import { TandemError } from "../../core/errors.js";
import type { HistoryQuery, NodeController } from "../node-api.js";

const tagName = { type: "object", required: ["name"], properties: { name: { type: "string", pattern: "^[A-Za-z0-9_./:-]{1,200}$" } } } as const;

// The server coerces no types and fills in no defaults (server.ts): the
// query is text, checked in shape here and read below.
const time = { type: "string", minLength: 1, maxLength: 40, description: "an ISO 8601 time (2026-11-30T05:00:00Z) or milliseconds since 1970" } as const;
const historyQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    from: time,
    to: time,
    limit: { type: "string", pattern: "^[0-9]{1,6}$", description: "a whole number 1–10000" },
    order: { type: "string", enum: ["asc", "desc"] },
  },
} as const;
type HistoryQs = { from?: string; to?: string; limit?: string; order?: "asc" | "desc" };

const eventsQuery = {
  type: "object",
  additionalProperties: false,
  properties: { after: { type: "string", pattern: "^[0-9]{1,15}$" }, limit: { type: "string", pattern: "^[0-9]{1,4}$", description: "a whole number 1–1000" } },
} as const;
type EventsQs = { after?: string; limit?: string };

/** the default range: the last hour */
const DEFAULT_SPAN_MS = 3_600_000;
export const HISTORY_MAX_LIMIT = 10_000;

function timeOf(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = /^[0-9]{1,15}$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(t)) throw new TandemError("TANDEM_ERR_BAD_REQUEST", [`querystring.${name}: expected an ISO 8601 time (2026-11-30T05:00:00Z) or milliseconds since 1970, got '${text}'`]);
  return t;
}

/** the query as the controller takes it: defaults filled in, every problem a 400 naming the parameter */
export function historyQueryOf(q: HistoryQs, now: number): HistoryQuery {
  const to = timeOf("to", q.to) ?? now;
  const from = timeOf("from", q.from) ?? to - DEFAULT_SPAN_MS;
  if (from > to) throw new TandemError("TANDEM_ERR_BAD_REQUEST", [`querystring.from: ${new Date(from).toISOString()} is after 'to' (${new Date(to).toISOString()})`]);
  const limit = q.limit === undefined ? 1000 : Number(q.limit);
  if (limit < 1 || limit > HISTORY_MAX_LIMIT) throw new TandemError("TANDEM_ERR_BAD_REQUEST", [`querystring.limit: expected a whole number 1–${HISTORY_MAX_LIMIT}, got ${limit}`]);
  return { from, to, limit, order: q.order ?? "asc" };
}

export function registerHistoryRoutes(app: FastifyInstance, api: string, controller: NodeController): void {
  app.get<{ Params: { name: string }; Querystring: HistoryQs }>(
    `${api}/tags/:name/history`,
    { config: { role: "viewer", action: "read a tag's history" }, schema: { params: tagName, querystring: historyQuery } },
    async (req) => controller.tagHistory(req.params.name, historyQueryOf(req.query, Date.now())),
  );

  app.get<{ Querystring: EventsQs }>(`${api}/events/history`, { config: { role: "viewer", action: "read the stored events" }, schema: { querystring: eventsQuery } }, async (req) => {
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (limit < 1 || limit > 1000) throw new TandemError("TANDEM_ERR_BAD_REQUEST", [`querystring.limit: expected a whole number 1–1000, got ${limit}`]);
    return controller.eventHistory(req.query.after === undefined ? 0 : Number(req.query.after), limit);
  });
}
