// The node's OPC UA server as a transport (node-opcua): its certificate in
// the node's data dir, the endpoints of the configured security modes, the
// logins of http.users (scrypt hashes, the same brute-force limits as the
// HTTP API and MQTT) with their OPC UA roles, and the Server object's
// non-transparent redundancy information (Part 4 §6.6.2.4.5):
// RedundancySupport Hot, the ServerUriArray of both nodes, and a
// ServiceLevel the node sets as its state and level move.
import type net from "node:net";
import path from "node:path";
import {
  DataType,
  MessageSecurityMode,
  ObjectIds,
  OPCUACertificateManager,
  OPCUAServer,
  resolveNodeId,
  SecurityPolicy,
  VariantArrayType,
  type ServerSession,
  type UAObject,
  type UAVariable,
} from "node-opcua";
import type { Logger } from "../../core/logger.js";
import type { Role } from "../../core/types.js";
import { Authenticator, type HttpUser } from "../http/auth.js";
import { LoginLimits } from "../http/login-limits.js";
import type { OpcuaServerConfig } from "./config-schema.js";
import { applicationUri, uaRolesOf } from "./mapping.js";
import type { TagSpace } from "./tag-space.js";

/** RedundancySupport (Part 5 enum): Hot: both servers run and read the plant; the client picks by ServiceLevel */
const REDUNDANCY_HOT = 2;
const SERVICE_LEVEL = "i=2267";
const SERVER_REDUNDANCY = "i=2296";
const REDUNDANCY_SUPPORT = "i=3709";
const SERVER_URI_ARRAY = "i=11314";
const SERVER_REDUNDANCY_TYPE = "i=2034";
const NON_TRANSPARENT_REDUNDANCY_TYPE = "i=2039";

export interface UaServerOptions {
  config: OpcuaServerConfig;
  pairId: string;
  nodeId: string;
  peerId: string;
  dataDir: string;
  users: readonly HttpUser[];
  sessionTtlMs: number;
  trustedAddresses: readonly string[];
  tags: TagSpace;
  /** the ServiceLevel served until the first setServiceLevel */
  serviceLevel: number;
  log: Logger;
}

export class UaServer {
  private server: OPCUAServer | null = null;
  private pki: OPCUACertificateManager | null = null;
  private userPki: OPCUACertificateManager | null = null;
  private serviceLevel: UAVariable | null = null;
  private level: number;
  private readonly sockets = new Set<net.Socket>();
  private readonly auth: Authenticator;
  private readonly limits: LoginLimits;
  private readonly roles = new Map<string, Role>();
  /** logins refused so far (wrong password or throttled) */
  refusedLogins = 0;

  constructor(private readonly o: UaServerOptions) {
    this.level = o.serviceLevel;
    for (const u of o.users) this.roles.set(u.name, u.role);
    this.auth = new Authenticator({ users: [...o.users], sessionTtlMs: o.sessionTtlMs });
    this.limits = new LoginLimits({ trusted: [...o.trustedAddresses] }, o.users.map((u) => u.name));
  }

  /**
   * Creates the server and builds its address space, not listening yet:
   * node-opcua loads the standard nodeset here, a second or more with the
   * event loop held, so the node does it before its drivers start.
   */
  async prepare(): Promise<void> {
    const o = this.o;
    const cfg = o.config;
    const root = path.join(o.dataDir, "pki", "opcua-server");
    const pki = new OPCUACertificateManager({ rootFolder: root, automaticallyAcceptUnknownCertificate: cfg.trustUnknownClientCertificates });
    this.pki = pki;
    await pki.initialize();
    // X509 user certificates are no login here (the users are http.users): their own store trusts none, whatever
    // trustUnknownClientCertificates says of application certificates
    const userPki = new OPCUACertificateManager({ rootFolder: path.join(o.dataDir, "pki", "opcua-users"), automaticallyAcceptUnknownCertificate: false });
    this.userPki = userPki;
    await userPki.initialize();
    const uri = applicationUri(o.pairId, o.nodeId);
    const modes = cfg.securityModes.map((m) => MessageSecurityMode[m]);
    const signed = cfg.securityModes.some((m) => m !== "None");
    const host = cfg.listen.host;
    const anyHost = host === "0.0.0.0" || host === "::";
    const self = this;
    const server = new OPCUAServer({
      port: cfg.listen.port,
      host,
      // the name in the endpoint URLs: the address listened on, or (every interface) the machine's name
      ...(anyHost ? {} : { hostname: host, alternateHostname: host }),
      serverCertificateManager: pki,
      userCertificateManager: userPki,
      // one certificate per application URI: a node renamed (or moved to another pair) gets a new one that matches
      certificateFile: path.join(root, "own", "certs", `tandem-${o.pairId}-${o.nodeId}.pem`),
      securityModes: modes,
      securityPolicies: [
        ...(cfg.securityModes.includes("None") ? [SecurityPolicy.None] : []),
        ...(signed ? [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss] : []),
      ],
      allowAnonymous: cfg.allowAnonymous,
      userManager: {
        isValidUserAsync(this: ServerSession, user: string, password: string, callback: (err: Error | null, ok?: boolean) => void) {
          const from = (this.channel as { remoteAddress?: string } | undefined)?.remoteAddress ?? "unknown";
          self.login(user, password, from).then(
            (ok) => callback(null, ok),
            () => callback(null, false),
          );
        },
        getUserRoles: (user: string) => (this.roles.has(user) ? uaRolesOf(this.roles.get(user)!).map((r) => resolveNodeId(ObjectIds[`WellKnownRole_${r}`])) : []),
      },
      buildInfo: { productName: "Tandem", manufacturerName: "Tandem", productUri: "urn:tandem" },
      serverInfo: { applicationUri: uri, productUri: "urn:tandem", applicationName: { text: `Tandem ${o.pairId} node ${o.nodeId}` } },
      maxConnectionsPerEndpoint: cfg.maxSessions,
      serverCapabilities: { maxSessions: cfg.maxSessions },
    } as ConstructorParameters<typeof OPCUAServer>[0] & { userCertificateManager: OPCUACertificateManager });
    this.server = server;
    await server.initialize();
    const addressSpace = server.engine.addressSpace!;
    o.tags.build(addressSpace, addressSpace.getOwnNamespace());
    this.redundancy(uri, applicationUri(o.pairId, o.peerId));
  }

