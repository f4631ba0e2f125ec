// What the MQTT bench (mqtt.ts) runs its clients against, and the clients'
// process:
//   - Tandem's embedded broker: the real MqttBroker (runtime/mqtt/broker.ts)
//     in the bench's process, with the real Authenticator and LoginLimits and
//     one scrypt-hashed user, serving (as the active does); the bench feeds it
//     through broker.publish(), the path NodeMqtt sends tag changes by;
//   - Debian's mosquitto (/usr/sbin/mosquitto, in the foreground) on its own
//     loopback port with a password file, fed by an mqtt.js client in the
//     bench's process (what a node with an external broker would do);
//   - ClientsProc: one child process of subscribers (mqtt-clients.ts), driven
//     over IPC.
import { mqttSection, type EmbeddedMqttConfig } from "../../runtime/mqtt/config-schema.js";
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { nullLogger } from "../../core/logger.js";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { Authenticator } from "../../runtime/http/auth.js";
import { LoginLimits } from "../../runtime/http/login-limits.js";
import { MqttBroker } from "../../runtime/mqtt/broker.js";
import { log } from "./stats.js";

export const MOSQUITTO = "/usr/sbin/mosquitto";
const CLIENTS_JS = join(import.meta.dirname, "mqtt-clients.js");

/** Something the bench publishes tag changes to: `send` calls `done` once the message may be counted as sent (its window slot is free). */
export interface Feed {
  readonly name: string;
  readonly port: number;
  send(topic: string, payload: string, done: () => void): void;
  /** CPU ms the broker has used so far (Tandem's: the bench's process, which is the broker and its publish path) */
  brokerCpuMs(): number;
  close(): Promise<void>;
}

/** CPU ms (user + system) of this process so far */
export const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms (user + system) of another process so far, from /proc/<pid>/stat */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // the fields after the command name (in parentheses, which may hold spaces): utime and stime are the 14th and 15th
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
}
/** USER_HZ: 100 on every Linux architecture Node runs on */
const CLOCK_TICKS = 100;

/** Tandem's embedded broker, serving, with user `user` (password = user name, scrypt-hashed as in http.users). */
export async function tandemFeed(port: number, user: string): Promise<Feed> {
  const users = [{ name: user, role: "viewer" as const, passwordHash: await hashPassword(user) }];
  const broker = new MqttBroker({
    config: { ...(mqttSection.parse({ listen: "127.0.0.1:1883", maxClients: 1000 }) as EmbeddedMqttConfig), listen: { host: "127.0.0.1", port } },
    prefix: "tandem/bench/",
    authenticator: new Authenticator({ users, sessionTtlMs: 3_600_000 }),
    limits: new LoginLimits({}, [user]),
    serving: () => true,
    onRequest: () => undefined,
    log: nullLogger,
  });
  const a = await broker.start();
  return {
    name: "tandem",
    port: Number(a.slice(a.lastIndexOf(":") + 1)),
    // retained, QoS 0: as NodeMqtt publishes a tag's value
    send: (topic, payload, done) => broker.publishThen(topic, payload, true, done),
    brokerCpuMs: ownCpuMs,
    close: () => broker.stop(),
  };
}

const running = new Set<ChildProcess>();

