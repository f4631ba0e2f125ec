// The pair's Sparkplug B edge node (docs/sparkplug.md): the thin adapter that
// runs session.ts's effects — one mqtt.js connection per session, its will
// the NDEATH of that session's bdSeq — and feeds it what the pair, the
// drivers and the broker say. Only the acting node connects; the standby
// keeps the bdSeq the active tells it, so that a takeover's NBIRTH carries
// the next one. Commands (NCMD/DCMD) go through the node's own tag write:
// the pair's gate, the PLC fence and the audit log, as every other write.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "../../core/logger.js";
import { isActiveState, type NodeState } from "../../core/types.js";
import type { DriverManager } from "../../drivers/manager.js";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import type { PairRuntime } from "../../redundancy/pair-runtime.js";
import type { Actor } from "../../core/types.js";
import type { SparkplugConfig } from "./config-schema.js";
import { commandOf, datatypeOf, nbirth, ndeath, nodeMetrics, parseCommand, parseHostState, payload, stateTopic, tagMetric, topicOf, type Datatype, type NodeFacts } from "./payloads.js";
import { initialSession, step, type SessionEffect, type SessionEvent, type SessionState } from "./session.js";

/** the peer-app topic on which the active tells its standby the bdSeq of its latest connection */
export const BDSEQ_TOPIC = "sparkplug-bdseq";
const TELL_EVERY_MS = 5000;
const DEVICES_EVERY_MS = 250;
const REFUSALS_LOGGED_EVERY_MS = 1000;

export interface EdgeNodeOptions {
  config: SparkplugConfig & { url: string };
  pairId: string;
  nodeId: string;
  dataDir: string;
  /** the drivers' devices (one Sparkplug device each) and their tags, from config, with each tag's type when config tells it (an OPC UA built-in type name, or "array") */
  devices: { name: string; tags: string[]; types: Record<string, string | undefined> }[];
  runtime: PairRuntime;
  drivers: () => DriverManager | null;
  writeTag: (actor: Actor, name: string, value: unknown) => Promise<{ name: string; value: unknown }>;
  log: Logger;
}

export interface SparkplugStatus {
  edgeNode: string;
  url: string;
  connected: boolean;
  born: boolean;
  bdSeq: number;
  seq: number;
  primaryHost: { id: string; online: boolean | null } | null;
  published: number;
  commands: number;
  refused: number;
}

export class SparkplugEdgeNode {
  private s: SessionState;
  private client: MqttClient | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private devicesTimer: NodeJS.Timeout | null = null;
  private tellTimer: NodeJS.Timeout | null = null;
  private readonly deviceOf = new Map<string, string>();
  private readonly tagsOf = new Map<string, Set<string>>();
  /** the type each tag was born with in this session */
  private readonly bornAs = new Map<string, Datatype>();
  private lastFacts = "";
  private readonly counters = { published: 0, commands: 0, refused: 0 };
  private refusedLoggedAt = 0;
  private refusedSinceLog = 0;
  private readonly file: string;
  private closed: (() => void) | null = null;

  constructor(private readonly o: EdgeNodeOptions) {
    for (const d of o.devices) {
      this.tagsOf.set(d.name, new Set(d.tags));
      for (const t of d.tags) this.deviceOf.set(t, d.name);
    }
    this.file = join(o.dataDir, "sparkplug-bdseq.json");
    this.s = initialSession({ waitForHost: o.config.primaryHostId !== undefined, bdSeq: this.readBdSeq(), devices: o.devices.map((d) => d.name) });
  }

  private get where(): string {
    return this.o.config.url.replace(/\/$/, "");
  }

