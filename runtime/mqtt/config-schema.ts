// The `mqtt` config section. Two ways:
// - `broker: embedded` (the default): this node runs the broker (aedes, MQTT
//   3.1.1). Clients list both nodes; only the active accepts them (the
//   standby answers CONNACK "server unavailable"), so they land on the
//   active. Logins are http.users: one list of people and roles for the HMI,
//   the API and MQTT.
// - `broker: external`: the site runs its own broker (Mosquitto, EMQX,
//   HiveMQ: MQTT 5, clusters). Both nodes connect to it as clients, each
//   with a last will on its status topic; only the active publishes the
//   pair's state, values and events, and only the active takes write
//   requests — and only when `acceptWrites` says so, as the site broker's
//   ACL decides who may publish them.
import { z } from "zod";
import { hostPort } from "../config/host-port.js";
import { siteSection } from "../site/config-schema.js";
import { sparkplugSection } from "../sparkplug/config-schema.js";

const URL_FORM = /^(mqtt|mqtts|tcp|tls):\/\/[^\s/]+(:\d{1,5})?\/?$/;

export const mqttSection = z
  .strictObject({
    broker: z.enum(["embedded", "external"]).default("embedded"),
    /** embedded: where this node's broker listens, e.g. 0.0.0.0:1883 */
    listen: hostPort.optional(),
    /** embedded: clients without a user name connect as viewers (read only); off by default */
    allowAnonymous: z.boolean().default(false),
    /** embedded: the largest MQTT packet a client may send; a bigger one disconnects that client */
    maxPacketBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(65_536),
    /** embedded: the longest topic a client may publish or subscribe to */
    maxTopicLength: z.number().int().min(16).max(4096).default(256),
    /** embedded: connections beyond this are closed at once */
    maxClients: z.number().int().min(1).max(100_000).default(1000),
    /**
     * embedded: MQTT over TLS (mqtts) on `listen` instead of plain MQTT. The
     * certificate: certFile/keyFile here, or else the node's HTTPS one
     * (http.tls, configured or generated)
     */
    tls: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** PEM certificate (leaf first); relative paths are resolved against the config file */
        certFile: z.string().min(1).optional(),
        /** PEM private key of certFile, without a passphrase */
        keyFile: z.string().min(1).optional(),
      })
      .superRefine((t, ctx) => {
        if ((t.certFile === undefined) !== (t.keyFile === undefined))
          ctx.addIssue({ code: "custom", path: [t.certFile === undefined ? "certFile" : "keyFile"], message: "certFile and keyFile go together" });
      })
      .prefault({}),
    /** external: the site broker, mqtt://host:port or mqtts://host:port */
    url: z.string().regex(URL_FORM, "expected mqtt://host:port or mqtts://host:port").optional(),
    /** external: this node's login on the site broker (use ${ENV_VAR} for the password) */
    username: z.string().min(1).max(256).optional(),
    password: z.string().max(1024).optional(),
    /** external: 5 (MQTT 5: write answers to a request's response topic) or 4 (3.1.1) */
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
    /** external: take write requests (tags/…/set) from the site broker; the broker's ACL decides who may send them */
    acceptWrites: z.boolean().default(false),
    /** external: wait this long between attempts to reach the site broker */
    reconnectMs: z.number().int().min(100).max(60_000).default(1000),
    /** external: the site view, every pair on the site broker (runtime/site/config-schema.ts) */
    site: siteSection.optional(),
    /** the pair as a Sparkplug B edge node (runtime/sparkplug/, docs/sparkplug.md) */
    sparkplug: sparkplugSection,
  })
  .superRefine((m, ctx) => {
    const only = (keys: (keyof typeof m)[], broker: string) => {
      for (const k of keys) if (m[k] !== undefined && m.broker !== broker) ctx.addIssue({ code: "custom", path: [k], message: `only for broker: ${broker}` });
    };
    if (m.broker === "embedded" && !m.listen) ctx.addIssue({ code: "custom", path: ["listen"], message: "required with broker: embedded (where this node's broker listens, e.g. 0.0.0.0:1883)" });
    if (m.broker === "external" && !m.url) ctx.addIssue({ code: "custom", path: ["url"], message: "required with broker: external (the site broker, e.g. mqtt://broker.site:1883)" });
    if (m.broker === "embedded" && m.sparkplug && !m.sparkplug.url)
      ctx.addIssue({ code: "custom", path: ["sparkplug", "url"], message: "required with broker: embedded (the broker the Sparkplug host applications use, e.g. mqtt://broker.site:1883): the edge node's NDEATH will must outlive the active" });
    only(["listen"], "embedded");
    only(["url", "username", "password", "site"], "external");
  })
  .optional();

export type MqttConfig = NonNullable<z.output<typeof mqttSection>>;
export type EmbeddedMqttConfig = MqttConfig & { broker: "embedded"; listen: { host: string; port: number } };
