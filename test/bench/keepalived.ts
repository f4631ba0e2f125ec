// keepalived (Debian's package) as the reference for "active process killed
// (kill -9) → standby serving" (DESIGN.md, performance targets).
//
// Three hosts made of network namespaces on one bridge, TEST-NET-1 addresses:
//   h1 192.0.2.1, h2 192.0.2.2   keepalived, VRRPv3, one instance, virtual
//                                address 192.0.2.100, equal priority and
//                                nopreempt (roles alternate from trial to
//                                trial, as Tandem's do with manual failback)
//   cl 192.0.2.3                 the client
// h1 and h2 each run a responder that answers every TCP connection with the
// host's name. A trial kills every keepalived process of the current master
// with SIGKILL (its process group: the parent and its VRRP child, so no
// priority-0 "I am leaving" advert goes out) and measures, with the shared
// CLOCK_MONOTONIC:
//   client         until a TCP connection from cl to 192.0.2.100 is answered
//                  by the backup — what a client sees (the backup added the
//                  address and its gratuitous ARP reached the client)
//   backupAddress  until the backup's kernel reports the address added
//                  (`ip monitor address` in its namespace) — keepalived's own
//                  view, the counterpart of a node's log line
// Then the address keepalived left on the killed host is removed (a killed
// keepalived cannot), keepalived is started there again as the new backup,
// and the pair settles before the next trial.
//
// Debian 12's keepalived 2.2.7 accepts a fractional advert_int only with
// `vrrp_version 3` (VRRPv3 counts the interval in centiseconds); with VRRPv2
// it logs "VRRPv2 advertisement interval 0.100000s must be an integer.
// rounding". The backup declares the master down after 3 × advert_int + skew,
// skew = (256 − priority) / 256 × advert_int (priority 100: 3.61 × advert_int).
//
// The client namespace sets net.ipv4.neigh.eth0.locktime = 0: with the
// default (1 s) a client whose ARP entry for the address changed state in the
// last second ignores the backup's gratuitous ARP and keeps talking to the old
// MAC until its entry next goes stale (tens of seconds) — real, but a property
// of the client's ARP cache rather than of keepalived's failover.
//
//   node dist/test/bench/keepalived.js [--advert 0.1] [--trials 10]
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { NetLab, removeStaleNamespaces } from "./netns.js";
import { SERVICE_NICE } from "./ns-pair.js";

const VIP = "192.0.2.100";
const PORT = 7000;
const HOSTS = { h1: "192.0.2.1", h2: "192.0.2.2" } as const;
type Host = keyof typeof HOSTS;
const otherHost = (h: Host): Host => (h === "h1" ? "h2" : "h1");
const AGENT = join(import.meta.dirname, "netns-agent.js");

export interface KeepalivedSample {
  /** ms from the SIGKILL until the client's connection to the address is answered by the backup */
  client: number;
  /** ms from the SIGKILL until the backup's kernel reports the address added (null: not seen) */
  backupAddress: number | null;
  /** the probe's connections that the old master answered meanwhile (the address stayed there) */
  oldMasterAnswers: number;
}

interface Line {
  t: bigint;
  text: string;
}

const now = () => process.hrtime.bigint();
const ms = (ns: bigint) => Number(ns) / 1e6;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/** Collects a child's output lines with the time each arrived. */
function lines(stream: NodeJS.ReadableStream, into: Line[]): void {
  createInterface({ input: stream }).on("line", (text) => into.push({ t: now(), text }));
}

async function until<T>(what: string, limitMs: number, f: () => T | undefined | null | false): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > limitMs) throw new Error(`keepalived bench: ${what} not reached within ${limitMs} ms`);
    await sleep(5);
  }
}

function config(host: Host, advertSec: number): string {
  return `# written by test/bench/keepalived.ts
global_defs {
  router_id tandem_bench_${host}
  vrrp_version 3
  max_auto_priority
}
vrrp_instance VI_1 {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int ${advertSec}
  virtual_ipaddress {
    ${VIP}/24 dev eth0
  }
}
`;
}

export class KeepalivedPair {
  private readonly lab: NetLab;
  private readonly dir: string;
  private readonly ka: Partial<Record<Host, { child: ChildProcess; log: Line[] }>> = {};
  private readonly addrEvents: Record<Host, Line[]> = { h1: [], h2: [] };
  private probeOut: Line[] = [];
  private probe!: ChildProcess;
  private starts = 0;
  private seq = 0;
  master: Host = "h1";

