// MQTT clients always reach the valid server (CONTRACT.md "MQTT topics"):
// a real pair of nodes, each with its embedded broker, a real PLC Tandem did
// not write (Debian's pymodbus) and real clients — mqtt.js listing both
// nodes, Debian's mosquitto_sub/mosquitto_pub. The standby turns clients
// away (CONNACK "server unavailable"); after kill -9 of the active the
// clients are on the new active with its retained state; a write needs the
// operator role and reaches the PLC only from the active; a client that
// floods garbage or an oversized packet is cut off while another keeps its
// flow (S5).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPymodbus, type Pymodbus } from "../drivers/helpers.js";
import { sampleValue } from "../helpers/prom-text.js";
import { freePort, ROOT, waitUntil, type Cluster } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";
import { makeCa, makeCert } from "../helpers/test-certs.js";
import { connectPair } from "../../runtime/mqtt/pair-client.js";

const run = promisify(execFile);
const pair = useCluster();
let plc: Pymodbus;
const mqttPorts = { a: 0, b: 0 };

beforeAll(async () => {
  plc = await startPymodbus();
  mqttPorts.a = await freePort();
  mqttPorts.b = await freePort();
});
afterAll(async () => {
  await plc?.stop();
});

const extra = (id: "a" | "b") => `mqtt:
  listen: 127.0.0.1:${mqttPorts[id]}
  maxPacketBytes: 4096
drivers:
  scanMs: 100
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${plc.port}"], unitId: 1, standby: hot }
  tags:
    - { name: line.level, device: plc, address: "hr:30", type: int16, writable: true }
`;

interface Seen {
  topic: string;
  json: Record<string, unknown>;
  port: number;
}

/** an mqtt.js client that lists both nodes, as the README shows */
function bothServers(user: string, seen: Seen[]): MqttClient {
  const client = mqtt.connect({
    servers: [
      { host: "127.0.0.1", port: mqttPorts.a },
      { host: "127.0.0.1", port: mqttPorts.b },
    ],
    username: user,
    password: user,
    protocolVersion: 4,
    reconnectPeriod: 100,
    connectTimeout: 2000,
    // CONNACK "server unavailable" from the standby: go on to the next server
    reconnectOnConnackError: true,
  });
  client.on("connect", () => client.subscribe("tandem/it/#"));
  client.on("error", () => undefined);
  client.on("message", (topic, payload) => {
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(payload.toString());
    } catch {
      // not ours
    }
    seen.push({ topic, json, port: (client.options as { port?: number }).port ?? 0 });
  });
  return client;
}

async function mosquittoSub(port: number, user: string, topic: string, count: number, waitS = 5): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(port), "-u", user, "-P", user, "-V", "311", "-t", topic, "-v", "-C", String(count), "-W", String(waitS)], { timeout: (waitS + 5) * 1000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, out: err.stdout ?? "", err: err.stderr ?? "" };
  }
}

