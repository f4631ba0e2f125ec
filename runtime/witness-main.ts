// `tandem witness --listen HOST:PORT --key KEY [--key PAIR=KEY ...]
//                 [--max-lease-ms N] [--log-level LEVEL]`
//
// Keys may also come from TANDEM_WITNESS_KEY (same syntax, comma-separated) so
// secrets stay off the command line (and out of `ps`). A bare KEY serves any
// pair without its own key. Keys are never printed. Exit codes follow
// CONTRACT.md: 0 after a clean stop on SIGTERM/SIGINT, 2 on a usage error, 1
// when the witness cannot start.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { LogLevel } from "../core/types.js";
import { installCrashLog, LOG_LEVELS, LogManager } from "./logging.js";
import { keyFromSecret } from "../redundancy/wire.js";
import { DEFAULT_MAX_LEASE_MS, WitnessServer } from "../redundancy/witness-server.js";

export const MIN_SECRET_LENGTH = 32;
export const WITNESS_KEY_ENV = "TANDEM_WITNESS_KEY";

const USAGE = `usage: tandem witness --listen HOST:PORT --key KEY [--key PAIR=KEY ...] [--max-lease-ms N] [--log-level LEVEL]
  --listen HOST:PORT   UDP address to answer on (port 0 picks a free port)
  --key KEY            key for any pair without its own key (at least ${MIN_SECRET_LENGTH} characters)
  --key PAIR=KEY       key of one pair (repeatable)
  --max-lease-ms N     longest lease granted, and the quiet period after a start (default ${DEFAULT_MAX_LEASE_MS})
  --log-level LEVEL    ${LOG_LEVELS.join(", ")} (default info)
  ${WITNESS_KEY_ENV}   more keys, same syntax, comma-separated (keeps secrets off the command line)`;

const PAIR_KEY = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})=(.+)$/s;

export interface WitnessKeys {
  keys: Map<string, Buffer>;
  defaultKey?: Buffer;
}

/** "KEY" or "PAIR=KEY" entries → keys; a string says what is wrong (never the secret itself). */
export function parseWitnessKeys(entries: readonly string[]): WitnessKeys | string {
  const keys = new Map<string, Buffer>();
  let defaultKey: Buffer | undefined;
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === "") continue;
    const m = PAIR_KEY.exec(entry);
    const pair = m ? m[1]! : null;
    const secret = m ? m[2]! : entry;
    const what = pair ? `key for pair '${pair}'` : "default key";
    if (secret.length < MIN_SECRET_LENGTH) return `${what} is too short: a key needs at least ${MIN_SECRET_LENGTH} characters, got ${secret.length}`;
    if (pair) {
      if (keys.has(pair)) return `pair '${pair}' has more than one key`;
      keys.set(pair, keyFromSecret(secret));
    } else {
      if (defaultKey) return "more than one default key (use PAIR=KEY for per-pair keys)";
      defaultKey = keyFromSecret(secret);
    }
  }
  if (keys.size === 0 && !defaultKey) return `no key given (--key KEY, --key PAIR=KEY or ${WITNESS_KEY_ENV})`;
  return { keys, ...(defaultKey ? { defaultKey } : {}) };
}

/** "host:port" or "[v6]:port", port 0–65535 (0: any free port). */
export function parseListen(text: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return `--listen: expected HOST:PORT (e.g. 127.0.0.1:7400), got '${text}'`;
  const port = Number(m[3]);
  if (port > 65535) return `--listen: port must be 0–65535, got ${port}`;
  return { host: m[1] ?? m[2]!, port };
}

export interface WitnessMainIo {
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  env?: Record<string, string | undefined>;
  /** stops the witness like SIGTERM does (for in-process use) */
  signal?: AbortSignal;
  /** logs to use instead of a LogManager on stdout */
  logs?: LogManager;
  onListening?: (address: { host: string; port: number }) => void;
}

export async function runWitness(argv: string[], io: WitnessMainIo = {}): Promise<number> {
  const out = io.stdout ?? ((l: string) => void process.stdout.write(l + "\n"));
  const err = io.stderr ?? ((l: string) => void process.stderr.write(l + "\n"));
  const env = io.env ?? process.env;
  const usage = (reason: string): number => {
    err(`tandem witness: ${reason}`);
    err(USAGE);
    return 2;
  };

  let values: { listen?: string; key?: string[]; "max-lease-ms"?: string; "log-level"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: "string" },
        key: { type: "string", multiple: true },
        "max-lease-ms": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    return usage((e as Error).message);
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (!values.listen) return usage("--listen HOST:PORT is required");
  const listen = parseListen(values.listen);
  if (typeof listen === "string") return usage(listen);

  const fromEnv = (env[WITNESS_KEY_ENV] ?? "").split(",");
  const keys = parseWitnessKeys([...(values.key ?? []), ...fromEnv]);
  if (typeof keys === "string") return usage(keys);

  let maxLeaseMs = DEFAULT_MAX_LEASE_MS;
  if (values["max-lease-ms"] !== undefined) {
    const text = values["max-lease-ms"];
    maxLeaseMs = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(maxLeaseMs) || maxLeaseMs < 1 || maxLeaseMs > 3_600_000)
      return usage(`--max-lease-ms: expected whole milliseconds 1–3600000, got '${text}'`);
  }
  const level = (values["log-level"] ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(level)) return usage(`--log-level: expected one of ${LOG_LEVELS.join(", ")}, got '${values["log-level"]}'`);

  const logs = io.logs ?? new LogManager({ level, base: { service: "tandem-witness" } });
  const uninstallCrashLog = installCrashLog(logs, "witness");
  const server = new WitnessServer({ listen, keys: keys.keys, ...(keys.defaultKey ? { defaultKey: keys.defaultKey } : {}), maxLeaseMs, logs });
  let address: { host: string; port: number };
  try {
    address = await server.start();
  } catch (e) {
    err(`tandem witness: cannot listen on ${values.listen}: ${(e as Error).message}`);
    uninstallCrashLog();
    return 1;
  }

  // Wait for a stop request; listeners are removed again so an embedding CLI is left as it was.
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGTERM", done);
      process.off("SIGINT", done);
      io.signal?.removeEventListener("abort", done);
      resolve();
    };
    process.on("SIGTERM", done);
    process.on("SIGINT", done);
    io.signal?.addEventListener("abort", done);
    const pairs = [...keys.keys.keys()];
    const names = [...pairs, ...(keys.defaultKey ? ["any other pair (default key)"] : [])].join(", ");
    const host = address.host.includes(":") ? `[${address.host}]` : address.host;
    out(`tandem witness listening on ${host}:${address.port} for pairs: ${names}`);
    io.onListening?.(address);
    if (io.signal?.aborted) done();
  });

  logs.keepFinalLines();
  await server.stop();
  uninstallCrashLog();
  await logs.flush();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runWitness(process.argv.slice(2)).then((c) => process.exit(c));
}
