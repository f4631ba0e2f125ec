// The connection the MQTT broker hands aedes (runtime/mqtt/packet-guard.ts,
// guardedConnection): reads through the packet guard, writes to the socket,
// on a real loopback TCP connection. A packet aedes writes in corked pieces
// leaves in one socket write (the fan-out rate depends on it), a full socket
// holds the writer back, and an oversized packet ends the connection.
import net, { type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { guardedConnection, packetGuard, PacketTooLarge } from "../../runtime/mqtt/packet-guard.js";

const open: Socket[] = [];
const servers: net.Server[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** a connected pair on loopback: the server's socket (wrapped) and the client's */
async function pair(maxBytes = 1024): Promise<{ server: Socket; client: Socket; conn: ReturnType<typeof guardedConnection> }> {
  const srv = net.createServer();
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const accepted = new Promise<Socket>((r) => srv.once("connection", r));
  const client = net.connect((srv.address() as net.AddressInfo).port, "127.0.0.1");
  client.on("error", () => undefined);
  const server = await accepted;
  server.on("error", () => undefined);
  open.push(client, server);
  const guard = packetGuard(maxBytes);
  server.pipe(guard);
  const conn = guardedConnection(server, guard);
  conn.on("error", () => undefined);
  return { server, client, conn };
}

const received = (s: Socket, bytes: number) =>
  new Promise<Buffer>((resolve) => {
    const parts: Buffer[] = [];
    let n = 0;
    s.on("data", (d: Buffer) => {
      parts.push(d);
      n += d.length;
      if (n >= bytes) resolve(Buffer.concat(parts));
    });
  });

describe("guardedConnection", () => {
  it("a packet written in corked pieces goes to the socket in one write, in order", async () => {
    const { server, client, conn } = await pair();
    const calls = { write: 0, writev: 0 };
    const s = server as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const write = s._write.bind(server);
    const writev = s._writev.bind(server);
    s._write = (...a) => (calls.write++, write(...a));
    s._writev = (...a) => (calls.writev++, writev(...a));
    const got = received(client, 9);
    // as mqtt-packet writes a PUBLISH: cork, header, topic, payload, uncork on the next tick
    conn.cork();
    conn.write(Buffer.from([0x30, 0x07]));
    conn.write(Buffer.from([0x00, 0x01, 0x74]));
    conn.write(Buffer.from("abcd"));
    process.nextTick(() => conn.uncork());
    expect([...(await got)]).toEqual([0x30, 0x07, 0x00, 0x01, 0x74, ...Buffer.from("abcd")]);
    expect(calls).toEqual({ write: 0, writev: 1 });
  });

  it("a writer waits while the socket is full and goes on once the peer reads", async () => {
    const { client, conn } = await pair();
    client.pause();
    const big = Buffer.alloc(32 * 1024 * 1024, 1);
    let done = false;
    conn.write(big, () => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false);
    let n = 0;
    client.on("data", (d: Buffer) => (n += d.length));
    client.resume();
    for (let i = 0; i < 500 && !done; i++) await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(true);
    expect(n).toBeGreaterThan(0);
  });

  it("reads pass through the guard; a packet over the limit ends the connection with PacketTooLarge", async () => {
    const { client, conn } = await pair(1024);
    const data: Buffer[] = [];
    conn.on("data", (d: Buffer) => data.push(d));
    client.write(Buffer.from([0xc0, 0x00])); // PINGREQ
    for (let i = 0; i < 100 && data.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect([...Buffer.concat(data)]).toEqual([0xc0, 0x00]);
    const failed = new Promise<Error>((r) => conn.once("error", r));
    const closed = new Promise<void>((r) => client.once("close", () => r()));
    client.write(Buffer.from([0x10, 0x80, 0x80, 0x40, 0x00])); // CONNECT declaring 1 MB
    expect(await failed).toBeInstanceOf(PacketTooLarge);
    await closed;
  });

  it("destroying the connection closes the socket", async () => {
    const { client, conn } = await pair();
    const closed = new Promise<void>((r) => client.once("close", () => r()));
    conn.destroy();
    await closed;
  });
});
