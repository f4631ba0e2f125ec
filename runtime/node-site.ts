// The site view of one node (issue 14, "the site view"): every pair of the
// site as the site broker holds it, beside this node's own pair as the node
// knows it first hand, for GET /api/v1/site, `tandem site` and the HMI's
// site page (live through the event stream). Wired by node.ts:
//   - start()/stop(): with `mqtt.broker: external` (and mqtt.site.enabled)
//     a read-only connection to the site broker (site/watcher.ts) feeds the
//     pure model (site/model.ts); with the embedded broker, no mqtt section,
//     or the view switched off, the view holds this pair alone and says so;
//   - mqttHooks(): what node-mqtt.ts adds to this node's retained state and
//     status so that the other pairs' views can show it — its HMI address,
//     health, service level reasons and alarm counts — and how often it
//     publishes them again unchanged (so that "nothing heard" means something);
//   - view(), follow(): the view now, and as it changes.
import { hostname } from "node:os";
import type { TandemConfig } from "./config/schema.js";
import type { LogManager } from "./logging.js";
import type { NodeStatus } from "./node-api.js";
import { originOf } from "./active-hint.js";
import { SITE_DEFAULTS, type SiteConfig } from "./site/config-schema.js";
import { emptySite, siteStep, type SiteInput, type SiteModel } from "./site/model.js";
import { ownEntry, pairView, type LocalPair, type SiteView } from "./site/view.js";
import { SiteWatcher } from "./site/watcher.js";

/** what the site view needs of the node (TandemNode) */
export interface SiteHost {
  readonly config: TandemConfig;
  readonly logs: LogManager;
  readonly httpAddress: { host: string; port: number } | null;
  status(): NodeStatus;
}

/** a change reaches the followers within this; they get the view this often anyway (ages and staleness move with time) */
const CHANGE_MS = 250;
const EVERY_MS = 2000;

export class NodeSite {
  private model: SiteModel = emptySite(SITE_DEFAULTS.maxPairs);
  private watcher: SiteWatcher | null = null;
  private readonly followers = new Set<(v: SiteView) => void>();
  private soon: NodeJS.Timeout | null = null;
  private every: NodeJS.Timeout | null = null;

  constructor(private readonly host: SiteHost) {}

  private get cfg(): SiteConfig {
    return this.host.config.mqtt?.site ?? SITE_DEFAULTS;
  }

  /** reading the site broker: broker external and the view not switched off */
  private get reading(): boolean {
    const m = this.host.config.mqtt;
    return m?.broker === "external" && !!m.url && this.cfg.enabled;
  }

  start(): void {
    const c = this.host.config;
    const m = c.mqtt;
    this.model = emptySite(this.cfg.maxPairs);
    if (!this.reading || !m?.url) return;
    this.watcher = new SiteWatcher({
      url: m.url,
      username: m.username,
      password: m.password,
      protocolVersion: m.protocolVersion,
      reconnectMs: m.reconnectMs,
      clientId: `tandem-${c.pair.id}-${c.node.id}-site`,
      input: (e) => this.input(e),
      log: this.host.logs.get("site"),
    });
    this.watcher.start();
  }

  async stop(): Promise<void> {
    for (const t of [this.soon, this.every]) if (t) clearTimeout(t);
    this.soon = this.every = null;
    this.followers.clear();
    await this.watcher?.stop();
    this.watcher = null;
  }

  /** one message or connection change from the site broker; a fault in the model is logged, never thrown into the MQTT client */
  input(e: SiteInput): void {
    try {
      this.model = siteStep(this.model, e);
    } catch (err) {
      this.host.logs.get("site").error({ err }, `site view: a message could not be taken: ${(err as Error).message}`);
      return;
    }
    if (this.followers.size && !this.soon) {
      this.soon = setTimeout(() => {
        this.soon = null;
        this.tell();
      }, CHANGE_MS);
      this.soon.unref();
    }
  }

  /** where people reach this node's HMI: mqtt.site.hmiUrl, or http.listen's address (this host's name for a wildcard) */
  hmiUrl(): string {
    if (this.cfg.hmiUrl) return this.cfg.hmiUrl;
    const h = this.host.config.http;
    const host = h.listen.host === "0.0.0.0" || h.listen.host === "::" ? hostname() : h.listen.host;
    const port = this.host.httpAddress?.port ?? h.listen.port;
    return `${h.tls.enabled ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}/`;
  }

