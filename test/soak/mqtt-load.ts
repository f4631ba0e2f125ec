// MQTT clients in the fault-injection runs: clients built on the helper
// Tandem ships (runtime/mqtt/pair-client.ts, `tandem/mqtt`), each given
// both nodes (MQTT 3.1.1: the embedded broker), subscribed to the pair's tag
// values. They are load, and a witness of their own: how many messages they got, how often they had to
// find the active again, and the longest time one went without a tag value
// (a takeover's hole, as an MQTT client sees it).
import { connectPair, type PairClient } from "../../runtime/mqtt/pair-client.js";
import type { FaultSite } from "./site.js";

export interface MqttFigures {
  clients: number;
  messages: number;
  /** connections made after the first, over all clients */
  reconnects: number;
  /** each time a client lost its connection: ms until its next tag value */
  holesMs: number[];
}

export class MqttLoad {
  private readonly clients: PairClient[] = [];
  private messages = 0;
  private connects = 0;
  /** when each client lost its connection, until its next tag value */
  private readonly lostAt: (number | null)[] = [];
  private readonly holes: number[] = [];

  constructor(site: FaultSite, n: number) {
    const servers = (["a", "b"] as const).map((id) => ({ host: "127.0.0.1", port: site.ns.mqttPorts[id] }));
    for (let i = 0; i < n; i++) {
      const c = connectPair({ servers, username: "viewer", password: "viewer", clientId: `soak-${i}`, reconnectPeriod: 200, connectTimeout: 2000, protocolVersion: 4 });
      this.lostAt.push(null);
      c.on("connect", () => {
        this.connects++;
        c.subscribe("tandem/it/tags/#", { qos: 0 });
      });
      c.on("close", () => {
        if (!this.stopping) this.lostAt[i] ??= Date.now();
      });
      c.on("message", (topic) => {
        if (!topic.includes("/tags/")) return;
        this.messages++;
        const lost = this.lostAt[i];
        if (lost !== null && lost !== undefined) {
          this.holes.push(Date.now() - lost);
          this.lostAt[i] = null;
        }
      });
      c.on("error", () => undefined);
      this.clients.push(c);
    }
  }

  figures(): MqttFigures {
    return { clients: this.clients.length, messages: this.messages, reconnects: Math.max(0, this.connects - this.clients.length), holesMs: [...this.holes] };
  }

  private stopping = false;

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
  }
}
