// Runs the process modules named in `processes:`. On every node they are
// loaded (a module that cannot load is reported at start, on the standby
// too); they run only on an `active` node with a valid lease and no handover
// under way. After an unplanned takeover the node is `active-held`: the
// context is loaded and shown, the modules wait for an operator (S3). A
// confirm resumes them from the context; a reject clears it and starts them
// from their initial context; a planned switchover resumes at once.
//
// A module that throws is stopped and reported (state `failed`, an alarm in
// the log); the node goes on. So is one that cannot load: a missing file, a
// syntax error (a TypeScript module is transpiled at load: module-import.ts).
import type { Logger } from "../../core/logger.js";
import type { Row, RowWrite, Storage } from "../../redundancy/storage.js";
import type { ProcessConfig } from "./config-schema.js";
import { delWrite, loadContexts, ModuleContext } from "./context.js";
import { AbortedError, makeContextApi, type ModuleHostPorts, type ProcessContextApi, type ProcessModule } from "./module-api.js";
import { importModule } from "./module-import.js";

export type ProcessState = "loading" | "idle" | "held" | "waiting" | "running" | "stopping" | "stopped" | "failed";

type ModuleExports = ProcessModule;

interface Slot {
  name: string;
  config: ProcessConfig;
  exports: ModuleExports | null;
  state: ProcessState;
  error: string | null;
  context: ModuleContext;
  run: { abort: AbortController; ctx: ProcessContextApi; done: Promise<void> } | null;
  startedAt: number | null;
  resumedFrom: number | null;
}

export interface ProcessView {
  name: string;
  state: ProcessState;
  error: string | null;
  step: string | null;
  content: Record<string, unknown>;
  timers: Record<string, string>;
  seq: number | null;
  epoch: number | null;
  writtenAt: string | null;
  ageMs: number | null;
  /** resumed from this context sequence number (null: started from the initial context) */
  resumedFrom: number | null;
}

export interface PairForProcesses {
  /** may the modules run now: active (not held), valid lease, no handover under way */
  mayRun(): boolean;
  held(): boolean;
  /** the context sequence number the pair says this node must hold before resuming (a handover's) */
  contextSeq(): number;
}

export interface ProcessHostOptions {
  processes: Record<string, ProcessConfig>;
  storage: Storage;
  ports: Omit<ModuleHostPorts, "write"> & { write(writes: RowWrite[]): Promise<Row[]> };
  pair: PairForProcesses;
  /** where TypeScript modules are transpiled to (in the node's data dir) */
  buildDir: string;
  log: Logger;
  /** told of a module's failure besides the log (the node stores it as an event) */
  alarm?: (text: string) => void;
  /** reports whether any module is running or stopping (a switchover waits for false) */
  setUp(up: boolean): void;
}

export class ProcessHost {
  private readonly slots: Slot[];
  private reconciling: Promise<void> = Promise.resolve();
  private resetPending: Promise<void> | null = null;
  private stopped = false;
  private up = false;

  constructor(private readonly o: ProcessHostOptions) {
    this.slots = Object.entries(o.processes).map(([name, config]) => ({
      name,
      config,
      exports: null,
      state: "loading",
      error: null,
      context: new ModuleContext(name),
      run: null,
      startedAt: null,
      resumedFrom: null,
    }));
  }

  get configured(): boolean {
    return this.slots.length > 0;
  }

  /** imports every module (on both nodes): a broken one is reported now, not at a takeover */
  async load(): Promise<void> {
    for (const s of this.slots) {
      try {
        const mod = (await importModule(s.config.module, s.name, this.o.buildDir)) as Partial<ModuleExports>;
        if (typeof mod.start !== "function") throw new Error("it exports no start(ctx) function");
        if (mod.stop !== undefined && typeof mod.stop !== "function") throw new Error("its stop export is not a function");
        s.exports = mod as ModuleExports;
        s.state = "idle";
      } catch (err) {
        this.fail(s, `cannot load ${s.config.module}: ${(err as Error).message}`);
      }
    }
    await this.refreshContexts();
  }

  /** reads the contexts from the database (the standby's view, a held node's view) */
  async refreshContexts(): Promise<void> {
    const all = await loadContexts(this.o.storage);
    for (const s of this.slots) if (!s.run) s.context = all.get(s.name) ?? new ModuleContext(s.name);
  }

  /** a reject: the next start is from the initial context (the stored context is removed, replicated) */
  reset(): void {
    this.resetPending = (async () => {
      await this.stopAll("the takeover was rejected");
      const all = await loadContexts(this.o.storage);
      const writes = [...all.values()].flatMap((m) => [...m.entries.keys()].map((k) => delWrite(m.module, k)));
      if (writes.length) await this.o.ports.write(writes);
      for (const s of this.slots) {
        s.context = new ModuleContext(s.name);
        if (s.state === "failed" && s.exports) s.state = "idle";
        s.error = s.exports ? null : s.error;
      }
      this.o.log.info(`process context cleared (${writes.length} entries): the modules start from their initial context`);
    })().catch((err: unknown) => this.o.log.error(`process context: the reset failed: ${(err as Error).message}`));
    this.reconcile();
  }

  /** runs or stops the modules as the pair allows; call on every state change */
  reconcile(): void {
    this.reconciling = this.reconciling.then(() => this.doReconcile()).catch((err: unknown) => this.o.log.error(`processes: ${(err as Error).message}`));
  }

