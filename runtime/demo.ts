// `tandem demo`: a whole redundant site on this machine. Each node and the
// witness run as their own OS process (a kill -9 of one leaves the others),
// their configs and logs are written to the demo dir so people can read them,
// and the demo narrates every state change it sees. Like systemd with
// Restart=always, a node that dies is started again after a few seconds.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { demoDriversConfig } from "../drivers/demo-tags.js";
import { hashPassword } from "./auth/passwords.js";
import { PRIVATE_DIR, PRIVATE_FILE, privateUmask } from "./private-files.js";

export const DEMO_BASE_PORT = 8080;
const RESTART_AFTER_MS = 3000;
/** how long the demo waits for an active holding the witness's lease before it prints what to try */
const SETTLE_TIMEOUT_MS = 60_000;

/** The demo's fixed ports (CONTRACT.md), shifted by --base-port. */
export function demoPorts(base = DEMO_BASE_PORT) {
  const o = base - DEMO_BASE_PORT;
  return {
    httpA: 8080 + o,
    httpB: 8081 + o,
    mqttA: 1883 + o,
    mqttB: 1884 + o,
    witness: 7400 + o,
    opcua: 4840 + o,
    /** each node's own OPC UA server (the simulator's is opcua) */
    opcuaA: 4841 + o,
    opcuaB: 4842 + o,
    modbus: 5020 + o,
    peerA: 7410 + o,
    peerB: 7411 + o,
    lanA: 7420 + o,
    lanB: 7421 + o,
    plantA: 7422 + o,
    plantB: 7423 + o,
    /** the sample web tier, one per node */
    webA: 8090 + o,
    webB: 8091 + o,
  };
}

export interface DemoNodeSpec {
  id: "a" | "b";
  role: "main" | "secondary";
}

/**
 * The sample services: a job agent placed active, a web tier on both nodes,
 * two balanced workers. The agent and the workers are small shell scripts
 * (config/demo/): light enough not to slow a busy machine's election.
 */
function demoServices(id: "a" | "b", ports: ReturnType<typeof demoPorts>, dir: string): string {
  const node = JSON.stringify(process.execPath);
  const script = (name: string) => JSON.stringify(join(checkoutDir(), "config", "demo", name));
  return `# the plant's programs beside Tandem (docs/services.md): the job agent must never run twice
services:
  job-agent:
    command: ${script("job-agent.sh")}
    args: [${JSON.stringify(join(dir, "job-agent.out"))}]
    placement: active
    stopTimeoutMs: 3000
  web:
    command: ${node}
    # each node's web tier listens on its own port (both run on this one machine): a value that
    # differs between the nodes comes from each node's environment, so both files say the same
    args: [${JSON.stringify(join(dirname(fileURLToPath(import.meta.url)), "demo-service.js"))}, "\${TANDEM_WEB_PORT}"]
    placement: both
    health: { http: "http://127.0.0.1:\${TANDEM_WEB_PORT}/health", intervalMs: 2000, startGraceMs: 5000 }
  worker:
    command: ${script("worker.sh")}
    placement: balanced
    instances: 2
    scheme: fewest-instances
    dependsOn: [web]
`;
}

