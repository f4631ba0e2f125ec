// The OPC UA driver against node-opcua's own server (set up here, not the
// simulator): every built-in type round-trips, the session is re-created with
// its monitored items after the server restarts, and with non-transparent
// redundancy the server with the highest ServiceLevel is used.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataType, OPCUACertificateManager, OPCUAServer, StatusCodes, Variant, VariantArrayType, type UAVariable } from "node-opcua";
import { driversSection, type OpcuaDeviceConfig } from "../../drivers/config-schema.js";
import { asYaml } from "../../drivers/browse-cli.js";
import { browseVariables, OpcuaDriver, opcuaTag } from "../../drivers/opcua-driver.js";
import type { TagSample } from "../../drivers/tag-model.js";
import { freePort, log, tempDir, waitFor } from "./helpers.js";

const TYPES: [DataType, unknown, unknown][] = [
  // type, initial, written (and expected back)
  [DataType.Boolean, false, true],
  [DataType.SByte, 0, -100],
  [DataType.Byte, 0, 200],
  [DataType.Int16, 0, -30000],
  [DataType.UInt16, 0, 65000],
  [DataType.Int32, 0, -2_000_000_000],
  [DataType.UInt32, 0, 4_000_000_000],
  [DataType.Int64, [0, 0], "-9007199254740993"],
  [DataType.UInt64, [0, 0], "18446744073709551615"],
  [DataType.Float, 0, 1.5],
  [DataType.Double, 0, Math.PI],
  [DataType.String, "", "batch-7"],
];

interface Bare {
  server: OPCUAServer;
  url: string;
  level: { value: number };
  stop(): Promise<void>;
}

async function bareServer(dir: string, port: number): Promise<Bare> {
  const pki = new OPCUACertificateManager({ rootFolder: `${dir}/pki`, automaticallyAcceptUnknownCertificate: true });
  await pki.initialize();
  const server = new OPCUAServer({ port, hostname: "127.0.0.1", serverCertificateManager: pki, allowAnonymous: true });
  await server.initialize();
  const as = server.engine.addressSpace!;
  const ns = as.getOwnNamespace();
  const values = new Map<string, Variant>();
  for (const [dt, init] of TYPES) {
    const id = `T.${DataType[dt]}`;
    values.set(id, new Variant({ dataType: dt, arrayType: VariantArrayType.Scalar, value: init }));
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
    level,
    stop: async () => {
      await server.shutdown(0);
      await pki.dispose();
    },
  };
}

