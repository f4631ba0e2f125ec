// The simulator's OPC UA server (node-opcua). Variables under Objects/Plant,
// string node ids in namespace 1 (ns=1;s=Plant.Tank1.Level …), all with a
// minimumSamplingInterval so clients may sample as fast as 100 ms. Security:
// None, Sign and SignAndEncrypt (Basic256Sha256), anonymous or
// username/password (sim/sim). The server's ServiceLevel (i=2267) is a fault
// switch, for clients that pick the best of a non-transparent redundant set.
import type net from "node:net";
import path from "node:path";
import {
  AttributeIds,
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  Variant,
  WriteRequest,
  type UAVariable,
  type Namespace,
  type UAObject,
} from "node-opcua";
import type { PlantAccess } from "./modbus-sim.js";
import { peerAddress, type WriteWitness } from "./write-log.js";

const EPOCH_NODE = "ns=1;s=Plant.Watchdog.Epoch";

export interface OpcuaFaults {
  /** the value of Server.ServiceLevel (0–255) */
  serviceLevel: number;
}

interface VarSpec {
  id: string;
  type: DataType;
  get: () => unknown;
  set?: (v: unknown) => string | null;
}

export class OpcuaSim {
  readonly faults: OpcuaFaults = { serviceLevel: 255 };
  /** value writes received */
  writes = 0;
  private server: OPCUAServer | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly plant: PlantAccess,
    private readonly opts: { dataDir: string; benchItems?: number; users?: Record<string, string>; witness?: WriteWitness },
  ) {}

  get endpointUrl(): string {
    return this.server?.getEndpointUrl() ?? "";
  }

  async start(host: string, port: number): Promise<void> {
    const pki = new OPCUACertificateManager({ rootFolder: path.join(this.opts.dataDir, "pki"), automaticallyAcceptUnknownCertificate: true });
    await pki.initialize();
    const users = this.opts.users ?? { sim: "sim" };
    const server = new OPCUAServer({
      port,
      hostname: host,
      alternateHostname: host,
      serverCertificateManager: pki,
      userCertificateManager: pki,
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      allowAnonymous: true,
      userManager: { isValidUser: (u: string, p: string) => users[u] === p },
      buildInfo: { productName: "Tandem plant simulator", manufacturerName: "Tandem" },
      serverInfo: { applicationUri: `urn:tandem:sim:${host}:${port}`, productUri: "urn:tandem:sim" },
      maxConnectionsPerEndpoint: 100,
      serverCapabilities: { maxSessions: 100 },
    } as ConstructorParameters<typeof OPCUAServer>[0] & { userCertificateManager: OPCUACertificateManager });
    await server.initialize();
    const witness = this.opts.witness;
    if (witness) server.on("request", (req, channel) => this.logWrites(witness, req, channel));
    const addressSpace = server.engine.addressSpace!;
    const ns = addressSpace.getOwnNamespace();
    const plantFolder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: "Plant", nodeId: "s=Plant" });
    const folders = new Map<string, UAObject>();
    const folder = (name: string) => {
      let f = folders.get(name);
      if (!f) {
        f = ns.addFolder(plantFolder, { browseName: name, nodeId: `s=Plant.${name}` }) as unknown as UAObject;
        folders.set(name, f);
      }
      return f;
    };
    const p = () => this.plant.get();
    const specs: VarSpec[] = [
      { id: "Tank1.Level", type: DataType.Double, get: () => p().tank1Level },
      { id: "Tank2.Level", type: DataType.Double, get: () => p().tank2Level },
      { id: "Tank1.InletValve", type: DataType.Double, get: () => p().inletValve, set: (v) => this.plant.apply({ kind: "inletValve", value: Number(v) }) },
      { id: "Pump1.Run", type: DataType.Boolean, get: () => p().pumpRun, set: (v) => this.plant.apply({ kind: "pumpRun", value: Boolean(v) }) },
      { id: "Reactor.Temperature", type: DataType.Double, get: () => p().reactorTemp },
      { id: "Reactor.Setpoint", type: DataType.Double, get: () => p().reactorSetpoint, set: (v) => this.plant.apply({ kind: "reactorSetpoint", value: Number(v) }) },
      { id: "Reactor.HeaterEnable", type: DataType.Boolean, get: () => p().heaterEnable, set: (v) => this.plant.apply({ kind: "heaterEnable", value: Boolean(v) }) },
      { id: "Batch.Step", type: DataType.UInt16, get: () => p().batchStep, set: (v) => this.plant.apply({ kind: "batchStep", value: Number(v) }) },
      { id: "Batch.Count", type: DataType.UInt32, get: () => p().batchCount },
      { id: "Batch.Name", type: DataType.String, get: () => p().batchName },
      { id: "Ambient.Temperature", type: DataType.Double, get: () => p().ambientTemp },
      // watchdog / fence words for a pair configured with an OPC UA watchdog
      { id: "Watchdog.Counter", type: DataType.UInt32, get: () => p().memory[900]! | (p().memory[901]! << 16), set: (v) => this.setWord(900, Number(v)) },
      { id: "Watchdog.Epoch", type: DataType.UInt32, get: () => p().memory[902]! | (p().memory[903]! << 16), set: (v) => this.setWord(902, Number(v)) },
    ];
    for (const s of specs) this.addVar(ns, folder(s.id.split(".")[0]!), s);
    const n = this.opts.benchItems ?? 0;
    if (n > 0) {
      // Values that change every plant tick (100 ms): for the 10,000-monitored-item
      // benchmark, so every 1 s sample carries a change and the expected rate is exact.
      const bench = folder("Bench");
      for (let i = 0; i < n; i++) {
        const id = `Bench.V${i}`;
        this.addVar(ns, bench, { id, type: DataType.Double, get: () => Math.floor(p().t / 100) + i });
      }
    }
    const serviceLevel = addressSpace.findNode("i=2267") as UAVariable | null;
    serviceLevel?.bindVariable({ get: () => new Variant({ dataType: DataType.Byte, value: this.faults.serviceLevel }) }, true);
    await server.start();
    this.server = server;
    // Keep our own list of client sockets: node-opcua's killClientSockets
    // does not reach the sockets of this version's transports.
    for (const ep of server.endpoints) {
      const tcp = (ep as unknown as { _server?: net.Server })._server;
      tcp?.on("connection", (sock: net.Socket) => {
        this.sockets.add(sock);
        sock.once("close", () => this.sockets.delete(sock));
      });
    }
  }

  /**
   * The write log, OPC UA side: node-opcua announces each request with its
   * secure channel before handling it, so a write is logged before it is
   * applied, refused ones included. The epoch comes from the address only
   * (sessions outlive channels); the watchdog's epoch node sets it. Node ids
   * are logged as the client sent them: a client using RegisterNodes would
   * show its alias (Tandem's driver does not register nodes).
   */
  private logWrites(w: WriteWitness, req: unknown, channel: { remoteAddress: string; remotePort: number; channelId: number }): void {
    if (!(req instanceof WriteRequest)) return;
    const at = Date.now();
    try {
      const from = peerAddress(channel.remoteAddress);
      for (const n of req.nodesToWrite ?? []) {
        if (n.attributeId !== AttributeIds.Value) continue; // other attributes do not move the plant (and are refused here)
        const node = n.nodeId.toString();
        const value = n.value?.value?.value as unknown;
        if (node === EPOCH_NODE && Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff) w.epochs.setForAddress(from, value as number);
        w.file.append({ at, from, port: channel.remotePort, conn: channel.channelId, values: [plain(value)], epoch: w.epochs.forAddress(from), proto: "opcua", node });
      }
    } catch {
      // a request this cannot read is the server's to refuse; the log must never break the server
    }
  }

  private setWord(at: number, v: number): string | null {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return `expected UInt32, got ${v}`;
    const m = this.plant.get().memory;
    m[at] = v & 0xffff;
    m[at + 1] = (v >>> 16) & 0xffff;
    return null;
  }

  private addVar(ns: Namespace, parent: UAObject, s: VarSpec): void {
    ns.addVariable({
      componentOf: parent,
      browseName: s.id.split(".").slice(1).join(".") || s.id,
      nodeId: `s=Plant.${s.id}`,
      dataType: DataType[s.type] as string,
      minimumSamplingInterval: 100,
      accessLevel: s.set ? "CurrentRead | CurrentWrite" : "CurrentRead",
      userAccessLevel: s.set ? "CurrentRead | CurrentWrite" : "CurrentRead",
      value: {
        get: () => new Variant({ dataType: s.type, value: s.get() }),
        ...(s.set
          ? {
              set: (variant: Variant) => {
                this.writes++;
                if (this.opts.witness?.file.failed) return StatusCodes.BadInternalError; // never a write the log did not record
                const reason = s.set!(variant.value);
                return reason ? StatusCodes.BadOutOfRange : StatusCodes.Good;
              },
            }
          : {}),
      },
    });
  }

  sessions(): number {
    return this.server?.currentSessionCount ?? 0;
  }

  /** Closes every client socket (sessions survive on the server until they time out, as with a real network cut). */
  async dropConnections(): Promise<void> {
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await s.shutdown(0);
  }
}

/** a written value as JSON can carry it (64-bit integers and byte strings as text) */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<unknown>, plain);
  return String(v);
}