async function metrics(c: Cluster, id: "a" | "b"): Promise<string> {
  const r = await fetch(`${c.nodes[id].url}/api/v1/metrics`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` }, signal: AbortSignal.timeout(10_000) });
  return r.text();
}

/** one of the README's example clients (examples/mqtt/), its output lines as they come */
function example(cmd: string, args: string[]): { child: ChildProcess; lines: string[] } {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on("data", (d: Buffer) => lines.push(`stderr: ${d.toString().trim()}`));
  return { child, lines };
}

describe("MQTT on a pair: clients reach the active", () => {
  it("the standby turns clients away, the active serves state and values; after kill -9 the clients are on the new active with its retained state (S1, L1)", async () => {
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();
    // Debian's client against the standby: CONNACK 3, "broker unavailable"
    const refused = await mosquittoSub(mqttPorts[standby], "viewer", "tandem/it/#", 1, 3);
    expect(refused.code, refused.err).not.toBe(0);
    expect(refused.err).toMatch(/unavailable/i);
    // and against the active: the retained state names it
    const state = await mosquittoSub(mqttPorts[active], "viewer", "tandem/it/state", 1);
    expect(state.code, state.err).toBe(0);
    expect(JSON.parse(state.out.slice(state.out.indexOf(" ") + 1))).toMatchObject({ pairId: "it", active, state: "active" });

    await plc.set("hr", 30, [1234]);
    const seen: Seen[] = [];
    const client = bothServers("viewer", seen);
    // the shipped helper, and the README's two example clients (mqtt.js alone; Python with Debian's paho)
    const helperSeen: string[] = [];
    const helper = connectPair({ servers: [`127.0.0.1:${mqttPorts.a}`, `127.0.0.1:${mqttPorts.b}`], username: "viewer", password: "viewer" });
    helper.on("connect", () => helper.subscribe("tandem/it/state"));
    helper.on("message", (_t, p) => helperSeen.push(p.toString()));
    const list = `127.0.0.1:${mqttPorts.a},127.0.0.1:${mqttPorts.b}`;
    const js = example(process.execPath, ["examples/mqtt/follow-pair.mjs", list, "viewer", "viewer", "tandem/it/state", "40"]);
    const py = example("/usr/bin/python3", ["examples/mqtt/follow_pair.py", "--servers", list, "--user", "viewer", "--password", "viewer", "--topic", "tandem/it/state", "--seconds", "40"]);
    const names = (lines: string[], id: string) => lines.some((l) => l.startsWith("tandem/it/state ") && JSON.parse(l.slice(l.indexOf(" ") + 1)).active === id);
    try {
      await waitUntil("the client holding the value from the active", () => seen.some((m) => m.topic === "tandem/it/tags/line/level" && m.json.value === 1234 && m.json.quality === "good"), { timeoutMs: 10_000 });
      expect(seen.find((m) => m.topic === "tandem/it/state")?.json).toMatchObject({ active });
      // status and metrics say which broker serves, and what the standby turned away
      // four clients: mqtt.js, the helper and the two examples
      await waitUntil("four clients on the active", async () => (await c.status(active))?.mqtt?.clients === 4, { timeoutMs: 10_000 });
      expect((await c.status(active))?.mqtt).toMatchObject({ broker: "embedded", listen: `127.0.0.1:${mqttPorts[active]}`, serving: true, clients: 4 });
      expect((await c.status(standby))?.mqtt).toMatchObject({ serving: false, clients: 0 });
      const sm = await metrics(c, standby);
      expect(sampleValue(sm, "tandem_mqtt_serving")).toBe(0);
      expect(sampleValue(sm, "tandem_mqtt_refused_total", { reason: "not_active" })).toBeGreaterThanOrEqual(1);
      const am = await metrics(c, active);
      expect(sampleValue(am, "tandem_mqtt_clients")).toBe(4);
      // the node's own figures a dashboard shows beside MQTT's: tags by quality, heartbeat age per link, the lease
      expect(sampleValue(am, "tandem_tags", { quality: "good" })).toBe(1);
      expect(sampleValue(am, "tandem_tags", { quality: "bad" })).toBe(0);
      for (const link of ["lan", "plant"]) expect(sampleValue(am, "tandem_peer_link_heartbeat_age_seconds", { link })).toBeLessThan(1);
      expect(sampleValue(am, "tandem_lease_remaining_seconds")).toBeGreaterThan(0);

      // the active has told its standby which logins its clients use: none of them will need a password check there
      await new Promise((r) => setTimeout(r, 1000));
      expect(sampleValue(await metrics(c, standby), "tandem_mqtt_password_checks_total")).toBe(0);
      c.signal(active, "SIGKILL");
      await c.waitFor(standby, (s) => s.state === "active-held", 10_000, `${standby} active-held`);
      const from = seen.length;
      await plc.set("hr", 30, [4321]);
      await waitUntil(
        `the client receiving state and values from ${standby}`,
        () => seen.slice(from).some((m) => m.topic === "tandem/it/state" && m.json.active === standby && m.json.held === true) && seen.slice(from).some((m) => m.topic === "tandem/it/tags/line/level" && m.json.value === 4321),
        { timeoutMs: 10_000 },
      );
      expect(client.connected).toBe(true);
      for (const [who, lines] of [["the mqtt.js example", js.lines], ["the Python example", py.lines]] as const) {
        await waitUntil(`${who} on ${standby} with its state`, () => lines.includes(`server 127.0.0.1:${mqttPorts[standby]}`) && names(lines, standby), { timeoutMs: 10_000, seen: () => lines.slice(-5).join(" | ") });
        expect(lines.includes(`server 127.0.0.1:${mqttPorts[active]}`), `${who} was on ${active} first`).toBe(true);
      }
      await waitUntil("the helper on the new active", () => helper.server() === `127.0.0.1:${mqttPorts[standby]}` && helperSeen.some((p) => JSON.parse(p).active === standby), { timeoutMs: 10_000 });
      // four clients logged in on the new active, and not one password check: the logins were shared before the kill
      await waitUntil("four clients on the new active", async () => (await c.status(standby))?.mqtt?.clients === 4, { timeoutMs: 10_000 });
      expect(sampleValue(await metrics(c, standby), "tandem_mqtt_password_checks_total")).toBe(0);
    } finally {
      client.end(true);
      helper.end(true);
      js.child.kill("SIGKILL");
      py.child.kill("SIGKILL");
    }
    // Debian's client lands on the new active too, with its retained state
    const after = await mosquittoSub(mqttPorts[standby], "viewer", "tandem/it/node/+/status", 1);
    expect(after.code, after.err).toBe(0);
    expect(after.out).toContain(`"nodeId":"${standby}"`);
  });

  it("a tag write over MQTT needs the operator role and reaches the PLC from the active, answered on …/set/result; junk is answered, not written (S5)", async () => {
    const c = await pair.start({ extra });
    const { active } = await c.ready();
    const port = mqttPorts[active];
    const result = mosquittoSub(port, "operator", "tandem/it/tags/line/level/set/result", 2, 8);
    await new Promise((r) => setTimeout(r, 500));
    const writesBefore = await plc.writes();
    // a viewer's write: refused, the client disconnected, nothing written
    const viewer = await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-u", "viewer", "-P", "viewer", "-V", "311", "-q", "1", "-t", "tandem/it/tags/line/level/set", "-m", "77"]).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
    expect(viewer).not.toBe(0);
    await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-u", "operator", "-P", "operator", "-V", "311", "-t", "tandem/it/tags/line/level/set", "-m", '{"value": 555}']);
    await waitUntil("the PLC holding 555", async () => (await plc.get("hr", 30, 1))[0] === 555, { timeoutMs: 5000 });
    await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-u", "operator", "-P", "operator", "-V", "311", "-t", "tandem/it/tags/line/level/set", "-m", "not json"]);
    const r = await result;
    expect(r.code, r.err).toBe(0);
    const answers = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l.slice(l.indexOf(" ") + 1)));
    expect(answers[0]).toMatchObject({ tag: "line.level", ok: true, value: 555, by: "operator" });
    expect(answers[1]).toMatchObject({ ok: false, error: { code: "TANDEM_ERR_BAD_REQUEST" } });
    expect(answers[1].error.message).toMatch(/not JSON/);
    // exactly one write reached the PLC: the operator's
    expect((await plc.writes()) - writesBefore).toBe(1);
    // the audit log names the operator and MQTT
    const audit = await c.api(active, "GET", "/audit?limit=50");
    expect(JSON.stringify(audit.json)).toMatch(/"action":"write-tag".*"from":"mqtt /s);
  });

  it("mqtt.tls: the active serves MQTT over TLS with the site's certificate (mosquitto_sub verifies it against the site CA); a plain client gets no CONNACK", async () => {
    const certDir = mkdtempSync(join(tmpdir(), "tandem-mqtt-tls-"));
    try {
      const ca = makeCa(certDir, "site-ca");
      const node = makeCert(certDir, "node", "localhost", ca, ["127.0.0.1"]);
      const c = await pair.start({ extra: (id) => extra(id).replace("  maxPacketBytes: 4096\n", `  maxPacketBytes: 4096\n  tls: { enabled: true, certFile: ${node.cert}, keyFile: ${node.key} }\n`) });
      const { active } = await c.ready();
      expect((await c.status(active))?.mqtt?.listen).toBe(`mqtts://127.0.0.1:${mqttPorts[active]}`);
      const secure = await run("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(mqttPorts[active]), "--cafile", ca.cert, "-u", "viewer", "-P", "viewer", "-V", "311", "-t", "tandem/it/state", "-C", "1", "-W", "5"], { timeout: 10_000 });
      expect(JSON.parse(secure.stdout)).toMatchObject({ active });
      const plain = await mosquittoSub(mqttPorts[active], "viewer", "tandem/it/state", 1, 3);
      expect(plain.code).not.toBe(0);
      expect(plain.out).toBe("");
    } finally {
      rmSync(certDir, { recursive: true, force: true });
    }
  });

  it("a client that sends garbage or an oversized packet is cut off; another client keeps its flow and the node keeps running (S5)", async () => {
    const c = await pair.start({ extra });
    const { active } = await c.ready();
    const port = mqttPorts[active];
    const seen: Seen[] = [];
    const good = bothServers("viewer", seen);
    try {
      await waitUntil("the good client connected", () => good.connected, { timeoutMs: 10_000 });
      // a subscription outside the pair's topics: SUBACK 0x80, and the client stays connected
      // (mqtt.js reports a SUBACK with 0x80 as an error carrying the packet)
      const suback = await good.subscribeAsync(["site/#", "$SYS/#"]).then(
        () => null,
        (e: { packet?: { granted?: number[] } }) => e.packet?.granted ?? null,
      );
      expect(suback).toEqual([128, 128]);
      expect(good.connected).toBe(true);
      const closedAfter = (bytes: Buffer) =>
        new Promise<boolean>((resolve) => {
          const s = tcpConnect(port, "127.0.0.1", () => {
            for (let i = 0; i < 4 && !s.destroyed; i++) s.write(bytes);
          });
          s.on("error", () => undefined);
          s.on("close", () => resolve(true));
          setTimeout(() => {
            resolve(false);
            s.destroy();
          }, 5000).unref();
        });
      // garbage: not an MQTT packet at all
      expect(await closedAfter(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20)))).toBe(true);
      // a CONNECT header declaring 1 MB (mqtt.maxPacketBytes is 4096): cut before it is buffered
      expect(await closedAfter(Buffer.from([0x10, 0x80, 0x80, 0x40, 0x00]))).toBe(true);
      const from = seen.length;
      await plc.set("hr", 30, [(Date.now() % 30000) + 1]);
      await waitUntil("the good client still receiving values", () => seen.slice(from).some((m) => m.topic === "tandem/it/tags/line/level"), { timeoutMs: 10_000 });
      expect(good.connected).toBe(true);
      expect((await c.status(active))?.state).toBe("active");
      expect(c.logLines(active).some((l) => /MQTT: client .* disconnected: a packet of \d+ bytes \(mqtt.maxPacketBytes is 4096\)/.test(l))).toBe(true);
    } finally {
      good.end(true);
    }
  });
});
