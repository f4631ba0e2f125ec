// Safety gap 6: the node logs on the same event loop that renews the active's
// lease. A log that cannot keep up (a slow or dead disk, a stuck log pipe)
// must cost lines, counted, never the lease.
//
// Each node logs into a FIFO that a `cat` drains into the usual <id>.log.
// Stopping the active's `cat` (SIGSTOP) makes its log a disk that takes
// nothing: the pipe fills within a few hundred debug lines, and a node that
// writes its log synchronously blocks in write(2). Junk datagrams sent to the
// active make it write a debug line each, so the log fills fast.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeStatus } from "../../runtime/node-api.js";
import { exited, ROOT, sleep, type Cluster } from "../helpers/cluster.js";
import { sampleValue } from "../helpers/prom-text.js";
import { useCluster } from "../helpers/use-cluster.js";

const STALL_MS = 6000;
// the smallest buffer a config may set: a few hundred junk lines fill the pipe and the buffer,
// and the junk that fills them costs the node little CPU (it is the log that is under test)
const BUFFER_BYTES = 64 * 1024;
const readers: ChildProcess[] = [];
let fifoDir: string | null = null;

// registered before useCluster's, so it runs after the pair has stopped (and
// the readers have copied the nodes' last lines)
afterEach(() => {
  for (const r of readers) {
    if (r.exitCode === null && r.signalCode === null) {
      r.kill("SIGCONT");
      r.kill("SIGKILL");
    }
  }
  readers.length = 0;
  if (fifoDir) rmSync(fifoDir, { recursive: true, force: true });
  fifoDir = null;
});

const pair = useCluster();

