// Services on a real pair of node processes. S1 for services: a service
// placed `active` never runs on both nodes — its own lines (timestamp, node,
// epoch) in one shared file are the witness — over more than 50 transitions:
// kill -9 and SIGSTOP of the active, switchovers, and a partition decided by
// the witness. Also: kill -9 of a node leaves none of its `active` services
// running (checked within 1 s), the next start cleans up what a previous run
// left while a recycled pid is left alone, and balanced instances move to the
// survivor and back, one at a time.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readProcStat, isLive } from "../../runtime/services/proc.js";
import type { Cluster } from "../helpers/cluster.js";
import { sleep, waitUntil } from "../helpers/cluster.js";
import { followEvents, type StreamMessage } from "../helpers/sse.js";
import { useCluster } from "../helpers/use-cluster.js";
import { SVC } from "../services/harness.js";

const pair = useCluster();
const work = mkdtempSync(join(tmpdir(), "tandem-svc-pair-"));
afterAll(() => {
  if (!process.env.TANDEM_KEEP_TEST_DIRS) rmSync(work, { recursive: true, force: true });
});

type Id = "a" | "b";
const other = (id: Id): Id => (id === "a" ? "b" : "a");

/** the services section of both nodes: a job agent placed active, and what the test adds */
function services(out: string, more = ""): string {
  return `services:
  agent:
    command: ${JSON.stringify(SVC)}
    args: [agent]
    placement: active
    stopTimeoutMs: 2000
    env: { OUT: ${JSON.stringify(out)}, LOG: ${JSON.stringify(join(work, "events.log"))}, EVERY: "0.02" }
${more}`;
}

/** processes of this test's services that run for node `id` (from their environment) */
function serviceProcs(id: Id, marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let env = "";
    try {
      env = readFileSync(`/proc/${d}/environ`, "latin1");
    } catch {
      continue;
    }
    const vars = env.split("\0");
    if (vars.includes(`TANDEM_NODE=${id}`) && vars.some((v) => v.includes(marker)) && isLive(readProcStat(Number(d)))) out.push(Number(d));
  }
  return out;
}

/** the agent's lines, in time order: [ms, node, epoch] */
function agentLines(file: string): { t: number; node: string; epoch: number }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => /^\d+ [ab] \d+$/.test(l))
    .map((l) => {
      const [t, node, epoch] = l.split(" ");
      return { t: Number(t), node: node!, epoch: Number(epoch) };
    })
    .sort((x, y) => x.t - y.t || x.epoch - y.epoch);
}

/** runs of lines from one node under one epoch; S1 for services: each run is newer than the one before */
function runsOf(lines: { t: number; node: string; epoch: number }[]) {
  const runs: { node: string; epoch: number; from: number; to: number; lines: number }[] = [];
  for (const l of lines) {
    const last = runs.at(-1);
    if (last && last.node === l.node && last.epoch === l.epoch) {
      last.to = l.t;
      last.lines++;
    } else runs.push({ node: l.node, epoch: l.epoch, from: l.t, to: l.t, lines: 1 });
  }
  return runs;
}

async function activeOf(c: Cluster): Promise<Id> {
  const a = await c.status("a");
  return a && (a.state === "active" || a.state === "active-held") ? "a" : "b";
}

/** confirm a held takeover so that the next switchover may start */
async function confirmIfHeld(c: Cluster, id: Id): Promise<void> {
  const s = await c.waitFor(id, (x) => x.state === "active" || x.state === "active-held", 15_000, "active");
  if (s.state === "active-held") await c.api(id, "POST", "/confirm", {}, "operator");
  await c.waitFor(id, (x) => x.state === "active", 5000, "confirmed");
}