  private constructor(
    readonly advertSec: number,
    label: string,
  ) {
    this.lab = new NetLab(label);
    this.dir = this.lab.tempDir("tandem-keepalived-");
  }

  /** Builds the three hosts, starts keepalived on h1 and h2, and waits until one holds the address. */
  static async start(opts: { advertSec: number; label?: string }): Promise<KeepalivedPair> {
    removeStaleNamespaces();
    const p = new KeepalivedPair(opts.advertSec, opts.label ?? `k${String(opts.advertSec).replace(".", "")}`);
    try {
      await p.setup();
    } catch (err) {
      await p.close();
      throw err;
    }
    return p;
  }

  private async setup(): Promise<void> {
    const lab = this.lab;
    for (const [h, addr] of [...Object.entries(HOSTS), ["cl", "192.0.2.3"]] as [string, string][]) {
      lab.host(h);
      lab.cable(h, "eth0", "lan", `${addr}/24`);
    }
    lab.sysctl("cl", "net.ipv4.neigh.eth0.locktime", "0");
    for (const h of Object.keys(HOSTS) as Host[]) {
      writeFileSync(join(this.dir, `${h}.conf`), config(h, this.advertSec));
      const r = lab.spawn(h, [process.execPath, AGENT, "responder", String(PORT), h]);
      const out: Line[] = [];
      lines(r.stdout!, out);
      await until(`responder on ${h}`, 10_000, () => out.some((l) => l.text === "ready"));
      const mon = lab.spawn(h, ["ip", "monitor", "address"]);
      lines(mon.stdout!, this.addrEvents[h]);
    }
    this.probe = lab.spawn("cl", [process.execPath, AGENT, "probe", `${VIP}:${PORT}`]);
    lines(this.probe.stdout!, this.probeOut);
    await until("probe ready", 10_000, () => this.probeOut.some((l) => l.text === "ready"));
    this.startKeepalived("h1");
    this.startKeepalived("h2");
    const first = await until("a master", 20_000 + 10_000 * this.advertSec, () => (Object.keys(HOSTS) as Host[]).find((h) => this.state(h) === "MASTER"));
    this.master = first;
    await this.settle();
  }

  private startKeepalived(h: Host): void {
    const n = ++this.starts;
    // fresh pid files each start: a pid file naming a killed (not yet reaped) process makes keepalived refuse to start
    const pid = (k: string) => join(this.dir, `${h}-${n}-${k}.pid`);
    const child = this.lab.spawn(h, ["nice", "-n", String(SERVICE_NICE), "keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp", "-f", join(this.dir, `${h}.conf`), "-p", pid("main"), "-r", pid("vrrp"), "-c", pid("checkers")], { group: true });
    const log: Line[] = [];
    lines(child.stdout!, log);
    lines(child.stderr!, log);
    this.ka[h] = { child, log };
  }

  /** The VRRP state keepalived on `h` last logged entering. */
  state(h: Host): "MASTER" | "BACKUP" | "FAULT" | null {
    const log = this.ka[h]?.log ?? [];
    for (let i = log.length - 1; i >= 0; i--) {
      const m = /Entering (MASTER|BACKUP|FAULT) STATE/.exec(log[i]!.text);
      if (m) return m[1] as "MASTER" | "BACKUP" | "FAULT";
    }
    return null;
  }

  private async send(cmd: string): Promise<Record<string, unknown>> {
    const id = `q${++this.seq}`;
    const from = this.probeOut.length;
    this.probe.stdin!.write(`${cmd.replace("ID", id)}\n`);
    return until(`probe answer to '${cmd}'`, 60_000, () => {
      for (let i = from; i < this.probeOut.length; i++) {
        const l = this.probeOut[i]!;
        if (!l.text.startsWith("{")) continue;
        const j = JSON.parse(l.text) as Record<string, unknown>;
        if (j.id === id && !j.armed) return j;
      }
      return undefined;
    });
  }