  private async doReconcile(): Promise<void> {
    if (this.stopped) return;
    if (!this.o.pair.mayRun()) {
      await this.stopAll(this.o.pair.held() ? "held: waiting for an operator's confirm or reject" : "this node may not drive the process now");
      if (this.o.pair.held()) {
        await this.refreshContexts();
        for (const s of this.slots) if (s.exports && s.state !== "failed") s.state = "held";
      } else for (const s of this.slots) if (s.exports && s.state !== "failed") s.state = "idle";
      return;
    }
    if (this.resetPending) {
      await this.resetPending;
      this.resetPending = null;
    }
    const need = this.o.pair.contextSeq();
    if (need > 0 && !(await this.holds(need))) return;
    if (!this.o.pair.mayRun()) return this.doReconcile();
    await this.refreshContexts();
    for (const s of this.slots) if (s.exports && !s.run && s.state !== "failed") this.startSlot(s);
    this.setUp(this.slots.some((s) => s.run));
  }

  /** waits (bounded) until the database holds the context a handover named */
  private async holds(seq: number): Promise<boolean> {
    const until = Date.now() + 10_000;
    for (;;) {
      if ((await this.o.storage.state()).lastSeq >= seq) return true;
      if (Date.now() > until) {
        for (const s of this.slots) if (s.exports) this.fail(s, `the process context up to sequence ${seq} has not reached this node's database: not resumed from an older one`);
        return false;
      }
      for (const s of this.slots) if (s.exports && s.state !== "failed") s.state = "waiting";
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private startSlot(s: Slot): void {
    const abort = new AbortController();
    const latest = s.context.latest();
    const resumed = latest !== null;
    const log = this.o.log.child({ process: s.name });
    const ctx = makeContextApi({ name: s.name, resumed, signal: abort.signal, options: s.config.options, log, context: s.context, ports: this.o.ports });
    s.state = "running";
    s.error = null;
    s.startedAt = Date.now();
    s.resumedFrom = resumed ? latest.seq : null;
    log.info(resumed ? `process ${s.name} resumes at step ${String(ctx.step ?? "-")} (context sequence ${latest.seq}, written in epoch ${latest.epoch})` : `process ${s.name} starts from its initial context`);
    const done = (async () => {
      try {
        await (s.exports as ModuleExports).start(ctx);
        if (!abort.signal.aborted) {
          log.info(`process ${s.name} finished`);
          s.state = "stopped";
        }
      } catch (err) {
        if (abort.signal.aborted) {
          // asked to stop: what its last call threw on the way out (an aborted sleep, a refused or failed write) is part of stopping, not a failure
          if (!(err instanceof AbortedError || (err as Error)?.name === "AbortError" || isGateRefusal(err))) log.info(`process ${s.name} stopped; its last call failed on the way out: ${(err as Error)?.message ?? String(err)}`);
          return;
        }
        this.fail(s, `it threw: ${(err as Error)?.stack ?? String(err)}`);
        abort.abort();
      } finally {
        if (s.run?.abort === abort) s.run = null;
        this.setUp(this.slots.some((x) => x.run));
      }
    })();
    s.run = { abort, ctx, done };
  }

  private async stopSlot(s: Slot, why: string): Promise<void> {
    const run = s.run;
    if (!run) return;
    s.state = "stopping";
    this.o.log.info(`process ${s.name} stops: ${why}`);
    run.abort.abort();
    const limit = new Promise<"late">((r) => setTimeout(() => r("late"), s.config.stopTimeoutMs).unref());
    try {
      await Promise.race([Promise.resolve(s.exports?.stop?.(run.ctx)), limit]);
    } catch (err) {
      this.o.log.warn(`process ${s.name}: stop() threw: ${(err as Error).message}`);
    }
    if ((await Promise.race([run.done.then(() => "done" as const), limit])) === "late") {
      this.o.log.error(`process ${s.name} did not end within ${s.config.stopTimeoutMs} ms of being told to stop; its writes are refused from now on`);
    }
    s.run = null;
    if (s.state === "stopping") s.state = "idle";
  }

  private async stopAll(why: string): Promise<void> {
    await Promise.all(this.slots.map((s) => this.stopSlot(s, why)));
    this.setUp(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reconciling;
    await this.stopAll("the node is stopping");
  }

  private fail(s: Slot, why: string): void {
    s.state = "failed";
    s.error = why.split("\n")[0];
    this.o.log.error({ alarm: true, process: s.name }, `ALARM: process ${s.name} stopped: ${why}`);
    this.o.alarm?.(`process ${s.name} stopped: ${s.error}`);
  }

  private setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    this.o.setUp(up);
  }

  views(now = Date.now()): ProcessView[] {
    return this.slots.map((s) => {
      const l = s.context.latest();
      return {
        name: s.name,
        state: s.state,
        error: s.error,
        step: (s.context.get("step") as string | undefined) ?? null,
        content: s.context.content(),
        timers: Object.fromEntries(Object.entries(s.context.timers()).map(([k, due]) => [k, new Date(due).toISOString()])),
        seq: l?.seq ?? null,
        epoch: l?.epoch ?? null,
        writtenAt: l ? new Date(l.at).toISOString() : null,
        ageMs: l ? Math.max(0, now - l.at) : null,
        resumedFrom: s.resumedFrom,
      };
    });
  }
}

/** the pair's gate refusing a write once the node lost the right to act: the module is stopping anyway */
function isGateRefusal(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === "TANDEM_ERR_NOT_ACTIVE" || code === "TANDEM_ERR_LEASE" || code === "TANDEM_ERR_NOT_REPLICATED";
}