/** Kills every mosquitto and clients process this bench started (exit, Ctrl-C). */
export function killBenchChildren(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  running.clear();
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** Debian's mosquitto on 127.0.0.1:port with a password file for `user`, and an mqtt.js publisher logged in to it. */
export async function mosquittoFeed(tmp: string, port: number, user: string): Promise<Feed & { settings: string[] }> {
  // started as root, mosquitto drops to the user `mosquitto`: its files must be readable to others
  const dir = join(tmp, "mosquitto");
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(tmp, 0o755);
  const passwd = join(dir, "mosquitto.passwd");
  writeFileSync(passwd, "", { mode: 0o644 });
  const pw = spawnSync("mosquitto_passwd", ["-b", passwd, user, user], { encoding: "utf8" });
  if (pw.status !== 0) throw new Error(`mosquitto_passwd -b ${passwd}: ${pw.stderr || pw.error?.message} (bash scripts/ensure-test-deps.sh scripts/bench-deps.txt installs mosquitto)`);
  const settings = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous false",
    `password_file ${passwd}`,
    "persistence false",
    // as aedes: QoS 0 messages for a connected subscriber are queued, not dropped, while its socket is full
    "max_queued_messages 0",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
  ];
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, settings.join("\n") + "\n");
  // no -d: it stays in the foreground, our child, killed with the bench
  const proc = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  running.add(proc);
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  proc.on("error", (e) => (err += e.message));
  const t0 = Date.now();
  while (!(await answers(port))) {
    if (proc.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`${MOSQUITTO} -c ${conf} did not listen on 127.0.0.1:${port}: ${err.trim() || `exit ${proc.exitCode}`}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const pub: MqttClient = await new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: "127.0.0.1", port, username: user, password: user, protocolVersion: 4, clientId: "bench-publisher", reconnectPeriod: 0 });
    c.once("connect", () => resolve(c));
    c.once("error", (e) => reject(new Error(`the bench's publisher to mosquitto: ${e.message}`)));
  });
  return {
    name: "mosquitto",
    port,
    settings,
    // mqtt.js calls back once the packet is written (after `drain` when the socket was full)
    send: (topic, payload, done) => void pub.publish(topic, payload, { qos: 0, retain: true }, () => done()),
    brokerCpuMs: () => cpuMsOf(proc.pid!),
    close: async () => {
      await new Promise<void>((r) => pub.end(true, {}, () => r()));
      proc.kill("SIGTERM");
      if (proc.exitCode === null) await new Promise((r) => proc.once("exit", r));
      running.delete(proc);
      if (err.trim()) log(`mosquitto said: ${err.trim().split("\n").slice(-3).join(" | ")}`);
    },
  };
}

type Msg = Record<string, any>;

/** One child process of MQTT clients (mqtt-clients.ts); `ask` sends a command and waits for the answer that has `key`. */
export class ClientsProc {
  private readonly child: ChildProcess;
  private readonly waiting: { key: string; resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  readonly errors: string[] = [];

  constructor() {
    this.child = fork(CLIENTS_JS, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    running.add(this.child);
    this.child.on("message", (m: Msg) => {
      if (m.error !== undefined && !m.fatal) {
        if (this.errors.length < 20) this.errors.push(m.error);
        return;
      }
      const i = m.fatal ? 0 : this.waiting.findIndex((w) => w.key in m);
      if (i < 0 || !this.waiting[i]) return;
      const [w] = this.waiting.splice(i, 1);
      if (m.fatal) w!.reject(new Error(`MQTT clients process: ${m.error}`));
      else w!.resolve(m);
    });
    this.child.on("exit", (code, sig) => {
      running.delete(this.child);
      for (const w of this.waiting.splice(0)) w.reject(new Error(`MQTT clients process exited (${sig ?? code}) before answering '${w.key}'`));
    });
  }

  /** Sends `cmd` and resolves with the first answer that has `key`; fails after limitMs. */
  ask(cmd: Msg, key: string, limitMs = 60_000): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`MQTT clients process: no '${key}' answer to ${cmd.cmd} within ${limitMs} ms`)), limitMs);
      this.waiting.push({ key, resolve: (m) => (clearTimeout(t), resolve(m)), reject: (e) => (clearTimeout(t), reject(e)) });
      this.child.send(cmd);
    });
  }

  /** The next answer that has `key`, for a command already sent. */
  next(key: string, limitMs: number): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`MQTT clients process: no '${key}' answer within ${limitMs} ms`)), limitMs);
      this.waiting.push({ key, resolve: (m) => (clearTimeout(t), resolve(m)), reject: (e) => (clearTimeout(t), reject(e)) });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    await this.ask({ cmd: "close" }, "closed", 10_000).catch(() => this.child.kill("SIGKILL"));
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }
}
