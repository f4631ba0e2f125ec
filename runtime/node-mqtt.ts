// The node's MQTT side, composed (CONTRACT.md "MQTT topics"): an outlet —
// the node's embedded broker (mqtt/broker.ts) or the site's broker as a
// client (mqtt/external.ts) — and what the active publishes through it —
//   state                retained: which node is active, its epoch, held or not
//   node/<id>/status     retained: this node's state and service level
//   tags/<a/b/c>         retained: each tag's value, quality and both times, on change
//   events               the events the node records (takeovers, confirms, alarms)
// and the write requests clients send (tags/<a/b/c>/set), answered on
// tags/<a/b/c>/set/result. When the node becomes active it publishes all of
// it again (retained state is rebuilt on the new active's broker, not carried
// over from the old one); when it stops being active its embedded broker
// closes every client connection, so clients reconnect to the new active.
// With a site broker each node publishes its own status (its last will
// marks it offline) and only the active the rest.
import { readFileSync } from "node:fs";
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
import { MqttBroker } from "./mqtt/broker.js";
import type { EmbeddedMqttConfig } from "./mqtt/config-schema.js";
import { ExternalBroker } from "./mqtt/external.js";
import type { MqttCounters, MqttOutlet, MqttRequest } from "./mqtt/outlet.js";
import { parseSetPayload, prefixOf, tagOfSetTopic, tagTopic } from "./mqtt/topics.js";
import type { Actor } from "./node-api.js";
import { sparkplugEdgeNode } from "./node-sparkplug.js";
import type { SparkplugEdgeNode, SparkplugStatus } from "./sparkplug/edge-node.js";

const STATE_EVERY_MS = 1000;
/**
 * The active tells its standby which logins its MQTT clients use (their
 * remembered-login keys, never passwords) this often, and right after new
 * ones; the standby remembers them SHARED_FOR_MS. After a takeover the
 * clients' logins on the new active need no password check (scrypt), which
 * would otherwise be most of the time they take to land there.
 */
const SHARE_EVERY_MS = 15_000;
const SHARED_FOR_MS = 60_000;
const SHARE_SOON_MS = 300;
const LOGINS_TOPIC = "mqtt-logins";

export interface NodeMqttOptions {
  config: TandemConfig;
  runtime: PairRuntime;
  drivers: () => DriverManager | null;
  events: EventRecorder;
  /** the node's HTTPS certificate, when http.tls is on: the embedded broker's for mqtt.tls without files of its own */
  httpTls?: { cert: string; key: string } | null;
  /** an operator's tag write, audited, through the pair's gate (the node's writeTag) */
  writeTag: (actor: Actor, name: string, value: unknown) => Promise<{ name: string; value: unknown }>;
  /** the site view's fields added to state and status (HMI address, health, alarms), and how often they go out again unchanged (runtime/node-site.ts) */
  site?: { fields(): { state: Record<string, unknown>; status: Record<string, unknown> }; refreshMs: number };
  log: Logger;
}

export interface MqttStatus {
  broker: "embedded" | "external";
  /** where the embedded broker listens, or the site broker this node connects to */
  listen: string;
  serving: boolean;
  clients: number;
  counters: MqttCounters;
  /** the pair's Sparkplug B edge node (mqtt.sparkplug) */
  sparkplug?: SparkplugStatus;
}

/** the embedded broker's certificate: its own files, or the node's HTTPS one; null for plain MQTT */
function brokerTls(t: { enabled: boolean; certFile?: string; keyFile?: string }, http: { cert: string; key: string } | null): { cert: Buffer | string; key: Buffer | string } | null {
  if (!t.enabled) return null;
  if (t.certFile && t.keyFile) {
    try {
      return { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) };
    } catch (err) {
      throw new Error(`mqtt.tls: cannot read ${(err as NodeJS.ErrnoException).path ?? "the certificate"}: ${(err as Error).message}`);
    }
  }
  if (!http) throw new Error("mqtt.tls: give certFile and keyFile, or enable http.tls to use the node's HTTPS certificate");
  return http;
}

/** a tag's payload: what a subscriber needs to trust it or not */
function tagPayload(t: TagSnapshot): string {
  return JSON.stringify({ value: t.value, quality: t.quality, sourceTs: t.timestamp, serverTs: t.receivedAt, ...(t.reason ? { reason: t.reason } : {}), ...(t.units ? { units: t.units } : {}) });
}