export function demoNodeConfig(id: "a" | "b", ports: ReturnType<typeof demoPorts>, users: { name: string; role: string; hash: string }[], dir = "."): string {
  const me = id === "a";
  const peer = me ? "b" : "a";
  return `# Demo node ${id} — written by \`tandem demo\`. A real site has one such file per server.
pair:
  id: line1
  key: \${TANDEM_PAIR_KEY}
node:
  id: ${id}
  role: ${me ? "main" : "secondary"}
  dataDir: ./data/${id}
peer:
  id: ${peer}
  listen: 127.0.0.1:${me ? ports.peerA : ports.peerB}
  address: 127.0.0.1:${me ? ports.peerB : ports.peerA}
  api: http://127.0.0.1:${me ? ports.httpB : ports.httpA}
  links:
    - name: lan
      bind: 127.0.0.1:${me ? ports.lanA : ports.lanB}
      peer: 127.0.0.1:${me ? ports.lanB : ports.lanA}
    - name: plant
      bind: 127.0.0.2:${me ? ports.plantA : ports.plantB}
      peer: 127.0.0.2:${me ? ports.plantB : ports.plantA}
heartbeat:
  intervalMs: 50
  timeoutMs: 500
  deadProcessMisses: 3
witness:
  address: 127.0.0.1:${ports.witness}
takeover:
  leaseMs: 1000
  autoConfirmMs: 0
failback:
  mode: manual
# each node's own SQLite database in its data dir; every record written to both (docs/replication.md)
database:
  engine: sqlite
  file: tandem.db
replication:
  mode: sync
  whenPeerAway: accept
  tables:
    # scripts write here: POST /api/v1/records/batch_log (the batch writes one line per batch too)
    batch_log: { retentionDays: 30 }
# the sample batch (config/demo/batch.js): fill, heat, mix, drain against the simulator, batch after batch;
# its context is replicated, held after a takeover until an operator confirms (resume) or rejects (restart)
processes:
  batch:
    module: ${JSON.stringify(join(checkoutDir(), "config", "demo", "batch.js"))}
    options: { fillMs: 8000, heatMs: 6000, mixMs: 5000, drainMs: 6000, heatTo: 70, report: batch_log }
# tag history: the active records every tag past its deadband (quality changes always) into the
# replicated table _history, and again each minute while it holds still; events (takeovers, confirms,
# alarms) go to _events. Read them: tandem tags history NAME --since 10m, tandem events
history:
  enabled: true
  deadband: 0.5
  maxIntervalMs: 60000
  retentionDays: 7
# MQTT: each node runs a broker; only the active serves clients (the standby answers CONNACK
# "server unavailable", so a client that lists both nodes lands on the active). The demo logins work here too.
mqtt:
  listen: 127.0.0.1:${me ? ports.mqttA : ports.mqttB}
# OPC UA: both nodes serve the tags (Objects/Tandem/<device>/<tag>) with the pair's redundancy information
# (RedundancySupport Hot, both servers' URIs, a ServiceLevel ≥ 200 on the active only); writes on the active
# (operator). The demo trusts any client's certificate (Sign, SignAndEncrypt): a real site keeps that off.
opcua:
  server: { listen: 127.0.0.1:${me ? ports.opcuaA : ports.opcuaB}, trustUnknownClientCertificates: true }
http:
  listen: 127.0.0.1:${me ? ports.httpA : ports.httpB}
  users:
${users.map((u) => `    - { name: ${u.name}, role: ${u.role}, passwordHash: "${u.hash}" }`).join("\n")}
log:
  level: info
  file: ./logs/${id}.log
${demoServices(id, ports, dir)}# the plant simulator (\`tandem sim\`), read over Modbus TCP and OPC UA; the standby reads too (hot)
${stringify({ drivers: demoDriversConfig("127.0.0.1", ports.modbus, ports.opcua) }, { lineWidth: 0 })}`;
}

interface Proc {
  name: string;
  args: string[];
  /** what this process's environment adds (a node's own values: its web tier's port) */
  env?: Record<string, string>;
  child: ChildProcess | null;
  restarts: number;
  timer: NodeJS.Timeout | null;
}

const cliPath = () => join(dirname(fileURLToPath(import.meta.url)), "cli.js");

/** Written 0600 even when the file was there before with another mode (a reused --dir). */
function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: PRIVATE_FILE });
  chmodSync(file, PRIVATE_FILE);
}

