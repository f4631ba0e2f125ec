// "Serving", as a client of a Tandem node sees it (DESIGN.md, performance
// targets): the node's HTTP API answers with an acting state (active-held or
// active), and a plant read through its API returns quality good. Two
// pollers run side by side from the moment of the fault, each back to back
// with 2 ms between requests:
//   http  GET /api/v1/health (no login) until it answers serving: true (active-held/active)
//   read  GET /api/v1/tags/<tag> for every tag given, until all are good
// `both` is the first answer at which the latest health answer says acting
// and the latest read answer says good (the figure as it was before MQTT).
// With an MQTT probe (the kill -9 trials, DESIGN.md: "… MQTT CONNACK
// accepted"), a third loop runs beside them:
//   mqtt  a fresh mqtt.js client to the node's MQTT port (user viewer: a login
//         the pair knows, as a site client of that account was connected to
//         the active before the fault, siteClient()), again
//         POLL_MS after each refusal (CONNACK 3 from a standby, a refused
//         connection), until a CONNACK is accepted and the retained value of
//         the probe's tag arrives with quality good
// and `all` is the first moment when all three hold.
import { performance } from "node:perf_hooks";
import mqtt from "mqtt";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Serving {
  /** ms from the fault until /health answers serving (active-held or active) */
  http: number;
  /** ms from the fault until every tag read answers quality good */
  read: number;
  /** ms from the fault until both hold at once */
  both: number;
  /** with an MQTT probe: ms until its CONNACK was accepted, until the tag's good value arrived, and until HTTP, read and MQTT all held */
  mqtt?: { connack: number; value: number; all: number };
}

/** What the MQTT probe connects to: the node's broker and the tag topic whose retained value it waits for. */
export interface MqttProbe {
  port: number;
  host?: string;
  topic: string;
}

/**
 * One try of the MQTT probe: a fresh client (viewer) to host:port. Resolves
 * with the CONNACK's and the good value's times (performance.now()), or null
 * when the node refused (CONNACK 3, a refused or closed connection) or the
 * value did not come within limitMs.
 */
function mqttTry(p: MqttProbe, limitMs: number): Promise<{ connack: number; value: number } | null> {
  return new Promise((resolve) => {
    let connack: number | null = null;
    const c = mqtt.connect({ host: p.host ?? "127.0.0.1", port: p.port, username: "viewer", password: "viewer", protocolVersion: 4, reconnectPeriod: 0, connectTimeout: limitMs });
    const finish = (r: { connack: number; value: number } | null) => {
      clearTimeout(timer);
      c.removeAllListeners();
      c.on("error", () => undefined);
      c.end(true);
      resolve(r);
    };
    const timer = setTimeout(() => finish(null), limitMs);
    c.on("connect", () => {
      connack = performance.now();
      c.subscribe(p.topic, { qos: 0 });
    });
    c.on("message", (_t, payload) => {
      let good = false;
      try {
        good = JSON.parse(payload.toString()).quality === "good";
      } catch {
        /* not a tag value */
      }
      if (good && connack !== null) finish({ connack, value: performance.now() });
    });
    c.on("error", () => finish(null));
    c.on("close", () => finish(null));
  });
}

export const acting = (state: string | undefined) => state === "active-held" || state === "active";

/**
 * Logs in as `user` (password = user name, as the bench cluster's users
 * have) and returns the session cookie: tag reads with Basic auth would run
 * scrypt whenever the node's one-minute credential cache runs out, possibly
 * in the middle of a trial.
 */
