// pino, one child logger per component. Levels are set from config and can be
// changed at runtime (API, CLI) without a restart. Every line carries the
// component, pair, node and the node's current epoch.
import { pino, type Logger, type DestinationStream } from "pino";
import { LOG_LEVELS, type LogLevel } from "../core/types.js";
import type { LogSource } from "../core/logger.js";

export { LOG_LEVELS };

export interface LogManagerOptions {
  level: LogLevel;
  components?: Record<string, LogLevel>;
  base?: Record<string, unknown>;
  /** dynamic fields added to every line (e.g. the current epoch) */
  mixin?: () => Record<string, unknown>;
  destination?: DestinationStream | string;
}

export class LogManager implements LogSource {
  readonly root: Logger;
  private readonly children = new Map<string, Logger>();
  private readonly overrides = new Map<string, LogLevel>();
  private defaultLevel: LogLevel;

  constructor(opts: LogManagerOptions) {
    this.defaultLevel = opts.level;
    for (const [c, l] of Object.entries(opts.components ?? {})) this.overrides.set(c, l);
    const dest =
      typeof opts.destination === "string"
        ? pino.destination({ dest: opts.destination, mkdir: true, sync: true })
        : (opts.destination ?? pino.destination({ dest: 1, sync: true }));
    this.root = pino(
      {
        level: "trace", // children carry the effective level
        base: { pid: process.pid, ...(opts.base ?? {}) },
        mixin: opts.mixin,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      dest,
    );
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

  flush(): void {
    this.root.flush();
  }
}

/** A logger that drops everything: for unit tests of adapters. */
export function silentLogs(): LogManager {
  return new LogManager({ level: "silent", destination: { write() {} } as DestinationStream });
}
