// The MQTT broker in the node's metrics (GET /api/v1/metrics), read from the
// broker's counts when scraped; like history/metrics.ts, each counter adds
// what is new since the last scrape.
import { Counter, Gauge, type Registry } from "prom-client";
import type { MqttCounters } from "./broker.js";

export interface MqttFigures {
  serving: boolean;
  clients: number;
  counters: MqttCounters;
}

export function mqttMetrics(r: Registry, figures: () => MqttFigures | null): void {
  const seen: Record<string, number> = {};
  const add = (c: Counter, key: string, now: number, labels: Record<string, string> = {}) => {
    c.inc(labels, Math.max(0, now - (seen[key] ?? 0)));
    seen[key] = now;
  };
  // prom-client collects in registration order: the first metric refreshes every one
  const refresh = () => {
    const f = figures();
    if (!f) return;
    clients.set(f.clients);
    serving.set(f.serving ? 1 : 0);
    const k = f.counters;
    add(connections, "connections", k.connections);
    add(published, "published", k.published);
    add(passwordChecks, "passwordChecks", k.passwordChecks);
    add(refused, "notActive", k.refusedNotActive, { reason: "not_active" });
    add(refused, "login", k.refusedLogin, { reason: "login" });
    add(refused, "topic", k.refusedTopic, { reason: "topic" });
    add(refused, "tooLarge", k.tooLarge, { reason: "too_large" });
    add(refused, "malformed", k.malformed, { reason: "malformed" });
  };
  const clients = new Gauge({ name: "tandem_mqtt_clients", help: "MQTT clients connected and logged in on this node's broker", registers: [r], collect: refresh });
  const serving = new Gauge({ name: "tandem_mqtt_serving", help: "1 while this node's broker serves clients (the node is active), 0 while it turns them away", registers: [r] });
  const connections = new Counter({ name: "tandem_mqtt_connections_total", help: "TCP connections accepted by this node's MQTT broker", registers: [r] });
  const published = new Counter({ name: "tandem_mqtt_messages_published_total", help: "Messages Tandem published on its broker (state, status, tag values, events, write results)", registers: [r] });
  const passwordChecks = new Counter({ name: "tandem_mqtt_password_checks_total", help: "Password checks (scrypt) MQTT logins needed on this node: those neither remembered nor shared by the active before a takeover", registers: [r] });
  const refused = new Counter({ name: "tandem_mqtt_refused_total", help: "MQTT connections, logins, topics and packets refused, by reason", labelNames: ["reason"], registers: [r] });
}
