// The shipped MQTT client helper (runtime/mqtt/pair-client.ts, `tandem/mqtt`):
// it follows an MQTT 5 "use another server" (CONNACK 0x9C) and "server moved"
// (DISCONNECT 0x9D) to the referenced server when that server is one of its
// list, ignores a reference to a host it was not given (its password does
// not go there), and moves on from a 3.1.1 "server unavailable" to the next
// server. The servers: Debian's mosquitto (MQTT 5, a broker Tandem did not
// write) and a minimal MQTT 5 server made with mqtt-packet that answers as
// told. The helper on a real pair is in mqtt-pair.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqttPacket from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPair, parseServer, referenceTarget } from "../../runtime/mqtt/pair-client.js";
import { waitUntil } from "../helpers/cluster.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-pair-client-"));
let mosquitto: Mosquitto;
let mosquittoPort = 0;

beforeAll(async () => {
  mosquitto = await startMosquitto(dir);
  mosquittoPort = mosquitto.port;
});

afterAll(() => {
  mosquitto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** an MQTT server that answers every CONNECT with `answer` (and counts the connects it saw) */
interface Fake {
  port: number;
  connects: mqttPacket.IConnectPacket[];
  /** writes a packet to every connected client and closes its connection */
  send: (p: mqttPacket.Packet) => void;
  close: () => void;
}

async function fakeServer(answer: (connect: mqttPacket.IConnectPacket) => mqttPacket.Packet[]): Promise<Fake> {
  const connects: mqttPacket.IConnectPacket[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on("packet", (p) => {
      if (p.cmd !== "connect") return;
      connects.push(p);
      for (const out of answer(p)) s.write(mqttPacket.generate(out, { protocolVersion: p.protocolVersion }));
    });
    s.on("data", (d) => parser.parse(d));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connects,
    // as a broker does after a DISCONNECT: the packet, then the connection closed
    send: (p) => {
      for (const s of sockets) s.end(mqttPacket.generate(p, { protocolVersion: 5 }));
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("connectPair", () => {
  it("reads servers and references, and follows only listed ones unless told", () => {
    expect(parseServer("mqtt://10.0.0.1:1884")).toEqual({ host: "10.0.0.1", port: 1884, protocol: "mqtt" });
    expect(parseServer("mqtts://broker.site")).toEqual({ host: "broker.site", port: 1883, protocol: "mqtts" });
    expect(parseServer("[::1]:1883")).toEqual({ host: "::1", port: 1883, protocol: "mqtt" });
    for (const bad of ["", "http://x:1", "a b:1", "h:0", "h:70000"]) expect(parseServer(bad), bad).toBeNull();
    const servers = [parseServer("10.0.0.1:1883")!, parseServer("10.0.0.2:1883")!];
    expect(referenceTarget("10.0.0.2:1883", servers, false)).toBe(1);
    expect(referenceTarget("evil.example:1883 10.0.0.1", servers, false)).toBe(0);
    expect(referenceTarget("evil.example:1883", servers, false)).toBe(-1);
    expect(referenceTarget("evil.example:1883", servers, true)).toBe(2);
    expect(() => connectPair({ servers: ["not a server at all"] })).toThrow(/cannot read the server/);
  });

  it("follows an MQTT 5 CONNACK 0x9C to the referenced server of its list, and a DISCONNECT 0x9D later", async () => {
    // first: refuses, naming mosquitto; the helper tries the listed servers in order, so mosquitto is listed last
    const refuser = await fakeServer(() => [{ cmd: "connack", reasonCode: 0x9c, sessionPresent: false, properties: { serverReference: `127.0.0.1:${mosquittoPort}` } }]);
    const decoy = await fakeServer(() => [{ cmd: "connack", reasonCode: 0x88, sessionPresent: false }]);
    const client = connectPair({ servers: [`127.0.0.1:${refuser.port}`, `127.0.0.1:${decoy.port}`, `127.0.0.1:${mosquittoPort}`], protocolVersion: 5, reconnectPeriod: 50 });
    try {
      await waitUntil("connected to mosquitto", () => client.connected, { timeoutMs: 5000 });
      expect(client.server()).toBe(`127.0.0.1:${mosquittoPort}`);
      // straight there: the decoy between them in the list was skipped
      expect(refuser.connects.length).toBe(1);
      expect(decoy.connects.length).toBe(0);
    } finally {
      client.end(true);
      refuser.close();
    }
    // a node that served, then says "server moved" (a demoted active with MQTT 5)
    const moving = await fakeServer(() => [{ cmd: "connack", reasonCode: 0, sessionPresent: false }]);
    const moved = connectPair({ servers: [`127.0.0.1:${moving.port}`, `127.0.0.1:${decoy.port}`, `127.0.0.1:${mosquittoPort}`], protocolVersion: 5, reconnectPeriod: 50 });
    try {
      await waitUntil("connected to the first node", () => moved.connected && moved.server() === `127.0.0.1:${moving.port}`, { timeoutMs: 5000 });
      moving.send( { cmd: "disconnect", reasonCode: 0x9d, properties: { serverReference: `127.0.0.1:${mosquittoPort}` } });
      await waitUntil("moved to mosquitto", () => moved.connected && moved.server() === `127.0.0.1:${mosquittoPort}`, { timeoutMs: 5000 });
      expect(decoy.connects.length).toBe(0);
    } finally {
      moved.end(true);
      moving.close();
      decoy.close();
    }
  });

  it("ignores a reference to a server it was not given, and moves on from a 3.1.1 'server unavailable'", async () => {
    const elsewhere = await fakeServer(() => [{ cmd: "connack", reasonCode: 0x9c, sessionPresent: false, properties: { serverReference: "198.51.100.7:1883" } }]);
    const standby = await fakeServer(() => [{ cmd: "connack", returnCode: 3, sessionPresent: false }]);
    const five = connectPair({ servers: [`127.0.0.1:${elsewhere.port}`, `127.0.0.1:${mosquittoPort}`], protocolVersion: 5, reconnectPeriod: 50 });
    const three = connectPair({ servers: [`127.0.0.1:${standby.port}`, `127.0.0.1:${mosquittoPort}`], reconnectPeriod: 50 });
    try {
      await waitUntil("both on mosquitto", () => five.connected && three.connected, { timeoutMs: 5000 });
      expect(five.server()).toBe(`127.0.0.1:${mosquittoPort}`);
      expect(three.server()).toBe(`127.0.0.1:${mosquittoPort}`);
      expect(standby.connects[0]?.protocolVersion).toBe(4);
    } finally {
      five.end(true);
      three.end(true);
      elsewhere.close();
      standby.close();
    }
  });
});