describe("opcua driver against node-opcua's server", () => {
  const tmp = tempDir();
  let s1: Bare;
  let s2: Bare;
  let p1: number;
  const drivers: OpcuaDriver[] = [];
  beforeAll(async () => {
    p1 = await freePort();
    [s1, s2] = await Promise.all([bareServer(`${tmp.dir}/s1`, p1), bareServer(`${tmp.dir}/s2`, await freePort())]);
  });
  afterAll(async () => {
    for (const d of drivers) await d.stop();
    await s1?.stop();
    await s2?.stop();
    tmp.remove();
  });

  function start(device: Record<string, unknown>, tags: Record<string, unknown>[]) {
    const cfg = driversSection.parse({ devices: [{ name: "ua", driver: "opcua", publishingIntervalMs: 50, reconnect: { initialMs: 100, maxMs: 300 }, requestTimeoutMs: 2000, ...device }], tags: tags.map((t) => ({ device: "ua", scanMs: 50, ...t })) });
    const dev = cfg.devices[0] as OpcuaDeviceConfig;
    const samples = new Map<string, TagSample>();
    const history: { name: string; s: TagSample }[] = [];
    const d = new OpcuaDriver({
      device: dev,
      tags: cfg.tags.map((t) => opcuaTag(t, dev, cfg.scanMs)),
      onSample: (n, s) => {
        samples.set(n, s);
        history.push({ name: n, s });
      },
      log,
      pkiDir: `${tmp.dir}/client-pki`,
    });
    drivers.push(d);
    d.setMode("read");
    return { d, v: (n: string) => samples.get(n), history };
  }

  it("every built-in type round-trips (write, then read back through the subscription)", async () => {
    const { d, v } = start({ endpoints: [s1.url] }, TYPES.map(([dt]) => ({ name: `t.${DataType[dt]}`, nodeId: `ns=1;s=T.${DataType[dt]}`, writable: true })));
    await waitFor(() => TYPES.every(([dt]) => v(`t.${DataType[dt]}`)?.quality === "good"), "initial values", 10_000);
    for (const [dt, , w] of TYPES) await d.write(`t.${DataType[dt]}`, w);
    const expected = (dt: DataType, w: unknown) => (dt === DataType.Int64 || dt === DataType.UInt64 ? BigInt(w as string) : dt === DataType.Float ? Math.fround(w as number) : w);
    await waitFor(() => TYPES.every(([dt, , w]) => v(`t.${DataType[dt]}`)?.value === expected(dt, w)), "written values read back", 5000).catch((e) => {
      throw new Error(`${(e as Error).message}: ${TYPES.map(([dt]) => `${DataType[dt]}=${String(v(`t.${DataType[dt]}`)?.value)}`).join(" ")}`);
    });
    await expect(d.write("t.Byte", 256)).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_VALUE", message: /out of range for Byte/ });
    await expect(d.write("t.Boolean", "maybe")).rejects.toMatchObject({ code: "TANDEM_ERR_TAG_VALUE" });
    const vars = await browseVariables({ endpoint: s1.url, pkiDir: `${tmp.dir}/client-pki` });
    expect(vars.filter((x) => x.path.startsWith("T.")).map((x) => x.nodeId)).toContain("ns=1;s=T.Double");
    expect(vars.find((x) => x.nodeId === "ns=1;s=T.Double")).toMatchObject({ dataType: "Double", writable: true });
    // the browse output, pasted as tags, is a valid drivers section
    const yaml = asYaml(vars.filter((x) => x.path.startsWith("T.")), "ua");
    const { parse } = await import("yaml");
    const again = driversSection.parse({ devices: [{ name: "ua", driver: "opcua", endpoints: [s1.url] }], tags: parse(yaml) });
    expect(again.tags).toHaveLength(TYPES.length);
    await d.stop();
  });

  it("server restart: tags bad at once, session and monitored items re-created, good again", async () => {
    const { d, v, history } = start({ endpoints: [s1.url] }, [{ name: "r.d", nodeId: "ns=1;s=T.Double" }]);
    await waitFor(() => v("r.d")?.quality === "good", "good", 10_000);
    const t0 = Date.now();
    await s1.stop();
    await waitFor(() => history.some((h) => h.s.receivedAt >= t0 && h.s.quality === "bad"), "bad after the server went away", 3000);
    expect(v("r.d")).toMatchObject({ quality: "bad", reason: "comm_lost" });
    s1 = await bareServer(`${tmp.dir}/s1`, p1);
    await waitFor(() => v("r.d")?.quality === "good", "good after the server came back", 10_000);
    expect(d.status().reconnects).toBeGreaterThanOrEqual(1);
    await d.stop();
  });

  it("non-transparent redundancy: reads ServiceLevel of every server and uses the highest", async () => {
    s1.level.value = 100;
    s2.level.value = 200;
    const { d, v } = start({ endpoints: [s1.url, s2.url], redundancy: "non-transparent", serviceLevelPollMs: 200 }, [{ name: "n.d", nodeId: "ns=1;s=T.Double" }]);
    await waitFor(() => v("n.d")?.quality === "good", "good", 10_000);
    expect(d.status().path).toBe(s2.url);
    s1.level.value = 250;
    s2.level.value = 50;
    await waitFor(() => d.status().path === s1.url && v("n.d")?.quality === "good", "moved to the better server", 10_000);
    expect(d.status().endpoints).toEqual([
      { endpoint: s1.url, connected: true, serviceLevel: 250 },
      { endpoint: s2.url, connected: false, serviceLevel: 50 },
    ]);
    await d.stop();
  });
});
