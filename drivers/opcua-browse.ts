// Lists an OPC UA server's variables (`tandem browse`, drivers/browse-cli.ts).
import path from "node:path";
import { AttributeIds, BrowseDirection, DataType, NodeClass, OPCUACertificateManager } from "node-opcua";
import { createClient, identity, type SECURITY_MODE, type SECURITY_POLICY } from "./opcua-client.js";

export interface BrowsedVariable {
  nodeId: string;
  path: string;
  dataType: string;
  writable: boolean;
}

/**
 * Lists a server's variables under Objects (for `tandem` to offer tags).
 * Stops after maxNodes; skips the standard Server object.
 */
export async function browseVariables(opts: {
  endpoint: string;
  pkiDir: string;
  securityMode?: keyof typeof SECURITY_MODE;
  securityPolicy?: keyof typeof SECURITY_POLICY;
  username?: string;
  password?: string;
  maxNodes?: number;
  trustUnknownServerCertificate?: boolean;
}): Promise<BrowsedVariable[]> {
  const pki = new OPCUACertificateManager({ rootFolder: path.resolve(opts.pkiDir), automaticallyAcceptUnknownCertificate: opts.trustUnknownServerCertificate ?? false });
  await pki.initialize();
  const client = createClient({ securityMode: opts.securityMode ?? "None", ...(opts.securityPolicy ? { securityPolicy: opts.securityPolicy } : {}), pki });
  const max = opts.maxNodes ?? 10_000;
  const out: BrowsedVariable[] = [];
  try {
    await client.connect(opts.endpoint);
    const session = await client.createSession(identity(opts.username, opts.password));
    try {
      const seen = new Set<string>();
      const queue: { nodeId: string; path: string }[] = [{ nodeId: "i=85", path: "" }];
      while (queue.length && out.length < max) {
        const cur = queue.shift()!;
        const r = await session.browse({ nodeId: cur.nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: "HierarchicalReferences", includeSubtypes: true, resultMask: 63 });
        for (const ref of r.references ?? []) {
          const id = ref.nodeId.toString();
          if (seen.has(id) || id === "i=2253") continue; // the Server object is not plant data
          seen.add(id);
          const p = cur.path ? `${cur.path}.${ref.browseName.name}` : String(ref.browseName.name);
          if (ref.nodeClass === NodeClass.Variable) {
            const [dt, al] = await session.read([
              { nodeId: id, attributeId: AttributeIds.DataType },
              { nodeId: id, attributeId: AttributeIds.UserAccessLevel },
            ]);
            const dtId = dt?.value?.value as { value?: number } | undefined;
            out.push({ nodeId: id, path: p, dataType: DataType[Number(dtId?.value ?? 0)] ?? String(dtId), writable: (Number(al?.value?.value ?? 0) & 2) !== 0 });
            if (out.length >= max) break;
          }
          if (ref.nodeClass === NodeClass.Object || ref.nodeClass === NodeClass.Variable) queue.push({ nodeId: id, path: p });
        }
      }
    } finally {
      await session.close().catch(() => {});
    }
  } finally {
    await client.disconnect().catch(() => {});
    await pki.dispose().catch(() => {});
  }
  return out;
}
