// The records a service or script writes (replicated; answered once
// acknowledged per the replication mode), the replication view and the
// divergence table (records a rejoining node wrote under an old epoch).
import type { FastifyInstance, FastifyRequest } from "fastify";
import { TandemError } from "../../core/errors.js";
import type { Actor, NodeController } from "../node-api.js";

const tableParam = { type: "object", required: ["table"], properties: { table: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9_]{0,62}$" } } } as const;
// The server coerces no types and fills in no defaults (server.ts): a query
// string and a path parameter are text, so whole numbers are checked as text
// here and read as numbers below, as GET /audit does.
const page = {
  type: "object",
  additionalProperties: false,
  properties: { after: { type: "string", pattern: "^[0-9]{1,15}$" }, limit: { type: "string", pattern: "^[0-9]{1,4}$", description: "a whole number 1–1000" } },
} as const;
type Page = { after?: string; limit?: string };

function pageOf(q: Page): { after: number; limit: number } {
  const limit = q.limit === undefined ? 100 : Number(q.limit);
  if (limit < 1 || limit > 1000) throw new TandemError("TANDEM_ERR_BAD_REQUEST", [`querystring.limit: expected a whole number 1–1000, got ${limit}`]);
  return { after: q.after === undefined ? 0 : Number(q.after), limit };
}

export function registerRecordRoutes(app: FastifyInstance, api: string, controller: NodeController, actorOf: (req: FastifyRequest) => Actor): void {
  app.post<{ Params: { table: string }; Body: Record<string, unknown> }>(
    `${api}/records/:table`,
    { config: { role: "operator", action: "write a record" }, schema: { params: tableParam, body: { type: "object" } } },
    async (req, reply) => {
      const key = req.headers["idempotency-key"];
      const answer = await controller.writeRecord(req.params.table, req.body, typeof key === "string" ? key : undefined);
      // a repeat of an earlier write (same Idempotency-Key) is that write, not a new one
      return reply.code(answer.existing ? 200 : 201).send(answer);
    },
  );

  app.get<{ Params: { table: string }; Querystring: Page }>(
    `${api}/records/:table`,
    { config: { role: "viewer", action: "read records" }, schema: { params: tableParam, querystring: page } },
    async (req) => {
      const { after, limit } = pageOf(req.query);
      return controller.readRecords(req.params.table, after, limit);
    },
  );

  app.get(`${api}/context`, { config: { role: "viewer", action: "read the process context" } }, async () => controller.context());

  app.get(`${api}/replication`, { config: { role: "viewer", action: "read the replication state" } }, async () => controller.status().replication);

  app.post(
    `${api}/replication/verify`,
    { config: { role: "operator", action: "compare both databases" }, schema: { body: { type: "object", additionalProperties: false, properties: {} } } },
    async (req) => controller.verifyReplication(actorOf(req)),
  );

  app.post(
    `${api}/replication/resync`,
    { config: { role: "admin", action: "rebuild the standby's database from the active's" }, schema: { body: { type: "object", additionalProperties: false, properties: { fromActive: { type: "boolean" } } } } },
    async (req) => controller.resyncReplication(actorOf(req)),
  );

  app.get<{ Querystring: Page }>(
    `${api}/divergence`,
    { config: { role: "viewer", action: "read the divergence table" }, schema: { querystring: page } },
    async (req) => {
      const { after, limit } = pageOf(req.query);
      return controller.divergence(after, limit);
    },
  );

  app.post<{ Params: { id: string } }>(
    `${api}/divergence/:id/discard`,
    {
      config: { role: "operator", action: "discard a divergent record" },
      schema: { params: { type: "object", required: ["id"], properties: { id: { type: "string", pattern: "^[1-9][0-9]{0,14}$" } } }, body: { type: "object", additionalProperties: false, properties: {} } },
    },
    async (req) => controller.discardDivergent(actorOf(req), Number(req.params.id)),
  );
}
