// A Sparkplug host application of the tests' own making: a real mqtt.js
// client on the site broker that publishes its STATE (Sparkplug 3.0 JSON,
// retained, with an offline will), subscribes to a group, and decodes what
// edge nodes publish twice — with Eclipse Tahu's sparkplug-payload, and
// independently with protobufjs and the vendored sparkplug_b.proto — and
// tells if the two disagree. No Tandem code on this side.
import { fileURLToPath } from "node:url";
import mqtt, { type MqttClient } from "mqtt";
import protobuf from "protobufjs";
import sparkplug from "sparkplug-payload";

const codec = sparkplug.get("spBv1.0")!;
const root = protobuf.loadSync(fileURLToPath(new URL("../fixtures/sparkplug_b.proto", import.meta.url)));
const PayloadType = root.lookupType("org.eclipse.tahu.protobuf.Payload");

export interface HostMetric {
  name?: string;
  datatype: number;
  isNull: boolean;
  value: unknown;
  timestamp?: number;
  properties: Record<string, unknown>;
}

export interface Seen {
  at: number;
  topic: string;
  kind: string;
  edge: string;
  device?: string;
  seq?: number;
  timestamp?: number;
  metrics: HostMetric[];
  /** the bdSeq metric (NBIRTH, NDEATH) */
  bdSeq?: number;
}

const num = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : Number(v));

/**
 * A metric's value as Sparkplug 3.0 defines it for its datatype, from the
 * raw protobuf field (64-bit words read as decimal text): Int8/16/32 are
 * two's complement in a uint32, Int64 in a uint64; 64-bit values a double
 * holds exactly as numbers, larger ones as decimal text.
 */
function sparkplugValue(datatype: number, raw: unknown): unknown {
  if (raw === undefined || raw === null) return raw;
  switch (datatype) {
    case 1: // Int8
    case 2: // Int16
    case 3: // Int32
      return Number(raw) | 0;
    case 4: // Int64
    case 7: // UInt32
    case 8: // UInt64
    case 13: {
      // DateTime
      const big = datatype === 4 ? BigInt.asIntN(64, BigInt(String(raw))) : BigInt(String(raw));
      return Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
    }
  }
  return raw;
}

/** a payload decoded by protobufjs from the published schema alone */
export function decodeIndependently(bytes: Uint8Array): { seq?: number; timestamp?: number; metrics: HostMetric[] } {
  const msg = PayloadType.decode(bytes);
  const o = PayloadType.toObject(msg, { longs: String, defaults: false, oneofs: true }) as Record<string, any>;
  const metrics: HostMetric[] = (o.metrics ?? []).map((m: Record<string, any>) => {
    const properties: Record<string, unknown> = {};
    const keys: string[] = m.properties?.keys ?? [];
    keys.forEach((k, i) => {
      const pv = m.properties.values[i];
      properties[k] = sparkplugValue(pv.type, pv[pv.value]);
    });
    return { name: m.name, datatype: m.datatype, isNull: m.isNull === true, value: m.value ? sparkplugValue(m.datatype, m[m.value]) : undefined, timestamp: num(m.timestamp), properties };
  });
  return { seq: num(o.seq), timestamp: num(o.timestamp), metrics };
}

/** what sparkplug-payload decoded, in the same terms (it hands Int64 back unsigned, as a Long) */
function libraryValue(type: string | undefined, v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  const big = BigInt(String(v));
  const n = type === "Int64" ? BigInt.asIntN(64, big) : big;
  return Number.isSafeInteger(Number(n)) ? Number(n) : n.toString();
}

export class TestHost {
  readonly seen: Seen[] = [];
  /** where the two decodings of one payload disagreed */
  readonly disagreements: string[] = [];
  private client: MqttClient | null = null;

  constructor(private readonly url: string, private readonly group: string, readonly hostId = "scada") {}

  get stateTopic(): string {
    return `spBv1.0/STATE/${this.hostId}`;
  }

  /** connects with the offline will, subscribes to the group, and (unless told otherwise) says it is online */
  async start(opts: { online?: boolean } = {}): Promise<void> {
    const will = { topic: this.stateTopic, payload: Buffer.from(JSON.stringify({ online: false, timestamp: Date.now() })), qos: 1 as const, retain: true };
    this.client = await mqtt.connectAsync(this.url, { clientId: `test-host-${this.hostId}-${process.pid}`, protocolVersion: 5, reconnectPeriod: 0, will });
    this.client.on("message", (topic, bytes) => this.onMessage(topic, bytes));
    await this.client.subscribeAsync(`spBv1.0/${this.group}/#`, { qos: 1 });
    if (opts.online !== false) await this.state(true);
  }

  /** STATE as Sparkplug 3.0 has it: retained, QoS 1, JSON */
  async state(online: boolean, timestamp = Date.now()): Promise<void> {
    await this.client!.publishAsync(this.stateTopic, JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
  }

  async command(topic: string, bytes: Uint8Array): Promise<void> {
    await this.client!.publishAsync(topic, Buffer.from(bytes), { qos: 0 });
  }

  /** NCMD Node Control/Rebirth, encoded by the library */
  async rebirth(edge: string): Promise<void> {
    await this.command(`spBv1.0/${this.group}/NCMD/${edge}`, codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: true }] }));
  }

  async write(edge: string, device: string, tag: string, value: number): Promise<void> {
    await this.command(`spBv1.0/${this.group}/DCMD/${edge}/${device}`, codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: tag, type: "Double", value }] }));
  }

  async clearState(): Promise<void> {
    await this.client?.publishAsync(this.stateTopic, "", { qos: 1, retain: true });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true).catch(() => undefined);
    this.client = null;
  }

  of(kind: string, device?: string): Seen[] {
    return this.seen.filter((s) => s.kind === kind && (device === undefined || s.device === device));
  }

  private onMessage(topic: string, bytes: Buffer): void {
    const p = topic.split("/");
    if (p[2] === "NCMD" || p[2] === "DCMD" || p[1] === "STATE") return;
    const lib = codec.decodePayload(bytes);
    const ind = decodeIndependently(bytes);
    const libMetrics = (lib.metrics ?? []).map((m) => ({ name: m.name, value: m.value === null ? null : libraryValue(m.type, m.value) }));
    const indMetrics = ind.metrics.map((m) => ({ name: m.name, value: m.isNull ? null : m.value }));
    if (JSON.stringify(libMetrics) !== JSON.stringify(indMetrics) || num(lib.seq) !== ind.seq)
      this.disagreements.push(`${topic}: library ${JSON.stringify({ seq: num(lib.seq), libMetrics })} vs protobufjs ${JSON.stringify({ seq: ind.seq, indMetrics })}`);
    const bd = ind.metrics.find((m) => m.name === "bdSeq");
    this.seen.push({ at: Date.now(), topic, kind: p[2], edge: p[3], ...(p[4] !== undefined ? { device: p[4] } : {}), seq: ind.seq, timestamp: ind.timestamp, metrics: ind.metrics, ...(bd ? { bdSeq: Number(bd.value) } : {}) });
  }
}
