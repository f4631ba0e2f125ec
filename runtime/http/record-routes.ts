// The records a service or script writes (replicated; answered once
// acknowledged per the replication mode), the replication view and the
// divergence table (records a rejoining node wrote under an old epoch).
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor, NodeController } from "../node-api.js";

const tableParam = { type: "object", required: ["table"], properties: { table: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9_]{0,62}$" } } } as const;
const page = {
  type: "object",
  additionalProperties: false,
  properties: { after: { type: "integer", minimum: 0, default: 0 }, limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
} as const;

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

  app.get<{ Params: { table: string }; Querystring: { after: number; limit: number } }>(
    `${api}/records/:table`,
    { config: { role: "viewer", action: "read records" }, schema: { params: tableParam, querystring: page } },
    async (req) => controller.readRecords(req.params.table, req.query.after, req.query.limit),
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

  app.get<{ Querystring: { after: number; limit: number } }>(
    `${api}/divergence`,
    { config: { role: "viewer", action: "read the divergence table" }, schema: { querystring: page } },
    async (req) => controller.divergence(req.query.after, req.query.limit),
  );

  app.post<{ Params: { id: number } }>(
    `${api}/divergence/:id/discard`,
    {
      config: { role: "operator", action: "discard a divergent record" },
      schema: { params: { type: "object", required: ["id"], properties: { id: { type: "integer", minimum: 1 } } }, body: { type: "object", additionalProperties: false, properties: {} } },
    },
    async (req) => controller.discardDivergent(actorOf(req), req.params.id),
  );
}
