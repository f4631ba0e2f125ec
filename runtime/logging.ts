// pino, one child logger per component. Levels are set from config and can be
// changed at runtime (API, CLI) without a restart. Every line carries the
// component, pair, node and the node's current epoch.
//
// Lines are written asynchronously, through a bounded buffer. The event loop
// that writes the log also renews the active's lease (DESIGN.md, lease
// rules): a synchronous write to a slow disk, a full journald pipe or a log
// FIFO nobody reads blocks that loop, the lease runs out and the peer takes
// over from a node that was healthy. So a line is handed to pino's own
// destination (sonic-boom) with sync: false — the write(2) runs on libuv's
// thread pool — and the buffer in front of it holds at most `bufferBytes`.
// A line that does not fit is dropped and counted (tandem_log_lines_dropped_total),
// and once the log takes lines again one warning says how many were lost.
//
// Why not a pino transport in a worker thread: the worker costs a second V8
// heap on a box with a memory budget, its ring buffer overflows into an
// unbounded in-memory queue (no drop, no count), and a crash can lose what is
// still in the ring. In-process asynchronous writes give the same relief to
// the event loop with a bound we choose and a drop we can count.
//
// What must not be lost is never dropped: fatal lines, and every line once the
// node is stopping, go into the buffer whatever its size (there are few of
// them). flush() waits, bounded, for the buffer to reach the log at stop; a
// crash writes what is left synchronously on exit (pino flushes its
// destination on process exit; installCrashLog adds the fatal line).
import { fchmodSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { pino, type Logger, type DestinationStream } from "pino";
import { COUNT_CHANNELS, counterFor } from "../core/diagnostics.js";
import { LOG_LEVELS, type LogLevel } from "../core/types.js";
import type { LogSource } from "../core/logger.js";

export { LOG_LEVELS };

/** Default bound of the log buffer: minutes of debug logging, a few MB of memory. */
export const DEFAULT_LOG_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long a stop waits for buffered lines to reach the log. */
export const LOG_FLUSH_MS = 3000;
const FATAL = 60;
const publishCount = counterFor(COUNT_CHANNELS.log);

export interface LogManagerOptions {
  level: LogLevel;
  components?: Record<string, LogLevel>;
  base?: Record<string, unknown>;
  /** dynamic fields added to every line (e.g. the current epoch) */
  mixin?: () => Record<string, unknown>;
  /** a file to append to, a stream of your own (written as given), or stdout when absent */
  destination?: DestinationStream | string;
  /** the most bytes of lines held while the log is slow; more is dropped and counted */
  bufferBytes?: number;
}

type Boom = ReturnType<typeof pino.destination>;

export class LogManager implements LogSource {
  readonly root: Logger;
  private readonly children = new Map<string, Logger>();
  private readonly overrides = new Map<string, LogLevel>();
  private defaultLevel: LogLevel;
  private readonly boom: Boom | null = null;
  private readonly bufferBytes: number;
  private readonly scope: { pair?: string; node?: string };
  /** bytes accepted into the buffer and not yet written */
  private pending = 0;
  private droppedTotal = 0;
  private droppedUnreported = 0;
  private writeErrors = 0;
  private lastErrorReport = 0;
  /** once stopping, every line is kept (the final lines of a node must reach the log) */
  private keepAll = false;
  private closed = false;
  private readonly drainWaiters = new Set<() => void>();
  /** sees every line written (its pino level and its JSON text): the log watch of runtime/monitoring/log-watch.ts */
  private tap: ((level: number, line: string) => void) | null = null;

  constructor(opts: LogManagerOptions) {
    this.defaultLevel = opts.level;
    this.bufferBytes = opts.bufferBytes ?? DEFAULT_LOG_BUFFER_BYTES;
    if (!Number.isSafeInteger(this.bufferBytes) || this.bufferBytes < 1) throw new RangeError(`log bufferBytes must be a positive integer, got ${opts.bufferBytes}`);
    const b = opts.base ?? {};
    this.scope = { ...(typeof b.pair === "string" ? { pair: b.pair } : {}), ...(typeof b.node === "string" ? { node: b.node } : {}) };
    for (const [c, l] of Object.entries(opts.components ?? {})) this.overrides.set(c, l);
    let dest: DestinationStream;
    if (typeof opts.destination === "object") dest = opts.destination;
    else {
      this.boom = this.openDestination(opts.destination);
      dest = this.gate(this.boom);
    }
    this.root = pino(
      {
        level: "trace", // children carry the effective level
        base: { pid: process.pid, ...b },
        mixin: opts.mixin,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      dest,
    );
  }

  /** Every line from now on is shown to `fn` as it is written (one tap; null removes it). */
  setTap(fn: ((level: number, line: string) => void) | null): void {
    this.tap = fn;
  }

  get(component: string): Logger {
    let child = this.children.get(component);
    if (!child) {
      child = this.root.child({ component });
      child.level = this.overrides.get(component) ?? this.defaultLevel;
      this.children.set(component, child);
    }
    return child;
  }

  /** Sets the level of one component, or of every component without its own level. */
  setLevel(level: LogLevel, component?: string): void {
    if (!LOG_LEVELS.includes(level)) throw new Error(`unknown log level '${level}'`);
    if (component) {
      this.overrides.set(component, level);
      this.get(component).level = level;
      return;
    }
    this.defaultLevel = level;
    for (const [name, child] of this.children) if (!this.overrides.has(name)) child.level = level;
  }

  levels(): { default: LogLevel; components: Record<string, LogLevel> } {
    const components: Record<string, LogLevel> = {};
    for (const [name, child] of this.children) components[name] = child.level as LogLevel;
    return { default: this.defaultLevel, components };
  }

  /** Bytes of lines waiting for the log destination. */
  get bufferedBytes(): number {
    return this.pending;
  }

  /** Lines dropped since start because the buffer was full. */
  get droppedLines(): number {
    return this.droppedTotal;
  }

  /** From now on no line is dropped: the node is stopping and its last lines must reach the log. */
  keepFinalLines(): void {
    this.keepAll = true;
  }

  /**
   * Waits until every buffered line has been written, at most `timeoutMs`.
   * false when the log did not take them in time: the lines still buffered
   * are then given up (said on stderr), so that a dead log disk cannot hold
   * the process at exit.
   */
  async flush(timeoutMs = LOG_FLUSH_MS): Promise<boolean> {
    const boom = this.boom;
    if (!boom || this.closed || this.pending === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let resolveDrained!: () => void;
    const drained = new Promise<true>((r) => (resolveDrained = () => r(true)));
    this.drainWaiters.add(resolveDrained);
    const timedOut = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const ok = await Promise.race([drained, timedOut]);
    clearTimeout(timer);
    this.drainWaiters.delete(resolveDrained);
    if (!ok) {
      this.closed = true;
      process.stderr.write(`tandem: the log destination took nothing for ${timeoutMs} ms; ${this.pending} bytes of log lines were not written\n`);
      boom.destroy();
    }
    return ok;
  }

  /**
   * Writes what is buffered now, synchronously (crash handlers only: it
   * blocks the event loop until the log has taken it).
   */
  flushSync(): void {
    if (!this.boom || this.closed) return;
    try {
      this.boom.flushSync();
    } catch {
      // not open yet, or destroyed: nothing more can be done from here
    }
  }

  // ---------------------------------------------------------------- internals

  private openDestination(file: string | undefined): Boom {
    let fd = 1;
    if (file !== undefined) {
      // opened here, synchronously, so that a log file that cannot be opened
      // stops the start with a clear message instead of failing later
      // the log is private to the node (0600 whatever the umask; a directory made here is 0700)
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      fd = openSync(file, "a", 0o600);
      fchmodSync(fd, 0o600);
    }
    // Unbounded here: the bound is kept in gate(), which knows a line's level.
    // maxWrite at PIPE_BUF: every write(2) then carries whole lines (pino
    // writes line by line, and the writer fills a chunk with whole lines) and
    // is atomic on a pipe or FIFO, so a crash's synchronous flush, made while
    // an asynchronous write is still blocked on a slow reader, can reorder
    // lines but never cut one in two.
    const boom = pino.destination({ fd, sync: false, minLength: 0, maxWrite: 4096 });
    boom.on("write", (n: number) => {
      this.pending = Math.max(0, this.pending - n);
    });
    boom.on("drain", () => this.onDrain());
    boom.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") {
        // whoever read our output has gone (pino stops writing to the stream): nothing can reach the log now
        this.closed = true;
        this.pending = 0;
        for (const w of this.drainWaiters) w();
        return;
      }
      // the failed chunk stays in the buffer and is tried again with the next line
      this.writeErrors++;
      publishCount("write_errors", this.scope);
      const now = Date.now();
      if (now - this.lastErrorReport > 60_000) {
        this.lastErrorReport = now;
        process.stderr.write(`tandem: cannot write the log (${err.code ?? err.message}); ${this.writeErrors} write error(s) so far, lines are kept up to the buffer's ${this.bufferBytes} bytes\n`);
      }
    });
    return boom;
  }

  /**
   * What pino writes to: the bound on the buffer. A line that would take the
   * buffer past bufferBytes is dropped and counted, unless it is fatal or the
   * node is stopping.
   */
  private gate(boom: Boom): DestinationStream {
    const self = this;
    const gate = {
      // pino sets lastLevel on a stream that asks for metadata, before each write
      [Symbol.for("pino.metadata")]: true,
      lastLevel: 0,
      write(line: string): void {
        if (self.closed) return;
        if (self.tap) {
          try {
            self.tap(gate.lastLevel, line);
          } catch {
            // the watch's fault is its own; the line is still written
          }
        }
        const bytes = Buffer.byteLength(line);
        if (self.pending + bytes > self.bufferBytes && gate.lastLevel < FATAL && !self.keepAll) return self.drop();
        self.pending += bytes;
        boom.write(line);
      },
    };
    return gate;
  }

  private drop(): void {
    this.droppedTotal++;
    this.droppedUnreported++;
    publishCount("dropped_lines", this.scope);
  }

  private onDrain(): void {
    this.pending = 0;
    if (this.droppedUnreported > 0) {
      const n = this.droppedUnreported;
      this.droppedUnreported = 0;
      this.get("log").warn(
        { dropped: n, droppedTotal: this.droppedTotal, bufferBytes: this.bufferBytes },
        `${n} log lines were dropped while the log destination was slow (more than ${this.bufferBytes} bytes waiting); the log is keeping up again`,
      );
    }
    for (const w of this.drainWaiters) w();
  }
}

/**
 * On an uncaught exception (or unhandled rejection) log a fatal line with the
 * stack before the process dies; the exit then writes everything buffered,
 * the fatal line included, synchronously. Node's own handling (stderr, exit
 * code 1) is left as it is. A synchronous write to a destination that takes
 * nothing waits for it (no user-space code can bound a write(2) stuck on a
 * disk): the crashed process no longer acts or renews a lease meanwhile, so
 * the peer takes over as from a frozen node, and the service manager's stop
 * timeout ends it.
 */
export function installCrashLog(logs: LogManager, component = "node"): () => void {
  const onCrash = (err: Error, origin: string) => {
    logs.get(component).fatal({ err, origin }, `crashed: ${err?.message ?? String(err)}`);
    logs.flushSync();
  };
  process.on("uncaughtExceptionMonitor", onCrash);
  return () => process.off("uncaughtExceptionMonitor", onCrash);
}

/** A logger that drops everything: for unit tests of adapters. */
export function silentLogs(): LogManager {
  return new LogManager({ level: "silent", destination: { write() {} } as DestinationStream });
}
