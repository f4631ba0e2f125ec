// The operator commands of the `tandem` CLI that talk to a running node over
// its HTTP API: status, confirm, reject, switchover, promote, maintenance,
// log-level, audit, services, replication, divergence, context, tags, events,
// backup, restore-test, config (`hash-password` is in cli-hash-password.ts).
// Exit codes: 0 done, 1 the node refused or could not be reached, 2 usage.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError } from "../core/errors.js";
import { LOG_LEVELS } from "../core/types.js";
import { loadConfig } from "./config/load.js";
import { httpsFetch, tlsTrustHint } from "./http/https-fetch.js";
import { dataDirCertFile } from "./http/tls.js";
import { activeAdvice } from "./active-hint.js";
import type { AuditEntry, NodeStatus } from "./node-api.js";
import { formatAudit, formatLevels, formatProbe, formatStatus } from "./status-lines.js";

import { SERVICE_ACTION_TIMEOUT_MS, servicesRequest } from "./cli-services.js";
import { divergenceRequest, replicationRequest, runPlan } from "./cli-replication.js";
import { contextRequest } from "./cli-context.js";
import { backupRequest, configRequest, restoreTestRequest } from "./cli-backup.js";
import { eventsRequest, tagsRequest } from "./cli-history.js";
import { siteRequest } from "./cli-site.js";
export { formatDevices, formatStatus } from "./status-lines.js";

export type ClientCommand = "status" | "confirm" | "reject" | "switchover" | "promote" | "maintenance" | "log-level" | "audit" | "services" | "replication" | "divergence" | "context" | "tags" | "events" | "backup" | "restore-test" | "config" | "site";

export const CLIENT_COMMANDS: readonly ClientCommand[] = ["status", "confirm", "reject", "switchover", "promote", "maintenance", "log-level", "audit", "services", "replication", "divergence", "context", "tags", "events", "backup", "restore-test", "config", "site"];