describe("services placed active never run on both nodes (S1 for services)", () => {
  it("over 50+ transitions: switchover, kill -9, SIGSTOP, and a partition decided by the witness", { timeout: 600_000 }, async () => {
    const out = join(work, "agent-s1.out");
    const c = await pair.start({ extra: () => services(out) });
    await c.ready();
    const kinds = ["switchover", "kill9", "switchover", "sigstop", "switchover", "partition"] as const;
    const done: string[] = [];
    const t0 = Date.now();
    for (let k = 0; done.length < 52 && Date.now() - t0 < 420_000; k++) {
      const kind = kinds[k % kinds.length]!;
      const from = await activeOf(c);
      const to = other(from);
      // a steady pair before each transition (each node sees the other as it is), the agent running on the active
      await c.waitFor(to, (s) => s.state === "standby" && s.peer.state === "active", 10_000, "standby, following the active");
      await c.waitFor(from, (s) => s.state === "active" && s.peer.state === "standby", 10_000, "active, with a standby");
      await waitUntil(`the agent writes from ${from}`, () => agentLines(out).at(-1)?.node === from, { timeoutMs: 10_000 });
      if (kind === "switchover") {
        const r = await c.api(from, "POST", "/switchover", {});
        expect(r.status, JSON.stringify(r.json)).toBe(200);
        await c.waitFor(to, (s) => s.state === "active", 10_000, "active after the switchover");
      } else if (kind === "kill9") {
        c.signal(from, "SIGKILL");
        const killedAt = Date.now();
        // the dead node's services die with it: none left within 1 s
        await waitUntil(`no agent of ${from} after kill -9`, () => serviceProcs(from, out).length === 0, { timeoutMs: 1000 });
        expect(Date.now() - killedAt).toBeLessThan(1000);
        await c.exited(from);
        await confirmIfHeld(c, to);
        c.startNode(from);
        // alone meanwhile, the active renews its lease with the witness only; a renewal late under load
        // makes it step down and take over again, held (S1 kept): confirmed as an operator would
        const back = await c.waitFor(from, (s) => s.state === "standby" && (s.peer.state === "active" || s.peer.state === "active-held"), 20_000, "back as standby");
        if (back.peer.state === "active-held") await confirmIfHeld(c, to);
      } else if (kind === "sigstop") {
        c.signal(from, "SIGSTOP");
        await c.waitFor(to, (s) => s.state === "active-held" || s.state === "active", 10_000, "took over from the frozen active");
        // the frozen node stays frozen while the new active runs the agent: only its launchers can act
        await waitUntil(`the agent writes from ${to}`, () => agentLines(out).at(-1)?.node === to, { timeoutMs: 10_000 });
        await sleep(300);
        c.signal(from, "SIGCONT");
        await confirmIfHeld(c, to);
        await c.waitFor(from, (s) => s.state === "standby", 10_000, "the thawed node is standby");
      } else {
        // the active loses the peer and the witness at once: it isolates itself;
        // with the witness back, whichever node asks it first takes over (the
        // old active may win it again: both reach the witness, not each other)
        const epoch = (await c.status(from))!.epoch;
        c.cutPeer(true);
        c.witness!.kill("SIGSTOP");
        await c.waitFor(from, (s) => s.state === "isolated", 10_000, "isolated");
        c.witness!.kill("SIGCONT");
        const acting = (s: { state: string; epoch: number }) => (s.state === "active-held" || s.state === "active") && s.epoch > epoch;
        await waitUntil("a node took over with the witness", async () => [await c.status("a"), await c.status("b")].some((s) => s && acting(s)), { timeoutMs: 15_000 });
        c.cutPeer(false);
        const winner = acting((await c.status("a"))!) ? "a" : "b";
        await confirmIfHeld(c, winner);
        await c.waitFor(other(winner), (s) => s.state === "standby", 10_000, "the other node is standby again");
      }
      done.push(kind);
    }
    await waitUntil("the agent writes from the last active", async () => agentLines(out).at(-1)?.node === (await activeOf(c)), { timeoutMs: 10_000 });
    expect(done.length).toBeGreaterThanOrEqual(50);
    const runs = runsOf(agentLines(out));
    // one run per transition at least (plus the first), each from the other node, each under a newer epoch
    expect(runs.length).toBeGreaterThanOrEqual(done.length + 1);
    for (let i = 1; i < runs.length; i++) {
      const [p, r] = [runs[i - 1]!, runs[i]!];
      expect(r.epoch, `run ${i}: ${JSON.stringify(p)} then ${JSON.stringify(r)}`).toBeGreaterThan(p.epoch);
      expect(r.from, `run ${i} starts after the previous one ended`).toBeGreaterThan(p.to);
    }
  });
});