export async function runDemo(argv: string[]): Promise<number> {
  let values: { dir?: string; "base-port"?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { dir: { type: "string" }, "base-port": { type: "string" } } }));
  } catch (err) {
    console.error(`tandem demo: ${(err as Error).message}\nusage: tandem demo [--dir DIR] [--base-port N]`);
    return 2;
  }
  const base = values["base-port"] === undefined ? DEMO_BASE_PORT : Number(values["base-port"]);
  // every port shifts with the base: the lowest (MQTT, 1883) and the highest (node b's HTTP) must stay valid
  const lowest = 1024 + (DEMO_BASE_PORT - 1883);
  const highest = 65535 - 1;
  if (!Number.isInteger(base) || base < lowest || base > highest) {
    console.error(`tandem demo: --base-port must be a whole number from ${lowest} to ${highest} (every demo port moves with it), got '${values["base-port"]}'`);
    return 2;
  }
  const ports = demoPorts(base);
  const keep = values.dir !== undefined;
  const dir = keep ? resolve(values.dir!) : mkdtempSync(join(tmpdir(), "tandem-demo-"));
  // the configs hold password hashes and the pair key: private to this user, whatever the umask
  privateUmask();
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  mkdirSync(join(dir, "logs"), { recursive: true, mode: PRIVATE_DIR });

  const users = await Promise.all(
    (["viewer", "operator", "admin"] as const).map(async (name) => ({ name, role: name, hash: await hashPassword(name) })),
  );
  for (const id of ["a", "b"] as const) writePrivate(join(dir, `${id}.yaml`), demoNodeConfig(id, ports, users, dir));
  const keyFile = join(dir, "pair.key");
  const pairKey = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : randomBytes(32).toString("base64url");
  writePrivate(keyFile, pairKey + "\n");

  const env = { ...process.env, TANDEM_PAIR_KEY: pairKey, TANDEM_WITNESS_KEY: `line1=${pairKey}` };
  const pidFile = (name: string) => join(dir, `${name}.pid`);
  const procs: Proc[] = [
    { name: "sim", args: ["sim", "--base-port", String(base), "--data-dir", join(dir, "data", "sim")], child: null, restarts: 0, timer: null },
    // max lease 2 s (the nodes ask for 1 s): also the witness's quiet time after a restart
    { name: "witness", args: ["witness", "--listen", `127.0.0.1:${ports.witness}`, "--max-lease-ms", "2000"], child: null, restarts: 0, timer: null },
    { name: "a", args: ["start", "--config", join(dir, "a.yaml")], env: { TANDEM_WEB_PORT: String(ports.webA) }, child: null, restarts: 0, timer: null },
    { name: "b", args: ["start", "--config", join(dir, "b.yaml")], env: { TANDEM_WEB_PORT: String(ports.webB) }, child: null, restarts: 0, timer: null },
  ];
  let stopping = false;
  const say = (line: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${line}`);

  const consoleFile = (p: Proc) => join(dir, "logs", p.name === "a" || p.name === "b" ? `${p.name}.console` : `${p.name}.log`);
  const launch = (p: Proc) => {
    p.timer = null;
    // every process writes its console to a file (nodes log to <id>.log through
    // pino; their console carries only libraries' chatter and fatal errors)
    const out = openSync(consoleFile(p), "a", PRIVATE_FILE);
    // own process group: Ctrl-C reaches only the demo, which stops them in order
    const child = spawn(process.execPath, [cliPath(), ...p.args], { cwd: dir, env: { ...env, ...p.env }, stdio: ["ignore", out, out], detached: true });
    if (typeof out === "number") closeSync(out);
    p.child = child;
    // the commands the demo suggests find the current process here (it changes when one is restarted)
    if (child.pid !== undefined) writeFileSync(pidFile(p.name), `${child.pid}\n`);
    child.on("exit", (code, signal) => {
      p.child = null;
      rmSync(pidFile(p.name), { force: true });
      if (stopping) return;
      say(`${p.name} exited (${signal ?? `code ${code}`}); restarting it in ${RESTART_AFTER_MS / 1000} s, as systemd would`);
      if (code) {
        const tail = readFileSync(consoleFile(p), "utf8").trim().split("\n").slice(-5);
        for (const line of tail) say(`  ${p.name}: ${line}`);
      }
      p.restarts++;
      p.timer = setTimeout(() => launch(p), RESTART_AFTER_MS);
    });
  };
  for (const p of procs) launch(p);

  // Ctrl-C may come at any moment, also while the pair is still electing
  const stopRequested = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });

  const pidOf = (name: string) => procs.find((p) => p.name === name)?.child?.pid;
  const urls = { a: `http://127.0.0.1:${ports.httpA}`, b: `http://127.0.0.1:${ports.httpB}` } as const;
  console.log(`
Tandem demo — pair "line1" on this machine (files in ${dir})

  node a (preferred main)  HMI ${urls.a}/    OPC UA opc.tcp://127.0.0.1:${ports.opcuaA}    pid ${pidOf("a")}
  node b (secondary)       HMI ${urls.b}/    OPC UA opc.tcp://127.0.0.1:${ports.opcuaB}    pid ${pidOf("b")}
  witness                  127.0.0.1:${ports.witness}    pid ${pidOf("witness")}
  plant simulator          OPC UA opc.tcp://127.0.0.1:${ports.opcua}  Modbus TCP 127.0.0.1:${ports.modbus}    pid ${pidOf("sim")}

  Demo logins (demo only): viewer/viewer  operator/operator  admin/admin

  Waiting for the pair to elect its active and for the witness to hold its lease…
`);

  // narrate state changes, and where the services run
  const last: Record<string, string> = {};
  const lastServices: Record<string, string> = {};
  const lastBatch = { line: "" };
  let ticks = 0;
  const poll = setInterval(() => {
    if (ticks % 8 === 0) for (const name of ["a", "b"] as const) narrateServices(urls[name], name, lastServices, say);
    // the batch, as the acting node runs (or holds) it
    if (ticks++ % 4 === 0) for (const name of ["a", "b"] as const) if (/^active/.test(last[name] ?? "")) narrateBatch(urls[name], name, lastBatch, say);
    for (const name of ["a", "b"] as const) {
      // /status (viewer): /health tells only whether a node serves, not its state and epoch
      fetch(`${urls[name]}/api/v1/status`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` }, signal: AbortSignal.timeout(400) })
        .then((r) => r.json() as Promise<{ state: string; epoch: number; serviceLevel: number }>)
        .then((h) => {
          // an answer without a state (the node still opening, an error body) says nothing yet
          if (typeof h.state !== "string") return;
          const now = `${h.state} (epoch ${h.epoch})`;
          if (last[name] !== now) {
            say(`node ${name}: ${last[name] ?? "up"} → ${now}${h.state === "active-held" ? "  — held: an operator must confirm or reject" : ""}`);
            last[name] = now;
          }
        })
        .catch(() => {
          if (last[name] !== "down") {
            if (last[name] !== undefined) say(`node ${name}: not answering`);
            last[name] = "down";
          }
        });
    }
  }, 250);

  const settling = new AbortController();
  const settled = await Promise.race([waitForSettledPair(urls, SETTLE_TIMEOUT_MS, settling.signal, say), stopRequested.then(() => null)]);
  settling.abort(); // Ctrl-C while electing: stop asking
  if (settled !== null) {
    if (settled === "timeout") {
      console.log(
        `  No node holds the witness's lease as the active after ${SETTLE_TIMEOUT_MS / 1000} s: see the messages above and the logs.\n` +
          "  The commands below assume node a is the active.\n",
      );
    }
    const active = settled === "timeout" ? "a" : settled;
    console.log(thingsToTry({ active, urls, mqtt: { a: ports.mqttA, b: ports.mqttB }, dir, root: checkoutDir() }).join("\n"));
    console.log(`
  Logs: ${join(dir, "logs")} (a.log, b.log, witness.log, sim.log)   Ctrl-C stops everything.
`);
  }

  await stopRequested;
  stopping = true;
  clearInterval(poll);
  say("stopping the demo…");
  for (const p of procs) if (p.timer) clearTimeout(p.timer);
  // the standby first, then the active (with nobody to hand over to it stops
  // cleanly as the owner of the process), the witness last
  const acting = (p: Proc) => /^active/.test(last[p.name] ?? "");
  const nodes = procs.filter((p) => p.name === "a" || p.name === "b");
  const others = procs.filter((p) => p.name !== "a" && p.name !== "b");
  for (const group of [nodes.filter((p) => !acting(p)), nodes.filter(acting), others]) {
    await Promise.all(
      group.map(
        (p) =>
          new Promise<void>((res) => {
            const c = p.child;
            if (!c || c.exitCode !== null) return res();
            const kill = setTimeout(() => c.kill("SIGKILL"), 10_000);
            c.once("exit", () => {
              clearTimeout(kill);
              res();
            });
            c.kill("SIGTERM");
          }),
      ),
    );
  }
  if (!keep) rmSync(dir, { recursive: true, force: true });
  say("demo stopped");
  return 0;
}

/** Says which services run on a node when that changes. */
function narrateServices(url: string, name: string, last: Record<string, string>, say: (line: string) => void): void {
  fetch(`${url}/api/v1/services`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` }, signal: AbortSignal.timeout(800) })
    .then((r) => r.json() as Promise<{ services: { instance: string; state: string; node: string | null }[] }>)
    .then((v) => {
      const here = v.services.filter((s) => s.state === "running" && s.node === name).map((s) => s.instance);
      const now = here.length ? here.join(", ") : "none";
      if (last[name] !== undefined && last[name] !== now) say(`node ${name}: services running: ${now}`);
      last[name] = now;
    })
    .catch(() => void (last[name] = "none"));
}

/** Says where the sample batch is when its step (or held state) changes: a takeover visibly resumes at the right step. */
function narrateBatch(url: string, name: string, last: { line: string }, say: (line: string) => void): void {
  fetch(`${url}/api/v1/context`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` }, signal: AbortSignal.timeout(800) })
    .then((r) => r.json() as Promise<{ processes?: { name: string; state: string; step: string | null; content: { batch?: number } }[] }>)
    .then((v) => {
      const b = v.processes?.find((p) => p.name === "batch");
      if (!b || !b.step) return;
      const line = b.state === "held" ? `batch ${b.content.batch ?? "?"} HELD at ${b.step} on node ${name}: confirm resumes it there, reject restarts it` : b.state === "running" ? `batch ${b.content.batch ?? "?"}: ${b.step} (node ${name})` : "";
      if (line && line !== last.line) say(line);
      if (line) last.line = line;
    })
    .catch(() => undefined);
}