export interface ClientIo {
  /** one line of output, without its newline */
  out: (s: string) => void;
  /** one line of error output, without its newline */
  err: (s: string) => void;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

export const DEFAULT_NODE_URL = "http://127.0.0.1:8080";
const TIMEOUT_MS = 10_000;
const SWITCHOVER_TIMEOUT_MS = 30_000;
/** how long `status --probe` waits for every tag's first read */
const PROBE_TIMEOUT_MS = 10_000;

const USAGE: Record<ClientCommand, string> = {
  status: "tandem status [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]; tandem status --probe --config FILE [--json]",
  confirm: "tandem confirm [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  reject: "tandem reject [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  switchover: "tandem switchover [--to NODE] [--accept-config] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  promote: "tandem promote --yes-the-active-is-down [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  maintenance: "tandem maintenance enter|leave [--force] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  "log-level": "tandem log-level [LEVEL] [--component NAME] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  audit: "tandem audit [--limit N] [--since SEQ] [--pair] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]; tandem audit verify --config FILE",
  services: "tandem services [list | start NAME | stop NAME | restart NAME] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  replication: "tandem replication [status | verify | resync [--from-active]] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  divergence: "tandem divergence [list | export | discard ID] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  context: "tandem context [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  tags: "tandem tags [list | history NAME [--since 10m|ISO] [--until 1m|ISO] [--limit N]] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  events: "tandem events [--after SEQ] [--limit N] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  backup: "tandem backup [list | now] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  config: "tandem config [status | push] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  "restore-test": "tandem restore-test [NAME] [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
  site: "tandem site [--node URL | --config FILE] [--user NAME] [--ca FILE] [--json]",
};

const CREDENTIALS_NOTE = "credentials: --user NAME or TANDEM_USER, and TANDEM_PASSWORD (never on the command line)";

class UsageError extends Error {
  constructor(
    message: string,
    /** the problem is about credentials: the note on where they come from follows */
    readonly credentials = false,
  ) {
    super(message);
  }
}

/** A parseArgs option, with the word the usage text uses for its value. */
type OptionSpec = Record<string, { type: "string"; value: string } | { type: "boolean" }>;

/** Options every client command takes. */
const COMMON_OPTIONS: OptionSpec = {
  node: { type: "string", value: "URL" },
  config: { type: "string", value: "FILE" },
  user: { type: "string", value: "NAME" },
  json: { type: "boolean" },
  ca: { type: "string", value: "FILE" },
};

/** The options of each command beyond the common ones. */
const COMMAND_OPTIONS: Record<ClientCommand, OptionSpec> = {
  status: { probe: { type: "boolean" } },
  confirm: {},
  reject: {},
  switchover: { to: { type: "string", value: "NODE" }, "accept-config": { type: "boolean" } },
  promote: { "yes-the-active-is-down": { type: "boolean" } },
  maintenance: { force: { type: "boolean" } },
  "log-level": { component: { type: "string", value: "NAME" } },
  audit: { limit: { type: "string", value: "N" }, since: { type: "string", value: "SEQ" }, pair: { type: "boolean" } },
  services: {},
  replication: { "from-active": { type: "boolean" } },
  divergence: {},
  context: {},
  tags: { since: { type: "string", value: "TIME" }, until: { type: "string", value: "TIME" }, limit: { type: "string", value: "N" } },
  events: { after: { type: "string", value: "SEQ" }, limit: { type: "string", value: "N" } },
  backup: {},
  "restore-test": {},
  config: {},
  site: {},
};

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

const str = (p: Parsed, name: string): string | undefined => p.values[name] as string | undefined;
const flag = (p: Parsed, name: string): boolean => p.values[name] === true;

/** node:util's parse errors, reworded to name the option and what this command takes instead. */
function usageErrorFrom(e: unknown, cmd: ClientCommand, options: OptionSpec): UsageError {
  const err = e as Error & { code?: string };
  const quoted = /'(-[^' ]+)/.exec(err.message ?? "")?.[1];
  const takes = Object.entries(options)
    .map(([n, o]) => `--${n}${o.type === "string" ? ` ${o.value}` : ""}`)
    .join(", ");
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return new UsageError(`unknown option '${quoted ?? "?"}' (tandem ${cmd} takes ${takes})`);
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted) {
    if (/does not take an argument/.test(err.message)) return new UsageError(`${quoted} takes no value`);
    if (/ambiguous/.test(err.message)) return new UsageError(`${quoted} needs a value (a value that starts with '-' is written ${quoted}=-VALUE)`);
    return new UsageError(`${quoted} needs a value`);
  }
  return new UsageError(err.message ?? String(e));
}

/** Parses with node:util parseArgs, strictly: unknown options, missing values and repeats are usage errors. */
function parseCommandArgs(cmd: ClientCommand, argv: string[]): Parsed {
  // before anything else: a password on the command line is refused, whatever else is wrong
  for (const a of argv) {
    if (a === "--") break;
    const name = /^--?([^=]*)/.exec(a)?.[1];
    if (name === "password" || name === "pass") {
      throw new UsageError("passwords are not taken on the command line (they would show in the process list and shell history); set TANDEM_PASSWORD", true);
    }
  }
  const options = { ...COMMON_OPTIONS, ...COMMAND_OPTIONS[cmd] };
  let parsed: ReturnType<typeof parseArgs<{ options: OptionSpec; allowPositionals: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw usageErrorFrom(e, cmd, options);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== "option") continue;
    if (seen.has(t.name)) throw new UsageError(`${t.rawName} is given more than once`);
    seen.add(t.name);
    if (options[t.name]?.type === "string" && t.value === "") throw new UsageError(`${t.rawName} needs a value`);
  }
  if (seen.has("node") && seen.has("config")) throw new UsageError("give --node URL or --config FILE, not both");
  return { values: parsed.values, positionals: parsed.positionals };
}

function normaliseUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new UsageError(`--node: expected a URL like http://127.0.0.1:8080, got '${text}'`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--node: expected an http:// or https:// URL, got '${text}'`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
}