export class NodeMqtt {
  private readonly outlet: MqttOutlet;
  private readonly prefix: string;
  private readonly unsubscribe: (() => void)[] = [];
  private address = "";
  private timer: NodeJS.Timeout | null = null;
  /** the state and status payloads last published (without their time): only changes go out */
  private lastState = "";
  /** when state and status last went out: with a site broker they go out again every site.refreshMs, so that the site knows this node lives */
  private stateAt = 0;
  /** the payload last published per tag topic: only changes go out */
  private readonly lastTag = new Map<string, string>();

  /** the embedded broker's logins (shared with the peer); null with a site broker */
  private auth: Authenticator | null = null;
  private broker: MqttBroker | null = null;
  private shareTimer: NodeJS.Timeout | null = null;
  private shareSoon: NodeJS.Timeout | null = null;
  private readonly sparkplug: SparkplugEdgeNode | null;

  constructor(private readonly o: NodeMqttOptions) {
    const c = o.config;
    const mq = c.mqtt;
    if (!mq) throw new Error("NodeMqtt needs an mqtt section");
    this.prefix = prefixOf(c.pair.id);
    const onRequest = (r: MqttRequest) => void this.onSet(r);
    if (mq.broker === "external") {
      this.outlet = new ExternalBroker({
        config: { ...mq, url: mq.url as string },
        prefix: this.prefix,
        pairId: c.pair.id,
        nodeId: c.node.id,
        offline: () => JSON.stringify({ nodeId: c.node.id, state: "offline", at: new Date().toISOString() }),
        onConnect: () => (this.serving() ? this.announce() : this.publishState(true)),
        onRequest,
        log: o.log,
      });
    } else {
      const users = c.http.users;
      this.auth = new Authenticator({ users, sessionTtlMs: c.http.sessionTtlMs });
      this.broker = new MqttBroker({
        config: mq as EmbeddedMqttConfig,
        prefix: this.prefix,
        authenticator: this.auth,
        limits: new LoginLimits({ trusted: c.http.trustedAddresses }, users.map((u) => u.name)),
        serving: () => this.serving(),
        onRequest,
        onLogin: () => this.shareLoginsSoon(),
        tls: brokerTls(mq.tls, o.httpTls ?? null),
        log: o.log,
      });
      this.outlet = this.broker;
    }
    this.sparkplug = sparkplugEdgeNode(o);
  }

  private serving(): boolean {
    return isActiveState(this.o.runtime.state.state);
  }

  /** listens or connects (an embedded broker refuses clients until the node is active) and follows the pair and the tags */
  async start(): Promise<void> {
    this.address = await this.outlet.start();
    const rt = this.o.runtime;
    const onState = (from: NodeState, to: NodeState) => this.onState(from, to);
    rt.on("state", onState);
    this.unsubscribe.push(() => rt.off("state", onState));
    const onEvent = (e: EventRow) => {
      if (this.serving()) this.outlet.publish(`${this.prefix}events`, JSON.stringify(e));
    };
    this.o.events.listeners.add(onEvent);
    this.unsubscribe.push(() => this.o.events.listeners.delete(onEvent));
    const drivers = this.o.drivers();
    if (drivers) this.unsubscribe.push(drivers.bus.subscribe((t) => this.onTag(t)));
    if (this.broker) {
      const onPeerApp = (topic: string, data: Record<string, unknown>) => {
        if (topic === LOGINS_TOPIC) this.primeLogins(data);
      };
      rt.on("peer-app", onPeerApp);
      this.unsubscribe.push(() => rt.off("peer-app", onPeerApp));
      this.shareTimer = setInterval(() => this.shareLogins(), SHARE_EVERY_MS);
      this.shareTimer.unref();
    }
    this.outlet.serving(this.serving(), "start");
    if (this.serving()) this.announce();
    // the pair's health moves between state changes too (the peer, the service level): published when it does
    this.timer = setInterval(() => this.publishState(), STATE_EVERY_MS);
    this.timer.unref();
    this.sparkplug?.start();
    this.o.log.info(
      this.outlet.kind === "embedded"
        ? `MQTT broker listening on ${this.address} (topics under ${this.prefix}; clients are served while this node is active)`
        : `MQTT: publishing to the site broker ${this.address} (topics under ${this.prefix}; the pair's state and values while this node is active)`,
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.shareTimer) clearInterval(this.shareTimer);
    if (this.shareSoon) clearTimeout(this.shareSoon);
    this.timer = this.shareTimer = this.shareSoon = null;
    for (const u of this.unsubscribe.splice(0)) u();
    await this.sparkplug?.stop();
    await this.outlet.stop();
  }

  status(): MqttStatus {
    const f = this.outlet.figures();
    return { broker: this.outlet.kind, listen: this.address, serving: this.serving(), clients: f.clients, counters: f.counters, ...(this.sparkplug ? { sparkplug: this.sparkplug.status() } : {}) };
  }

