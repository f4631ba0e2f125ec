// The steps of a node's clean stop share one deadline (node.stopTimeoutMs):
// a step that fails or is late is logged and the stop goes on without it, so
// a stuck part cannot keep the node from handing over and exiting.
import { performance } from "node:perf_hooks";
import type { Logger } from "../core/logger.js";

export type StopStep = (what: string, run: () => Promise<unknown>) => Promise<void>;

/** A runner of stop steps that all end by limitMs from now. */
export function stopSteps(log: Logger, limitMs: number): StopStep {
  const until = performance.now() + limitMs;
  return async (what, run) => {
    log.info(`stopping: ${what}`);
    const left = until - performance.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), Math.max(0, left))));
    try {
      const r = await Promise.race([run().then(() => "done" as const), late]);
      if (r === "late") log.error(`stopping: ${what} did not finish within node.stopTimeoutMs (${limitMs} ms); going on without it`);
    } catch (err) {
      log.error({ err }, `stopping: ${what} failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  };
}