/** The checkout (or installed package) the demo runs from: where `npx tandem` finds this CLI. */
function checkoutDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
}

/** A word for the shell: as is when it is plain, else single-quoted. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Waits until one node is active, the other standby, and the witness holds
 * the active's lease (a kill -9 before that would find a witness in its
 * quiet time, which cannot vouch for a takeover). Returns the active's id.
 */
async function waitForSettledPair(urls: { a: string; b: string }, timeoutMs: number, stop: AbortSignal, say: (line: string) => void): Promise<"a" | "b" | "timeout"> {
  const viewer = `Basic ${Buffer.from("viewer:viewer").toString("base64")}`;
  let confirmed = false;
  const status = async (url: string) => {
    try {
      const r = await fetch(`${url}/api/v1/status`, { headers: { authorization: viewer }, signal: AbortSignal.timeout(1000) });
      return r.ok ? ((await r.json()) as { nodeId: string; state: string; witness: { holder?: string | null } }) : null;
    } catch {
      return null;
    }
  };
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !stop.aborted) {
    const [a, b] = await Promise.all([status(urls.a), status(urls.b)]);
    for (const [me, other] of [
      [a, b],
      [b, a],
    ] as const) {
      if (me?.state === "active" && other?.state === "standby" && me.witness.holder === me.nodeId) return me.nodeId as "a" | "b";
      // A start-up on a busy machine can leave the first active held (its
      // first lease ran out before the witness answered, and it took the role
      // back): the demo confirms it once, as an operator would, and says so.
      if (me?.state === "active-held" && other?.state === "standby" && !confirmed) {
        confirmed = true;
        say(`node ${me.nodeId} came up held (its first lease lapsed on a busy machine): the demo confirms it, as an operator would`);
        await fetch(`${urls[me.nodeId as "a" | "b"]}/api/v1/confirm`, {
          method: "POST",
          headers: { authorization: `Basic ${Buffer.from("operator:operator").toString("base64")}`, "content-type": "application/json" },
          body: "{}",
          signal: AbortSignal.timeout(2000),
        }).catch(() => undefined);
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return "timeout";
}

/**
 * What to try, in order, each command exactly as it runs when pasted into a
 * shell in the checkout (test/integration/demo.test.ts runs every one).
 * The commands name the node that is active now; each step leaves the pair
 * where the next one expects it.
 */
export function thingsToTry(o: { active: "a" | "b"; urls: { a: string; b: string }; mqtt: { a: number; b: number }; dir: string; root: string }): string[] {
  const act = o.active;
  const sb = act === "a" ? "b" : "a";
  const pid = (id: string) => `$(cat ${shellQuote(join(o.dir, `${id}.pid`))})`;
  const as = (user: string) => `TANDEM_USER=${user} TANDEM_PASSWORD=${user}`;
  const steps: [string, string][] = [
    [`What node ${act}, the active, sees:`, `${as("viewer")} npx tandem status --node ${o.urls[act]}`],
    [`Its services: the job agent (placed active) runs only here, the web tier on both nodes, the two workers spread over the pair:`, `${as("viewer")} npx tandem services --node ${o.urls[act]}`],
    [`The sample batch: its step and replicated context (tandem context --node ${o.urls[sb]} shows the same sequence on the standby):`, `${as("viewer")} npx tandem context --node ${o.urls[act]}`],
    [`Write a record: answered once both databases hold it (sync replication):`, `curl -u operator:operator -H 'content-type: application/json' -H 'Idempotency-Key: order-4711' -d '{"order":"4711","qty":12}' ${o.urls[act]}/api/v1/records/batch_log`],
    [`Kill node ${act}'s process: its services die with it; ${sb} takes over, HELD, and starts the job agent at once (the demo restarts ${act} 3 s later; it rejoins as standby):`, `kill -9 ${pid(act)}`],
    [`On ${sb} the batch waits, held at the step it was on, its context as ${act} last wrote it:`, `${as("viewer")} npx tandem context --node ${o.urls[sb]}`],
    [`Confirm on ${sb}: the batch resumes there at that step:`, `${as("operator")} npx tandem confirm --node ${o.urls[sb]}`],
    [`The record written before the kill, read from ${sb}:`, `curl -u viewer:viewer ${o.urls[sb]}/api/v1/records/batch_log`],
    [`The job agent's last lines: it writes from ${sb} now, under the new epoch:`, `tail -n 3 ${shellQuote(join(o.dir, "job-agent.out"))}`],
    [`Once ${act} is back as standby and caught up, a planned switchover returns the role to it (nothing held):`, `${as("admin")} npx tandem switchover --node ${o.urls[act]}`],
    [`Both databases compared, range by range, while the batch writes on:`, `${as("operator")} npx tandem replication verify --node ${o.urls[act]}`],
    [`The plant's tags as node ${act} reads them:`, `curl -u viewer:viewer ${o.urls[act]}/api/v1/tags`],
    [`The same values over MQTT, from ${act}'s broker (retained, then on change; Debian: apt install mosquitto-clients). ${sb}'s broker, on port ${o.mqtt[sb]}, turns clients away while it is standby:`, `mosquitto_sub -h 127.0.0.1 -p ${o.mqtt[act]} -u viewer -P viewer -t 'tandem/line1/tags/line1/reactor/#' -v -C 4 -W 10`],
    [`Set the reactor's high-temperature limit to 90 °C through the active (the standby would refuse; the batch drives the valves and the heater itself):`, `curl -u operator:operator -H 'content-type: application/json' -d '{"value":90}' ${o.urls[act]}/api/v1/tags/line1.reactor.highLimit`],
    [`Freeze node ${act}: it loses its lease, ${sb} takes over HELD once the witness's lease for ${act} runs out:`, `kill -STOP ${pid(act)}`],
    [`Wake it: it sees the higher epoch and becomes standby, never acting on the old one:`, `kill -CONT ${pid(act)}`],
    [`The limit's history, from ${sb}'s own copy of the replicated store (every tag is recorded past its deadband; a quality change always):`, `${as("viewer")} npx tandem tags history line1.reactor.highLimit --since 30m --node ${o.urls[sb]}`],
    [`The pair's events as the actives recorded them: the takeovers (with what ${sb} saw before it took over), the confirm, the switchover:`, `${as("viewer")} npx tandem events --node ${o.urls[sb]}`],
  ];
  return [
    "",
    `  Things to try, in this order, from a shell in ${o.root} (node ${act} is the active now):`,
    "",
    ...steps.flatMap(([what, cmd]) => [`    ${what}`, `      ${cmd}`]),
  ];
}
