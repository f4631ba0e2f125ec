// `mqtt.sparkplug`: the pair as one Sparkplug B edge node (docs/sparkplug.md).
// The edge node has an MQTT connection of its own — its last will is the
// NDEATH, and MQTT gives a connection one will — to the broker the
// Sparkplug host applications use: `url`, or with `broker: external` the
// site broker of `mqtt.url` (and its login) when `url` is left out. With the
// embedded broker `url` is required: each node's own broker serves the pair's
// topics to the active's clients only, and a will registered on the active's
// own broker dies with it, so a host there would never see the NDEATH.
import { z } from "zod";

const URL_FORM = /^(mqtt|mqtts|tcp|tls):\/\/[^\s/]+(:\d{1,5})?\/?$/;

/**
 * A Sparkplug id (group, edge node, host): Sparkplug 3.0 allows any UTF-8
 * but the topic separators and wildcards; Tandem keeps to printable ASCII so
 * an id reads the same in every tool.
 */
const spId = (what: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, `expected a Sparkplug ${what} id: 1–64 letters, digits, '_', '.', ':', '-' (no '/', '+' or '#')`);

export const sparkplugSection = z
  .strictObject({
    /** the Sparkplug group: spBv1.0/<groupId>/… */
    groupId: spId("group"),
    /** the edge node both nodes of the pair are, one at a time: …/NBIRTH/<edgeNodeId> */
    edgeNodeId: spId("edge node"),
    /** the primary host application whose spBv1.0/STATE/<id> the edge node follows: no births or data while it is offline */
    primaryHostId: spId("host").optional(),
    /** the Sparkplug broker; default (broker: external) mqtt.url */
    url: z.string().regex(URL_FORM, "expected mqtt://host:port or mqtts://host:port").optional(),
    /** the login on that broker; default (broker: external, no url here) mqtt.username/password */
    username: z.string().min(1).max(256).optional(),
    password: z.string().max(1024).optional(),
    /** one client id for the pair's edge node: a second connection with it ends the first at the broker; default tandem-<pairId>-sparkplug */
    clientId: z.string().min(1).max(128).optional(),
    /** MQTT keep-alive of the edge node's connection: the broker publishes the NDEATH will after 1.5 × this without a word (a lost host) */
    keepaliveS: z.number().int().min(1).max(600).default(10),
    /** wait this long before connecting again after the connection was lost */
    reconnectMs: z.number().int().min(100).max(60_000).default(1000),
    /** take DCMD writes to writable tags (the broker's ACL decides who may publish them); Node Control/Rebirth is always taken */
    acceptWrites: z.boolean().default(false),
  })
  .optional();

export type SparkplugConfig = NonNullable<z.output<typeof sparkplugSection>>;
