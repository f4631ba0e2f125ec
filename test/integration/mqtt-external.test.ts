// `mqtt.broker: external`: both nodes of a real pair are clients of a site
// broker Tandem did not write (Debian's mosquitto, MQTT 5), with a PLC Tandem
// did not write (pymodbus). Only the active publishes the pair's state and
// the values; each node publishes its own status, and a node killed with -9
// is marked offline by its last will; the new active publishes state and
// values at once. A write request from an MQTT 5 client is answered to its
// response topic with its correlation data, and reaches the PLC (S1, S5).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPymodbus, type Pymodbus } from "../drivers/helpers.js";
import { waitUntil } from "../helpers/cluster.js";
import { mosquittoSub, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { useCluster } from "../helpers/use-cluster.js";

const run = promisify(execFile);
const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-mqtt-ext-"));
let plc: Pymodbus;
let broker: Mosquitto;
let port = 0;

beforeAll(async () => {
  plc = await startPymodbus();
  broker = await startMosquitto(dir);
  port = broker.port;
});

afterAll(async () => {
  broker?.stop();
  await plc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** mosquitto_sub -V 5 against the site broker; never throws */
const sub = (args: string[], waitS?: number) => mosquittoSub(port, args, waitS);

const extra = () => `mqtt:
  broker: external
  url: mqtt://127.0.0.1:${port}
  acceptWrites: true
  reconnectMs: 200
drivers:
  scanMs: 100
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${plc.port}"], unitId: 1, standby: hot }
  tags:
    - { name: line.level, device: plc, address: "hr:40", type: int16, writable: true }
`;

/** the retained messages under the pair's prefix, by topic */
async function retained(): Promise<Record<string, Record<string, unknown>>> {
  const r = await sub(["-t", "tandem/it/#", "--retained-only", "-v", "-W", "2"], 2);
  const out: Record<string, Record<string, unknown>> = {};
  for (const line of r.out.trim().split("\n").filter(Boolean)) out[line.slice(0, line.indexOf(" "))] = JSON.parse(line.slice(line.indexOf(" ") + 1));
  return out;
}

describe("MQTT with a site broker (mqtt.broker: external)", () => {
  it("the active publishes state and values, each node its status; kill -9 marks the node offline by its will and the new active publishes at once; an MQTT 5 write request is answered to its response topic (S1, S5)", async () => {
    await plc.set("hr", 40, [111]);
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();
    await waitUntil(
      "the pair's retained state on the site broker",
      async () => {
        const r = await retained();
        return r["tandem/it/state"]?.active === active && r["tandem/it/tags/line/level"]?.value === 111 && r[`tandem/it/node/${standby}/status`]?.state === "standby";
      },
      { timeoutMs: 15_000 },
    );
    expect((await c.status(active))?.mqtt).toMatchObject({ broker: "external", listen: `mqtt://127.0.0.1:${port}`, serving: true, clients: 1 });

    // an MQTT 5 request with a response topic and correlation data
    const reply = sub(["-t", "reply/it", "-C", "1", "-F", "%D %p"], 10);
    await new Promise((r) => setTimeout(r, 500));
    await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-V", "5", "-t", "tandem/it/tags/line/level/set", "-m", '{"value": 222}', "-D", "publish", "response-topic", "reply/it", "-D", "publish", "correlation-data", "req-42"]);
    const answered = await reply;
    expect(answered.out.startsWith("req-42 ")).toBe(true);
    expect(JSON.parse(answered.out.slice("req-42 ".length))).toMatchObject({ tag: "line.level", ok: true, value: 222, by: "mqtt" });
    await waitUntil("the PLC holding 222", async () => (await plc.get("hr", 40, 1))[0] === 222, { timeoutMs: 5000 });

    c.signal(active, "SIGKILL");
    await c.waitFor(standby, (s) => s.state === "active-held", 10_000, `${standby} active-held`);
    await plc.set("hr", 40, [333]);
    await waitUntil(
      `the will marking ${active} offline and ${standby}'s state and values`,
      async () => {
        const r = await retained();
        return r[`tandem/it/node/${active}/status`]?.state === "offline" && r["tandem/it/state"]?.active === standby && r["tandem/it/state"]?.held === true && r["tandem/it/tags/line/level"]?.value === 333;
      },
      { timeoutMs: 10_000 },
    );
  });
});
