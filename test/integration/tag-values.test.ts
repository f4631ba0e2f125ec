// Value rules through the HTTP API of a running pair (docs/drivers.md, "Value
// rules"): POST /api/v1/tags/:name answers with the value as written to the
// PLC, which GET then shows; a 64-bit integer is a decimal string in GET
// /tags/:name and GET /tags; junk is refused 400 naming the tag, the type and
// what was given. The PLCs are ones Tandem did not write — Debian's pymodbus
// and node-opcua's own server — and they count the writes they received.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataType, Variant, VariantArrayType } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";
import { startPymodbus, waitFor, type Pymodbus } from "../drivers/helpers.js";
import { bareServer, type BareServer } from "../drivers/opcua-server.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-values-"));
let modbus: Pymodbus;
let opcua: BareServer;

beforeAll(async () => {
  modbus = await startPymodbus();
  opcua = await bareServer(dir, await freePort());
});

afterAll(async () => {
  await modbus?.stop();
  await opcua?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const drivers = () => `drivers:
  scanMs: 100
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${modbus.port}"], unitId: 1, standby: hot }
    - { name: ua, driver: opcua, endpoints: ["${opcua.url}"], securityMode: None, standby: hot }
  tags:
    - { name: level, device: plc, address: "hr:20", type: float32, writable: true }
    - { name: counts, device: plc, address: "hr:22", type: int16, writable: true, scaling: { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 } }
    - { name: total, device: plc, address: "hr:24", type: uint64, writable: true }
    - { name: uaFloat, device: ua, nodeId: "ns=1;s=T.Float", writable: true }
    - { name: uaBig, device: ua, nodeId: "ns=1;s=T.Int64", writable: true }
`;

const auth = (who: string) => ({ authorization: `Basic ${Buffer.from(`${who}:${who}`).toString("base64")}` });

async function post(url: string, tag: string, body: string): Promise<{ status: number; json: { name?: string; value?: unknown; error?: { code: string; message: string } } }> {
  const r = await fetch(`${url}/api/v1/tags/${tag}`, { method: "POST", headers: { ...auth("operator"), "content-type": "application/json" }, body, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, json: (await r.json()) as never };
}

async function get(url: string, path: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}/api/v1${path}`, { headers: auth("viewer"), signal: AbortSignal.timeout(10_000) });
  return (await r.json()) as Record<string, unknown>;
}

describe("value rules through the API", () => {
  it("a write answers with the value as written, GET shows the same; 64-bit integers are decimal strings; junk is refused and never reaches the PLC", async () => {
    await modbus.set("hr", 24, [0, 0, 0, 9]);
    opcua.values.set("T.Int64", new Variant({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: [0, 3] }));
    const cluster = await pair.start({ extra: drivers });
    const { active } = await cluster.ready();
    const url = cluster.nodes[active].url;
    const tag = (name: string) => get(url, `/tags/${name}`);

    // small 64-bit values too: the form does not change with the size
    await waitFor(async () => (await tag("total")).value === "9" && (await tag("uaBig")).value === "3", "64-bit tags read as decimal strings", 20_000);
    const list = (await get(url, "/tags")).tags as { name: string; value: unknown }[];
    expect(list.find((t) => t.name === "total")?.value).toBe("9");

    const writes: [string, unknown, unknown][] = [
      ["level", 0.1, 0.10000000149011612],
      ["counts", 33.3, 33.30078125],
      ["total", "18446744073709551615", "18446744073709551615"],
      ["uaFloat", 0.1, 0.10000000149011612],
      ["uaBig", 5, "5"],
    ];
    for (const [name, sent, written] of writes) {
      const r = await post(url, name, JSON.stringify({ value: sent }));
      expect({ name, status: r.status, body: r.json }).toEqual({ name, status: 200, body: { name, value: written } });
      await waitFor(async () => (await tag(name)).value === written, `GET /tags/${name} shows ${JSON.stringify(written)}`, 10_000);
    }
    expect(await modbus.get("hr", 20, 3)).toEqual([0x3dcc, 0xcccd, 9207]);

    const modbusWrites = await modbus.writes();
    const uaWrites = opcua.writes;
    const refusals: [string, string, RegExp][] = [
      ["level", '{"value":"42.5"}', /^tag level: float32 needs a JSON number, not text, got the text "42\.5"$/],
      ["level", '{"value":true}', /^tag level: float32 needs a number, got true$/],
      ["counts", '{"value":true}', /^tag counts: int16 needs a whole number from -32768 to 32767, got true$/],
      ["total", '{"value":18446744073709551615}', /uint64 needs .*past ±2\^53 send it as a decimal string/],
      ["uaFloat", '{"value":null}', /^tag uaFloat: Float needs a number, got null$/],
      ["uaFloat", '{"value":""}', /^tag uaFloat: Float needs a JSON number, not text, got the text ""$/],
      ["uaBig", '{"value":[]}', /^tag uaBig: Int64 needs a whole number .*, got the list \[\]$/],
    ];
    for (const [name, body, message] of refusals) {
      const r = await post(url, name, body);
      expect({ name, body, status: r.status, code: r.json.error?.code }).toEqual({ name, body, status: 400, code: "TANDEM_ERR_TAG_VALUE" });
      expect(r.json.error!.message).toMatch(message);
    }
    expect(await modbus.writes()).toBe(modbusWrites);
    expect(opcua.writes).toBe(uaWrites);
  });
});
