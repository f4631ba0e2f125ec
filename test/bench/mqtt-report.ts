// The MQTT bench's report (mqtt.ts): the JSON record (settings, machine and
// load average, per-K fan-out medians and ratios, the takeover's summaries,
// every run and every client's times) and the two tables.
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import type { FanoutRun, TakeoverTrial } from "./mqtt.js";
import { pct, summary, type Summary } from "./stats.js";

export const FANOUT_TARGET = 0.5;
export const TAKEOVER_TARGET_MS = 1000;
/** the subscribers' filter, and how often a takeover trial asks the standby's status */
export const TOPIC = "tandem/bench/tags/#";
export const STATUS_POLL_MS = 5;

export interface Results {
  ks: number[];
  o: Record<string, number>;
  runs: FanoutRun[];
  trials: TakeoverTrial[];
  takeoverSettings: Record<string, unknown>;
  mosquittoConf: string[];
  started: number;
  load0: number[];
  failure: unknown;
  out?: string;
}

const median = (xs: number[]) => (xs.length ? pct(xs, 50) : null);

export function report(r: Results): void {
  const fanout = r.ks.map((k) => {
    const of = (b: string) => r.runs.filter((x) => x.clients === k && x.broker === b);
    const t = median(of("tandem").map((x) => x.perSecond));
    const m = median(of("mosquitto").map((x) => x.perSecond));
    const lost = (b: string) => of(b).reduce((a, x) => a + (x.clients * x.messages - x.delivered), 0);
    // CPU ms per 10,000 messages delivered: Tandem's broker with its publish path (one process); Mosquitto, and the mqtt.js publisher feeding it
    const per10k = (b: string, f: (x: FanoutRun) => number) => median(of(b).map((x) => +((f(x) * 10_000) / x.delivered).toFixed(1)));
    const cpuPer10k = { tandem: per10k("tandem", (x) => x.cpu.brokerMs), mosquitto: per10k("mosquitto", (x) => x.cpu.brokerMs), mosquittoPublisher: per10k("mosquitto", (x) => x.cpu.benchMs) };
    return { clients: k, tandemPerSecond: t, mosquittoPerSecond: m, ratio: t !== null && m ? +(t / m).toFixed(2) : null, cpuMsPer10k: cpuPer10k, lost: { tandem: lost("tandem"), mosquitto: lost("mosquitto") } };
  });
  const all = r.trials.flatMap((t) => t.clients.map((x) => x ?? Infinity));
  const landed = all.filter(Number.isFinite);
  const lastPerTrial = r.trials.map((t) => Math.max(...t.clients.map((x) => x ?? Infinity)));
  const held = r.trials.flatMap((t) => (t.held === null ? [] : [t.held]));
  // the broker's part: from the standby being active-held to the trial's last client holding its state
  const brokerPart = r.trials.flatMap((t) => (t.held === null ? [] : [Math.max(...t.clients.map((x) => x ?? Infinity)) - t.held])).filter(Number.isFinite);
  const within = all.filter((x) => x <= TAKEOVER_TARGET_MS).length;
  const allClients = summary(landed);
  const result = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - r.started) / 1000),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverageAtStart: r.load0.map((x) => +x.toFixed(2)), loadAverageAtEnd: loadavg().map((x) => +x.toFixed(2)) },
    settings: {
      fanout: {
        clients: r.ks,
        messagesPerRun: r.o.messages,
        roundsPerBroker: r.o.rounds,
        windowInFlight: r.o.window,
        clientProcesses: r.o.procs,
        tagTopics: r.o.tags,
        subscription: TOPIC,
        qos: 0,
        retain: true,
        tandem: "MqttBroker in the bench's process (real Authenticator + LoginLimits, scrypt-hashed user), fed by broker.publishThen(topic, payload, true, done)",
        mosquitto: { binary: "/usr/sbin/mosquitto", conf: r.mosquittoConf, feed: "an mqtt.js publisher (QoS 0, retain) in the bench's process" },
      },
      takeover: { clients: r.o.takeoverClients, reconnectPeriodMs: r.o.reconnectMs, connectTimeoutMs: 2000, statusPollMs: STATUS_POLL_MS, trials: r.o.trials, ...r.takeoverSettings },
    },
    fanout: fanout.map((f) => ({ ...f, target: `ratio ≥ ${FANOUT_TARGET}`, met: f.ratio === null ? null : f.ratio >= FANOUT_TARGET })),
    takeover: {
      allClients,
      notLanded: all.length - landed.length,
      withinTarget: { within, of: all.length, targetMs: TAKEOVER_TARGET_MS },
      lastClientPerTrial: summary(lastPerTrial.filter(Number.isFinite)),
      connackAccepted: summary(r.trials.flatMap((t) => t.connack.filter((x): x is number => x !== null))),
      activeHeld: summary(held),
      activeHeldFromLog: summary(r.trials.flatMap((t) => (t.heldLog === null ? [] : [t.heldLog]))),
      lastClientMinusActiveHeld: summary(brokerPart),
      met: all.length ? within === all.length : null,
    },
    runs: r.runs,
    trials: r.trials,
    failure: r.failure ? String((r.failure as Error).stack ?? r.failure) : null,
  };
  const n = (x: number | null) => (x === null ? "–" : x.toLocaleString("en-US"));
  const fanTable = [
    `| subscribers | Tandem (embedded) msg/s | Mosquitto msg/s | Tandem ÷ Mosquitto | target | CPU ms per 10k delivered: Tandem / Mosquitto (+ its publisher) |`,
    `|---|---|---|---|---|---|`,
    ...result.fanout.map(
      (f) =>
        `| ${f.clients} | ${n(f.tandemPerSecond)} | ${n(f.mosquittoPerSecond)} | ${f.ratio ?? "–"} | ≥ ${FANOUT_TARGET}${f.met === null ? "" : f.met ? " (met)" : " (NOT met)"} | ${f.cpuMsPer10k.tandem ?? "–"} / ${f.cpuMsPer10k.mosquitto ?? "–"} (+ ${f.cpuMsPer10k.mosquittoPublisher ?? "–"}) |`,
    ),
  ];
  const row = (what: string, s: Summary | null, target = "") => (s ? `| ${what} | ${s.n} | ${s.p50} ms | ${s.p90} ms | ${s.p99} ms | ${s.max} ms | ${target} |` : "");
  const tk = result.takeover;
  const toTable = [
    `| measure | n | p50 | p90 | p99 | max | target |`,
    `|---|---|---|---|---|---|---|`,
    row(`kill -9 → client holds the new active's state (every client of every trial)`, allClients, `all ≤ ${TAKEOVER_TARGET_MS} ms: ${within}/${all.length}${tk.met === null ? "" : tk.met ? " (met)" : " (NOT met)"}`),
    row("  … the last of the clients, per trial", tk.lastClientPerTrial),
    row("  … CONNACK accepted by the new active (every client)", tk.connackAccepted),
    row("  … standby active-held (status)", tk.activeHeld),
    row("  … standby active-held (its log)", tk.activeHeldFromLog),
    row("  … last client − active-held, per trial (the broker's and clients' part)", tk.lastClientMinusActiveHeld),
  ].filter(Boolean);
  console.log(JSON.stringify({ ...result, runs: undefined, trials: undefined }, null, 2));
  if (r.runs.length) console.log(`\n${fanTable.join("\n")}\n`);
  if (r.trials.length) console.log(`${toTable.join("\n")}\n`);
  console.log(`run took ${result.durationS} s; load average ${result.machine.loadAverageAtStart.join(" ")} at the start, ${result.machine.loadAverageAtEnd.join(" ")} at the end`);
  if (r.out) writeFileSync(r.out, JSON.stringify(result, null, 2) + "\n");
}