  /**
   * A settled pair: the master holds the address and answers the client, the
   * other keepalived is BACKUP and has been for at least 2 adverts (it has
   * heard the master, its master-down timer runs from the latest advert).
   */
  private async settle(): Promise<void> {
    const m = this.master;
    const b = otherHost(m);
    const limit = 10_000 + 10_000 * this.advertSec;
    await until(`${b} BACKUP`, limit, () => this.state(b) === "BACKUP" && this.state(m) === "MASTER");
    const answer = await this.send(`watch ID ${m} ${limit}`);
    if (answer.timeout) throw new Error(`keepalived bench: the client never reached ${m} at ${VIP}: ${JSON.stringify(answer)}`);
    const backupSince = [...this.ka[b]!.log].reverse().find((l) => /Entering BACKUP STATE/.test(l.text))!.t;
    const wait = 2 * this.advertSec * 1000 - ms(now() - backupSince);
    if (wait > 0) await sleep(wait);
  }

  /** One kill -9 of the master's keepalived; returns the times and leaves the pair settled again. */
  async trial(limitMs = 15_000 + 10_000 * this.advertSec): Promise<KeepalivedSample> {
    const m = this.master;
    const b = otherHost(m);
    // a random phase against the master's advert timer
    await sleep(Math.random() * this.advertSec * 1000);
    const id = `q${++this.seq}`;
    const from = this.probeOut.length;
    this.probe.stdin!.write(`watch ${id} ${b} ${limitMs}\n`);
    const parsed = (i: number) => (this.probeOut[i]!.text.startsWith("{") ? (JSON.parse(this.probeOut[i]!.text) as Record<string, unknown>) : {});
    const find = (pred: (j: Record<string, unknown>) => boolean) => {
      for (let i = from; i < this.probeOut.length; i++) if (parsed(i).id === id && pred(parsed(i))) return parsed(i);
      return undefined;
    };
    const armed = await until("probe armed", 5000, () => find((j) => j.armed === true));
    if (armed.answer !== m) throw new Error(`keepalived bench: before the kill the address answered '${String(armed.answer)}', expected ${m}`);
    const addrFrom = this.addrEvents[b].length;
    const victim = this.ka[m]!.child;
    const t0 = now();
    this.lab.kill(victim, "SIGKILL");
    const res = await until("probe result", limitMs + 5000, () => find((j) => j.armed !== true));
    if (res.timeout) throw new Error(`keepalived bench: ${b} did not answer at ${VIP} within ${limitMs} ms of the kill (${JSON.stringify(res)})`);
    const client = ms(BigInt(res.t as string) - t0);
    // the kernel's event may trail the client's answer by a pipe hop; wait briefly for it
    const added = await until("address event", 2000, () => this.addrEvents[b].slice(addrFrom).find((l) => /^\d+: eth0\s+inet /.test(l.text) && l.text.includes(`${VIP}/`)) ?? null).catch(() => null);
    const answers = (res.answers ?? {}) as Record<string, number>;
    const sample: KeepalivedSample = { client, backupAddress: added ? ms(added.t - t0) : null, oldMasterAnswers: answers[m] ?? 0 };

    // restore: keepalived killed by SIGKILL left the address on m; remove it, start m again as backup
    await new Promise<void>((r) => (victim.exitCode !== null || victim.signalCode !== null ? r() : victim.once("exit", () => r())));
    this.lab.run(m, ["ip", "addr", "del", `${VIP}/24`, "dev", "eth0"], true);
    this.master = b;
    this.startKeepalived(m);
    await this.settle();
    return sample;
  }

  async close(): Promise<void> {
    await this.lab.close();
  }
}

/** Starts a pair, runs `trials` kill -9 trials, removes everything, and returns the samples. */
export async function measureKeepalived(opts: { advertSec: number; trials: number; onTrial?: (i: number, s: KeepalivedSample) => void }): Promise<KeepalivedSample[]> {
  const pair = await KeepalivedPair.start({ advertSec: opts.advertSec });
  const out: KeepalivedSample[] = [];
  try {
    for (let i = 0; i < opts.trials; i++) {
      const s = await pair.trial();
      out.push(s);
      opts.onTrial?.(i, s);
    }
  } finally {
    await pair.close();
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { advert: { type: "string", default: "0.1" }, trials: { type: "string", default: "10" } } });
  measureKeepalived({
    advertSec: Number(values.advert),
    trials: Number(values.trials),
    onTrial: (i, s) => process.stderr.write(`keepalived ${values.advert} s advert, trial ${i + 1}: client ${s.client.toFixed(1)} ms, address on backup ${s.backupAddress?.toFixed(1) ?? "?"} ms\n`),
  })
    .then((xs) => console.log(JSON.stringify(xs, null, 2)))
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
