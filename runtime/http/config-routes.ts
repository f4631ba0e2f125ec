// The configuration endpoint: push the pair-wide part of the active's config
// file to the standby (admin, audited by the controller; answered once the
// standby has it on disk). Both nodes' versions are in GET /status (config).
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor, NodeController } from "../node-api.js";

const noFields = { type: "object", additionalProperties: false, properties: {} } as const;

export function registerConfigRoutes(app: FastifyInstance, api: string, controller: NodeController, actorOf: (req: FastifyRequest) => Actor): void {
  app.post(`${api}/config/push`, { config: { role: "admin", action: "push the configuration to the standby" }, schema: { body: noFields } }, async (req) => controller.pushConfig(actorOf(req)));
}
