// The embedded MQTT broker of one node (aedes, MQTT 3.1.1), with the pair's
// rules on top:
// - only the active accepts clients: elsewhere CONNACK 3 "server
//   unavailable", before any password is checked, so a client that lists
//   both nodes moves on to the active; when the node stops being active it
//   disconnects every client (they reconnect to the new active);
// - logins are http.users (scrypt, remembered a minute, the same brute-force
//   limits as the HTTP API), topics are checked against topics.ts's rules;
// - a client that sends a packet over mqtt.maxPacketBytes, a malformed
//   packet or a refused publish is disconnected; the others keep their flow.
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from "aedes";
import type { Logger } from "../../core/logger.js";
import type { Actor } from "../node-api.js";
import type { Authenticator } from "../http/auth.js";
import type { LoginLimits } from "../http/login-limits.js";
import type { EmbeddedMqttConfig } from "./config-schema.js";
import type { MqttOutlet, MqttRequest } from "./outlet.js";
import { guardedConnection, MalformedLength, PacketTooLarge, packetGuard } from "./packet-guard.js";
import { publishProblem, subscribeProblem, topicProblem } from "./topics.js";

export interface MqttBrokerOptions {
  config: EmbeddedMqttConfig;
  prefix: string;
  authenticator: Authenticator;
  limits: LoginLimits;
  /** whether this node may serve clients now (the active) */
  serving: () => boolean;
  /** a client's publish that passed the rules (a write request) */
  onRequest: (r: MqttRequest) => void;
  /** a client logged in (node-mqtt.ts shares the logins with the standby) */
  onLogin?: () => void;
  /** MQTT over TLS: the certificate and key (PEM); plain MQTT without */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
  log: Logger;
}

export type { MqttCounters } from "./outlet.js";
import type { MqttCounters } from "./outlet.js";