/** Where the node is and which CA file to trust: --node/--ca, else --config's http section, else the demo's node a. */
function nodeTarget(p: Parsed, env: NodeJS.ProcessEnv): { base: string; caFile?: string } {
  const node = str(p, "node");
  const ca = str(p, "ca") ?? (env.TANDEM_CA || undefined);
  const file = str(p, "config");
  let target: { base: string; caFile?: string };
  if (node !== undefined) target = { base: normaliseUrl(node), caFile: ca };
  else if (file !== undefined) {
    const c = loadConfig(file, env);
    const { host, port } = c.http.listen;
    // A wildcard listen address is reached through loopback.
    const h = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
    const tls = c.http.tls;
    // the CA that issued the node's certificate, else its own self-signed one in the data dir
    const own = tls.enabled ? (tls.caFile ?? (tls.certFile ? undefined : dataDirCertFile(c.node.dataDir))) : undefined;
    target = { base: `${tls.enabled ? "https" : "http"}://${h.includes(":") ? `[${h}]` : h}:${port}`, caFile: ca ?? own };
  } else target = { base: DEFAULT_NODE_URL, caFile: ca };
  if (str(p, "ca") !== undefined && !target.base.startsWith("https:")) throw new UsageError(`--ca is for https:// nodes; ${target.base} is plain HTTP`);
  return target;
}