  /** for node-mqtt.ts: the fields the other pairs' views need, in this node's state and status */
  mqttHooks(): { fields(): { state: Record<string, unknown>; status: Record<string, unknown> }; refreshMs: number } {
    return {
      refreshMs: this.cfg.refreshMs,
      fields: () => {
        let s: NodeStatus;
        try {
          s = this.host.status();
        } catch {
          return { state: { hmi: this.hmiUrl() }, status: { hmi: this.hmiUrl() } };
        }
        const l = this.local(s);
        const own = { hmi: l.hmi, alarms: l.alarms, warnings: l.warnings, reasons: l.serviceLevelReasons, health: l.serviceLevel >= 200 && l.alarms === 0 ? "good" : "degraded" };
        const pairGood = own.health === "good" && !l.held && l.peer.state === "standby";
        return { state: { ...own, serviceLevel: l.serviceLevel, health: pairGood ? "good" : "degraded" }, status: own };
      },
    };
  }

  private local(s: NodeStatus): LocalPair {
    const alarms = s.attention?.alarms ?? [];
    const peerOrigin = originOf(s.peer.api);
    return {
      nodeId: s.nodeId,
      state: s.state,
      epoch: s.epoch,
      serviceLevel: s.serviceLevel,
      serviceLevelReasons: s.serviceLevelReasons.slice(0, 5),
      held: s.context.held || s.state === "active-held",
      alarms: alarms.filter((a) => a.level === "alarm").length,
      warnings: alarms.filter((a) => a.level === "warn").length,
      hmi: this.hmiUrl(),
      peer: { nodeId: s.peer.nodeId, state: s.peer.state, epoch: s.peer.epoch, serviceLevel: s.peer.serviceLevel, lastSeenMs: s.peer.lastSeenMs, hmi: peerOrigin ? `${peerOrigin}/` : null },
    };
  }

  view(now = Date.now()): SiteView {
    const c = this.host.config;
    const cfg = this.cfg;
    const m = this.model;
    const reading = this.reading && this.watcher !== null;
    const own = pairView(c.pair.id, ownEntry(this.local(this.host.status()), reading ? m.pairs.get(c.pair.id) : undefined, now), { now, staleMs: cfg.staleMs, connected: true, self: true });
    const others = reading
      ? [...m.pairs.keys()]
          .filter((id) => id !== c.pair.id)
          .sort()
          .map((id) => pairView(id, m.pairs.get(id)!, { now, staleMs: cfg.staleMs, connected: m.connected }))
      : [];
    const url = c.mqtt?.broker === "external" ? (c.mqtt.url ?? null) : null;
    return {
      pairId: c.pair.id,
      nodeId: c.node.id,
      at: new Date(now).toISOString(),
      source: reading ? "site-broker" : "own-pair-only",
      broker: { url, connected: reading && m.connected, changedAt: m.connectedChangedAt === null ? null : new Date(m.connectedChangedAt).toISOString() },
      note: this.note(reading, others.length + 1),
      staleMs: cfg.staleMs,
      pairs: [own, ...others],
      counters: { ...m.counters },
    };
  }

  private note(reading: boolean, pairs: number): string {
    const m = this.host.config.mqtt;
    if (reading && this.model.connected) {
      if (this.watcher?.refused) return `the site broker ${m!.url} refused this node's subscription (its ACL): only this pair is known here`;
      return `every pair on the site broker ${m!.url} (${pairs} pair${pairs === 1 ? "" : "s"}); a pair whose active is not heard for ${this.cfg.staleMs / 1000} s is shown stale`;
    }
    if (reading) return `this node is not connected to the site broker ${m!.url} now: the other pairs are shown as last heard, stale`;
    if (!m) return "this node has no mqtt section, so no site broker to read: only this pair is shown";
    if (m.broker === "embedded") return "this node's MQTT broker is embedded (the pair's own), so there is no site broker to read: only this pair is shown; with mqtt.broker: external every pair on the site broker is";
    return "the site view is switched off (mqtt.site.enabled: false): only this pair is shown";
  }

  /** calls fn with the view as it changes, and every EVERY_MS; the answer stops it */
  follow(fn: (v: SiteView) => void): () => void {
    this.followers.add(fn);
    if (!this.every) {
      this.every = setInterval(() => this.tell(), EVERY_MS);
      this.every.unref();
    }
    return () => {
      this.followers.delete(fn);
      if (this.followers.size === 0 && this.every) {
        clearInterval(this.every);
        this.every = null;
      }
    };
  }

  private tell(): void {
    if (!this.followers.size) return;
    let v: SiteView;
    try {
      v = this.view();
    } catch (err) {
      this.host.logs.get("site").debug({ err }, `site view: not computed: ${(err as Error).message}`);
      return;
    }
    for (const f of this.followers) f(v);
  }
}
