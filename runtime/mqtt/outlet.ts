// What the node's MQTT side publishes through: its own embedded broker
// (broker.ts) or the site's broker as a client (external.ts). node-mqtt.ts
// decides what to publish and when; an outlet only carries it, and hands
// back the write requests clients send.
import type { Actor } from "../node-api.js";

export interface MqttCounters {
  connections: number;
  refusedNotActive: number;
  refusedLogin: number;
  refusedTopic: number;
  tooLarge: number;
  malformed: number;
  published: number;
  /** password checks (scrypt) the logins needed: the ones not remembered, nor shared by the active before a takeover */
  passwordChecks: number;
}

/** a write request a client sent (tags/…/set) */
export interface MqttRequest {
  actor: Actor;
  topic: string;
  payload: Buffer;
  /** MQTT 5 request/response: where the requester wants the answer, with its correlation data */
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface MqttOutlet {
  readonly kind: "embedded" | "external";
  /** starts listening or connecting; the address it listens on or the broker it connects to */
  start(): Promise<string>;
  publish(topic: string, payload: string, retain?: boolean, correlationData?: Buffer): void;
  /** the node's role moved: the embedded broker closes its clients when it stops serving; a client of the site broker takes write requests only while serving */
  serving(on: boolean, why: string): void;
  figures(): { clients: number; counters: MqttCounters };
  stop(): Promise<void>;
}
