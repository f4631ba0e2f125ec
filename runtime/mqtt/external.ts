// The node as a client of the site's own broker (`mqtt.broker: external`):
// Mosquitto, EMQX, HiveMQ — MQTT 5 and broker clusters, the way a site
// outgrows one pair. Both nodes connect, each with a last will that marks
// its status topic offline when it dies; node-mqtt.ts publishes the pair's
// state, values and events only from the active. While serving, and only
// with `acceptWrites`, the node subscribes to the write requests
// (tags/…/set): the site broker's ACL decides who may publish them, and
// Tandem audits them as the user "mqtt" from the broker's address. An
// MQTT 5 request's answer goes to its response topic with its correlation
// data; every answer also goes to …/set/result.
import mqtt, { type IClientPublishOptions, type MqttClient } from "mqtt";
import type { Logger } from "../../core/logger.js";
import type { MqttConfig } from "./config-schema.js";
import type { MqttCounters, MqttOutlet, MqttRequest } from "./outlet.js";
import { tagOfSetTopic } from "./topics.js";

/** a write request's tag name may have this many levels (a.b.c … → tags/a/b/c/set) */
export const MAX_TAG_LEVELS = 8;

export interface ExternalOptions {
  config: MqttConfig & { url: string };
  prefix: string;
  pairId: string;
  nodeId: string;
  /** the will: this node's status once it is gone */
  offline: () => string;
  /** (re)connected: what the node publishes on a fresh connection */
  onConnect: () => void;
  onRequest: (r: MqttRequest) => void;
  log: Logger;
}

export class ExternalBroker implements MqttOutlet {
  readonly kind = "external" as const;
  private client: MqttClient | null = null;
  private takingWrites = false;
  private wasUp = false;
  private readonly counters: MqttCounters = { connections: 0, refusedNotActive: 0, refusedLogin: 0, refusedTopic: 0, tooLarge: 0, malformed: 0, published: 0, passwordChecks: 0 };

  constructor(private readonly o: ExternalOptions) {}

  /** tags/+/set, tags/+/+/set … : the write requests only, not the node's own values echoed back */
  private get setFilters(): string[] {
    return Array.from({ length: MAX_TAG_LEVELS }, (_, i) => `${this.o.prefix}tags/${Array(i + 1).fill("+").join("/")}/set`);
  }

  async start(): Promise<string> {
    const c = this.o.config;
    const where = c.url.replace(/\/$/, "");
    const client = mqtt.connect(c.url, {
      clientId: `tandem-${this.o.pairId}-${this.o.nodeId}`,
      username: c.username,
      password: c.password,
      protocolVersion: c.protocolVersion,
      clean: true,
      reconnectPeriod: c.reconnectMs,
      connectTimeout: 10_000,
      // nothing piles up while the broker is away: a fresh connection publishes the present again
      queueQoSZero: false,
      will: { topic: `${this.o.prefix}node/${this.o.nodeId}/status`, payload: Buffer.from(this.o.offline()), qos: 1, retain: true },
    });
    this.client = client;
    client.on("connect", () => {
      this.counters.connections++;
      this.o.log.info(`MQTT: connected to the site broker ${where}`);
      this.wasUp = true;
      if (this.takingWrites) this.subscribeWrites();
      this.o.onConnect();
    });
    client.on("close", () => {
      if (this.wasUp) this.o.log.warn(`MQTT: the connection to the site broker ${where} is lost; trying again every ${c.reconnectMs} ms`);
      this.wasUp = false;
    });
    client.on("error", (err) => {
      const e = err as Error & { code?: number };
      if (e.code === 4 || e.code === 5 || e.code === 134 || e.code === 135) this.counters.refusedLogin++;
      this.o.log.warn(`MQTT: site broker ${where}: ${e.message}`);
    });
    client.on("message", (topic, payload, packet) => {
      if (!this.takingWrites || tagOfSetTopic(this.o.prefix, topic) === null) return;
      const p = packet.properties;
      this.o.onRequest({ actor: { user: "mqtt", role: "operator", from: `site broker ${where}` }, topic, payload, responseTopic: p?.responseTopic, correlationData: p?.correlationData });
    });
    return where;
  }

  publish(topic: string, payload: string, retain = false, correlationData?: Buffer): void {
    const client = this.client;
    if (!client?.connected) return;
    const opts: IClientPublishOptions = { qos: 0, retain, ...(correlationData ? { properties: { correlationData } } : {}) };
    client.publish(topic, payload, opts, (err) => {
      if (err) this.o.log.warn(`MQTT publish to ${topic} failed: ${err.message}`);
    });
    this.counters.published++;
  }

  serving(on: boolean): void {
    const take = on && this.o.config.acceptWrites;
    if (take === this.takingWrites) return;
    this.takingWrites = take;
    if (take) this.subscribeWrites();
    else this.client?.unsubscribe(this.setFilters);
  }

  private subscribeWrites(): void {
    this.client?.subscribe(this.setFilters, { qos: 1 }, (err) => {
      if (err) this.o.log.error(`MQTT: cannot subscribe to the write requests (${this.o.prefix}tags/…/set) on the site broker: ${err.message}`);
    });
  }

  figures(): { clients: number; counters: MqttCounters } {
    return { clients: this.client?.connected ? 1 : 0, counters: { ...this.counters } };
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    // a clean stop: this node's status says so before the connection goes (the will is for a crash)
    if (client.connected) await client.publishAsync(`${this.o.prefix}node/${this.o.nodeId}/status`, this.o.offline(), { qos: 1, retain: true }).catch(() => undefined);
    await client.endAsync().catch(() => undefined);
  }
}
