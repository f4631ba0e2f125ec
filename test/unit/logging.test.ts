// The log as a slow disk meets it (safety gap 6): the node's logging never
// waits for the log destination, holds at most its bound, counts what it
// drops and says so once the log keeps up, never drops a fatal line, and a
// flush at stop is bounded. The destination is a real FIFO drained by a real
// `cat`; SIGSTOP on the `cat` makes a log that takes nothing.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import diagnostics from "node:diagnostics_channel";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { COUNT_CHANNELS, type CountEvent } from "../../core/diagnostics.js";
import { LogManager } from "../../runtime/logging.js";

const BOUND = 64 * 1024;
let dir: string;
let cat: ChildProcess | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tandem-log-"));
  execFileSync("mkfifo", [join(dir, "log.fifo")]);
});

afterEach(async () => {
  if (cat && cat.exitCode === null && cat.signalCode === null) {
    cat.kill("SIGCONT");
    cat.kill("SIGKILL");
    await new Promise((r) => cat!.once("exit", r));
  }
  cat = null;
  rmSync(dir, { recursive: true, force: true });
});

/**
 * SIGSTOP to the `cat`, returned once the kernel says it is stopped: a `cat`
 * not yet scheduled on a busy machine would otherwise read what is written
 * next before it stops, and the log would seem to take it.
 */
async function stopCat(): Promise<void> {
  cat!.kill("SIGSTOP");
  for (let i = 0; i < 400; i++) {
    const stat = readFileSync(`/proc/${cat!.pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("the cat did not stop within 2 s");
}

/** A LogManager writing into a FIFO that a `cat` copies to out.log. */
function fifoLog(extra: { level?: "debug" | "info" } = {}): LogManager {
  const out = openSync(join(dir, "out.log"), "a");
  cat = spawn("cat", [join(dir, "log.fifo")], { stdio: ["ignore", out, "inherit"] });
  closeSync(out);
  // opening the FIFO waits for the reader, so `cat` has it open once this returns
  return new LogManager({ level: extra.level ?? "debug", destination: join(dir, "log.fifo"), bufferBytes: BOUND, base: { pair: "p1", node: "n1" } });
}

const lines = () =>
  readFileSync(join(dir, "out.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: string });

const filler = "x".repeat(150);

describe("logging into a destination that takes nothing", () => {
  it("returns at once, holds at most its bound, counts the drops and says how many once the log keeps up; a fatal line is never dropped", async () => {
    const logs = fifoLog();
    const log = logs.get("test");
    const published: CountEvent[] = [];
    const onCount = (m: unknown) => published.push(m as CountEvent);
    diagnostics.subscribe(COUNT_CHANNELS.log, onCount);
    try {
      await stopCat();
      const t0 = performance.now();
      for (let i = 0; i < 3000; i++) log.debug({ i }, `line ${i} ${filler}`);
      const took = performance.now() - t0;
      // 3000 lines of ~250 bytes: the pipe (64 KiB) and the buffer hold a fraction
      expect(took, "the writes did not wait for the log").toBeLessThan(2000);
      expect(logs.droppedLines).toBeGreaterThan(1000);
      expect(logs.bufferedBytes).toBeLessThanOrEqual(BOUND);
      expect(published.filter((e) => e.name === "dropped_lines").length).toBe(logs.droppedLines);
      expect(published.every((e) => e.pair === "p1" && e.node === "n1")).toBe(true);

      // a fatal line goes in even with the buffer full
      log.fatal("the fatal line");
      expect(logs.bufferedBytes).toBeGreaterThan(BOUND - 300);
      const dropped = logs.droppedLines;

      cat!.kill("SIGCONT");
      expect(await logs.flush(10_000)).toBe(true);
      await vi.waitFor(() => expect(lines().some((l) => l.msg.includes("log lines were dropped"))).toBe(true), { timeout: 5000 });
      const all = lines();
      expect(all.some((l) => l.level === "fatal" && l.msg === "the fatal line")).toBe(true);
      const kept = all.filter((l) => typeof l.i === "number").map((l) => l.i as number);
      expect(kept.length + dropped).toBe(3000);
      // the lines that were kept are the first ones, in order (a drop never reorders)
      expect(kept).toEqual([...kept.keys()]);
      const warnings = all.filter((l) => l.msg.includes("log lines were dropped"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: "warn", component: "log", dropped, droppedTotal: dropped, bufferBytes: BOUND });
    } finally {
      diagnostics.unsubscribe(COUNT_CHANNELS.log, onCount);
    }
  });

  it("keeps every line once the node is stopping, and a flush waits for them", async () => {
    const logs = fifoLog();
    const log = logs.get("test");
    await stopCat();
    for (let i = 0; i < 1000; i++) log.info(`before ${i} ${filler}`);
    const dropped = logs.droppedLines;
    expect(dropped).toBeGreaterThan(0);
    logs.keepFinalLines();
    for (let i = 0; i < 20; i++) log.info(`final ${i}`);
    expect(logs.droppedLines).toBe(dropped);
    const flushed = logs.flush(10_000);
    cat!.kill("SIGCONT");
    expect(await flushed).toBe(true);
    // flushed into the FIFO; `cat` copies it to the file a moment later
    await vi.waitFor(() => {
      const msgs = lines().map((l) => l.msg);
      for (let i = 0; i < 20; i++) expect(msgs).toContain(`final ${i}`);
    }, { timeout: 5000 });
  });

  it("a flush gives up after its bound when the log takes nothing, and the process is not held", async () => {
    const logs = fifoLog();
    await stopCat();
    for (let i = 0; i < 1000; i++) logs.get("test").info(`line ${i} ${filler}`);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const t0 = performance.now();
      expect(await logs.flush(300)).toBe(false);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(String(stderr.mock.calls.at(-1)?.[0])).toMatch(/the log destination took nothing for 300 ms; \d+ bytes of log lines were not written/);
    } finally {
      stderr.mockRestore();
    }
    // lines after giving up are ignored, not thrown
    expect(() => logs.get("test").info("after")).not.toThrow();
  });
});
