// The `mqtt` config section: the embedded broker each node runs (aedes, MQTT
// 3.1.1). Clients list both nodes; only the active accepts them (the standby
// answers CONNACK "server unavailable"), so they land on the active. Logins
// are http.users: one list of people and roles for the HMI, the API and MQTT.
import { z } from "zod";
import { hostPort } from "../config/host-port.js";

export const mqttSection = z
  .strictObject({
    /** embedded: this node runs the broker (external brokers come later) */
    broker: z.literal("embedded", { error: "only 'embedded' is supported by this version ('external' is planned)" }).default("embedded"),
    /** where the broker listens, e.g. 0.0.0.0:1883 */
    listen: hostPort,
    /** clients without a user name connect as viewers (read only); off by default */
    allowAnonymous: z.boolean().default(false),
    /** the largest MQTT packet a client may send; a bigger one disconnects that client */
    maxPacketBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(65_536),
    /** the longest topic a client may publish or subscribe to */
    maxTopicLength: z.number().int().min(16).max(4096).default(256),
    /** connections beyond this are closed at once */
    maxClients: z.number().int().min(1).max(100_000).default(1000),
  })
  .optional();

export type MqttConfig = NonNullable<z.output<typeof mqttSection>>;
