// The backups endpoints: the list with the last backup, restore test and
// alarms (viewer); a backup now and a restore test now (operator, audited by
// the controller; each answers once done).
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor, NodeController } from "../node-api.js";

const noFields = { type: "object", additionalProperties: false, properties: {} } as const;

export function registerBackupRoutes(app: FastifyInstance, api: string, controller: NodeController, actorOf: (req: FastifyRequest) => Actor): void {
  app.get(`${api}/backups`, { config: { role: "viewer", action: "read the backups" } }, async () => controller.backupsView());
  app.post(`${api}/backups`, { config: { role: "operator", action: "make a backup" }, schema: { body: noFields } }, async (req, reply) => {
    const made = await controller.backupNow(actorOf(req));
    return reply.code(201).send(made);
  });
  app.post<{ Body: { name?: string } }>(
    `${api}/backups/restore-test`,
    {
      config: { role: "operator", action: "test a restore" },
      schema: { body: { type: "object", additionalProperties: false, properties: { name: { type: "string", pattern: "^tandem-[A-Za-z0-9_-]{1,64}-[0-9]{8}-[0-9]{6}(-[0-9]{1,3})?$", description: "a backup's name; the newest this node made when absent" } } } },
    },
    async (req) => controller.restoreTest(actorOf(req), req.body.name),
  );
}
