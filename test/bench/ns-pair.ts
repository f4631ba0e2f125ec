// A Tandem site made of network namespaces, for the failover bench: the same
// processes as test/helpers/cluster.ts (`tandem start` × 2, `tandem witness`,
// here also `tandem sim`), each on its own "host", so Tandem is measured on
// the same kind of network as the keepalived reference (keepalived.ts):
//
//   lan    192.0.2.0/24      a .1, b .2, client .3   pair link "lan", the peer connection, HTTP, MQTT
//   plant  198.51.100.0/24   a .1, b .2, sim .10     pair link "plant", Modbus TCP and OPC UA
//   wit    203.0.113.0/24    a .1, b .2, witness .10 the witness's own network
//
// The bench itself stays on the machine's loopback: a forwarder in the client
// namespace (netns-agent.js forward) accepts on 127.0.0.1 ports the bench
// opened and connects from the client host to each node's HTTP and MQTT
// address. That hop (a loopback connection and a pipe, well under a
// millisecond when the machine is idle) is part of every HTTP and MQTT
// measurement in this variant.
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { stringify } from "yaml";
import { hashPassword } from "../../runtime/auth/passwords.js";
import type { NodeStatus } from "../../runtime/node-api.js";
import { CLI, exited, freePort, nodeApi, nodeStatus, sleep } from "../helpers/cluster.js";
import { NetLab, removeStaleNamespaces } from "./netns.js";

type Id = "a" | "b";
// built next to this file in dist/; from the sources (a vitest run) the built copy is used
const AGENT = existsSync(join(import.meta.dirname, "netns-agent.js")) ? join(import.meta.dirname, "netns-agent.js") : join(import.meta.dirname, "../../dist/test/bench/netns-agent.js");
const ADDR = {
  a: { lan: "192.0.2.1", plant: "198.51.100.1", wit: "203.0.113.1" },
  b: { lan: "192.0.2.2", plant: "198.51.100.2", wit: "203.0.113.2" },
  client: "192.0.2.3",
  sim: "198.51.100.10",
  witness: "203.0.113.10",
} as const;
/** the priority deploy/systemd/tandem.service and tandem-witness.service give Tandem (Nice=-10); the bench's keepalived gets the same */
export const SERVICE_NICE = -10;
const PORTS = { http: 8080, peer: 7410, link: 7420, witness: 7400, modbus: 5020, opcua: 4840, mqtt: 1883 } as const;

/** What the failover bench needs of a pair: test/helpers/cluster.ts's Cluster has the same shape. */
export interface BenchPair {
  readonly nodes: Record<Id, { url: string; config: string }>;
  /** where the bench reaches each node's MQTT broker (a port on 127.0.0.1), when the nodes run one */
  readonly mqttPorts?: Record<Id, number>;
  env(): NodeJS.ProcessEnv;
  ready(): Promise<{ active: Id; standby: Id }>;
  waitFor(id: Id, pred: (s: NodeStatus) => boolean, timeoutMs?: number, what?: string): Promise<NodeStatus>;
  signal(id: Id, sig: NodeJS.Signals): void;
  exited(id: Id, timeoutMs?: number): Promise<unknown>;
  startNode(id: Id): void;
  api(id: Id, method: string, path: string, body?: unknown, user?: string): Promise<{ status: number; json: any }>;
  transitions(id: Id): { time: number; from: string; to: string; epoch: number }[];
  logLines(id: Id): string[];
  stop(): Promise<unknown>;
}

type Proc = ChildProcess & { output: () => string };

/** What a test adds to the site (the failover bench uses none of it); `dir` is the site's directory. */
export interface NsPairOptions {
  /** YAML appended to both nodes' configs (replication, services, processes …) */
  extra?: (dir: string) => string;
  /** more arguments for `tandem sim` (a write log …) */
  simArgs?: (dir: string) => string[];
  /** more environment for one node's process (libfaketime …) */
  nodeEnv?: (id: Id, dir: string) => NodeJS.ProcessEnv;
  /** runs once the configs are written, before the nodes start (a tmpfs for a data directory …) */
  beforeNodes?: (dir: string) => void;
  /** runs at stop() once the nodes have exited, before the site's directory goes */
  afterNodes?: (dir: string) => void;
}