const UNAVAILABLE = 3;
const BAD_LOGIN = 4;
const NOT_AUTHORIZED = 5;

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class MqttBroker implements MqttOutlet {
  readonly kind = "embedded" as const;
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private readonly actors = new WeakMap<Client, Actor>();
  /** each logged-in client's remembered-login key (Authenticator.keyOf): never the password */
  private readonly loginKeys = new WeakMap<Client, string>();
  private readonly addresses = new WeakMap<object, string>();
  private readonly sockets = new Set<Socket>();
  readonly counters: MqttCounters = { connections: 0, refusedNotActive: 0, refusedLogin: 0, refusedTopic: 0, tooLarge: 0, malformed: 0, published: 0, passwordChecks: 0 };
  /** when each kind of refusal was last logged */
  private readonly lastRefusalLog = new Map<string, number>();

  constructor(private readonly o: MqttBrokerOptions) {}

  async start(): Promise<string> {
    const c = this.o.config;
    const aedes = await Aedes.createBroker({
      id: "tandem",
      maxClientsIdLength: 128,
      connectTimeout: 10_000,
      authenticate: (client, user, password, done) => void this.authenticate(client, user, password).then((err) => done(err, err === null)),
      authorizePublish: (client, packet, done) => done(this.authorizePublish(client, packet)),
      // a refused subscription: SUBACK 0x80 and the client stays connected (an error here would drop it)
      authorizeSubscribe: (client, sub, done) => done(null, this.authorizeSubscribe(client, sub) ? null : sub),
      // a client that stops reading is dropped after this long instead of holding its messages
      drainTimeout: 10_000,
      maxInflightInbound: 1000,
    });
    this.aedes = aedes;
    aedes.on("clientError", (client, err) => this.clientError(client, err));
    aedes.on("connectionError", (client, err) => this.clientError(client, err));
    aedes.on("publish", (packet: AedesPublishPacket, client: Client | null) => {
      if (!client) return;
      const actor = this.actors.get(client);
      if (actor) this.o.onRequest({ actor, topic: packet.topic, payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload) });
    });
    const tls = this.o.tls;
    this.server = tls ? createTlsServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, (socket) => this.accept(socket, aedes)) : createServer((socket) => this.accept(socket, aedes));
    // a TLS handshake that fails (a plain client, a wrong CA) concerns that client only
    this.server.on("tlsClientError", (err: Error, socket: Socket) => {
      this.counters.malformed++;
      this.refusalLog("tls", `MQTT: TLS handshake with ${socket.remoteAddress ?? "?"} failed: ${err.message}`);
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(c.listen.port, c.listen.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.o.log.error({ err }, `MQTT listener: ${err.message}`));
    const a = server.address() as AddressInfo;
    return `${tls ? "mqtts://" : ""}${a.address}:${a.port}`;
  }

  serving(on: boolean, why: string): void {
    if (!on) this.disconnectAll(why);
  }

  figures(): { clients: number; counters: MqttCounters } {
    return { clients: this.clients, counters: { ...this.counters, passwordChecks: this.o.authenticator.passwordChecks } };
  }

  /** connected (logged-in) clients */
  get clients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /**
   * Publishes from Tandem itself (values, state, events). `done`, when given,
   * runs once the message is handed to every subscriber (a subscriber whose
   * socket is full is waited for: a caller publishing in bulk, such as the
   * MQTT bench, can keep a bounded number in flight); at once when the
   * broker is not running.
   */
  publish(topic: string, payload: string, retain = false): void {
    this.publishThen(topic, payload, retain);
  }

  /** publish(), with `done` as said above (MQTT 3.1.1 has no correlation data: the outlet's fourth argument is not taken) */
  publishThen(topic: string, payload: string, retain = false, done?: () => void): void {
    const aedes = this.aedes;
    if (!aedes || aedes.closed) {
      if (done) setImmediate(done);
      return;
    }
    const packet = { cmd: "publish", topic, payload: Buffer.from(payload), qos: 0, retain, dup: false } as PublishPacket;
    aedes.publish(packet, (err) => {
      if (err) this.o.log.warn({ err }, `MQTT publish to ${topic} failed: ${err.message}`);
      done?.();
    });
    this.counters.published++;
  }

  /** closes every client connection (the node stopped being active: they reconnect to the new active) */
  disconnectAll(why: string): number {
    const n = this.sockets.size;
    if (n > 0) this.o.log.info(`MQTT: closing ${n} client connection${n === 1 ? "" : "s"} (${why})`);
    for (const s of this.sockets) s.destroy();
    return n;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
    const aedes = this.aedes;
    this.aedes = null;
    if (aedes) await new Promise<void>((r) => aedes.close(() => r()));
  }

  // ------------------------------------------------------------ connections

  private accept(socket: Socket, aedes: Aedes): void {
    if (this.sockets.size >= this.o.config.maxClients) {
      this.refusalLog("max-clients", `MQTT: connection from ${socket.remoteAddress ?? "?"} closed: mqtt.maxClients (${this.o.config.maxClients}) reached`);
      socket.destroy();
      return;
    }
    this.counters.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const guard = packetGuard(this.o.config.maxPacketBytes);
    const conn = guardedConnection(socket, guard);
    this.addresses.set(conn, socket.remoteAddress ?? "unknown");
    socket.pipe(guard);
    guard.on("error", (err) => {
      socket.destroy();
      // the guard's own verdicts are counted here; the parser's errors reach clientError
      if (!(err instanceof PacketTooLarge || err instanceof MalformedLength)) return;
      if (err instanceof PacketTooLarge) this.counters.tooLarge++;
      else this.counters.malformed++;
      this.refusalLog("too-large", `MQTT: client at ${socket.remoteAddress ?? "?"} disconnected: ${err.message}`);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.sockets.delete(socket);
      conn.destroy();
    });
    conn.on("error", () => undefined);
    aedes.handle(conn);
  }

  private async authenticate(client: Client, user: string | undefined, password: Buffer | undefined): Promise<AuthenticateError | null> {
    if (!this.o.serving()) {
      this.counters.refusedNotActive++;
      return authError(UNAVAILABLE, "this node is not the active: connect to the other node");
    }
    const from = this.addresses.get(client.conn) ?? "unknown";
    if (user === undefined || user === "") {
      if (!this.o.config.allowAnonymous) {
        this.counters.refusedLogin++;
        return authError(NOT_AUTHORIZED, "a user name and password are needed (mqtt.allowAnonymous is off)");
      }
      this.actors.set(client, { user: "(anonymous)", role: "viewer", from });
      return null;
    }
    const pw = password?.toString("utf8") ?? "";
    const auth = this.o.authenticator;
    const remembered = auth.remembered(user, pw, from);
    // Credentials verified a moment ago, or being checked right now, cost no
    // scrypt run and guess nothing new: they skip the brute-force limits, so a
    // hundred clients of one login reconnecting at a takeover all get in at
    // once. Anything else is admitted by the limits, as on the HTTP API.
    const free = remembered !== null || auth.pending(user, pw);
    const admission = free ? null : this.o.limits.admit(from, user, true);
    if (admission && !admission.ok) {
      this.counters.refusedLogin++;
      this.refusalLog("throttled", `MQTT: login of '${user}' from ${from} refused for now (too many attempts: ${admission.limit} limit)`);
      return authError(BAD_LOGIN, "too many login attempts: try again later");
    }
    const actor = remembered ?? (await auth.check(user, pw, from));
    if (!actor) {
      if (admission) this.o.limits.failed(admission.ticket);
      this.counters.refusedLogin++;
      this.refusalLog("login", `MQTT: login of '${user}' from ${from} refused: wrong user name or password`);
      return authError(BAD_LOGIN, "wrong user name or password");
    }
    if (admission) this.o.limits.succeeded(admission.ticket);
    // the role may have moved on while the password was checked
    if (!this.o.serving()) {
      this.counters.refusedNotActive++;
      return authError(UNAVAILABLE, "this node is not the active: connect to the other node");
    }
    this.actors.set(client, actor);
    const key = auth.keyOf(user, pw);
    if (key) this.loginKeys.set(client, key);
    this.o.onLogin?.();
    return null;
  }

  /** the remembered-login keys of the clients logged in now, each once (shared with the standby) */
  loginKeysNow(): string[] {
    const aedes = this.aedes;
    if (!aedes) return [];
    const out = new Set<string>();
    for (const c of Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)) {
      const k = this.loginKeys.get(c);
      if (k) out.add(k);
    }
    return [...out];
  }

  private authorizePublish(client: Client | null, packet: PublishPacket): Error | null {
    if (!client) return null;
    const actor = this.actors.get(client);
    const problem = !actor ? "not logged in" : (topicProblem(packet.topic, this.o.config.maxTopicLength) ?? publishProblem(this.o.prefix, actor.role, packet.topic));
    if (!problem) return null;
    this.counters.refusedTopic++;
    this.refusalLog("publish", `MQTT: publish to ${JSON.stringify(packet.topic.slice(0, 120))} by '${actor?.user ?? "?"}' refused (${problem}); the client is disconnected`);
    return new Error(problem);
  }

  private authorizeSubscribe(client: Client, sub: Subscription): string | null {
    const problem = topicProblem(sub.topic, this.o.config.maxTopicLength) ?? subscribeProblem(this.o.prefix, sub.topic);
    if (problem) {
      this.counters.refusedTopic++;
      this.refusalLog("subscribe", `MQTT: subscription to ${JSON.stringify(sub.topic.slice(0, 120))} by '${this.actors.get(client)?.user ?? "?"}' refused (${problem})`);
    }
    return problem;
  }

  private clientError(client: Client, err: Error): void {
    const msg = err.message ?? String(err);
    // a client that went away (closed, reset, or closed by us): nothing to report
    const code = (err as NodeJS.ErrnoException).code;
    if (err.name === "AbortError" || code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE") return;
    if (/invalid|malformed|unknown|cannot parse|header flag|protocol/i.test(msg)) this.counters.malformed++;
    this.refusalLog("client-error", `MQTT: client ${client?.id ?? "?"} at ${this.addresses.get(client?.conn) ?? "?"} disconnected: ${msg}`);
  }

  /** each kind of refusal is logged at most once a second: a flood must not fill the log */
  private refusalLog(kind: string, line: string): void {
    const now = Date.now();
    if (now - (this.lastRefusalLog.get(kind) ?? -Infinity) < 1000) return;
    this.lastRefusalLog.set(kind, now);
    this.o.log.warn(`${line} (more of these within a second are counted, not logged)`);
  }
}
