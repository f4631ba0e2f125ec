// `tandem start --config FILE`: one node in the foreground until SIGTERM or
// SIGINT, then a clean stop (hand over if active, stop in reverse order).
// Exit 0 on a clean stop, 2 on a config error, 1 on any other fatal error.
import { createHook, executionAsyncId } from "node:async_hooks";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "./config/load.js";
import { ConfigError } from "../core/errors.js";
import { installCrashLog } from "./logging.js";
import { TandemNode } from "./node.js";
import { privateUmask } from "./private-files.js";

/** TANDEM_CHECK_HANDLES=1 (tests): remember where each pending timer was made, to name a leak. */
function trackTimers(): Map<number, string> {
  const timers = new Map<number, string>();
  createHook({
    init(id, type) {
      if (type === "Timeout") timers.set(id, (new Error().stack ?? "").split("\n").slice(2, 9).join(" < "));
    },
    destroy(id) {
      timers.delete(id);
    },
  }).enable();
  return timers;
}

export async function runStart(argv: string[]): Promise<number> {
  const timers = process.env.TANDEM_CHECK_HANDLES === "1" ? trackTimers() : null;
  let values: { config?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" } } }));
  } catch (err) {
    console.error(`tandem start: ${(err as Error).message}\nusage: tandem start --config FILE`);
    return 2;
  }
  if (!values.config) {
    console.error("usage: tandem start --config FILE");
    return 2;
  }
  // whatever this process writes (epoch store, audit log, certificates of the
  // drivers) is the node's alone, whatever umask it was started with
  privateUmask();
  let node: TandemNode;
  try {
    node = new TandemNode(loadConfig(values.config), { configDir: dirname(resolve(values.config)), configFile: resolve(values.config) });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.report());
      return 2;
    }
    console.error(`tandem start: ${(err as Error).message}`);
    return 1;
  }
  // an uncaught error logs a fatal line with its stack before the process dies
  installCrashLog(node.logs);
  try {
    await node.start();
  } catch (err) {
    await node.stop().catch(() => undefined);
    // what the config names but only start can open (a certificate file) is a config error too
    if (err instanceof ConfigError) {
      console.error(err.report());
      return 2;
    }
    console.error(`tandem start: cannot start node ${node.config.node.id}: ${(err as Error).message}`);
    return 1;
  }
  // A second signal while stopping (Ctrl-C reaches the whole process group,
  // service managers repeat themselves) must not cut a handover short.
  let stopping = false;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      if (stopping) return void node.logs.get("node").warn(`${sig}: already stopping (SIGKILL forces it)`);
      stopping = true;
      resolve(sig);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
  node.logs.keepFinalLines();
  node.logs.get("node").info(`${signal}: stopping`);
  await node.stop();
  if (process.exitCode) return Number(process.exitCode);
  // Everything was released: the loop must drain by itself. If something is
  // still open, say what (TANDEM_CHECK_HANDLES=1 makes it an error, for tests).
  // The stdio pipes belong to whoever started us (a slow reader can keep them
  // busy for a while): they are not Tandem's to close and are not counted.
  const check = process.env.TANDEM_CHECK_HANDLES === "1";
  setTimeout(() => {
    const self = executionAsyncId();
    const left = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap" && r !== "PipeWrap" && r !== "Timeout");
    const pending = [...(timers?.entries() ?? [])].filter(([id]) => id !== self).map(([, stack]) => stack);
    if (left.length === 0 && pending.length === 0) process.exit(0);
    console.error(`tandem: still open after stop: ${[...left, ...(pending.length ? [`${pending.length} timer(s)`] : [])].join(", ")}`);
    for (const stack of pending) console.error(`tandem: pending timer made at ${stack.replace(/\s+/g, " ")}`);
    process.exit(check ? 3 : 0);
  }, 3000).unref();
  return 0;
}
