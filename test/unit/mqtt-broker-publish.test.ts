// MqttBroker.publish's `done` (runtime/mqtt/broker.ts): it runs once the
// message is handed to the subscribers — what a bulk publisher (the MQTT
// bench) bounds its in-flight messages by — and at once on a broker that is
// not running. A real broker on loopback and a real mqtt.js subscriber.
import { mqttSection, type EmbeddedMqttConfig } from "../../runtime/mqtt/config-schema.js";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { nullLogger } from "../../core/logger.js";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { Authenticator } from "../../runtime/http/auth.js";
import { LoginLimits } from "../../runtime/http/login-limits.js";
import { MqttBroker } from "../../runtime/mqtt/broker.js";

const brokers: MqttBroker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.stop();
});

async function broker(): Promise<MqttBroker> {
  const users = [{ name: "viewer", role: "viewer" as const, passwordHash: await hashPassword("viewer") }];
  const b = new MqttBroker({
    config: { ...(mqttSection.parse({ listen: "127.0.0.1:1883", maxClients: 10 }) as EmbeddedMqttConfig), listen: { host: "127.0.0.1", port: 0 } },
    prefix: "tandem/t/",
    authenticator: new Authenticator({ users, sessionTtlMs: 60_000 }),
    limits: new LoginLimits({}, ["viewer"]),
    serving: () => true,
    onRequest: () => undefined,
    log: nullLogger,
  });
  brokers.push(b);
  return b;
}

describe("MqttBroker.publishThen", () => {
  it("calls done once each message is handed to the subscriber, which receives them in order", async () => {
    const b = await broker();
    const address = await b.start();
    const port = Number(address.slice(address.lastIndexOf(":") + 1));
    const client = mqtt.connect({ host: "127.0.0.1", port, username: "viewer", password: "viewer", protocolVersion: 4, reconnectPeriod: 0 });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once("connect", () => client.subscribe("tandem/t/tags/#", (err) => (err ? reject(err) : resolve())));
        client.once("error", reject);
      });
      const got: string[] = [];
      client.on("message", (_t, p) => got.push(p.toString()));
      let done = 0;
      for (let i = 0; i < 3; i++) b.publishThen(`tandem/t/tags/x${i}`, `{"value":${i}}`, true, () => done++);
      for (let i = 0; i < 200 && (done < 3 || got.length < 3); i++) await new Promise((r) => setTimeout(r, 10));
      expect(done).toBe(3);
      expect(got).toEqual(['{"value":0}', '{"value":1}', '{"value":2}']);
    } finally {
      client.end(true);
    }
  });

  it("calls done at once when the broker is not running", async () => {
    const b = await broker();
    const done = await new Promise<boolean>((resolve) => {
      b.publishThen("tandem/t/tags/x", "1", false, () => resolve(true));
      setTimeout(() => resolve(false), 1000);
    });
    expect(done).toBe(true);
  });
});