export async function login(url: string, user = "viewer"): Promise<string> {
  const r = await fetch(`${url}/api/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-tandem-client": "bench" },
    body: JSON.stringify({ user, password: user }),
    signal: AbortSignal.timeout(10_000),
  });
  if (r.status !== 200) throw new Error(`login at ${url}: ${r.status} ${await r.text()}`);
  // each node names its own cookie (tandem_session_<pair>_<node>)
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith("tandem_session_"));
  if (!cookie) throw new Error(`login at ${url}: no session cookie in the answer`);
  return cookie.split(";")[0]!;
}

async function getJson(url: string, cookie?: string): Promise<any> {
  try {
    const r = await fetch(url, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(1000) });
    return r.status === 200 ? await r.json() : null;
  } catch {
    return null;
  }
}

/** Whether /health (no login) says this node is the one to send traffic to (active or held). */
export async function healthServing(url: string): Promise<boolean> {
  return ((await getJson(`${url}/api/v1/health`)) as { serving?: boolean } | null)?.serving === true;
}

/** A node's state and epoch from /status (viewer session cookie), or null when it does not answer. */
export async function stateOf(url: string, cookie: string): Promise<{ state?: string; epoch?: number } | null> {
  return (await getJson(`${url}/api/v1/status`, cookie)) as { state?: string; epoch?: number } | null;
}

/** Whether every tag reads quality good on this node right now. */
export async function readsGood(url: string, cookie: string, tags: string[]): Promise<boolean> {
  const rs = await Promise.all(tags.map((t) => getJson(`${url}/api/v1/tags/${encodeURIComponent(t)}`, cookie)));
  return rs.every((r) => (r as { quality?: string } | null)?.quality === "good");
}

/**
 * How often the bench asks the standby whether it serves, per loop (health,
 * and the plant reads). Polling every 2 ms put ~1000 requests a second on the
 * node under test during the very takeover it measures (and the event loop
 * that must notice the dead peer was busy answering them); 5 ms costs at
 * most 5 ms of resolution.
 */
export const POLL_MS = 5;

/**
 * A client of the site (an MES, a SCADA: user viewer) connected to the active
 * before the fault, as a plant's are; the active shares the logins its
 * clients use with its standby, so the probe's login (the same account) is
 * one the pair knows. Resolves once connected and the share has had time to
 * reach the standby; end it after the fault.
 */
export async function siteClient(p: MqttProbe, shareMs = 1000): Promise<{ end(): void }> {
  const c = mqtt.connect({ host: p.host ?? "127.0.0.1", port: p.port, username: "viewer", password: "viewer", protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
  c.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("close", () => reject(new Error(`the site's MQTT client could not connect to ${p.host ?? "127.0.0.1"}:${p.port}`)));
  });
  await sleep(shareMs);
  return { end: () => void c.end(true) };
}

/** Polls `url` (and, with `probe`, its MQTT broker) from t0 (performance.now() at the fault) until it serves; throws after limitMs. */
export async function untilServing(url: string, cookie: string, tags: string[], t0: number, limitMs = 10_000, probe?: MqttProbe): Promise<Serving> {
  let http: number | null = null;
  let read: number | null = null;
  let both: number | null = null;
  let mq: { connack: number; value: number } | null = null;
  let all: number | null = null;
  let isActing = false;
  let isGood = false;
  let done = false;
  const check = (t: number) => {
    if (isActing && isGood && both === null) both = t;
    if (isActing && isGood && mq !== null && all === null) all = t;
    if ((both !== null && (!probe || all !== null)) || t > limitMs) done = true;
  };
  const mqttLoop = async () => {
    while (probe && !done && mq === null) {
      const r = await mqttTry(probe, 2000);
      if (r) {
        mq = { connack: r.connack - t0, value: r.value - t0 };
        check(performance.now() - t0);
      } else {
        check(performance.now() - t0);
        if (!done) await sleep(POLL_MS);
      }
    }
  };
  const healthLoop = async () => {
    while (!done) {
      isActing = await healthServing(url);
      const t = performance.now() - t0;
      if (isActing && http === null) http = t;
      check(t);
      if (!done) await sleep(POLL_MS);
    }
  };
  const readLoop = async () => {
    while (!done) {
      isGood = await readsGood(url, cookie, tags);
      const t = performance.now() - t0;
      if (isGood && read === null) read = t;
      check(t);
      if (!done) await sleep(POLL_MS);
    }
  };
  await Promise.all([healthLoop(), readLoop(), mqttLoop()]);
  if (both === null || (probe && all === null))
    throw new Error(`${url} not serving ${limitMs} ms after the fault (health acting: ${http !== null}, plant read good: ${read !== null}${probe ? `, MQTT value: ${mq !== null}` : ""})`);
  const m = mq as { connack: number; value: number } | null;
  return { http: http!, read: read!, both, ...(m && all !== null ? { mqtt: { connack: m.connack, value: m.value, all } } : {}) };
}
