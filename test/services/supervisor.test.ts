// The supervisor on real child processes: dependency order, restarts with
// backoff up to failed, a hung service, a service that ignores SIGTERM, the
// output and events of a service, and an operator's stop kept on disk.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { liveGroupMembers, readProcStat, isLive } from "../../runtime/services/proc.js";
import { serviceTmpRoot } from "../../runtime/services/supervisor.js";
import { Harness, readyCheck, svc } from "./harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("supervision", () => {
  it("starts in dependency order, each after its dependency is healthy, and stops in reverse", async () => {
    h = new Harness();
    const ready = { health: readyCheck, env: { READY_AFTER: "0.3" } };
    // declared out of order on purpose: c needs b, b needs a
    const sup = h.start({ c: svc("normal", { ...ready, dependsOn: ["b"] }), a: svc("normal", ready), b: svc("normal", { ...ready, dependsOn: ["a"] }) });
    await h.until("all three healthy", () => ["a", "b", "c"].every((n) => h.view(n).state === "running"));
    const starts = h.events().filter((e) => e[1] === "start");
    expect(starts.map((e) => e[2])).toEqual(["a", "b", "c"]);
    // b started only once a answered healthy (≥ its 0.3 s start-up), c likewise after b
    expect(Number(starts[1]![0]) - Number(starts[0]![0])).toBeGreaterThanOrEqual(280);
    expect(Number(starts[2]![0]) - Number(starts[1]![0])).toBeGreaterThanOrEqual(280);
    const tmpRoot = serviceTmpRoot(join(h.dir, "data"));
    expect(existsSync(tmpRoot)).toBe(true);
    await sup.stop();
    expect(h.events().filter((e) => e[1] === "stop").map((e) => e[2])).toEqual(["c", "b", "a"]);
    for (const n of ["a", "b", "c"]) expect(h.view(n).state).toBe("stopped");
    // a clean stop leaves nothing in the system's temp dir
    expect(existsSync(tmpRoot)).toBe(false);
  });

  it("a service whose processes cannot be recorded (a full disk) still runs, and the node says so; nothing throws (found by the fault-injection runs)", async () => {
    h = new Harness();
    h.start({ agent: svc("normal") });
    // the run directory becomes a file: every record written from now on fails, as on a full disk
    const run = join(h.dir, "data", "services", "run");
    rmSync(run, { recursive: true, force: true });
    writeFileSync(run, "not a directory");
    await h.until("running", () => h.view("agent").state === "running" && h.view("agent").pid !== null);
    await h.until("the error said", () => h.lines.some((l) => l.level === "error" && /could not be recorded/.test(l.msg)));
    expect(h.events().filter((e) => e[1] === "start").map((e) => e[2])).toEqual(["agent"]);
  });

  it("backs a crash loop off, then reports it failed with an alarm and a lower service level", async () => {
    h = new Harness();
    const sup = h.start({ flaky: svc("crash", { restartDelayMs: 50, restartMaxDelayMs: 400, restartLimit: 3 }) });
    await h.until("failed", () => h.view("flaky").state === "failed", 15_000);
    const starts = h.events().filter((e) => e[1] === "start").map((e) => Number(e[0]));
    expect(starts).toHaveLength(4); // the first run and three restarts
    // each wait doubles (50, 100, 200 ms), and no restart comes before its wait is over
    const delays = h.lines.map((l) => /restarting in (\d+) ms/.exec(l.msg)?.[1]).filter(Boolean).map(Number);
    expect(delays).toEqual([50, 100, 200]);
    starts.slice(1).forEach((t, k) => expect(t - starts[k]!).toBeGreaterThanOrEqual(delays[k]!));
    expect(h.view("flaky").restarts).toBe(3);
    expect(h.view("flaky").lastExit?.code).toBe(3);
    expect(h.lines.some((l) => l.alarm === "service-failed" && /ALARM: service flaky failed/.test(l.msg))).toBe(true);
    expect(sup.health()).toEqual({ penalty: 20, reasons: ["service flaky failed"] });
    // it stays failed: nothing starts it again by itself
    await new Promise((r) => setTimeout(r, 500));
    expect(h.events().filter((e) => e[1] === "start")).toHaveLength(4);
    // an operator's start gives it a new chance
    await sup.act("flaky", "start", "op1");
    await h.until("started again", () => h.events().filter((e) => e[1] === "start").length === 5);
  });

  it("kills and restarts a service whose health check keeps failing while it runs (hung)", async () => {
    h = new Harness();
    // the grace covers the script's own start (a slow fork of sh, date and touch must not look like a hang),
    // and ends well before it stops answering
    h.start({ worker: svc("hang", { health: { ...readyCheck, startGraceMs: 800 }, restartDelayMs: 50, env: { HANG_AFTER: "1.5" } }) });
    await h.until("restarted after hanging", () => h.events().filter((e) => e[1] === "start").length >= 2, 10_000);
    const words = h.eventWords();
    expect(words.slice(0, 4)).toEqual(["start worker", "hung worker", "stop worker", "start worker"]);
    expect(h.lines.some((l) => /service worker is hung: its health check failed 2 times in a row/.test(l.msg))).toBe(true);
    expect(h.view("worker").lastExit).not.toBeNull();
  });

  it("kills a service that ignores SIGTERM, with its children, after its stop timeout", async () => {
    h = new Harness();
    const childPidFile = join(h.dir, "child.pid");
    const sup = h.start({ stubborn: svc("ignore-term", { stopTimeoutMs: 400, env: { CHILD_PID_FILE: childPidFile } }) });
    await h.until("running with its child", () => {
      try {
        return readFileSync(childPidFile, "utf8").trim().length > 0;
      } catch {
        return false;
      }
    });
    const child = Number(readFileSync(childPidFile, "utf8"));
    const pid = h.view("stubborn").pid!;
    const t0 = Date.now();
    await sup.act("stubborn", "stop", "op1");
    const took = Date.now() - t0;
    expect(h.eventWords()).toContain("term-ignored stubborn");
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(3000);
    expect(isLive(readProcStat(child))).toBe(false);
    expect(isLive(readProcStat(pid))).toBe(false);
    expect(h.lines.some((l) => /did not stop within 400 ms of SIGTERM: killing its processes/.test(l.msg))).toBe(true);
  });

  it("logs a service's output line by line with its name, and counts the events it reports", async () => {
    h = new Harness();
    h.start({ talker: svc("chatty") });
    await h.until("both lines", () => h.lines.some((l) => l.msg === "hello from stderr") && h.lines.some((l) => l.msg === "hello from stdout"));
    const out = h.lines.find((l) => l.msg === "hello from stdout")!;
    const err = h.lines.find((l) => l.msg === "hello from stderr")!;
    expect(out.service).toBe("talker");
    expect(out.level).toBe("info");
    expect(err.level).toBe("warn");
    // the event lines are counted, not logged
    expect(h.lines.some((l) => l.msg.startsWith("@tandem"))).toBe(false);
    await new Promise((r) => setTimeout(r, 2300)); // one sample
    h.sup!.instances[0]!.sample();
    const v = h.view("talker");
    expect(v.eventsPerSec).toBeGreaterThan(5);
    expect(v.rssBytes).toBeGreaterThan(0);
    expect(v.lastOutputAt).not.toBeNull();
  });

  it("an operator's stop of a service stops its dependants first, and its start brings them back", async () => {
    h = new Harness();
    const sup = h.start({ base: svc("normal", { health: readyCheck }), top: svc("normal", { dependsOn: ["base"] }) });
    await h.until("both running", () => h.view("top").state === "running" && h.eventWords().includes("start top"));
    await sup.act("base", "stop", "op1");
    expect(h.eventWords().filter((w) => w.startsWith("stop"))).toEqual(["stop top", "stop base"]);
    expect(h.view("top").reason).toMatch(/base, which it depends on, was stopped by op1/);
    await sup.act("base", "start", "op1");
    await h.until("both back", () => h.view("top").state === "running" && h.view("base").state === "running");
  });

  it("restarts a service over its memoryMaxMB with a clear line, as a failed run", async () => {
    h = new Harness();
    // about 40 MB of Node plus 80 MB it holds, over a 100 MB limit
    const hog = { command: process.execPath, args: ["-e", "const b = Buffer.alloc(80e6, 1); setInterval(() => b[0]++, 500)"], placement: "both", restartDelayMs: 50, memoryMaxMB: 100 };
    h.start({ hog });
    await h.until("restarted over memory", () => h.view("hog").restarts >= 1, 15_000);
    const line = h.lines.find((l) => /service hog uses \d+ MB, over its memoryMaxMB 100: restarting it/.test(l.msg));
    expect(line, h.lines.map((l) => l.msg).join(" | ")).toBeDefined();
    expect(h.view("hog").lastExit?.description).toMatch(/SIGTERM|signal 15/);
  });

  it.runIf(process.getuid?.() === 0)("runs a service as its configured user, with its temporary directory its own", async () => {
    h = new Harness();
    h.start({ who: { command: "sh", args: ["-c", 'echo "uid=$(id -u) tmp=$(stat -c %u "$TMPDIR") home=$HOME user=$USER"; sleep 30'], placement: "both", user: "nobody" } });
    await h.until("its line", () => h.lines.some((l) => l.msg.startsWith("uid=")));
    const nobody = Number(/^nobody:[^:]*:(\d+):/m.exec(readFileSync("/etc/passwd", "utf8"))![1]);
    expect(h.lines.find((l) => l.msg.startsWith("uid="))!.msg).toMatch(new RegExp(`^uid=${nobody} tmp=${nobody} home=\\S+ user=nobody$`));
  });

  it("keeps an operator's stop across a restart of the node, until an operator starts it", async () => {
    h = new Harness();
    const services = { agent: svc("normal") };
    let sup = h.start(services);
    await h.until("running", () => h.view("agent").state === "running");
    await sup.act("agent", "stop", "op1");
    expect(h.view("agent").stoppedByOperator?.by).toBe("op1");
    await sup.stop();
    sup = h.start(services);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.view("agent").state).toBe("stopped");
    expect(h.view("agent").reason).toMatch(/stopped by op1/);
    await sup.act("agent", "start", "op2");
    await h.until("running again", () => h.view("agent").state === "running");
    expect(h.view("agent").stoppedByOperator).toBeNull();
  });
});