  /** Listens; resolves with the endpoint URL. */
  async listen(): Promise<string> {
    const server = this.server;
    if (!server) throw new Error("the OPC UA server was not prepared");
    await server.start();
    // node-opcua's own socket cleanup at shutdown does not reach every client socket (drivers/simulator/opcua-sim.ts): ours does
    for (const ep of server.endpoints) {
      const tcp = (ep as unknown as { _server?: net.Server })._server;
      tcp?.on("connection", (sock: net.Socket) => {
        this.sockets.add(sock);
        sock.once("close", () => this.sockets.delete(sock));
      });
    }
    return server.getEndpointUrl();
  }

  /** The Server object's redundancy: Hot, both nodes' URIs, and a ServiceLevel set from the node's state (not the library's constant 255). */
  private redundancy(mine: string, peer: string): void {
    const as = this.server!.engine.addressSpace!;
    const redundancy = as.findNode(SERVER_REDUNDANCY) as UAObject;
    (as.findNode(REDUNDANCY_SUPPORT) as UAVariable).bindVariable({ dataType: DataType.Int32, value: REDUNDANCY_HOT }, true);
    // the Server's ServerRedundancy is a NonTransparentRedundancyType, which adds ServerUriArray
    redundancy.removeReference({ referenceType: "HasTypeDefinition", nodeId: SERVER_REDUNDANCY_TYPE, isForward: true });
    redundancy.addReference({ referenceType: "HasTypeDefinition", nodeId: NON_TRANSPARENT_REDUNDANCY_TYPE, isForward: true });
    const value = { dataType: DataType.String, arrayType: VariantArrayType.Array, value: [mine, peer].sort() };
    let uris = as.findNode(SERVER_URI_ARRAY) as UAVariable | null;
    if (uris) {
      // the standard nodeset declares it without a parent: it becomes the redundancy object's property
      redundancy.addReference({ referenceType: "HasProperty", nodeId: uris.nodeId, isForward: true });
      uris.bindVariable(value, true);
    } else {
      uris = as.getDefaultNamespace().addVariable({
        propertyOf: redundancy,
        browseName: { name: "ServerUriArray", namespaceIndex: 0 },
        nodeId: SERVER_URI_ARRAY,
        typeDefinition: "PropertyType",
        dataType: "String",
        valueRank: 1,
        accessLevel: "CurrentRead",
        value,
      });
    }
    this.serviceLevel = as.findNode(SERVICE_LEVEL) as UAVariable;
    this.serviceLevel.bindVariable({ dataType: DataType.Byte, value: this.level }, true);
  }

  /** The ServiceLevel (0–255) clients see; subscriptions are told when it changes. */
  setServiceLevel(level: number): void {
    if (level === this.level) return;
    this.level = level;
    this.serviceLevel?.setValueFromSource({ dataType: DataType.Byte, value: level });
  }

  get sessions(): number {
    return this.server?.currentSessionCount ?? 0;
  }

  /**
   * A user name and password: remembered ones and ones being checked cost
   * no scrypt run and skip the limits (many clients of one login coming at
   * once after a takeover); anything else passes the brute-force limits
   * first, as on the HTTP API and MQTT.
   */
  private async login(user: string, password: string, from: string): Promise<boolean> {
    const remembered = this.auth.remembered(user, password, from);
    const free = remembered !== null || this.auth.pending(user, password);
    const admission = free ? null : this.limits.admit(from, user, true);
    if (admission && !admission.ok) {
      this.refusedLogins++;
      this.o.log.warn(`OPC UA: login of '${user}' from ${from} refused for now (too many attempts: ${admission.limit} limit)`);
      return false;
    }
    const actor = remembered ?? (await this.auth.check(user, password, from));
    if (!actor) {
      if (admission) this.limits.failed(admission.ticket);
      this.refusedLogins++;
      this.o.log.warn(`OPC UA: login of '${user}' from ${from} refused: wrong user name or password`);
      return false;
    }
    if (admission) this.limits.succeeded(admission.ticket);
    return true;
  }

  /** The role of a session's user name; viewer for anyone else (anonymous: read only). */
  roleOf(user: string | null): Role {
    return (user !== null && this.roles.get(user)) || "viewer";
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    this.serviceLevel = null;
    if (s) await s.shutdown(0).catch((err: Error) => this.o.log.warn({ err }, `OPC UA server shutdown: ${err.message}`));
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    for (const p of [this.pki, this.userPki]) await p?.dispose().catch(() => {});
    this.pki = this.userPki = null;
    this.auth.close();
  }
}
