// The node's MQTT side, composed (CONTRACT.md "MQTT topics"): the embedded
// broker (mqtt/broker.ts) and what the active publishes on it —
//   state                retained: which node is active, its epoch, held or not
//   node/<id>/status     retained: this node's state and service level
//   tags/<a/b/c>         retained: each tag's value, quality and both times, on change
//   events               the events the node records (takeovers, confirms, alarms)
// and the write requests clients send (tags/<a/b/c>/set), answered on
// tags/<a/b/c>/set/result. When the node becomes active it publishes all of
// it again (retained state is rebuilt on the new active's broker, not carried
// over from the old one); when it stops being active it closes every client
// connection, so clients reconnect to the new active.
import { TandemError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { isActiveState, type NodeState } from "../core/types.js";
import type { TagSnapshot } from "../drivers/tag-model.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { TandemConfig } from "./config/schema.js";
import type { EventRecorder, EventRow } from "./events/recorder.js";
import { Authenticator } from "./http/auth.js";
import { LoginLimits } from "./http/login-limits.js";
import { MqttBroker, type MqttCounters } from "./mqtt/broker.js";
import { parseSetPayload, prefixOf, tagOfSetTopic, tagTopic } from "./mqtt/topics.js";
import type { Actor } from "./node-api.js";

const STATE_EVERY_MS = 1000;

export interface NodeMqttOptions {
  config: TandemConfig;
  runtime: PairRuntime;
  drivers: () => DriverManager | null;
  events: EventRecorder;
  /** an operator's tag write, audited, through the pair's gate (the node's writeTag) */
  writeTag: (actor: Actor, name: string, value: unknown) => Promise<{ name: string; value: unknown }>;
  log: Logger;
}

export interface MqttStatus {
  listen: string;
  serving: boolean;
  clients: number;
  counters: MqttCounters;
}

/** a tag's payload: what a subscriber needs to trust it or not */
function tagPayload(t: TagSnapshot): string {
  return JSON.stringify({ value: t.value, quality: t.quality, sourceTs: t.timestamp, serverTs: t.receivedAt, ...(t.reason ? { reason: t.reason } : {}), ...(t.units ? { units: t.units } : {}) });
}

export class NodeMqtt {
  private readonly broker: MqttBroker;
  private readonly prefix: string;
  private readonly unsubscribe: (() => void)[] = [];
  private address = "";
  private timer: NodeJS.Timeout | null = null;
  /** the state and status payloads last published (without their time): only changes go out */
  private lastState = "";
  /** the payload last published per tag topic: only changes go out */
  private readonly lastTag = new Map<string, string>();

  constructor(private readonly o: NodeMqttOptions) {
    const c = o.config;
    const mq = c.mqtt;
    if (!mq) throw new Error("NodeMqtt needs an mqtt section");
    this.prefix = prefixOf(c.pair.id);
    const users = c.http.users;
    this.broker = new MqttBroker({
      config: mq,
      prefix: this.prefix,
      authenticator: new Authenticator({ users, sessionTtlMs: c.http.sessionTtlMs }),
      limits: new LoginLimits({ trusted: c.http.trustedAddresses }, users.map((u) => u.name)),
      serving: () => this.serving(),
      onPublish: (actor, topic, payload) => void this.onSet(actor, topic, payload),
      log: o.log,
    });
  }

  private serving(): boolean {
    return isActiveState(this.o.runtime.state.state);
  }

  /** listens (refusing clients until the node is active) and follows the pair and the tags */
  async start(): Promise<void> {
    const a = await this.broker.start();
    this.address = `${a.host}:${a.port}`;
    const rt = this.o.runtime;
    const onState = (from: NodeState, to: NodeState) => this.onState(from, to);
    rt.on("state", onState);
    this.unsubscribe.push(() => rt.off("state", onState));
    const onEvent = (e: EventRow) => {
      if (this.serving()) this.broker.publish(`${this.prefix}events`, JSON.stringify(e));
    };
    this.o.events.listeners.add(onEvent);
    this.unsubscribe.push(() => this.o.events.listeners.delete(onEvent));
    const drivers = this.o.drivers();
    if (drivers) this.unsubscribe.push(drivers.bus.subscribe((t) => this.onTag(t)));
    if (this.serving()) this.announce();
    // the pair's health moves between state changes too (the peer, the service level): published when it does
    this.timer = setInterval(() => {
      if (this.serving()) this.publishState();
    }, STATE_EVERY_MS);
    this.timer.unref();
    this.o.log.info(`MQTT broker listening on ${this.address} (topics under ${this.prefix}; clients are served while this node is active)`);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const u of this.unsubscribe.splice(0)) u();
    await this.broker.stop();
  }

  status(): MqttStatus {
    return { listen: this.address, serving: this.serving(), clients: this.broker.clients, counters: { ...this.broker.counters } };
  }

  private onState(from: NodeState, to: NodeState): void {
    if (isActiveState(to)) {
      // the first moment as active: everything a subscriber needs, published again
      if (!isActiveState(from)) this.announce();
      else this.publishState();
      return;
    }
    if (isActiveState(from)) this.broker.disconnectAll(`this node is ${to} now`);
  }

  private announce(): void {
    this.lastTag.clear();
    this.publishState(true);
    for (const t of this.o.drivers()?.bus.all() ?? []) this.onTag(t);
  }

  private publishState(force = false): void {
    const c = this.o.config;
    const s = this.o.runtime.state;
    const state = { pairId: c.pair.id, active: c.node.id, epoch: s.epoch, state: s.state, held: s.state === "active-held", peer: { nodeId: c.peer.id, state: s.peer.state } };
    const status = { nodeId: c.node.id, state: s.state, epoch: s.epoch, serviceLevel: s.level };
    const key = JSON.stringify([state, status]);
    if (!force && key === this.lastState) return;
    this.lastState = key;
    const at = new Date().toISOString();
    this.broker.publish(`${this.prefix}state`, JSON.stringify({ ...state, at }), true);
    this.broker.publish(`${this.prefix}node/${c.node.id}/status`, JSON.stringify({ ...status, at }), true);
  }

  private onTag(t: TagSnapshot): void {
    if (!this.serving()) return;
    const topic = tagTopic(this.prefix, t.name);
    const payload = tagPayload(t);
    if (this.lastTag.get(topic) === payload) return;
    this.lastTag.set(topic, payload);
    this.broker.publish(topic, payload, true);
  }

  /** a client's write request (the broker let only operators' set topics through) */
  private async onSet(actor: Actor, topic: string, payload: Buffer): Promise<void> {
    const tag = tagOfSetTopic(this.prefix, topic);
    if (tag === null) return;
    const answer = (body: Record<string, unknown>) => this.broker.publish(`${topic}/result`, JSON.stringify({ tag, by: actor.user, at: new Date().toISOString(), ...body }));
    const p = parseSetPayload(payload);
    if ("problem" in p) return answer({ ok: false, error: { code: "TANDEM_ERR_BAD_REQUEST", message: `tag ${tag}: ${p.problem}` } });
    try {
      const r = await this.o.writeTag({ ...actor, from: `mqtt ${actor.from ?? ""}`.trim() }, tag, p.value);
      answer({ ok: true, value: r.value });
    } catch (err) {
      const e = err instanceof TandemError ? { code: err.code, message: err.message } : { code: "TANDEM_ERR_INTERNAL", message: (err as Error).message };
      answer({ ok: false, error: e });
    }
  }
}
