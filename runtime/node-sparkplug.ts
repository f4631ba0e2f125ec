// The pair's Sparkplug B edge node, composed from the node's config
// (mqtt.sparkplug, docs/sparkplug.md): where it connects — its own `url`, or
// with `broker: external` the site broker of mqtt.url and its login — and
// one Sparkplug device per PLC (drivers.devices) with its tags and their
// types. node-mqtt.ts starts and stops it with the rest of the node's MQTT
// side.
import type { Logger } from "../core/logger.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { TandemConfig } from "./config/schema.js";
import type { Actor } from "../core/types.js";
import { uaTypeOfTag } from "./opcua/mapping.js";
import { SparkplugEdgeNode } from "./sparkplug/edge-node.js";

export interface NodeSparkplugOptions {
  config: TandemConfig;
  runtime: PairRuntime;
  drivers: () => DriverManager | null;
  /** the node's tag write: the pair's gate, the PLC fence, the audit log */
  writeTag: (actor: Actor, name: string, value: unknown) => Promise<{ name: string; value: unknown }>;
  log: Logger;
}

export function sparkplugEdgeNode(o: NodeSparkplugOptions): SparkplugEdgeNode | null {
  const c = o.config;
  const mq = c.mqtt;
  const sp = mq?.sparkplug;
  if (!mq || !sp) return null;
  // the config schema requires sparkplug.url with the embedded broker
  const own = sp.url !== undefined;
  const url = sp.url ?? mq.url;
  if (!url) throw new Error("mqtt.sparkplug.url: required with broker: embedded");
  const login = own ? { username: sp.username, password: sp.password } : { username: sp.username ?? mq.username, password: sp.password ?? mq.password };
  return new SparkplugEdgeNode({
    config: { ...sp, url, ...login },
    pairId: c.pair.id,
    nodeId: c.node.id,
    dataDir: c.node.dataDir,
    devices: sparkplugDevices(c),
    runtime: o.runtime,
    drivers: o.drivers,
    writeTag: o.writeTag,
    log: o.log.child({ component: "sparkplug" }),
  });
}

/**
 * One Sparkplug device per PLC with its tags, and each tag's type as the
 * node's OPC UA server serves it (runtime/opcua/mapping.ts: a Modbus type,
 * Double when scaled, "array" for an array); an OPC UA tag's is its source's,
 * known once the server answered (undefined here).
 */
export function sparkplugDevices(c: Pick<TandemConfig, "drivers">): { name: string; tags: string[]; types: Record<string, string | undefined> }[] {
  const tags = c.drivers?.tags ?? [];
  return (c.drivers?.devices ?? []).map((d) => {
    const mine = tags.filter((t) => t.device === d.name);
    const typeOf = (t: (typeof mine)[number]): string | undefined => {
      const ua = uaTypeOfTag(t, d);
      return ua.arrayLength !== undefined ? "array" : (ua.type ?? undefined);
    };
    return { name: d.name, tags: mine.map((t) => t.name), types: Object.fromEntries(mine.map((t) => [t.name, typeOf(t)])) };
  });
}
