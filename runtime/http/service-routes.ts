// The services endpoints: the list (viewer), an operator's start/stop/restart
// (audited by the controller), and the events a service reports it handled.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor, NodeController } from "../node-api.js";

const serviceName = { type: "object", required: ["name"], properties: { name: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$" } } } as const;
const noFields = { type: "object", additionalProperties: false, properties: {} } as const;

export function registerServiceRoutes(app: FastifyInstance, api: string, controller: NodeController, actorOf: (req: FastifyRequest) => Actor): void {
  app.get(`${api}/services`, { config: { role: "viewer", action: "read the services" } }, async () => controller.services());

  for (const action of ["start", "stop", "restart"] as const) {
    app.post<{ Params: { name: string } }>(
      `${api}/services/:name/${action}`,
      { config: { role: "operator", action: `${action} a service` }, schema: { params: serviceName, body: noFields } },
      async (req) => controller.serviceAction(actorOf(req), req.params.name, action),
    );
  }

  app.post<{ Params: { name: string }; Body: { count: number } }>(
    `${api}/services/:name/events`,
    {
      config: { role: "operator", action: "report a service's events" },
      schema: {
        params: serviceName,
        body: { type: "object", additionalProperties: false, required: ["count"], properties: { count: { type: "integer", minimum: 0, maximum: 1_000_000_000, description: "events handled since the last report" } } },
      },
    },
    async (req) => controller.serviceEvents(req.params.name, req.body.count),
  );
}