describe("a node's services and its death", () => {
  it("kill -9 of the node takes its services along; the next start cleans up what a run left and leaves a recycled pid alone", async () => {
    const out = join(work, "agent-kill.out");
    const both = `  web:
    command: ${JSON.stringify(SVC)}
    args: [normal]
    placement: both
    env: { LOG: ${JSON.stringify(join(work, "events.log"))}, MARK: ${JSON.stringify(out)} }
`;
    const c = await pair.start({ extra: () => services(out, both) });
    const { active } = await c.ready();
    await waitUntil("the agent and web run on the active", () => serviceProcs(active, out).length >= 2, { timeoutMs: 10_000 });

    // 1. kill -9: nothing of its services is left within 1 s
    c.signal(active, "SIGKILL");
    await waitUntil("none of its services left", () => serviceProcs(active, out).length === 0, { timeoutMs: 1000 });
    await c.exited(active);
    const standby = other(active);
    await confirmIfHeld(c, standby);

    // 2. a run that left something behind: its launcher and watchdog killed by hand, so that
    // the `web` service outlives the node (as after a crash of the launcher itself)
    c.startNode(active);
    await c.waitFor(active, (s) => s.state === "standby", 20_000, "back as standby");
    await waitUntil("web runs again", () => serviceProcs(active, out).length >= 1, { timeoutMs: 10_000 });
    const web = (await c.api(active, "GET", "/services", undefined, "viewer")).json.services.find((s: { name: string }) => s.name === "web");
    const runDir = join(c.dir, `data-${active}`, "services", "run");
    const rec = JSON.parse(readFileSync(join(runDir, "web.json"), "utf8")) as { launcherPid: number; servicePid: number };
    expect(rec.servicePid).toBe(web.pid);
    const groupOthers = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map((d) => readProcStat(Number(d)))
      .filter((p) => p && p.pgrp === rec.launcherPid && p.pid !== rec.servicePid && p.ppid !== rec.servicePid);
    // the node frozen first: it would otherwise see its launcher end and kill what is left in the group
    c.signal(active, "SIGSTOP");
    for (const p of groupOthers) process.kill(p!.pid, "SIGKILL"); // the launcher and its watchdog
    c.signal(active, "SIGKILL");
    await c.exited(active);
    await sleep(300);
    expect(isLive(readProcStat(rec.servicePid)), "the orphaned service outlived its node").toBe(true);
    // and a record whose pid now belongs to another program (a recycled pid)
    const stranger = spawn("sleep", ["60"], { stdio: "ignore", detached: true });
    writeFileSync(
      join(runDir, "ghost.json"),
      JSON.stringify({ key: "ghost", name: "ghost", instance: 1, launcherPid: stranger.pid, launcherStartTicks: 1, servicePid: stranger.pid, serviceStartTicks: 1, bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(), tmpDir: join(tmpdir(), "nowhere"), startedAt: new Date().toISOString() }),
    );
    try {
      c.startNode(active);
      await c.waitFor(active, (s) => s.state === "standby", 20_000, "started again");
      await waitUntil("the orphan is gone", () => !isLive(readProcStat(rec.servicePid)), { timeoutMs: 5000 });
      expect(isLive(readProcStat(stranger.pid!)), "a recycled pid of another program is left alone").toBe(true);
      const log = c.logLines(active).join("\n");
      expect(log).toMatch(/service web: killed \d+ process(es)? left by the previous run/);
      expect(log).toMatch(/service ghost: [^"]*left process \d+ \(sleep\) alone/);
      expect(existsSync(join(runDir, "ghost.json"))).toBe(false);
    } finally {
      stranger.kill("SIGKILL");
    }
  });
});

describe("operators and services", () => {
  it("an operator's stop holds across a takeover until an operator starts it again; both are audited", async () => {
    const out = join(work, "agent-op.out");
    const c = await pair.start({ extra: () => services(out) });
    const { active, standby } = await c.ready();
    await waitUntil("the agent writes", () => agentLines(out).length > 0, { timeoutMs: 10_000 });
    const viewer = await c.api(active, "POST", "/services/agent/stop", {}, "viewer");
    expect(viewer.status).toBe(403);
    const stream = await followEvents(c.nodes[active].url);
    const stop = await c.api(active, "POST", "/services/agent/stop", {}, "operator");
    expect(stop.status, JSON.stringify(stop.json)).toBe(200);
    expect(serviceProcs(active, out)).toEqual([]);
    // an HMI page following the node sees the stop in its stream, without reading the list
    const stoppedView = (m: StreamMessage) => m.type === "services" && (m.data.services as { name: string; state: string; stoppedByOperator: unknown }[]).some((x) => x.name === "agent" && x.state === "stopped" && x.stoppedByOperator);
    await waitUntil("the stop in the event stream", () => stream.messages.some(stoppedView), { timeoutMs: 2000 });
    stream.close();
    // the standby learns it from the active's report before the active dies
    await waitUntil("the standby knows the stop", async () => {
      const v = (await c.api(standby, "GET", "/services", undefined, "viewer")).json.services as { name: string; stoppedByOperator: unknown }[];
      return v.find((x) => x.name === "agent")?.stoppedByOperator !== null;
    }, { timeoutMs: 5000 });
    c.signal(active, "SIGKILL");
    await c.exited(active);
    await confirmIfHeld(c, standby);
    await sleep(1000);
    expect(serviceProcs(standby, out), "the stopped service stays stopped on the new active").toEqual([]);
    const view = ((await c.api(standby, "GET", "/services", undefined, "viewer")).json.services as { name: string; state: string; reason: string }[]).find((x) => x.name === "agent")!;
    expect(view.state).toBe("stopped");
    expect(view.reason).toMatch(/stopped by operator at/);
    expect((await c.api(standby, "POST", "/services/agent/start", {}, "operator")).status).toBe(200);
    await waitUntil("the agent writes from the new active", () => agentLines(out).at(-1)?.node === standby, { timeoutMs: 10_000 });
    const audit = (await c.api(standby, "GET", "/audit?limit=50", undefined, "viewer")).json.entries as { action: string; user: string; result: string }[];
    expect(audit.filter((e) => e.action === "service-start").map((e) => [e.user, e.result])).toEqual([
      ["operator", "requested"],
      ["operator", "ok"],
    ]);
    const unknown = await c.api(standby, "POST", "/services/nope/stop", {}, "operator");
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("TANDEM_ERR_SERVICE_UNKNOWN");
  });
});

describe("balanced services", () => {
  it("spread over the pair, move to the survivor when a node dies, and move back one at a time", async () => {
    const out = join(work, "agent-bal.out");
    const events = join(work, "events-bal.log");
    const pool = `  pool:
    command: ${JSON.stringify(SVC)}
    args: [normal]
    placement: balanced
    instances: 2
    scheme: fewest-instances
    env: { LOG: ${JSON.stringify(events)} }
`;
    const c = await pair.start({ extra: () => services(out, pool) });
    await c.ready();
    const where = async (id: Id) =>
      ((await c.api(id, "GET", "/services", undefined, "viewer")).json.services as { instance: string; state: string; node: string | null; reason: string }[]).filter((s) => s.instance.startsWith("pool#"));
    const runningOn = async (id: Id) => (await where(id)).filter((s) => s.state === "running").map((s) => s.instance);
    await waitUntil("one instance on each node", async () => (await runningOn("a")).length === 1 && (await runningOn("b")).length === 1, { timeoutMs: 15_000 });
    const view = await where("a");
    expect(view.every((s) => /fewest-instances/.test(s.reason) || s.node === "a")).toBe(true);

    c.signal("b", "SIGKILL");
    await c.exited("b");
    await confirmIfHeld(c, "a");
    await waitUntil("both instances on the survivor", async () => (await runningOn("a")).length === 2, { timeoutMs: 15_000 });
    await sleep(500); // their own "start" lines are written a moment after they run

    const before = readFileSync(events, "utf8").length;
    c.startNode("b");
    await c.waitFor("b", (s) => s.state === "standby", 20_000, "b back");
    await waitUntil("one instance moved back to b", async () => (await runningOn("a")).length === 1 && (await runningOn("b")).length === 1, { timeoutMs: 20_000 });
    await sleep(1500);
    // exactly one instance moved: one stop on a, then its start on b, nothing else
    const moves = readFileSync(events, "utf8")
      .slice(before)
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .filter((e) => e[2]?.startsWith("pool#"));
    expect(moves.map((e) => `${e[1]} ${e[3]}`)).toEqual(["stop a", "start b"]);
    expect(moves[0]![2]).toBe(moves[1]![2]);
    expect((await runningOn("a")).length).toBe(1);
  });
});