  start(): void {
    const rt = this.o.runtime;
    const onState = (_from: NodeState, to: NodeState) => {
      this.apply({ type: "acting", on: isActiveState(to) });
      this.factsChanged();
    };
    rt.on("state", onState);
    this.unsubscribe.push(() => rt.off("state", onState));
    const onPeerApp = (topic: string, data: Record<string, unknown>) => {
      if (topic !== BDSEQ_TOPIC || typeof data.bdSeq !== "number") return;
      const before = this.s.bdSeq;
      this.apply({ type: "peer-bdseq", bdSeq: data.bdSeq });
      // the standby keeps it on disk too: it may be the one to connect next, after a restart
      if (this.s.bdSeq !== before) this.writeBdSeq(this.s.bdSeq);
    };
    rt.on("peer-app", onPeerApp);
    this.unsubscribe.push(() => rt.off("peer-app", onPeerApp));
    const drivers = this.o.drivers();
    if (drivers) this.unsubscribe.push(drivers.bus.subscribe((t) => this.onTag(t)));
    this.devicesTimer = setInterval(() => this.pollDevices(), DEVICES_EVERY_MS);
    this.devicesTimer.unref();
    this.tellTimer = setInterval(() => {
      if (this.s.acting && this.s.conn !== "down") this.o.runtime.sendPeerApp(BDSEQ_TOPIC, { bdSeq: this.s.bdSeq });
    }, TELL_EVERY_MS);
    this.tellTimer.unref();
    this.pollDevices();
    this.apply({ type: "acting", on: isActiveState(rt.state.state) });
  }

