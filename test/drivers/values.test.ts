// Values as they leave the node and as writes come in, through the driver
// manager (what GET/POST /api/v1/tags and the tag bus serve), against servers
// Tandem did not write: pymodbus (Debian) and node-opcua's own server. One
// rule for both drivers (docs/drivers.md, "Value rules"): a 64-bit integer is
// a decimal string whatever its size; a write answers with the value as
// written, which is the value read back; junk is refused naming the tag, its
// type and what was given, and nothing reaches the PLC.
import { DataType, Variant, VariantArrayType } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driversSection } from "../../drivers/config-schema.js";
import { DriverManager } from "../../drivers/manager.js";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import { silentLogs } from "../../runtime/logging.js";
import { MODBUS_DEVICE, OPCUA_DEVICE } from "./conformance-cases.js";
import { freePort, openGate, startPymodbus, tempDir, waitFor, type Pymodbus } from "./helpers.js";
import { bareServer, type BareServer } from "./opcua-server.js";

const SCALING = { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 };

describe("values through the manager, against pymodbus and node-opcua's server", () => {
  const tmp = tempDir("tandem-values-");
  let py: Pymodbus;
  let ua: BareServer;
  let m: DriverManager;
  const seen = new Map<string, TagSnapshot[]>();

  beforeAll(async () => {
    py = await startPymodbus();
    ua = await bareServer(`${tmp.dir}/ua`, await freePort());
    await py.set("hr", 200, [0, 0, 0, 5]); // int64 5
    await py.set("hr", 204, [0xffff, 0xffff, 0xffff, 0xffff]); // uint64 2^64 − 1
    ua.values.set("T.Int64", new Variant({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: [0, 42] }));
    const drivers = driversSection.parse({
      scanMs: 50,
      devices: [
        { name: "plc", driver: "modbus", ...MODBUS_DEVICE, endpoints: [`127.0.0.1:${py.port}`] },
        { name: "ua", driver: "opcua", ...OPCUA_DEVICE, endpoints: [ua.url] },
      ],
      tags: [
        { name: "m.i64", device: "plc", address: "hr:200", type: "int64", writable: true },
        { name: "m.u64", device: "plc", address: "hr:204", type: "uint64" },
        { name: "m.f32", device: "plc", address: "hr:208", type: "float32", writable: true },
        { name: "m.scaled", device: "plc", address: "hr:210", type: "int16", scaling: SCALING, writable: true },
        { name: "m.word", device: "plc", address: "hr:211", type: "int16", writable: true },
        { name: "u.i64", device: "ua", nodeId: "ns=1;s=T.Int64", writable: true },
        { name: "u.float", device: "ua", nodeId: "ns=1;s=T.Float", writable: true },
        { name: "u.int16", device: "ua", nodeId: "ns=1;s=T.Int16", writable: true },
      ],
    });
    m = new DriverManager({ drivers, dataDir: `${tmp.dir}/node`, logs: silentLogs(), gate: openGate });
    m.bus.subscribe((t) => seen.set(t.name, [...(seen.get(t.name) ?? []), t]));
    await m.start();
    m.setRole(true, 1);
    await waitFor(() => m.tags().every((t) => t.quality === "good"), "every tag good", 20_000).catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(m.tags())}`);
    });
  }, 60_000);

  afterAll(async () => {
    await m?.stop();
    await ua?.stop();
    await py?.stop();
    tmp.remove();
  });

  /** the tag as GET /tags/:name, GET /tags and the bus serve it, through JSON */
  const views = (name: string) => [m.tag(name), m.tags().find((t) => t.name === name), seen.get(name)?.at(-1)].map((t) => JSON.parse(JSON.stringify(t)) as TagSnapshot);

  it("a 64-bit integer leaves the node as a decimal string whatever its size, in every view (both drivers)", () => {
    for (const [name, value] of [
      ["m.i64", "5"],
      ["m.u64", "18446744073709551615"],
      ["u.i64", "42"],
    ] as const) {
      for (const t of views(name)) expect(t, name).toMatchObject({ quality: "good", value });
    }
    // other integers stay JSON numbers
    for (const t of views("m.word")) expect(typeof t.value).toBe("number");
  });

  it("a write answers with the value as written, and a read then shows exactly that (both drivers)", async () => {
    const cases: [string, unknown, unknown][] = [
      ["m.f32", 0.1, 0.10000000149011612],
      ["m.scaled", 33.3, 33.30078125],
      ["m.i64", "9007199254740993", "9007199254740993"],
      ["m.word", -12345, -12345],
      ["u.float", 0.1, 0.10000000149011612],
      ["u.i64", 7, "7"],
      ["u.int16", -2, -2],
    ];
    for (const [name, sent, written] of cases) {
      const answer = await m.write(name, sent, "operator");
      expect(answer, `${name} written as ${JSON.stringify(sent)}`).toStrictEqual(written);
      await waitFor(() => views(name).every((t) => t.quality === "good" && t.value === written), `${name} reads back ${JSON.stringify(written)}`, 10_000).catch((e) => {
        throw new Error(`${(e as Error).message}: ${JSON.stringify(views(name))}`);
      });
    }
    // what pymodbus holds: 0.1 as the float32 0x3dcccccd, 33.3 as the raw 9207
    expect(await py.get("hr", 208, 3)).toEqual([0x3dcc, 0xcccd, 9207]);
  });

  it("refuses what does not fit the tag's type, naming the tag, the type and what was given; nothing reaches either server", async () => {
    const pyWrites = await py.writes();
    const uaWrites = ua.writes;
    const refusals: [string, unknown, RegExp][] = [
      ["m.f32", "42.5", /^tag m\.f32: float32 needs a JSON number, not text, got the text "42\.5"$/],
      ["m.f32", true, /^tag m\.f32: float32 needs a number, got true$/],
      ["m.f32", 1e-50, /^tag m\.f32: float32 needs a number it can hold .*, got 1e-50$/],
      ["m.word", true, /^tag m\.word: int16 needs a whole number from -32768 to 32767, got true$/],
      ["m.word", 32768, /int16 needs a whole number from -32768 to 32767, got 32768$/],
      ["m.scaled", 200, /int16 needs a whole number from -32768 to 32767, got 200 \(55296 after scaling\)$/],
      ["m.i64", 2 ** 60, /past ±2\^53 send it as a decimal string, got 1152921504606847000$/],
      ["m.i64", "1.5", /int64 needs a JSON number, not text \(or a decimal string of digits\)/],
      ["u.float", "42.5", /^tag u\.float: Float needs a JSON number, not text/],
      ["u.float", true, /^tag u\.float: Float needs a number, got true$/],
      ["u.int16", true, /^tag u\.int16: Int16 needs a whole number from -32768 to 32767, got true$/],
      ["u.i64", "-9223372036854775809", /Int64 needs a whole number from -9223372036854775808 to 9223372036854775807/],
    ];
    // the OPC UA driver turns nothing into 0
    for (const name of ["u.float", "u.int16", "u.i64"]) for (const junk of [null, "", []]) refusals.push([name, junk, /needs/]);
    for (const [name, junk, message] of refusals) {
      const err = await m.write(name, junk, "operator").then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, `${name} given ${JSON.stringify(junk)}`).toMatchObject({ code: "TANDEM_ERR_TAG_VALUE", status: 400 });
      expect((err as Error).message).toMatch(message);
    }
    expect(await py.writes()).toBe(pyWrites);
    expect(ua.writes).toBe(uaWrites);
  });
});
