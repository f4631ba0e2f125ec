// The MQTT bench's clients (mqtt.ts), in a child process of their own so
// they do not share an event loop with the broker under test. The bench
// drives it over IPC, one command at a time, and every answer carries
// process.hrtime.bigint() times (CLOCK_MONOTONIC: the same clock in every
// process on the machine) as strings:
//
//   { cmd: "fanout", port, user, n, topic }
//     n clients to one broker, each subscribed to `topic` at QoS 0; answers
//     { ready: n } once every SUBACK is in (the retained messages that follow
//     it carry the retain flag and are not counted)
//   { cmd: "count", expect, idleMs, limitMs }
//     counts live messages from now; answers { counting } at once, then
//     { counted, first, last, complete } once every
//     client has `expect` messages (last: when the last one got its last), or
//     after idleMs without a message / limitMs in all (complete: false)
//   { cmd: "follow", servers, user, n, topic, reconnectMs }
//     n clients that list every server (as docs/mqtt.md shows), subscribed to
//     `topic` (the pair's retained state); answers { ready: n } once every
//     client is connected and has the state
//   { cmd: "where" }  → { connected, active: { <node>: clients whose latest state names it } }
//   { cmd: "watch", want, limitMs }
//     answers { watching } at once, then { landed: [ns | null per client],
//     connacked / closed / reconnecting: [the same for its first accepted
//     CONNACK, its connection closing, its first reconnect attempt], connects,
//     refused, closes } once every client has received a state naming `want`
//     (or limitMs passed)
//   { cmd: "close" } → every client ends; the process exits
import mqtt, { type MqttClient } from "mqtt";

type Msg = Record<string, any>;
const send = (m: Msg) => process.send!(m);
const now = () => process.hrtime.bigint();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let clients: MqttClient[] = [];
/** fan-out: live messages per client since `count`, how many clients have `target`, the first message and when the last client got its last */
let counts: number[] = [];
let target = -1;
let done = 0;
let first: bigint | null = null;
let last: bigint | null = null;
/** follow: the latest state each client received, and the stats of a watch */
let latest: (string | null)[] = [];
let watch: { want: string; landed: (bigint | null)[]; connacked: (bigint | null)[]; closed: (bigint | null)[]; reconnecting: (bigint | null)[]; left: number; done: () => void } | null = null;
const stats = { connects: 0, refused: 0, closes: 0 };
let lastMessage = now();

async function until(what: string, pred: () => boolean, limitMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (pred()) return;
    if (Date.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await sleep(10);
  }
}

async function fanout(m: Msg): Promise<void> {
  let subscribed = 0;
  counts = new Array(m.n).fill(0);
  for (let i = 0; i < m.n; i++) {
    const c = mqtt.connect({ host: "127.0.0.1", port: m.port, username: m.user, password: m.user, protocolVersion: 4, clientId: `fan-${process.pid}-${i}`, reconnectPeriod: 0, connectTimeout: 10_000 });
    c.on("error", (err) => send({ error: `client ${i}: ${err.message}` }));
    c.on("connect", () => c.subscribe(m.topic, { qos: 0 }, (err) => (err ? send({ error: `client ${i}: subscribe: ${err.message}` }) : subscribed++)));
    c.on("message", (_topic, _payload, packet) => {
      // a retained message (sent on SUBACK, flagged retain) is not part of a run; live ones come with retain 0
      if (packet.retain) return;
      lastMessage = now();
      if (++counts[i]! === target) {
        done++;
        last = lastMessage;
      }
      first ??= lastMessage;
    });
    clients.push(c);
  }
  await until(`${m.n} clients subscribed`, () => subscribed === m.n, 30_000);
  send({ ready: m.n });
}

