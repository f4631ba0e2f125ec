// GET /api/v1/site (viewer): every pair of the site as this node sees it
// (runtime/node-site.ts) — the site page of the HMI and `tandem site` read it.
import type { FastifyInstance } from "fastify";
import { TandemError } from "../../core/errors.js";
import type { NodeController } from "../node-api.js";

export function registerSiteRoutes(app: FastifyInstance, api: string, controller: NodeController): void {
  app.get(`${api}/site`, { config: { role: "viewer", action: "read the site view" } }, async () => {
    if (!controller.site) throw new TandemError("TANDEM_ERR_UNAVAILABLE", ["this node has no site view"]);
    return controller.site.view();
  });
}
