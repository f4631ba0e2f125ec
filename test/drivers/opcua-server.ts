// node-opcua's own server, set up by the tests (not the simulator): one
// variable per built-in type under Objects (ns=1;s=T.<Type>), and the
// ServiceLevel as a switch, for the OPC UA driver tests and the conformance suite.
import { DataType, OPCUACertificateManager, OPCUAServer, StatusCodes, Variant, VariantArrayType, type UAVariable } from "node-opcua";

export const OPCUA_TYPES = [
  DataType.Boolean,
  DataType.SByte,
  DataType.Byte,
  DataType.Int16,
  DataType.UInt16,
  DataType.Int32,
  DataType.UInt32,
  DataType.Int64,
  DataType.UInt64,
  DataType.Float,
  DataType.Double,
  DataType.String,
] as const;

export interface BareServer {
  server: OPCUAServer;
  url: string;
  port: number;
  level: { value: number };
  /** the variables' values, by id (T.Double …), as the server holds them */
  values: Map<string, Variant>;
  /** value writes the server accepted */
  writes: number;
  /** client sessions open now */
  sessions(): number;
  stop(): Promise<void>;
}

const INITIAL: Record<string, unknown> = { Boolean: false, String: "", Int64: [0, 0], UInt64: [0, 0] };

export async function bareServer(dir: string, port: number, values = new Map<string, Variant>()): Promise<BareServer> {
  const pki = new OPCUACertificateManager({ rootFolder: `${dir}/pki`, automaticallyAcceptUnknownCertificate: true });
  await pki.initialize();
  const server = new OPCUAServer({ port, hostname: "127.0.0.1", serverCertificateManager: pki, allowAnonymous: true });
  await server.initialize();
  const as = server.engine.addressSpace!;
  const ns = as.getOwnNamespace();
  const out = { writes: 0 };
  for (const dt of OPCUA_TYPES) {
    const id = `T.${DataType[dt]}`;
    if (!values.has(id)) values.set(id, new Variant({ dataType: dt, arrayType: VariantArrayType.Scalar, value: INITIAL[DataType[dt]] ?? 0 }));
    ns.addVariable({
      organizedBy: as.rootFolder.objects,
      browseName: id,
      nodeId: `s=${id}`,
      dataType: DataType[dt] as string,
      minimumSamplingInterval: 50,
      accessLevel: "CurrentRead | CurrentWrite",
      userAccessLevel: "CurrentRead | CurrentWrite",
      value: {
        get: () => values.get(id)!,
        set: (v: Variant) => {
          out.writes++;
          values.set(id, v);
          return StatusCodes.Good;
        },
      },
    });
  }
  const level = { value: 255 };
  (as.findNode("i=2267") as UAVariable).bindVariable({ get: () => new Variant({ dataType: DataType.Byte, value: level.value }) }, true);
  await server.start();
  return {
    server,
    url: `opc.tcp://127.0.0.1:${port}`,
    port,
    level,
    values,
    get writes() {
      return out.writes;
    },
    sessions: () => server.currentSessionCount,
    stop: async () => {
      await server.shutdown(0);
      await pki.dispose();
    },
  };
}