async function count(m: Msg): Promise<void> {
  counts.fill(0);
  first = null;
  last = null;
  done = 0;
  target = m.expect;
  const t0 = now();
  lastMessage = t0;
  send({ counting: true });
  const idle = BigInt(m.idleMs) * 1_000_000n;
  const limit = BigInt(m.limitMs) * 1_000_000n;
  for (;;) {
    await sleep(5);
    const t = now();
    if (done === clients.length || (first !== null && t - lastMessage > idle) || t - t0 > limit) break;
  }
  target = -1;
  const counted = counts.reduce((a, b) => a + b, 0);
  send({ counted, first: String(first ?? 0n), last: String(last ?? lastMessage), complete: done === clients.length });
}

async function follow(m: Msg): Promise<void> {
  latest = new Array(m.n).fill(null);
  for (let i = 0; i < m.n; i++) {
    const c = mqtt.connect({
      servers: m.servers,
      username: m.user,
      password: m.user,
      protocolVersion: 4,
      clientId: `follow-${process.pid}-${i}`,
      reconnectPeriod: m.reconnectMs,
      connectTimeout: 2000,
      // CONNACK "server unavailable" from the standby: go on to the next server
      reconnectOnConnackError: true,
    });
    c.on("error", (err) => {
      if (/unavailable|refused/i.test(err.message)) stats.refused++;
    });
    c.on("close", () => {
      stats.closes++;
      if (watch && watch.closed[i] === null) watch.closed[i] = now();
    });
    c.on("reconnect", () => {
      if (watch && watch.reconnecting[i] === null) watch.reconnecting[i] = now();
    });
    c.on("connect", () => {
      stats.connects++;
      if (watch && watch.connacked[i] === null) watch.connacked[i] = now();
      c.subscribe(m.topic, { qos: 0 });
    });
    c.on("message", (_topic, payload) => {
      let active: string | null = null;
      try {
        active = String(JSON.parse(payload.toString()).active);
      } catch {
        return;
      }
      latest[i] = active;
      const w = watch;
      if (w && active === w.want && w.landed[i] === null) {
        w.landed[i] = now();
        if (--w.left === 0) w.done();
      }
    });
    clients.push(c);
  }
  await until(`${m.n} clients connected with the pair's state`, () => clients.every((c) => c.connected) && latest.every((a) => a !== null), 60_000);
  send({ ready: m.n });
}

function where(): void {
  const active: Record<string, number> = {};
  for (const a of latest) if (a !== null) active[a] = (active[a] ?? 0) + 1;
  send({ connected: clients.filter((c) => c.connected).length, active });
}

async function watchFor(m: Msg): Promise<void> {
  const before = { ...stats };
  const landed: (bigint | null)[] = new Array(clients.length).fill(null);
  const [connacked, closed, reconnecting] = [0, 0, 0].map((): (bigint | null)[] => new Array(clients.length).fill(null));
  const finished = new Promise<void>((resolve) => {
    watch = { want: m.want, landed, connacked: connacked!, closed: closed!, reconnecting: reconnecting!, left: clients.length, done: resolve };
    setTimeout(resolve, m.limitMs).unref();
  });
  send({ watching: true });
  await finished;
  watch = null;
  send({
    landed: landed.map((t) => (t === null ? null : String(t))),
    connacked: connacked!.map((t) => (t === null ? null : String(t))),
    closed: closed!.map((t) => (t === null ? null : String(t))),
    reconnecting: reconnecting!.map((t) => (t === null ? null : String(t))),
    connects: stats.connects - before.connects,
    refused: stats.refused - before.refused,
    closes: stats.closes - before.closes,
  });
}

async function close(): Promise<void> {
  await Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
  clients = [];
  send({ closed: true });
  process.disconnect();
}

const commands: Record<string, (m: Msg) => Promise<void> | void> = { fanout, count, follow, where, watch: watchFor, close };

process.on("message", (m: Msg) => {
  const run = commands[m.cmd];
  if (!run) return send({ error: `unknown command ${m.cmd}` });
  Promise.resolve(run(m)).catch((err: Error) => send({ error: err.message, fatal: true }));
});
// the bench went away (killed): so do the clients
process.on("disconnect", () => process.exit(0));
