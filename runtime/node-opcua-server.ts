// The node's OPC UA server, composed (CONTRACT.md "OPC UA server",
// docs/opcua-server.md): the tag model from the drivers' config, values from
// the tag bus as they change, the ServiceLevel from the node's state and
// service level, and client writes through the node's own tag write (the
// pair's gate, the PLC fence, the audit log) — on the acting node only.
// Both nodes serve all the time: a SCADA client of a non-transparent
// redundant set reads both ServiceLevels and follows the highest.
import type { Logger } from "../core/logger.js";
import { TandemError } from "../core/errors.js";
import { isActiveState } from "../core/types.js";
import type { DriverManager } from "../drivers/manager.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import type { TandemConfig } from "./config/schema.js";
import { ROLE_RANK } from "./http/auth.js";
import type { Actor } from "./node-api.js";
import { uaServiceLevel, writeStatusOf } from "./opcua/mapping.js";
import { UaServer } from "./opcua/server.js";
import { knownStatus, TagSpace, type UaWriter } from "./opcua/tag-space.js";

/** how often the ServiceLevel is looked at between state changes (the node recomputes its level every 100 ms) */
const LEVEL_EVERY_MS = 200;

export interface NodeOpcuaOptions {
  config: TandemConfig;
  runtime: PairRuntime;
  drivers: () => DriverManager | null;
  /** an operator's tag write, audited, through the pair's gate (the node's writeTag) */
  writeTag: (actor: Actor, name: string, value: unknown) => Promise<{ name: string; value: unknown }>;
  log: Logger;
}

export interface OpcuaStatus {
  endpoint: string;
  serviceLevel: number;
  sessions: number;
}

export class NodeOpcuaServer {
  private readonly server: UaServer;
  private readonly tags: TagSpace;
  private readonly unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private endpoint = "";
  private level: number;

  constructor(private readonly o: NodeOpcuaOptions) {
    const c = o.config;
    const cfg = c.opcua?.server;
    if (!cfg) throw new Error("NodeOpcuaServer needs an opcua.server section");
    this.tags = new TagSpace({
      tags: c.drivers?.tags ?? [],
      devices: c.drivers?.devices ?? [],
      sourceType: (tag) => this.o.drivers()?.sourceType(tag),
      write: (who, tag, value) => this.write(who, tag, value),
    });
    this.level = this.uaLevel();
    this.server = new UaServer({
      config: cfg,
      pairId: c.pair.id,
      nodeId: c.node.id,
      peerId: c.peer.id,
      dataDir: c.node.dataDir,
      users: c.http.users,
      sessionTtlMs: c.http.sessionTtlMs,
      trustedAddresses: c.http.trustedAddresses,
      tags: this.tags,
      serviceLevel: this.level,
      log: o.log,
    });
  }

  private uaLevel(): number {
    const s = this.o.runtime.state;
    return uaServiceLevel(s.state, s.level);
  }

  /** The server and its address space, before the drivers start (node-opcua's nodeset load holds the event loop for a second or more). */
  async prepare(): Promise<void> {
    await this.server.prepare();
  }

  /** Listens, serves the tags' current values and follows the bus and the node's state (the drivers have started). */
  async listen(): Promise<void> {
    try {
      this.endpoint = await this.server.listen();
    } catch (err) {
      const l = this.o.config.opcua!.server!.listen;
      throw new Error(`OPC UA server (opcua.server.listen ${l.host}:${l.port}): ${(err as Error).message}`);
    }
    const drivers = this.o.drivers();
    // the current picture first (replay), then every change as the drivers publish it
    if (drivers) this.unsubscribe.push(drivers.bus.subscribe((t) => this.tags.update(t), { replay: true }));
    const rt = this.o.runtime;
    const onState = () => this.followLevel();
    rt.on("state", onState);
    this.unsubscribe.push(() => rt.off("state", onState));
    this.timer = setInterval(() => this.followLevel(), LEVEL_EVERY_MS);
    this.timer.unref();
    this.followLevel();
    this.o.log.info(`OPC UA server listening at ${this.endpoint} (ServiceLevel ${this.level}; writes are taken while this node is active)`);
  }

  private followLevel(): void {
    this.level = this.uaLevel();
    this.server.setServiceLevel(this.level);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const u of this.unsubscribe.splice(0)) u();
    await this.server.stop();
  }

  status(): OpcuaStatus {
    return { endpoint: this.endpoint, serviceLevel: this.level, sessions: this.server.sessions };
  }

  /**
   * A client's write: the operator role, then (as the MQTT broker) the
   * standby refuses at once without an audit line per attempt; the node's
   * tag write judges the rest and audits it. Resolves with a StatusCode name.
   */
  private async write(who: UaWriter, tag: string, value: unknown): Promise<string> {
    const role = this.server.roleOf(who.user);
    if (ROLE_RANK[role] < ROLE_RANK.operator) return "BadUserAccessDenied";
    if (!isActiveState(this.o.runtime.state.state)) return "BadInvalidState";
    try {
      await this.o.writeTag({ user: who.user ?? "(anonymous)", role, from: who.from }, tag, value);
      return "Good";
    } catch (err) {
      const code = err instanceof TandemError ? err.code : undefined;
      const status = writeStatusOf(code, (err as Error).message, knownStatus);
      this.o.log.info({ tag, user: who.user, from: who.from, status }, `OPC UA write to ${tag} refused: ${(err as Error).message}`);
      return status;
    }
  }
}

/** Builds the server, not listening yet (node.ts imports this file only when opcua.server is configured). */
export async function prepareOpcuaServer(o: NodeOpcuaOptions): Promise<NodeOpcuaServer> {
  const s = new NodeOpcuaServer(o);
  try {
    await s.prepare();
  } catch (err) {
    // an unreadable certificate folder, a broken nodeset: what did start is released before the node reports it
    await s.stop().catch(() => {});
    throw err;
  }
  return s;
}
