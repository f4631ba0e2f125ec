// The logger as the rest of the code sees it: a structural subset of pino's
// Logger, so redundancy/ and drivers/ log without knowing pino or the
// runtime's LogManager (runtime/logging.ts implements LogSource).

export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/** One logger per component ("pair", "drivers", "witness" …). */
export interface LogSource {
  get(component: string): Logger;
}

/** Drops everything: for components run without a log (tests, tools). */
export const nullLogger: Logger = {
  fatal() {},
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  child: () => nullLogger,
};
