// S5 and writes within engineering limits (issue "security", point 5): a
// tag write the plant engineer ruled out never reaches the PLC, whatever the
// PLC would take. The PLCs here are ones Tandem did not write — Debian's
// pymodbus and node-opcua's own server — and they are the witnesses: they
// count the writes they received and hold the values.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";
import { startPymodbus, type Pymodbus } from "../drivers/helpers.js";
import { bareServer, type BareServer } from "../drivers/opcua-server.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-limits-"));
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
  scanMs: 200
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${modbus.port}"], unitId: 1, standby: hot }
    - { name: ua, driver: opcua, endpoints: ["${opcua.url}"], securityMode: None, standby: hot }
  tags:
    - { name: valve, device: plc, address: "hr:8", type: uint16, writable: true, min: 0, max: 100, units: "%" }
    - { name: setpoint, device: ua, nodeId: "ns=1;s=T.Double", writable: true, min: 0, max: 150 }
    - { name: count, device: ua, nodeId: "ns=1;s=T.Int16", writable: true }
`;

/** A write with the body exactly as given (1e309 cannot be made by JSON.stringify). */
async function rawWrite(url: string, tag: string, body: string): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const r = await fetch(`${url}/api/v1/tags/${tag}`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from("operator:operator").toString("base64")}`, "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, json: (await r.json()) as never };
}

describe("S5: tag writes within engineering limits", () => {
  it("a value outside a tag's min/max, a non-finite number or text for a number is refused by Tandem and never reaches the PLC", async () => {
    const cluster = await pair.start({ extra: drivers });
    const { active } = await cluster.ready();
    const url = cluster.nodes[active].url;
    await modbus.set("hr", 8, [30]);
    const modbusWrites = await modbus.writes();
    const uaWrites = opcua.writes;

    const refusals: [string, string, RegExp][] = [
      ["valve", '{"value":65535}', /engineering limits are 0 to 100.*got 65535/],
      ["valve", '{"value":-1}', /engineering limits are 0 to 100/],
      ["setpoint", '{"value":150.5}', /engineering limits are 0 to 150/],
      ["setpoint", '{"value":1e309}', /finite number, got Infinity/],
      ["setpoint", '{"value":-1e309}', /finite number, got -Infinity/],
      ["setpoint", '{"value":"Infinity"}', /not text/],
      ["count", '{"value":"0x20"}', /not text/],
      ["count", '{"value":1e309}', /finite number, got Infinity/],
    ];
    for (const [tag, body, message] of refusals) {
      const r = await rawWrite(url, tag, body);
      expect({ tag, body, status: r.status, code: r.json.error?.code }).toEqual({ tag, body, status: 400, code: "TANDEM_ERR_TAG_VALUE" });
      expect(r.json.error!.message).toMatch(message);
      expect(r.json.error!.message).not.toMatch(/got null/);
    }
    // the PLCs' own word: nothing arrived
    expect(await modbus.writes()).toBe(modbusWrites);
    expect(await modbus.get("hr", 8, 1)).toEqual([30]);
    expect(opcua.writes).toBe(uaWrites);

    // values within the limits go through, to the edge
    expect((await rawWrite(url, "valve", '{"value":100}')).status).toBe(200);
    expect(await modbus.get("hr", 8, 1)).toEqual([100]);
    expect((await rawWrite(url, "setpoint", '{"value":42.5}')).status).toBe(200);
    expect(opcua.values.get("T.Double")!.value).toBe(42.5);

    // the limits are part of the tag as the API shows it, for HMIs and scripts
    const tag = await fetch(`${url}/api/v1/tags/valve`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` } });
    expect(await tag.json()).toMatchObject({ name: "valve", min: 0, max: 100 });
  });
});