  /** a node that stops: NDEATH, then the connection ends (its will is for a crash) */
  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.devicesTimer) clearInterval(this.devicesTimer);
    if (this.tellTimer) clearInterval(this.tellTimer);
    this.devicesTimer = this.tellTimer = null;
    const gone = this.client ? new Promise<void>((r) => (this.closed = r)) : Promise.resolve();
    this.apply({ type: "acting", on: false });
    await Promise.race([gone, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.client?.end(true);
    this.client = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  status(): SparkplugStatus {
    const c = this.o.config;
    return {
      edgeNode: `${c.groupId}/${c.edgeNodeId}`,
      url: this.where,
      connected: this.s.conn === "up",
      born: this.s.born,
      bdSeq: this.s.bdSeq,
      seq: this.s.seq,
      primaryHost: c.primaryHostId ? { id: c.primaryHostId, online: this.s.host?.online ?? null } : null,
      ...this.counters,
    };
  }

  private apply(e: SessionEvent<unknown>): void {
    const r = step(this.s, e);
    this.s = r.state;
    for (const fx of r.effects) this.run(fx);
  }

  private run(fx: SessionEffect<unknown>): void {
    const c = this.o.config;
    switch (fx.type) {
      case "remember":
        this.writeBdSeq(fx.bdSeq);
        this.o.runtime.sendPeerApp(BDSEQ_TOPIC, { bdSeq: fx.bdSeq });
        return;
      case "connect":
        return this.connect(fx.bdSeq);
      case "disconnect": {
        const client = this.client;
        // end() sends DISCONNECT once what is in flight (the NDEATH) is through
        client?.end(false, {}, () => undefined);
        return;
      }
      case "retry-later": {
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.apply({ type: "retry" });
        }, c.reconnectMs);
        t.unref();
        this.timers.add(t);
        return;
      }
      case "publish": {
        const at = Date.now();
        if (fx.kind === "NBIRTH") {
          this.lastFacts = JSON.stringify(this.facts());
          return this.send(topicOf(c.groupId, "NBIRTH", c.edgeNodeId), nbirth(fx.bdSeq, fx.seq, at, this.facts()));
        }
        if (fx.kind === "NDEATH") return this.send(topicOf(c.groupId, "NDEATH", c.edgeNodeId), ndeath(fx.bdSeq, at), 1);
        if (fx.kind === "DBIRTH") return this.send(topicOf(c.groupId, "DBIRTH", c.edgeNodeId, fx.device), payload(fx.seq, at, this.birthMetrics(fx.device)));
        if (fx.kind === "DDEATH") return this.send(topicOf(c.groupId, "DDEATH", c.edgeNodeId, fx.device), payload(fx.seq, at, []));
        if (fx.kind === "NDATA") return this.send(topicOf(c.groupId, "NDATA", c.edgeNodeId), payload(fx.seq, at, fx.body as never));
        if (fx.kind === "DDATA") return this.send(topicOf(c.groupId, "DDATA", c.edgeNodeId, fx.device), payload(fx.seq, at, fx.body as never));
        return;
      }
    }
  }

  private connect(bdSeq: number): void {
    const c = this.o.config;
    const client = mqtt.connect(c.url, {
      clientId: c.clientId ?? `tandem-${this.o.pairId}-sparkplug`,
      username: c.username,
      password: c.password,
      protocolVersion: 4,
      clean: true,
      keepalive: c.keepaliveS,
      // one connection per session: a new one carries a new bdSeq in its will, so mqtt.js must not reconnect with the old one
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic: topicOf(c.groupId, "NDEATH", c.edgeNodeId), payload: Buffer.from(ndeath(bdSeq, Date.now())), qos: 1, retain: false },
    });
    this.client = client;
    const mine = () => this.client === client;
    client.on("connect", () => {
      if (!mine()) return;
      const filters: Record<string, { qos: 0 | 1 }> = {
        [topicOf(c.groupId, "NCMD", c.edgeNodeId)]: { qos: 1 },
        [`${topicOf(c.groupId, "DCMD", c.edgeNodeId)}/+`]: { qos: 1 },
        ...(c.primaryHostId ? { [stateTopic(c.primaryHostId)]: { qos: 1 } } : {}),
      };
      // births wait for the SUBACK: a host's retained STATE and its first commands are not missed
      client.subscribe(filters, (err) => {
        if (!mine()) return;
        if (err) {
          this.o.log.error(`Sparkplug: cannot subscribe on ${this.where}: ${err.message}`);
          client.end(true);
          return;
        }
        this.o.log.info(`Sparkplug: edge node ${c.groupId}/${c.edgeNodeId} connected to ${this.where} (bdSeq ${bdSeq})${c.primaryHostId ? `; waiting for primary host ${c.primaryHostId}` : ""}`);
        this.apply({ type: "connected" });
      });
    });
    client.on("message", (topic, bytes) => {
      if (mine()) this.onMessage(topic, bytes);
    });
    client.on("error", (err) => this.o.log.warn(`Sparkplug: ${this.where}: ${err.message}`));
    client.on("close", () => {
      if (!mine()) return;
      this.client = null;
      client.removeAllListeners("message");
      this.apply({ type: "closed" });
      this.closed?.();
      this.closed = null;
    });
  }

  private send(topic: string, bytes: Uint8Array, qos: 0 | 1 = 0): void {
    const client = this.client;
    if (!client?.connected) return;
    client.publish(topic, Buffer.from(bytes), { qos, retain: false }, (err) => {
      if (err) this.o.log.warn(`Sparkplug: publish to ${topic} failed: ${err.message}`);
    });
    this.counters.published++;
  }

  private onMessage(topic: string, bytes: Buffer): void {
    const c = this.o.config;
    if (c.primaryHostId && topic === stateTopic(c.primaryHostId)) {
      const st = parseHostState(bytes);
      if ("problem" in st) return this.refuse(`${topic}: ${st.problem}`);
      this.o.log.info(`Sparkplug: primary host ${c.primaryHostId} is ${st.online ? "online" : "offline"}`);
      return this.apply({ type: "host", online: st.online, timestamp: st.timestamp });
    }
    const cmd = commandOf(c.groupId, c.edgeNodeId, topic);
    if (!cmd) return;
    this.counters.commands++;
    const parsed = parseCommand(bytes, cmd, (d) => this.tagsOf.get(d) ?? null);
    for (const why of parsed.refused) this.refuse(why);
    if (parsed.rebirth) {
      this.o.log.info("Sparkplug: rebirth asked (NCMD Node Control/Rebirth)");
      this.apply({ type: "rebirth" });
    }
    if (parsed.writes.length && !c.acceptWrites) return this.refuse("DCMD writes are off (mqtt.sparkplug.acceptWrites: false)");
    const actor: Actor = { user: "sparkplug", role: "operator", from: `sparkplug ${this.where}` };
    for (const w of parsed.writes) {
      // the node's own write: gate, fence, limits, audit; a refusal is logged (Sparkplug has no answer to a command)
      this.o.writeTag(actor, w.tag, w.value).catch((err: Error) => this.refuse(`DCMD ${w.tag} = ${JSON.stringify(w.value)}: ${err.message}`));
    }
  }

  /** refusals are counted, and logged at most once a second: a hostile flood does not flood the log */
  private refuse(why: string): void {
    this.counters.refused++;
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.refusedLoggedAt < REFUSALS_LOGGED_EVERY_MS) return;
    this.o.log.warn(`Sparkplug: refused ${why}${this.refusedSinceLog > 1 ? ` (and ${this.refusedSinceLog - 1} more refusals since the last line)` : ""}`);
    this.refusedLoggedAt = now;
    this.refusedSinceLog = 0;
  }

  private facts(): NodeFacts {
    const s = this.o.runtime.state;
    return { activeNode: this.o.nodeId, epoch: s.epoch, held: s.state === "active-held" };
  }

  /** the node's own metrics changed (confirmed after held, a new epoch): NDATA */
  private factsChanged(): void {
    if (!this.s.born) return;
    const f = this.facts();
    const key = JSON.stringify(f);
    if (key === this.lastFacts) return;
    this.lastFacts = key;
    this.apply({ type: "data", device: null, body: nodeMetrics(f, Date.now()) });
  }

  private birthMetrics(device: string) {
    const drivers = this.o.drivers();
    const spec = this.o.devices.find((d) => d.name === device);
    const metrics = [];
    for (const name of spec?.tags ?? []) {
      const t = drivers?.bus.get(name);
      if (!t) continue;
      const type = datatypeOf(t.value, spec?.types[name] ?? drivers?.sourceType(name));
      this.bornAs.set(name, type);
      metrics.push(tagMetric(t, type, true).metric);
    }
    return metrics;
  }

  private onTag(t: TagSnapshot): void {
    const device = this.deviceOf.get(t.name);
    if (!device || !this.s.born || !this.s.bornDevices.includes(device)) return;
    const type = this.bornAs.get(t.name);
    if (!type) return this.apply({ type: "device-rebirth", device });
    const m = tagMetric(t, type, false);
    // a value that no longer fits its birth type: the device is born again with the type it has now
    if (m.misfit) return this.apply({ type: "device-rebirth", device });
    this.apply({ type: "data", device, body: [m.metric] });
  }

  private pollDevices(): void {
    const drivers = this.o.drivers();
    if (!drivers) return;
    const up = new Map<string, boolean>();
    for (const c of drivers.connections()) up.set(c.device, (up.get(c.device) ?? false) || c.connected);
    for (const [device, on] of up) this.apply({ type: "device", device, up: on });
    this.factsChanged();
  }

  private readBdSeq(): number {
    try {
      const v = JSON.parse(readFileSync(this.file, "utf8")) as { bdSeq?: unknown };
      if (typeof v.bdSeq === "number" && Number.isInteger(v.bdSeq) && v.bdSeq >= 0 && v.bdSeq <= 255) return v.bdSeq;
    } catch {
      // none yet: the first connection of this pair carries bdSeq 0
    }
    return 255;
  }

  private writeBdSeq(bdSeq: number): void {
    try {
      mkdirSync(this.o.dataDir, { recursive: true });
      writeFileSync(`${this.file}.tmp`, JSON.stringify({ bdSeq }));
      renameSync(`${this.file}.tmp`, this.file);
    } catch (err) {
      // the peer was told; a full disk must not stop the edge node (7b2f76b)
      this.o.log.error(`Sparkplug: cannot remember bdSeq ${bdSeq} in ${this.file}: ${(err as Error).message}`);
    }
  }
}
