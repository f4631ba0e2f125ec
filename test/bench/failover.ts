// Failover benchmark (DESIGN.md performance targets, L1):
//   1. kill -9 of the active process → the standby is serving
//   2. the active host silenced (SIGSTOP: no heartbeats, no lease renewals) → the standby is serving
//   3. planned switchover (API call to the active → the peer is active)
// "Serving" is measured from outside, as a client sees it: the standby's HTTP
// API answers with state active-held (or active), polled every 2 ms. The
// node's own log time of the transition is reported beside it.
// Real processes on loopback, the same settings as `tandem demo`.
//   npm run bench:failover [-- --trials N --out FILE]
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Cluster, sleep } from "../helpers/cluster.js";

type Id = "a" | "b";
const other = (id: Id): Id => (id === "a" ? "b" : "a");

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function summary(xs: number[]) {
  return { n: xs.length, p50: Math.round(pct(xs, 50)), p90: Math.round(pct(xs, 90)), p99: Math.round(pct(xs, 99)), max: Math.round(Math.max(...xs)), min: Math.round(Math.min(...xs)) };
}

async function health(c: Cluster, id: Id): Promise<{ state: string; epoch: number } | null> {
  try {
    const r = await fetch(`${c.nodes[id].url}/api/v1/health`, { signal: AbortSignal.timeout(1000) });
    return (await r.json()) as { state: string; epoch: number };
  } catch {
    return null;
  }
}

/** ms from t0 until `id` answers with an acting state */
async function untilServing(c: Cluster, id: Id, t0: number, limitMs = 10_000): Promise<number> {
  for (;;) {
    const h = await health(c, id);
    const t = performance.now() - t0;
    if (h && (h.state === "active-held" || h.state === "active")) return t;
    if (t > limitMs) throw new Error(`node ${id} not serving after ${limitMs} ms`);
    await sleep(2);
  }
}

async function confirm(c: Cluster, id: Id): Promise<void> {
  const r = await c.api(id, "POST", "/confirm", {}, "operator");
  if (r.status !== 200) throw new Error(`confirm on ${id}: ${r.status} ${JSON.stringify(r.json)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { trials: { type: "string", default: "20" }, out: { type: "string" } } });
  const trials = Number(values.trials);
  const c = await Cluster.start({ direct: true });
  const kill: number[] = [];
  const killLog: number[] = [];
  const stop: number[] = [];
  const stopLog: number[] = [];
  const sw: number[] = [];
  const twoActives: number[] = [];
  try {
    let { active } = await c.ready();
    // a settled site: past the witness's quiet time after its own start (its
    // max lease, 2 s here), during which it vouches for no takeover
    await sleep(2500);
    c.startSampling();

    // 1. kill -9
    for (let i = 0; i < trials; i++) {
      const standby = other(active);
      const t0 = performance.now();
      const wall0 = Date.now();
      c.signal(active, "SIGKILL");
      kill.push(await untilServing(c, standby, t0));
      const tr = c.transitions(standby).find((x) => x.time >= wall0 - 5 && x.to === "active-held");
      if (tr) killLog.push(tr.time - wall0);
      await c.exited(active);
      await confirm(c, standby);
      c.startNode(active);
      await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", 15_000, "rejoined");
      active = standby;
      process.stderr.write(`kill -9 trial ${i + 1}/${trials}: ${Math.round(kill[kill.length - 1]!)} ms\n`);
    }

    // 2. silenced host (SIGSTOP)
    for (let i = 0; i < trials; i++) {
      const standby = other(active);
      // let the pair settle so every trial starts from a renewed lease
      await sleep(300);
      const t0 = performance.now();
      const wall0 = Date.now();
      c.signal(active, "SIGSTOP");
      stop.push(await untilServing(c, standby, t0));
      const tr = c.transitions(standby).find((x) => x.time >= wall0 - 5 && x.to === "active-held");
      if (tr) stopLog.push(tr.time - wall0);
      c.signal(active, "SIGCONT");
      await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active-held", 10_000, "standby after resume");
      await confirm(c, standby);
      active = standby;
      process.stderr.write(`SIGSTOP trial ${i + 1}/${trials}: ${Math.round(stop[stop.length - 1]!)} ms\n`);
    }

    // 3. planned switchover
    for (let i = 0; i < trials; i++) {
      const standby = other(active);
      await sleep(200);
      const t0 = performance.now();
      const r = await c.api(active, "POST", "/switchover", {});
      if (r.status !== 200) throw new Error(`switchover: ${r.status} ${JSON.stringify(r.json)}`);
      sw.push(await untilServing(c, standby, t0));
      await c.waitFor(active, (s) => s.state === "standby" && s.peer.state === "active", 5000, "standby");
      active = standby;
    }
    c.stopSampling();
    twoActives.push(c.twoActives().length);
    for (const s of c.twoActives()) process.stderr.write(`TWO ACTING: ${JSON.stringify(s)}\n`);
  } finally {
    await c.stop();
  }

  const result = {
    date: new Date().toISOString(),
    settings: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 500, deadProcessMisses: 3, leaseMs: 1000, leaseSafetyMs: 150, witness: true, links: 2, trials },
    killMinus9: { client: summary(kill), nodeLog: killLog.length ? summary(killLog) : null },
    silencedHost: { client: summary(stop), nodeLog: stopLog.length ? summary(stopLog) : null },
    switchover: { client: summary(sw) },
    samplesWithTwoActives: twoActives[0] ?? null,
  };
  const md = [
    `| measure | n | p50 | p90 | p99 | max | target |`,
    `|---|---|---|---|---|---|---|`,
    `| kill -9 → standby serving (client poll) | ${result.killMinus9.client.n} | ${result.killMinus9.client.p50} ms | ${result.killMinus9.client.p90} ms | ${result.killMinus9.client.p99} ms | ${result.killMinus9.client.max} ms | p99 ≤ 500 ms |`,
    result.killMinus9.nodeLog ? `| kill -9 → transition in the standby's log | ${result.killMinus9.nodeLog.n} | ${result.killMinus9.nodeLog.p50} ms | ${result.killMinus9.nodeLog.p90} ms | ${result.killMinus9.nodeLog.p99} ms | ${result.killMinus9.nodeLog.max} ms | |` : "",
    `| SIGSTOP (host silenced) → standby serving | ${result.silencedHost.client.n} | ${result.silencedHost.client.p50} ms | ${result.silencedHost.client.p90} ms | ${result.silencedHost.client.p99} ms | ${result.silencedHost.client.max} ms | p99 ≤ lease + 300 = 1300 ms |`,
    `| planned switchover (API call → peer serving) | ${result.switchover.client.n} | ${result.switchover.client.p50} ms | ${result.switchover.client.p90} ms | ${result.switchover.client.p99} ms | ${result.switchover.client.max} ms | p99 ≤ 300 ms |`,
  ]
    .filter(Boolean)
    .join("\n");
  console.log(JSON.stringify(result, null, 2));
  console.log("\n" + md + `\n\nsamples with two nodes acting at once: ${result.samplesWithTwoActives}`);
  if (values.out) writeFileSync(values.out, JSON.stringify(result, null, 2) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
