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
  /** the longest stretch without a tag value, per client (ms) */
  longestGapMs: number[];
}

export class MqttLoad {
  private readonly clients: PairClient[] = [];
  private messages = 0;
  private connects = 0;
  private readonly lastAt: number[] = [];
  private readonly gaps: number[] = [];

  constructor(site: FaultSite, n: number) {
    const servers = (["a", "b"] as const).map((id) => ({ host: "127.0.0.1", port: site.ns.mqttPorts[id] }));
    for (let i = 0; i < n; i++) {
      const c = connectPair({ servers, username: "viewer", password: "viewer", clientId: `soak-${i}`, reconnectPeriod: 200, connectTimeout: 2000, protocolVersion: 4 });
      this.lastAt.push(0);
      this.gaps.push(0);
      c.on("connect", () => {
        this.connects++;
        c.subscribe("tandem/it/tags/#", { qos: 0 });
      });
      c.on("message", (topic) => {
        if (!topic.includes("/tags/")) return;
        this.messages++;
        const now = Date.now();
        if (this.lastAt[i]) this.gaps[i] = Math.max(this.gaps[i]!, now - this.lastAt[i]!);
        this.lastAt[i] = now;
      });
      c.on("error", () => undefined);
      this.clients.push(c);
    }
  }

  figures(): MqttFigures {
    return { clients: this.clients.length, messages: this.messages, reconnects: Math.max(0, this.connects - this.clients.length), longestGapMs: [...this.gaps] };
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
  }
}
