// The MQTT client helper Tandem ships for Node (`import { connectPair } from
// "tandem/mqtt"`): an mqtt.js client that follows the pair.
// - It lists both nodes and moves on to the next one when a node does not
//   answer or turns it away (the standby's CONNACK "server unavailable":
//   3.1.1 return code 3, MQTT 5 0x88), and when a node closes its
//   connection (a demoted active), so it lands on the active within a
//   reconnect period.
// - MQTT 5 "use another server" / "server moved" (0x9C / 0x9D, in a CONNACK
//   or a DISCONNECT), which mqtt.js does not follow by itself: the next
//   attempt goes to the Server Reference — only when it names one of the
//   listed servers (a broker that names another host does not get this
//   client's password), unless followAnyReference is set.
// It returns the mqtt.js client itself (subscriptions are renewed on every
// reconnect), plus `server()`: the node it is connected to now.
import mqtt, { type IClientOptions, type MqttClient, type Packet } from "mqtt";

export interface PairServer {
  host: string;
  port: number;
  protocol?: "mqtt" | "mqtts";
}

export interface PairClientOptions extends Omit<IClientOptions, "servers" | "host" | "port"> {
  /** both nodes: "mqtt://10.0.0.1:1883", "10.0.0.1:1883", or { host, port, protocol } */
  servers: (string | PairServer)[];
  /** follow a Server Reference to a server not in `servers` too (off: a reference elsewhere is ignored) */
  followAnyReference?: boolean;
}

export type PairClient = MqttClient & {
  /** host:port of the node this client is connected to, or null between connections */
  server(): string | null;
};

const USE_ANOTHER_SERVER = 0x9c;
const SERVER_MOVED = 0x9d;

/** "mqtt://h:p", "mqtts://h:p", "h:p", "h", "[v6]:p" → a server; null when it cannot be read */
export function parseServer(text: string, defaultPort = 1883): PairServer | null {
  const m = /^(?:(mqtts?|tcp|tls):\/\/)?(?:\[([0-9a-fA-F:.]+)\]|([^:/\s[\]]+))(?::(\d{1,5}))?\/?$/.exec(text.trim());
  if (!m) return null;
  const port = m[4] === undefined ? defaultPort : Number(m[4]);
  if (port < 1 || port > 65535) return null;
  const secure = m[1] === "mqtts" || m[1] === "tls";
  return { host: m[2] ?? m[3]!, port, protocol: secure ? "mqtts" : "mqtt" };
}

/**
 * The index in `servers` of the first server a Server Reference names (MQTT 5:
 * one or more references separated by spaces), or -1; with `any`, a server
 * not listed is appended to `servers` first.
 */
export function referenceTarget(reference: string, servers: PairServer[], any: boolean): number {
  for (const ref of reference.split(/\s+/).filter(Boolean)) {
    const s = parseServer(ref);
    if (!s) continue;
    const i = servers.findIndex((x) => x.host === s.host && x.port === s.port);
    if (i >= 0) return i;
    if (any) {
      servers.push(s);
      return servers.length - 1;
    }
  }
  return -1;
}

export function connectPair(opts: PairClientOptions): PairClient {
  const { servers: given, followAnyReference = false, ...rest } = opts;
  const servers = given.map((s) => {
    const p = typeof s === "string" ? parseServer(s) : s;
    if (!p) throw new TypeError(`connectPair: cannot read the server '${String(s)}' (expected mqtt://host:port or host:port)`);
    return { protocol: "mqtt" as const, ...p };
  });
  if (servers.length === 0) throw new TypeError("connectPair: list both nodes in servers");
  const client = mqtt.connect({
    protocolVersion: 4,
    reconnectPeriod: 200,
    connectTimeout: 2000,
    // a refusal (the standby) is a reason to try the next server, not to stop
    reconnectOnConnackError: true,
    ...rest,
    servers,
  }) as PairClient;
  let current: string | null = null;
  client.on("connect", () => {
    const o = client.options as { host?: string; port?: number };
    current = `${o.host}:${o.port}`;
  });
  client.on("close", () => (current = null));
  client.on("packetreceive", (packet: Packet) => {
    if (packet.cmd !== "connack" && packet.cmd !== "disconnect") return;
    const code = packet.reasonCode;
    const ref = packet.properties?.serverReference;
    if ((code !== USE_ANOTHER_SERVER && code !== SERVER_MOVED) || !ref) return;
    const i = referenceTarget(ref, servers, followAnyReference);
    // mqtt.js takes the next server from _reconnectCount (connect/index.ts): the reference's
    if (i >= 0) (client as unknown as { _reconnectCount: number })._reconnectCount = i;
  });
  client.server = () => current;
  return client;
}
