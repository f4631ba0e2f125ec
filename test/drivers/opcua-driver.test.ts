// What is OPC UA's own, beyond the conformance suite every driver passes
// (conformance-*.test.ts), against node-opcua's own server (set up by the
// tests, not the simulator): with non-transparent redundancy the server with
// the highest ServiceLevel is used; browsing lists the variables as tags.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driversSection, type OpcuaDeviceConfig } from "../../drivers/config-schema.js";
import { asYaml } from "../../drivers/browse-cli.js";
import { browseVariables, OpcuaDriver, opcuaTag } from "../../drivers/opcua-driver.js";
import type { TagSample } from "../../drivers/tag-model.js";
import { freePort, log, openGate, tempDir, waitFor } from "./helpers.js";
import { bareServer, OPCUA_TYPES, type BareServer } from "./opcua-server.js";

describe("opcua driver against node-opcua's server", () => {
  const tmp = tempDir();
  let s1: BareServer;
  let s2: BareServer;
  const drivers: OpcuaDriver[] = [];
  beforeAll(async () => {
    [s1, s2] = await Promise.all([bareServer(`${tmp.dir}/s1`, await freePort()), bareServer(`${tmp.dir}/s2`, await freePort())]);
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
    const d = new OpcuaDriver({ device: dev, tags: cfg.tags.map((t) => opcuaTag(t, dev, cfg.scanMs)), onSample: (n, s) => samples.set(n, s), log, gate: openGate, pkiDir: `${tmp.dir}/client-pki` });
    drivers.push(d);
    d.setMode("read");
    return { d, v: (n: string) => samples.get(n) };
  }

  it("browse lists every variable with its type and access, ready to paste as tags", async () => {
    const vars = await browseVariables({ endpoint: s1.url, pkiDir: `${tmp.dir}/client-pki` });
    expect(vars.filter((x) => x.path.startsWith("T.")).map((x) => x.nodeId)).toContain("ns=1;s=T.Double");
    expect(vars.find((x) => x.nodeId === "ns=1;s=T.Double")).toMatchObject({ dataType: "Double", writable: true });
    // the browse output, pasted as tags, is a valid drivers section
    const yaml = asYaml(vars.filter((x) => x.path.startsWith("T.")), "ua");
    const { parse } = await import("yaml");
    const again = driversSection.parse({ devices: [{ name: "ua", driver: "opcua", endpoints: [s1.url] }], tags: parse(yaml) });
    expect(again.tags).toHaveLength(OPCUA_TYPES.length);
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