function readCa(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    const pem = readFileSync(file, "utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`CA file '${file}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return pem;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read the CA file '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

interface Answer {
  status: number;
  text: string;
  json: unknown;
}

/** status and code: the node's HTTP status and API error code, when it answered one; activeNode and active: where the active is, when a node that is not active named it */
class ClientFailure extends Error {
  constructor(message: string, readonly status?: number, readonly code?: string, readonly where?: { activeNode?: unknown; active?: unknown }) {
    super(message);
  }
}

function describeFetchError(e: unknown, timeoutMs: number, base: string, caGiven: boolean): string {
  const err = e as Error & { cause?: { code?: string; message?: string; cause?: { code?: string } } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return `no answer within ${timeoutMs / 1000} s`;
  const cause = err?.cause;
  const hint = tlsTrustHint(cause?.code ?? cause?.cause?.code, base, caGiven);
  let text: string;
  if (cause?.code && cause.message) text = cause.message.includes(cause.code) ? cause.message : `${cause.code}: ${cause.message}`;
  else text = cause?.message ?? err?.message ?? String(e);
  return hint ? `${text}: ${hint}` : text;
}

async function request(
  io: { fetch: (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<Response>; caGiven: boolean },
  base: string,
  auth: string | undefined,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<Answer> {
  // x-tandem-client: the node refuses a request that changes something unless
  // it shows it is not from another site's page; a request that changes
  // something says it is JSON, even with nothing to say ({}).
  const headers: Record<string, string> = { accept: "application/json", "x-tandem-client": "cli" };
  if (auth) headers.authorization = auth;
  if (method !== "GET" && method !== "HEAD") body ??= {};
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  let text: string;
  try {
    res = await io.fetch(`${base}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (e) {
    throw new ClientFailure(`cannot reach node at ${base}: ${describeFetchError(e, timeoutMs, base, io.caGiven)}`);
  }
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: reported below if it matters */
  }
  if (res.status >= 400) {
    const e = (json as { error?: { code?: string; message?: string; active?: unknown; activeNode?: unknown } } | undefined)?.error;
    let msg = e?.message ?? `the node answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
    if (res.status === 401 && !auth) msg += ` (${CREDENTIALS_NOTE})`;
    throw new ClientFailure(msg, res.status, e?.code, e && { active: e.active, activeNode: e.activeNode });
  }
  if (json === undefined) throw new ClientFailure(`the node at ${base} did not answer JSON (is it a Tandem node?)`);
  return { status: res.status, text, json };
}

function basicAuth(p: Parsed, env: NodeJS.ProcessEnv): string | undefined {
  const user = str(p, "user") ?? env.TANDEM_USER;
  const password = env.TANDEM_PASSWORD;
  if (!user && password === undefined) return undefined;
  if (!user) throw new UsageError(`TANDEM_PASSWORD is set but no user: give --user NAME or set TANDEM_USER`, true);
  if (user.includes(":")) throw new UsageError(`a user name cannot contain ':'`, true);
  if (password === undefined) throw new UsageError(`no password for user '${user}': set TANDEM_PASSWORD`, true);
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

function noPositionals(p: Parsed): void {
  if (p.positionals.length) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
}

function wholeNumber(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name}: expected a whole number ${min}–${max}, got '${v}'`);
  return Number(v);
}

/** Runs one operator command against a node; returns the exit code. */
export async function runClientCommand(cmd: ClientCommand, argv: string[], io?: ClientIo): Promise<number> {
  const out = io?.out ?? ((s: string) => process.stdout.write(s + "\n"));
  const err = io?.err ?? ((s: string) => process.stderr.write(s + "\n"));
  const env = io?.env ?? process.env;
  const f: Parameters<typeof request>[0] = { fetch: io?.fetch ?? globalThis.fetch, caGiven: false };
  if (!CLIENT_COMMANDS.includes(cmd)) {
    err(`tandem: unknown command '${cmd}'`);
    return 2;
  }
  try {
    const p = parseCommandArgs(cmd, argv);
    const json = flag(p, "json");
    const print = (a: Answer, human: () => string[]) => {
      if (json) out(a.text);
      else for (const l of human()) out(l);
    };
    // Check everything that does not need the node before asking it.
    let call: () => Promise<void>;
    switch (cmd) {
      case "status":
        noPositionals(p);
        if (flag(p, "probe")) {
          const file = str(p, "config");
          if (file === undefined) throw new UsageError("--probe connects to the devices of a config: give --config FILE");
          call = async () => {
            const c = loadConfig(file, env);
            const { probeDevices } = await import("./probe.js");
            const result = c.drivers ? await probeDevices(c.drivers, c.node.dataDir, PROBE_TIMEOUT_MS) : [];
            if (json) out(JSON.stringify({ devices: result }));
            else for (const l of formatProbe(result)) out(l);
            const bad = result.reduce((n, d) => n + d.refused.length, 0);
            const lost = result.filter((d) => !d.connected).length;
            if (bad || lost) throw new ClientFailure(`${bad} tag${bad === 1 ? "" : "s"} not read good${lost ? `, ${lost} device${lost === 1 ? "" : "s"} not reachable` : ""}`);
          };
          break;
        }
        call = async () => {
          const a = await request(f, base, auth, "GET", "/status", undefined, TIMEOUT_MS);
          print(a, () => formatStatus(a.json as NodeStatus));
        };
        break;
      case "confirm":
      case "reject":
        noPositionals(p);
        call = async () => {
          const a = await request(f, base, auth, "POST", `/${cmd}`, {}, TIMEOUT_MS);
          const r = a.json as { state: string; epoch: number };
          print(a, () => [`${cmd === "confirm" ? "confirmed: the process resumes" : "rejected: the process restarts from its beginning"}; node is ${r.state}, epoch ${r.epoch}`]);
        };
        break;
      case "switchover": {
        noPositionals(p);
        const to = str(p, "to");
        const body = { ...(to === undefined ? {} : { to }), ...(flag(p, "accept-config") ? { acceptConfig: true } : {}) };
        call = async () => {
          const a = await request(f, base, auth, "POST", "/switchover", body, SWITCHOVER_TIMEOUT_MS);
          const r = a.json as { from: string; to: string; epoch: number; durationMs: number };
          print(a, () => [`switched over from ${r.from} to ${r.to}: epoch ${r.epoch}, ${r.durationMs} ms`]);
        };
        break;
      }
      case "promote":
        noPositionals(p);
        if (!flag(p, "yes-the-active-is-down")) {
          throw new UsageError(
            "promote makes this node active while the other node cannot be seen. If the other node is still running, the plant gets two actives. " +
              "Check that the active server is switched off or cut off from the plant, then run: tandem promote --yes-the-active-is-down",
          );
        }
        call = async () => {
          const a = await request(f, base, auth, "POST", "/promote", { confirmActiveIsDown: true }, TIMEOUT_MS);
          const r = a.json as { state: string; epoch: number };
          print(a, () => [`promoted: node is ${r.state}, epoch ${r.epoch}${r.state === "active-held" ? " (confirm or reject to resume the process)" : ""}`]);
        };
        break;
      case "maintenance": {
        const [what, ...rest] = p.positionals;
        if (what !== "enter" && what !== "leave") throw new UsageError(what === undefined ? "say 'enter' or 'leave'" : `expected 'enter' or 'leave', got '${what}'`);
        if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
        const body = { enter: what === "enter", ...(flag(p, "force") ? { force: true } : {}) };
        call = async () => {
          const a = await request(f, base, auth, "POST", "/maintenance", body, TIMEOUT_MS);
          print(a, () => [`${what === "enter" ? "in maintenance" : "left maintenance"}: node is ${(a.json as { state: string }).state}`]);
        };
        break;
      }
      case "log-level": {
        const [level, ...rest] = p.positionals;
        if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
        if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
          throw new UsageError(`unknown log level '${level}' (expected one of ${LOG_LEVELS.join(", ")})`);
        }
        const component = str(p, "component");
        if (level === undefined && component !== undefined) throw new UsageError("--component needs a LEVEL to set");
        call = async () => {
          const a =
            level === undefined
              ? await request(f, base, auth, "GET", "/log-level", undefined, TIMEOUT_MS)
              : await request(f, base, auth, "PUT", "/log-level", component === undefined ? { level } : { level, component }, TIMEOUT_MS);
          print(a, () => formatLevels(a.json as { default: string; components: Record<string, string> }));
        };
        break;
      }
      case "audit": {
        noPositionals(p);
        const limit = wholeNumber(p, "limit", 1, 1000);
        const since = wholeNumber(p, "since", 0, Number.MAX_SAFE_INTEGER);
        const q = new URLSearchParams();
        if (limit !== undefined) q.set("limit", String(limit));
        if (since !== undefined) q.set("since", String(since));
        // --pair: the replicated _audit table (the active nodes' lines), not this node's file
        if (flag(p, "pair")) q.set("source", "pair");
        const qs = q.toString();
        call = async () => {
          const a = await request(f, base, auth, "GET", `/audit${qs ? `?${qs}` : ""}`, undefined, TIMEOUT_MS);
          print(a, () => formatAudit((a.json as { entries: AuditEntry[] }).entries));
        };
        break;
      }
      case "services": {
        const r = servicesRequest(p.positionals);
        if (typeof r === "string") throw new UsageError(r);
        call = async () => {
          const a = await request(f, base, auth, r.method, r.path, r.body, SERVICE_ACTION_TIMEOUT_MS);
          print(a, () => r.format(a.json));
        };
        break;
      }
      case "tags":
      case "events": {
        const r =
          cmd === "tags"
            ? tagsRequest(p.positionals, { since: str(p, "since"), until: str(p, "until"), limit: wholeNumber(p, "limit", 1, 10_000) }, Date.now())
            : eventsRequest(p.positionals, { after: wholeNumber(p, "after", 0, Number.MAX_SAFE_INTEGER), limit: wholeNumber(p, "limit", 1, 1000) });
        if (typeof r === "string") throw new UsageError(r);
        call = () => runPlan(r, (method, path, body, ms) => request(f, base, auth, method, path, body, ms), out, json);
        break;
      }
      case "replication":
      case "divergence":
      case "context":
      case "backup":
      case "restore-test":
      case "config":
      case "site": {
        const r =
          cmd === "site"
            ? siteRequest(p.positionals)
            : cmd === "replication"
            ? replicationRequest(p.positionals, flag(p, "from-active"))
            : cmd === "divergence"
              ? divergenceRequest(p.positionals)
              : cmd === "backup"
                ? backupRequest(p.positionals)
                : cmd === "restore-test"
                  ? restoreTestRequest(p.positionals)
                  : cmd === "config"
                    ? configRequest(p.positionals)
                    : contextRequest(p.positionals);
        if (typeof r === "string") throw new UsageError(r);
        call = () => runPlan(r, (method, path, body, ms) => request(f, base, auth, method, path, body, ms), out, json);
        break;
      }
    }
    const target = nodeTarget(p, env);
    const base = target.base;
    if (base.startsWith("https:") && !io?.fetch) {
      f.fetch = httpsFetch(readCa(target.caFile));
      f.caGiven = target.caFile !== undefined;
    }
    const auth = basicAuth(p, env);
    await call();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`tandem ${cmd}: ${e.message}`);
      err(`usage: ${USAGE[cmd]}`);
      if (e.credentials) err(`  ${CREDENTIALS_NOTE}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      err(e.report());
      return 2;
    }
    if (e instanceof ClientFailure) {
      err(`tandem ${cmd}: ${e.message}`);
      const advice = activeAdvice(cmd, e);
      if (advice) err(advice);
      return 1;
    }
    err(`tandem ${cmd}: ${(e as Error)?.message ?? String(e)}`);
    return 1;
  }
}

export { runHashPassword, type HashPasswordIo } from "./cli-hash-password.js";