export class NsPair implements BenchPair {
  readonly key = "test-pair-key-0123456789abcdef0123456789";
  readonly dir: string;
  readonly nodes = {} as Record<Id, { url: string; config: string; child: Proc | null }>;
  readonly mqttPorts = {} as Record<Id, number>;
  private readonly lab = new NetLab("tn");
  private readonly servers: net.Server[] = [];

  private constructor(private readonly opts: NsPairOptions) {
    this.dir = this.lab.tempDir("tandem-nsbench-");
  }

  /** `drivers(simHost, modbusPort, opcuaPort)` gives the nodes' drivers section. */
  static async start(drivers: (host: string, modbus: number, opcua: number) => unknown, opts: NsPairOptions = {}): Promise<NsPair> {
    removeStaleNamespaces();
    const p = new NsPair(opts);
    try {
      await p.setup(drivers);
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, TANDEM_PAIR_KEY: this.key, TANDEM_WITNESS_KEY: `it=${this.key}`, TANDEM_CHECK_HANDLES: "1" };
  }

  private spawnIn(host: string, args: string[], opts: { ipc?: boolean; service?: boolean; env?: NodeJS.ProcessEnv } = {}): Proc {
    // Tandem's own processes run at the priority their service units give them
    // (Nice=-10 in deploy/systemd/*.service); `nice` execs in place like `ip netns exec`
    const cmd = opts.service ? ["nice", "-n", String(SERVICE_NICE), ...args] : args;
    const child = this.lab.spawn(host, cmd, { env: { ...this.env(), ...opts.env }, cwd: this.dir, ipc: opts.ipc });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    return Object.assign(child, { output: () => out });
  }