describe("services placed active", () => {
  it("run only while the node may act, carry its epoch, and are killed at once when it may not", async () => {
    h = new Harness();
    const sup = h.start({ job: svc("normal", { placement: "active" }) });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.events()).toHaveLength(0);
    expect(h.view("job").reason).toMatch(/this node is standby, not active/);
    h.pair.s = "active-held";
    h.pair.e = 7;
    h.pair.allowed = true;
    h.pair.deadline = 5000;
    sup.onPairChange();
    await h.until("started", () => h.view("job").state === "running" && h.events().length > 0);
    expect(h.events()[0]!.slice(1)).toEqual(["start", "job", "a", "7"]);
    expect(h.pair.upCalls).toEqual([true]);
    const pid = h.view("job").pid!;
    // the lease is lost: killed (no graceful stop: no "stop" line), then reported gone
    h.pair.s = "isolated";
    h.pair.allowed = false;
    sup.onPairChange();
    await h.until("gone", () => !isLive(readProcStat(pid)) && h.pair.upCalls.length === 2, 3000);
    expect(h.pair.upCalls).toEqual([true, false]);
    expect(h.eventWords()).not.toContain("stop job");
  });

  it("stop gracefully, dependants first, when a switchover hands over", async () => {
    h = new Harness();
    const sup = h.start({ base: svc("normal", { placement: "active", health: readyCheck }), top: svc("normal", { placement: "active", dependsOn: ["base"] }) });
    h.pair.s = "active";
    h.pair.allowed = true;
    sup.onPairChange();
    // a service stopped before it set up its own signal handling just dies: wait for its "start" line (after its trap)
    await h.until("both running", () => h.view("top").state === "running" && h.eventWords().includes("start top"));
    h.pair.allowed = false;
    h.pair.handing = true;
    sup.reconcile();
    await h.until("reported gone", () => h.pair.upCalls.at(-1) === false, 5000);
    expect(h.eventWords().filter((w) => w.startsWith("stop"))).toEqual(["stop top", "stop base"]);
  });

  it("are killed by their launcher when the node stops renewing the lease (a frozen node)", async () => {
    h = new Harness();
    const sup = h.start({ job: svc("normal", { placement: "active" }) });
    h.pair.s = "active";
    h.pair.allowed = true;
    h.pair.deadline = 400;
    sup.onPairChange();
    await h.until("running", () => h.view("job").pid !== null);
    const pid = h.view("job").pid!;
    const pgid = h.sup!.instances[0]!.pgid!;
    const t0 = Date.now();
    // the node "freezes": no more deadlines are fed; the launcher alone acts
    await h.until("killed by the launcher", () => liveGroupMembers(pgid).length === 0, 3000);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(1500);
    expect(isLive(readProcStat(pid))).toBe(false);
    h.pair.allowed = false;
    sup.onPairChange();
  });
});
