// GET /api/v1/events (runtime/http/event-stream.ts) on a real fastify in
// front of the fake controller: server-sent status, state changes, tag values,
// events and audit entries; a viewer login is needed; the number of streams is
// bounded; a client that does not read is cut off instead of buffering without
// end; a stopping server ends every stream.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { LogManager } from "../../runtime/logging.js";
import { FakeController } from "../helpers/fake-controller.js";

const basic = (u: string, p: string) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
let fake: FakeController;
let server: HttpServer;
let base: string;
let port: number;

beforeAll(async () => {
  fake = new FakeController();
  server = createHttpServer({
    controller: fake,
    http: { listen: { host: "127.0.0.1", port: 0 }, users: [{ name: "vera", role: "viewer", passwordHash: await hashPassword("v-pass") }], metricsAuth: false, sessionTtlMs: 60_000 },
    logs: new LogManager({ level: "warn", destination: { write: () => undefined } }),
    pairId: "line1",
    nodeId: "a",
    eventStream: { maxStreams: 3, maxBufferedBytes: 64 * 1024, statusEveryMs: 200, keepAliveMs: 300 },
  });
  const a = await server.start();
  port = a.port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server?.stop();
});

interface Message {
  event: string;
  id: number;
  data: unknown;
}

/** an open stream: the messages so far, parsed as EventSource would */
async function open(): Promise<{ messages: Message[]; raw: () => string; close: () => void; until: (pred: (m: Message) => boolean, what: string) => Promise<Message> }> {
  const ctl = new AbortController();
  const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: basic("vera", "v-pass"), accept: "text/event-stream" }, signal: ctl.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  const messages: Message[] = [];
  let text = "";
  let rest = "";
  void (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const s = dec.decode(chunk, { stream: true });
        text += s;
        rest += s;
        let i;
        while ((i = rest.indexOf("\n\n")) >= 0) {
          const block = rest.slice(0, i);
          rest = rest.slice(i + 2);
          const f: Record<string, string> = {};
          for (const line of block.split("\n")) {
            const c = line.indexOf(": ");
            if (c > 0) f[line.slice(0, c)] = line.slice(c + 2);
          }
          if (f.event) messages.push({ event: f.event, id: Number(f.id), data: JSON.parse(f.data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  const until = async (pred: (m: Message) => boolean, what: string): Promise<Message> => {
    const t0 = Date.now();
    for (;;) {
      const m = messages.find(pred);
      if (m) return m;
      if (Date.now() - t0 > 5000) throw new Error(`${what} not seen; got ${JSON.stringify(messages.map((x) => x.event))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { messages, raw: () => text, close: () => ctl.abort(), until };
}

describe("GET /api/v1/events", () => {
  it("needs a login", async () => {
    const res = await fetch(`${base}/api/v1/events`);
    expect(res.status).toBe(401);
  });

  it("streams the status at once and every tick, a fresh status on a state change, tag values, events and audit entries, with rising ids and keep-alive comments", async () => {
    const s = await open();
    try {
      const first = await s.until((m) => m.event === "status", "the first status");
      expect(first.id).toBe(1);
      expect(first.data).toMatchObject({ nodeId: fake.current.nodeId, state: fake.current.state });
      await s.until((m) => m.event === "status" && m.id > 1, "a status on the tick");
      fake.setState("active-held");
      await s.until((m) => m.event === "status" && (m.data as { state: string }).state === "active-held", "the new state");
      fake.emit({ type: "tag", data: { name: "line1.level", driver: "modbus", value: 12.5, quality: "good", timestamp: null, receivedAt: null, writable: false } });
      fake.emit({ type: "event", data: { type: "takeover", severity: "alarm", text: "b took over", node: "b", at: 1 } });
      await s.until((m) => m.event === "tag" && (m.data as { value: number }).value === 12.5, "the tag");
      await s.until((m) => m.event === "event" && (m.data as { text: string }).text === "b took over", "the event");
      fake.emit({ type: "audit", data: { seq: 9, ts: "2026-11-30T00:00:00Z", user: "otto", role: "operator", from: "127.0.0.1", action: "confirm", result: "ok", nodeId: "a", epoch: 3, prev: "x" } });
      await s.until((m) => m.event === "audit" && (m.data as { action: string; user: string }).action === "confirm", "the audit entry");
      const ids = s.messages.map((m) => m.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      await new Promise((r) => setTimeout(r, 400));
      expect(s.raw()).toContain(": keep-alive\n\n");
      expect(s.raw().startsWith("retry: 1000\n\n")).toBe(true);
    } finally {
      s.close();
    }
  });

  it("refuses a stream beyond maxStreams with 503 and the reason; a closed one frees its place", async () => {
    const open3 = [await open(), await open(), await open()];
    const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: basic("vera", "v-pass") } });
    expect(res.status).toBe(503);
    expect((await res.json()).error.message).toMatch(/3 event streams are open on this node already/);
    open3[0].close();
    const t0 = Date.now();
    let ok = false;
    while (!ok && Date.now() - t0 < 5000) {
      const r = await fetch(`${base}/api/v1/events`, { headers: { authorization: basic("vera", "v-pass") }, signal: AbortSignal.timeout(1000) }).catch(() => null);
      ok = r?.status === 200;
      if (r?.status === 200) await r.body?.cancel();
      else await new Promise((x) => setTimeout(x, 50));
    }
    expect(ok).toBe(true);
    for (const s of open3) s.close();
  });

  it("cuts off a client that does not read instead of buffering for it; others keep their stream", async () => {
    // let the places of the streams above be freed
    await new Promise((r) => setTimeout(r, 300));
    const reader = await open();
    const stuck = net.connect(port, "127.0.0.1");
    await new Promise((r) => stuck.once("connect", r));
    stuck.write(`GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic("vera", "v-pass")}\r\n\r\n`);
    stuck.pause(); // never reads: the kernel's buffers fill, then the server's
    let closed = false;
    stuck.on("close", () => (closed = true));
    stuck.on("error", () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const before = server.counters().eventStreamsClosedSlow as number;
    const big = "x".repeat(50_000);
    for (let i = 0; i < 400 && !closed && (server.counters().eventStreamsClosedSlow as number) === before; i++) {
      fake.emit({ type: "event", data: { type: "flood", severity: "info", text: big, node: "a", at: i } });
      await new Promise((r) => setImmediate(r));
    }
    expect(server.counters().eventStreamsClosedSlow).toBe(before + 1);
    fake.emit({ type: "event", data: { type: "after", severity: "info", text: "still here", node: "a", at: 0 } });
    await reader.until((m) => m.event === "event" && (m.data as { text: string }).text === "still here", "the reader's next event");
    reader.close();
    stuck.destroy();
  });

  it("ends every open stream when the server stops", async () => {
    const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: basic("vera", "v-pass") } });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const t0 = Date.now();
    const stopping = server.stop();
    // the stream ends at once (read until the end or an error: a destroyed connection)
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return;
    })().catch(() => undefined);
    await ended;
    expect(Date.now() - t0).toBeLessThan(1000);
    await stopping;
  });
});
