// What a process module gets: `ctx`, the context API of DESIGN.md.
//
//   export async function start(ctx) { … }   // runs the sequence; ends when ctx.signal aborts
//   export async function stop(ctx) { … }    // optional: tidy up (the host aborts ctx.signal first)
//
// Every context change is replicated (acknowledged on both databases in
// sync mode) before its promise resolves; tag writes go through the pair's
// gate (refused while held, on the standby, without a lease) and the PLC
// fence; timers are deadlines kept in the context, so a resumed module waits
// only for what was left.
import type { Logger } from "../../core/logger.js";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import type { Row, RowWrite } from "../../redundancy/storage.js";
import { delWrite, putWrite, type ModuleContext } from "./context.js";

export interface ProcessContextApi {
  readonly name: string;
  /** true: going on from a replicated context (after a confirm, a switchover, a restart); false: from the initial context */
  readonly resumed: boolean;
  /** aborted when the module must stop (the node is no longer allowed to drive the process) */
  readonly signal: AbortSignal;
  readonly options: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): Promise<void>;
  update<T = unknown>(key: string, fn: (old: T | undefined) => T): Promise<T>;
  /** the current step (the context's `step` key) */
  readonly step: string | undefined;
  /**
   * Moves to `step` in one replicated write, together with `also` (other
   * keys that change with it, e.g. the batch number) and clearing every
   * timer: timers are deadlines within a step.
   */
  setStep(step: string, also?: Record<string, unknown>): Promise<void>;
  /** a tag's current value and quality (from the drivers) */
  read(tag: string): { value: unknown; quality: string; sourceTime: string | null };
  /** a process write to the plant: through the pair's gate and the PLC fence */
  write(tag: string, value: unknown): Promise<unknown>;
  /** waits until the timer's deadline; starts it (now + ms) when the context has none; a step change clears it */
  timer(name: string, ms: number): Promise<void>;
  clearTimer(name: string): Promise<void>;
  /** a replicated record in a table of replication.tables (e.g. a batch report) */
  record(table: string, data: Record<string, unknown>, idempotencyKey?: string): Promise<{ seq: number; epoch: number }>;
  /** waits ms (not kept: use timer() for what must survive a takeover) */
  sleep(ms: number): Promise<void>;
}

/** what a process module exports */
export interface ProcessModule {
  start(ctx: ProcessContextApi): unknown;
  stop?(ctx: ProcessContextApi): unknown;
}

export interface ModuleHostPorts {
  write(writes: RowWrite[]): Promise<Row[]>;
  tag(name: string): TagSnapshot | undefined;
  writeTag(name: string, value: unknown): Promise<unknown>;
  record(table: string, data: Record<string, unknown>, idempotencyKey?: string): Promise<{ seq: number; epoch: number }>;
  wallClock(): number;
}

export class AbortedError extends Error {
  constructor(module: string) {
    super(`process ${module} is stopping`);
    this.name = "AbortError";
  }
}

/** resolves after ms, or rejects as soon as the signal aborts */
export function abortableSleep(ms: number, signal: AbortSignal, module: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortedError(module));
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortedError(module));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export function makeContextApi(o: {
  name: string;
  resumed: boolean;
  signal: AbortSignal;
  options: Record<string, unknown>;
  log: Logger;
  context: ModuleContext;
  ports: ModuleHostPorts;
}): ProcessContextApi {
  const { name, signal, context: c, ports } = o;
  const live = () => {
    if (signal.aborted) throw new AbortedError(name);
  };
  const checkKey = (key: string) => {
    if (typeof key !== "string" || !/^[A-Za-z0-9_.:-]{1,100}$/.test(key)) throw new Error(`process ${name}: context key '${String(key)}' must be 1–100 letters, digits, '_', '.', ':' or '-'`);
  };
  /**
   * One replicated write of several keys (put) and removals (del), applied
   * here once acknowledged. A write the replication could not acknowledge
   * (the peer away or catching up with whenPeerAway: refuse, the peer gone
   * before it answered, this database refusing it) is tried again until it
   * is, and the module waits where it is meanwhile — it does not die of a
   * peer that will be back. Puts and removals by key: a repeat is the same.
   */
  const commit = async (puts: Record<string, unknown>, dels: string[]): Promise<void> => {
    live();
    const keys = Object.keys(puts);
    keys.forEach(checkKey);
    const writes = [...keys.map((k) => putWrite(name, k, puts[k])), ...dels.map((k) => delWrite(name, k))];
    let rows: Row[];
    for (let tries = 1; ; tries++) {
      try {
        rows = await ports.write(writes);
        if (tries > 1) o.log.info(`process ${name} goes on: its context is written again`);
        break;
      } catch (err) {
        if ((err as { code?: string })?.code !== "TANDEM_ERR_NOT_REPLICATED" || signal.aborted) throw err;
        if (tries === 1) o.log.warn(`process ${name} waits: its context could not be written on both databases (${(err as Error).message}); it tries again until it can`);
        await abortableSleep(Math.min(1000, 100 * tries), signal, name);
      }
    }
    rows.forEach((row, i) => {
      if (i < keys.length) c.entries.set(keys[i], { value: JSON.parse(row.body as string) as unknown, seq: row.seq, epoch: row.epoch, at: row.at });
      else c.entries.delete(dels[i - keys.length]);
    });
  };
  const set = (key: string, value: unknown) => commit({ [key]: value }, []);
  return {
    name,
    resumed: o.resumed,
    signal,
    options: Object.freeze({ ...o.options }),
    log: o.log,
    get: <T>(key: string) => c.get(key) as T | undefined,
    set,
    async update<T>(key: string, fn: (old: T | undefined) => T): Promise<T> {
      const v = fn(c.get(key) as T | undefined);
      await set(key, v);
      return v;
    },
    get step() {
      return c.get("step") as string | undefined;
    },
    setStep: (step: string, also: Record<string, unknown> = {}) =>
      commit(
        { ...also, step },
        [...c.entries.keys()].filter((k) => k.startsWith("timer:")),
      ),
    read(tag: string) {
      const t = ports.tag(tag);
      if (!t) throw new Error(`process ${name}: no tag named '${tag}'`);
      return { value: t.value, quality: t.quality, sourceTime: t.timestamp };
    },
    async write(tag: string, value: unknown) {
      live();
      return ports.writeTag(tag, value);
    },
    async timer(timer: string, ms: number) {
      live();
      const key = `timer:${timer}`;
      let due = (c.get(key) as { due?: number } | undefined)?.due;
      if (typeof due !== "number") {
        due = ports.wallClock() + ms;
        await set(key, { due });
      }
      await abortableSleep(due - ports.wallClock(), signal, name);
      live();
    },
    async clearTimer(timer: string) {
      if (c.entries.has(`timer:${timer}`)) await commit({}, [`timer:${timer}`]);
    },
    async record(table: string, data: Record<string, unknown>, idempotencyKey?: string) {
      live();
      return ports.record(table, data, idempotencyKey);
    },
    sleep: (ms: number) => abortableSleep(ms, signal, name),
  };
}
