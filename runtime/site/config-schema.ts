// `mqtt.site`: the site view (runtime/node-site.ts). With `broker: external`
// the node reads every pair's retained state and node statuses from the
// site broker (read only: it subscribes to tandem/+/state and
// tandem/+/node/+/status and publishes nothing there beyond what
// node-mqtt.ts already does) and adds to its own state and status what the
// other pairs' views need: its HMI address, health and alarm counts. With
// the embedded broker there is no site broker to read: the view shows this
// pair alone and says so.
import { z } from "zod";

const HTTP_URL = /^https?:\/\/[A-Za-z0-9.\-[\]:]+(\/[^\s"'<>`\\]*)?$/;

export const siteSection = z
  .strictObject({
    /** read the other pairs from the site broker (broker: external); false: this pair alone */
    enabled: z.boolean().default(true),
    /**
     * where people reach this node's HMI, for the links in every pair's site
     * view, e.g. https://line1-a.plant.example:8080/ (default: http.listen's
     * address, with this host's name when it listens on every address)
     */
    hmiUrl: z.string().regex(HTTP_URL, "expected http://host:port/ or https://host:port/").optional(),
    /** a pair whose active is not heard for this long is shown stale, never good */
    staleMs: z.number().int().min(2000).max(3_600_000).default(30_000),
    /** this node's state and status are published again this often, unchanged, so that the others know it is alive */
    refreshMs: z.number().int().min(500).max(600_000).default(10_000),
    /** pairs kept at most; messages of further pairs are counted and ignored */
    maxPairs: z.number().int().min(1).max(10_000).default(200),
  })
  .superRefine((s, ctx) => {
    if (s.staleMs < 2 * s.refreshMs)
      ctx.addIssue({ code: "custom", path: ["staleMs"], message: `must be at least twice refreshMs (${s.refreshMs}): a live pair publishes every refreshMs, and one late message must not show it stale` });
  });

export type SiteConfig = z.output<typeof siteSection>;

export const SITE_DEFAULTS: SiteConfig = siteSection.parse({});