  private async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const t0 = Date.now();
    while (!pred()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  private async setup(drivers: (host: string, modbus: number, opcua: number) => unknown): Promise<void> {
    const lab = this.lab;
    for (const h of ["a", "b", "client", "sim", "witness"]) lab.host(h);
    for (const id of ["a", "b"] as Id[]) for (const net of ["lan", "plant", "wit"] as const) lab.cable(id, net, net, `${ADDR[id][net]}/24`);
    lab.cable("client", "lan", "lan", `${ADDR.client}/24`);
    lab.cable("sim", "plant", "plant", `${ADDR.sim}/24`);
    lab.cable("witness", "wit", "wit", `${ADDR.witness}/24`);

    const sim = this.spawnIn("sim", [process.execPath, CLI, "sim", "--host", ADDR.sim, "--modbus-port", String(PORTS.modbus), "--opcua-port", String(PORTS.opcua), "--data-dir", join(this.dir, "sim"), ...(this.opts.simArgs?.(this.dir) ?? [])]);
    await this.until(() => sim.output().includes("plant simulator:"), 60_000, `simulator started (${sim.output()})`);
    await this.startWitness();

    const forwarder = this.spawnIn("client", [process.execPath, AGENT, "forward"], { ipc: true });
    const users = await Promise.all(["viewer", "operator", "admin"].map(async (n) => ({ n, h: await hashPassword(n) })));
    /** a port on the machine's loopback whose connections the forwarder pipes to `target` in the lab */
    const forward = async (target: string): Promise<number> => {
      const server = net.createServer();
      const port = await freePort();
      await new Promise<void>((res, rej) => server.once("error", rej).listen(port, "127.0.0.1", () => res()));
      const acked = new Promise<void>((res) => forwarder.on("message", (m: { forwarding?: string }) => m.forwarding === target && res()));
      forwarder.send({ target }, server);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error("forwarder did not start")), 30_000)));
      await Promise.race([acked, late]).finally(() => clearTimeout(timer));
      // the forwarder holds its own copy of the listening socket; ours would accept half the connections
      server.close();
      return port;
    };
    for (const id of ["a", "b"] as Id[]) {
      const port = await forward(`${ADDR[id].lan}:${PORTS.http}`);
      this.mqttPorts[id] = await forward(`${ADDR[id].lan}:${PORTS.mqtt}`);
      const other: Id = id === "a" ? "b" : "a";
      const yaml = `pair: { id: it, key: "\${TANDEM_PAIR_KEY}" }
node: { id: ${id}, role: ${id === "a" ? "main" : "secondary"}, dataDir: ./data-${id} }
peer:
  id: ${other}
  listen: ${ADDR[id].lan}:${PORTS.peer}
  address: ${ADDR[other].lan}:${PORTS.peer}
  links:
    - { name: lan, bind: "${ADDR[id].lan}:${PORTS.link}", peer: "${ADDR[other].lan}:${PORTS.link}" }
    - { name: plant, bind: "${ADDR[id].plant}:${PORTS.link}", peer: "${ADDR[other].plant}:${PORTS.link}" }
heartbeat: { intervalMs: 50, timeoutMs: 500 }
witness: { address: "${ADDR.witness}:${PORTS.witness}" }
takeover:
  leaseMs: 1000
  startupWaitMs: 1000
${stringify({ drivers: drivers(ADDR.sim, PORTS.modbus, PORTS.opcua) }, { lineWidth: 0 })}
mqtt: { listen: "${ADDR[id].lan}:${PORTS.mqtt}" }
http:
  listen: ${ADDR[id].lan}:${PORTS.http}
  users:
${users.map((u) => `    - { name: ${u.n}, role: ${u.n}, passwordHash: "${u.h}" }`).join("\n")}
log: { level: debug, file: ./${id}.log }
${this.opts.extra?.(this.dir) ?? ""}`;
      const config = join(this.dir, `${id}.yaml`);
      writeFileSync(config, yaml);
      this.nodes[id] = { url: `http://127.0.0.1:${port}`, config, child: null };
    }
    this.opts.beforeNodes?.(this.dir);
    this.startNode("a");
    this.startNode("b");
  }

  startNode(id: Id): void {
    this.nodes[id].child = this.spawnIn(id, [process.execPath, CLI, "start", "--config", this.nodes[id].config], { service: true, env: this.opts.nodeEnv?.(id, this.dir) });
  }

  /** the witness process (started again after a kill -9 by startWitness) */
  witness: Proc | null = null;

  async startWitness(): Promise<void> {
    const w = this.spawnIn("witness", [process.execPath, CLI, "witness", "--listen", `${ADDR.witness}:${PORTS.witness}`, "--max-lease-ms", "2000"], { service: true });
    this.witness = w;
    await this.until(() => w.output().includes("listening"), 60_000, `witness listening (${w.output()})`);
  }

  /** the node's process id (`ip netns exec` execs the node in place), null when it is not running */
  pid(id: Id): number | null {
    const ch = this.nodes[id]?.child;
    return ch && ch.exitCode === null && ch.signalCode === null ? (ch.pid ?? null) : null;
  }

  /** the node's data directory */
  dataDir(id: Id): string {
    return join(this.dir, `data-${id}`);
  }

  /** Runs a command to completion on a host of the site ("a", "b", "sim", "witness", "client"). */
  run(host: string, cmd: string[], quiet = false): string {
    return this.lab.run(host, cmd, quiet);
  }

  signal(id: Id, sig: NodeJS.Signals): void {
    // `ip netns exec` execs the node in place: the child's pid is the node's
    this.nodes[id].child?.kill(sig);
  }

  exited(id: Id, timeoutMs?: number) {
    return exited(this.nodes[id].child!, timeoutMs);
  }

  api(id: Id, method: string, path: string, body?: unknown, user = "admin"): Promise<{ status: number; json: any }> {
    return nodeApi(this.nodes[id].url, method, path, body, user);
  }

  status(id: Id): Promise<NodeStatus | null> {
    return nodeStatus(this.nodes[id].url);
  }

  async waitFor(id: Id, pred: (s: NodeStatus) => boolean, timeoutMs = 10_000, what = "condition"): Promise<NodeStatus> {
    const t0 = Date.now();
    let last: NodeStatus | null = null;
    while (Date.now() - t0 < timeoutMs) {
      last = await this.status(id);
      if (last && pred(last)) return last;
      await sleep(20);
    }
    const tail = existsSync(join(this.dir, `${id}.log`)) ? readFileSync(join(this.dir, `${id}.log`), "utf8").trim().split("\n").slice(-30).join("\n") : "(no log)";
    throw new Error(`node ${id}: ${what} not reached within ${timeoutMs} ms; last status: ${JSON.stringify(last && { state: last.state, epoch: last.epoch, serviceLevel: last.serviceLevel })}\n--- ${id}.log tail ---\n${tail}\n--- console ---\n${this.nodes[id].child?.output().slice(-2000)}`);
  }

  /**
   * A pair is up: one active, the other standby. A start-up on a loaded
   * machine can leave the active held (its first lease ran out before the
   * witness's answers came, and it took the role back): an operator confirms
   * it, as one would, so every test starts from the same steady pair.
   */
  async ready(): Promise<{ active: Id; standby: Id }> {
    const settled = (s: NodeStatus) => s.state === "active" || s.state === "active-held" || s.state === "standby";
    await this.waitFor("a", settled, 60_000, "active or standby");
    await this.waitFor("b", settled, 60_000, "active or standby");
    const acting = (s: string) => s === "active" || s === "active-held";
    const a = await this.waitFor("a", (s) => acting(s.peer.state) || acting(s.state), 10_000, "an active in the pair");
    const ids = acting(a.state) ? ({ active: "a", standby: "b" } as const) : ({ active: "b", standby: "a" } as const);
    if ((await this.status(ids.active))?.state === "active-held") {
      await this.api(ids.active, "POST", "/confirm", {}, "operator");
      await this.waitFor(ids.active, (s) => s.state === "active", 10_000, "the held start-up confirmed");
    }
    await this.waitFor(ids.standby, (s) => s.state === "standby" && s.peer.state === "active", 10_000, "the standby following the active");
    return ids;
  }

  /** The node's log, line by line. */
  logLines(id: Id): string[] {
    const f = join(this.dir, `${id}.log`);
    return existsSync(f) ? readFileSync(f, "utf8").trim().split("\n") : [];
  }

  /** The witness's address (on its own network). */
  witnessAddress(): string {
    return ADDR.witness;
  }

  /** The node's addresses on the two pair links. */
  addresses(id: Id): string[] {
    return [ADDR[id].lan, ADDR[id].plant];
  }

  /** The node's kernel destroys its TCP connections to `peer` (`ss -K`: the application sees them reset). */
  resetConnections(id: Id, peer: string): void {
    this.lab.run(id, ["ss", "-K", "-t", "dst", peer]);
  }

  /** Starts a helper process on a host of the site; it is killed with the site at the latest. */
  spawnOn(host: string, cmd: string[]): ChildProcess & { output: () => string } {
    return this.spawnIn(host, cmd);
  }

  /** Runs iptables on a node's host (its own namespace: nothing outside it changes). */
  iptables(id: Id, args: string[]): void {
    this.lab.run(id, ["iptables", ...args]);
  }

  transitions(id: Id): { time: number; from: string; to: string; epoch: number }[] {
    const f = join(this.dir, `${id}.log`);
    if (!existsSync(f)) return [];
    return readFileSync(f, "utf8")
      .trim()
      .split("\n")
      .flatMap((l) => {
        try {
          const j = JSON.parse(l);
          return j && j.from && j.to && typeof j.msg === "string" && j.msg.startsWith("state ") ? [{ time: Date.parse(j.time), from: j.from, to: j.to, epoch: j.epoch }] : [];
        } catch {
          return [];
        }
      });
  }

  async stop(): Promise<void> {
    for (const id of ["a", "b"] as Id[]) {
      const ch = this.nodes[id]?.child;
      if (ch && ch.exitCode === null && ch.signalCode === null) {
        ch.kill("SIGCONT");
        ch.kill("SIGTERM");
      }
    }
    for (const id of ["a", "b"] as Id[]) {
      const ch = this.nodes[id]?.child;
      if (ch) await exited(ch).catch(() => ch.kill("SIGKILL"));
    }
    this.opts.afterNodes?.(this.dir);
    await this.lab.close();
  }
}