/** One status read that gives up after `ms` (a stalled node answers nothing). */
async function statusWithin(cluster: Cluster, id: "a" | "b", ms: number): Promise<NodeStatus | null> {
  try {
    const r = await fetch(`${cluster.nodes[id].url}/api/v1/status`, {
      headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` },
      signal: AbortSignal.timeout(ms),
    });
    return r.status === 200 ? ((await r.json()) as NodeStatus) : null;
  } catch {
    return null;
  }
}

async function metricsText(cluster: Cluster, id: "a" | "b", ms = 10_000): Promise<string | null> {
  try {
    const r = await fetch(`${cluster.nodes[id].url}/api/v1/metrics`, { headers: { authorization: `Basic ${Buffer.from("viewer:viewer").toString("base64")}` }, signal: AbortSignal.timeout(ms) });
    return r.status === 200 ? await r.text() : null;
  } catch {
    return null;
  }
}

const metric = (text: string | null, name: string): number => (text === null ? NaN : sampleValue(text, name));

async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** A `cat` that drains `fifo` into `file`; SIGSTOP makes it a log that takes nothing. */
function drain(fifo: string, file: string): ChildProcess {
  const out = openSync(file, "a");
  const cat = spawn("cat", [fifo], { stdio: ["ignore", out, "inherit"] });
  closeSync(out);
  readers.push(cat);
  return cat;
}

describe("a slow log does not cost the lease (safety gap 6)", () => {
  it("an active whose log takes nothing for 6 s stays active with its lease: no isolated, no takeover, the API answers (S1, L1)", async () => {
    fifoDir = mkdtempSync(join(tmpdir(), "tandem-fifo-"));
    const fifo = (id: string) => join(fifoDir!, `${id}.fifo`);
    for (const id of ["a", "b"]) execFileSync("mkfifo", [fifo(id)]);
    const cluster = await pair.start({ log: (id) => ({ file: fifo(id), bufferBytes: BUFFER_BYTES }) });
    const cat = { a: drain(fifo("a"), join(cluster.dir, "a.log")), b: drain(fifo("b"), join(cluster.dir, "b.log")) };
    const { active, standby } = await cluster.ready();
    const before = (await cluster.status(active))!;
    expect(before.state).toBe("active");

    cat[active].kill("SIGSTOP");
    const t0 = Date.now();
    const samples: { t: number; active: NodeStatus | null; standby: NodeStatus | null; buffered: number | null }[] = [];
    // junk on the active's heartbeat port: each datagram is dropped with a debug line
    const sock = dgram.createSocket("udp4");
    const junk = Buffer.from("TDM1 this is not a heartbeat ".repeat(8));
    let sent = 0; // bounded: at most 20,000 datagrams
    const flood = (async () => {
      while (Date.now() - t0 < STALL_MS && sent < 20_000) {
        for (let i = 0; i < 5; i++, sent++) sock.send(junk, cluster.ports[active].lan, "127.0.0.1");
        await sleep(10);
      }
    })();
    while (Date.now() - t0 < STALL_MS) {
      const [a, s, m] = await Promise.all([statusWithin(cluster, active, 1000), statusWithin(cluster, standby, 1000), metricsText(cluster, active, 1000)]);
      samples.push({ t: Date.now() - t0, active: a, standby: s, buffered: m === null ? null : metric(m, "tandem_log_buffered_bytes") });
      await sleep(100);
    }
    await flood;
    sock.close();
    cat[active].kill("SIGCONT");

    const line = (x: (typeof samples)[number]) =>
      `${x.t} ms: ${active} ${x.active ? `${x.active.state} epoch ${x.active.epoch} lease ${x.active.leaseRemainingMs} ms` : "no answer"}, ${standby} ${x.standby ? `${x.standby.state} epoch ${x.standby.epoch}` : "no answer"}`;
    const report = samples.map(line).join("\n");
    // the active answered every time, as active, in its epoch, with a lease
    const badActive = samples.filter((x) => !x.active || x.active.state !== "active" || x.active.epoch !== before.epoch || x.active.leaseRemainingMs <= 0);
    expect(badActive.map(line), report).toEqual([]);
    // and the standby never took over
    const badStandby = samples.filter((x) => !x.standby || x.standby.state !== "standby" || x.standby.epoch !== before.epoch);
    expect(badStandby.map(line), report).toEqual([]);
    expect(samples.length).toBeGreaterThan(10);

    // the log held back at most its bound, dropped the rest and counted it
    const peakBuffered = Math.max(...samples.map((x) => x.buffered ?? 0));
    expect(peakBuffered).toBeGreaterThan(BUFFER_BYTES / 2);
    expect(peakBuffered).toBeLessThanOrEqual(BUFFER_BYTES);
    // once the log takes lines again: one warning says how many were lost, as many as the metric counted
    await cluster.until(() => cluster.logTail(active, 400).includes("log lines were dropped"), 15_000, "the dropped-lines warning in the log");
    const warning = JSON.parse(cluster.logTail(active, 400).split("\n").find((l) => l.includes("log lines were dropped"))!);
    const dropped = metric(await metricsText(cluster, active), "tandem_log_lines_dropped_total");
    expect(warning.dropped).toBeGreaterThan(0);
    expect(dropped).toBe(warning.droppedTotal);
    // and no state change was logged meanwhile
    const moved = cluster.transitions(active).filter((t) => t.time >= t0);
    expect(moved).toEqual([]);

    // A stop while the log takes nothing: the last lines wait for it (bounded)
    // and are not dropped, even with the buffer full
    cat[active].kill("SIGSTOP");
    const sock2 = dgram.createSocket("udp4");
    for (let i = 0; i < 100; i++) {
      for (let j = 0; j < 10; j++) sock2.send(junk, cluster.ports[active].lan, "127.0.0.1");
      await sleep(10);
    }
    sock2.close();
    await waitUntil(async () => metric(await metricsText(cluster, active), "tandem_log_buffered_bytes") > BUFFER_BYTES * 0.9, 10_000, "the log buffer full before the stop");
    cluster.signal(active, "SIGTERM");
    // the stop goes on with the log stuck: the active hands over to its peer
    await cluster.waitFor(standby, (s) => s.state === "active", 10_000, "the handover at stop");
    cat[active].kill("SIGCONT");
    expect(await cluster.exited(active)).toEqual({ code: 0, signal: null });
    await cluster.until(() => cat[active].exitCode !== null, 5000, "the reader saw the end of the log");
    const msgs = cluster.logTail(active, 50).split("\n").map((l) => (JSON.parse(l) as { msg: string }).msg);
    // the stop's own lines, in order, to the last; only the count of what the full buffer dropped may follow
    const stopped = msgs.lastIndexOf("node stopped");
    expect(msgs.indexOf("SIGTERM: stopping")).toBeGreaterThan(-1);
    expect(stopped).toBeGreaterThan(msgs.indexOf("SIGTERM: stopping"));
    expect(msgs.slice(stopped + 1).every((m) => m.includes("log lines were dropped")), msgs.slice(stopped).join("\n")).toBe(true);
  });

  it("a crash while the log takes nothing still writes its fatal line, with the stack, once the log takes lines again", async () => {
    fifoDir = mkdtempSync(join(tmpdir(), "tandem-fifo-"));
    const fifo = join(fifoDir, "crash.fifo");
    const out = join(fifoDir, "crash.log");
    execFileSync("mkfifo", [fifo]);
    const reader = drain(fifo, out);
    // a process that logs through the node's LogManager, fills its buffer, then throws in a timer
    const script = `
      import { LogManager, installCrashLog } from ${JSON.stringify(join(ROOT, "dist/runtime/logging.js"))};
      const logs = new LogManager({ level: "debug", destination: process.env.LOG_FIFO, bufferBytes: 65536 });
      installCrashLog(logs);
      process.stdout.write("opened\\n");
      process.stdin.once("data", () => {
        for (let i = 0; i < 2000; i++) logs.get("t").info("line " + i + " ${"x".repeat(150)}");
        process.stdout.write("throwing " + logs.droppedLines + "\\n");
        process.stdin.destroy();
        setTimeout(() => { throw new Error("boom in a timer"); }, 10);
      });`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, LOG_FIFO: fifo }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    try {
      await waitUntil(() => stdout.includes("opened"), 10_000, `the child opened its log (${stderr})`);
      reader.kill("SIGSTOP");
      child.stdin!.write("go\n");
      await waitUntil(() => stdout.includes("throwing"), 10_000, `the child filled its log buffer (${stderr})`);
      expect(Number(/throwing (\d+)/.exec(stdout)![1]), "lines were dropped: the buffer was full").toBeGreaterThan(0);
      reader.kill("SIGCONT");
      const r = await exited(child, 15_000);
      expect(r.code).toBe(1);
      expect(stderr).toContain("boom in a timer");
      await waitUntil(() => reader.exitCode !== null, 5000, "the reader saw the end of the log");
      const fatal = readFileSync(out, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: string; msg: string; err?: { stack?: string }; origin?: string })
        .filter((l) => l.level === "fatal");
      expect(fatal).toHaveLength(1);
      expect(fatal[0]!.msg).toBe("crashed: boom in a timer");
      expect(fatal[0]!.origin).toBe("uncaughtException");
      expect(fatal[0]!.err?.stack).toContain("boom in a timer");
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