  private shareLoginsSoon(): void {
    if (this.shareSoon) return;
    this.shareSoon = setTimeout(() => {
      this.shareSoon = null;
      this.shareLogins();
    }, SHARE_SOON_MS);
    this.shareSoon.unref();
  }

  /** the active: the keys of its clients' logins, to the standby */
  private shareLogins(): void {
    if (!this.broker || !this.serving()) return;
    const keys = this.broker.loginKeysNow();
    if (keys.length) this.o.runtime.sendPeerApp(LOGINS_TOPIC, { keys, forMs: SHARED_FOR_MS });
  }

  /** the standby: the active's clients' logins, remembered so that they need no password check here after a takeover */
  private primeLogins(data: Record<string, unknown>): void {
    if (!this.auth || this.serving() || !Array.isArray(data.keys) || typeof data.forMs !== "number") return;
    this.auth.prime(data.keys, data.forMs);
  }

  private onState(from: NodeState, to: NodeState): void {
    const serving = isActiveState(to);
    this.outlet.serving(serving, `this node is ${to} now`);
    // the first moment as active: everything a subscriber needs, published again
    if (serving && !isActiveState(from)) this.announce();
    else this.publishState();
  }

  private announce(): void {
    this.lastTag.clear();
    this.publishState(true);
    for (const t of this.o.drivers()?.bus.all() ?? []) this.onTag(t);
  }

  /** the active: the pair's state and its status; a node that is not (site broker only): its own status */
  private publishState(force = false): void {
    const c = this.o.config;
    const s = this.o.runtime.state;
    const serving = this.serving();
    if (!serving && this.outlet.kind === "embedded") return;
    // the site view's fields come first: they never replace one of the fields above (docs/mqtt.md)
    const more = this.o.site?.fields() ?? { state: {}, status: {} };
    const state = serving ? { ...more.state, pairId: c.pair.id, active: c.node.id, epoch: s.epoch, state: s.state, held: s.state === "active-held", peer: { nodeId: c.peer.id, state: s.peer.state } } : null;
    const status = { ...more.status, nodeId: c.node.id, state: s.state, epoch: s.epoch, serviceLevel: s.level };
    const key = JSON.stringify([state, status]);
    const due = !!this.o.site && this.outlet.kind === "external" && Date.now() - this.stateAt >= this.o.site.refreshMs;
    if (!force && !due && key === this.lastState) return;
    this.lastState = key;
    this.stateAt = Date.now();
    const at = new Date().toISOString();
    if (state) this.outlet.publish(`${this.prefix}state`, JSON.stringify({ ...state, at }), true);
    this.outlet.publish(`${this.prefix}node/${c.node.id}/status`, JSON.stringify({ ...status, at }), true);
  }

  private onTag(t: TagSnapshot): void {
    if (!this.serving()) return;
    const topic = tagTopic(this.prefix, t.name);
    const payload = tagPayload(t);
    if (this.lastTag.get(topic) === payload) return;
    this.lastTag.set(topic, payload);
    this.outlet.publish(topic, payload, true);
  }

  /** a client's write request: answered on …/set/result, and to an MQTT 5 request's response topic */
  private async onSet(r: MqttRequest): Promise<void> {
    const tag = tagOfSetTopic(this.prefix, r.topic);
    if (tag === null) return;
    const { actor } = r;
    const answer = (body: Record<string, unknown>) => {
      const text = JSON.stringify({ tag, by: actor.user, at: new Date().toISOString(), ...body });
      this.outlet.publish(`${r.topic}/result`, text);
      if (r.responseTopic) this.outlet.publish(r.responseTopic, text, false, r.correlationData);
    };
    if (!this.serving()) return answer({ ok: false, error: { code: "TANDEM_ERR_NOT_ACTIVE", message: `tag write refused: node ${this.o.config.node.id} is ${this.o.runtime.state.state}, not active` } });
    const p = parseSetPayload(r.payload);
    if ("problem" in p) return answer({ ok: false, error: { code: "TANDEM_ERR_BAD_REQUEST", message: `tag ${tag}: ${p.problem}` } });
    try {
      const w = await this.o.writeTag({ ...actor, from: actor.from?.startsWith("site broker") ? actor.from : `mqtt ${actor.from ?? ""}`.trim() }, tag, p.value);
      answer({ ok: true, value: w.value });
    } catch (err) {
      const e = err instanceof TandemError ? { code: err.code, message: err.message } : { code: "TANDEM_ERR_INTERNAL", message: (err as Error).message };
      answer({ ok: false, error: e });
    }
  }
}
