// The site view's own connection to the site broker: read only. It
// subscribes to every pair's `tandem/+/state` and `tandem/+/node/+/status`
// (retained: the broker sends what it holds at once) and hands each message
// and each change of the connection to the model (model.ts) as an input —
// it decides nothing. It is a connection of its own (client id
// tandem-<pair>-<node>-site), apart from the one node-mqtt.ts publishes
// through, so that reading the site never delays or blocks the pair's own
// publishing, and a broker ACL can give it read rights alone.
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "../../core/logger.js";
import type { SiteInput } from "./model.js";

export const SITE_FILTERS = ["tandem/+/state", "tandem/+/node/+/status"];

export interface SiteWatcherOptions {
  url: string;
  username?: string;
  password?: string;
  protocolVersion: 4 | 5;
  reconnectMs: number;
  clientId: string;
  input: (e: SiteInput) => void;
  log: Logger;
  now?: () => number;
}

export class SiteWatcher {
  private client: MqttClient | null = null;
  private wasUp = false;
  /** the broker refused a subscription (its ACL): said once per connection */
  refused = false;

  constructor(private readonly o: SiteWatcherOptions) {}

  start(): void {
    const o = this.o;
    const now = o.now ?? Date.now;
    const where = o.url.replace(/\/$/, "");
    const client = mqtt.connect(o.url, {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      protocolVersion: o.protocolVersion,
      clean: true,
      reconnectPeriod: o.reconnectMs,
      connectTimeout: 10_000,
      // MQTT 5: the broker sends nothing bigger (model.ts ignores it anyway)
      ...(o.protocolVersion === 5 ? { properties: { maximumPacketSize: 64 * 1024 } } : {}),
    });
    this.client = client;
    client.on("connect", () => {
      this.wasUp = true;
      o.log.info(`site view: reading every pair's state from the site broker ${where}`);
      o.input({ type: "connection", up: true, now: now() });
      client.subscribe(SITE_FILTERS, { qos: 0 }, (err, granted) => {
        const bad = err ? [err.message] : (granted ?? []).filter((g) => g.qos >= 128).map((g) => `${g.topic} (code ${g.qos})`);
        this.refused = bad.length > 0;
        if (bad.length) o.log.warn(`site view: the site broker ${where} refused the subscription to ${bad.join(", ")}: its ACL must let this node (${o.clientId}) read tandem/+/state and tandem/+/node/+/status`);
      });
    });
    client.on("close", () => {
      if (this.wasUp) o.log.warn(`site view: the connection to the site broker ${where} is lost; the other pairs are shown stale until it is back`);
      this.wasUp = false;
      o.input({ type: "connection", up: false, now: now() });
    });
    client.on("error", (err) => o.log.debug(`site view: site broker ${where}: ${err.message}`));
    client.on("message", (topic, payload, packet) => o.input({ type: "message", topic, payload, retained: packet.retain === true, now: now() }));
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync(true).catch(() => undefined);
  }
}
