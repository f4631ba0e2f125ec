#!/usr/bin/env node
// `tandem` — one command for every role: a node, the witness, the simulator,
// the demo, and the operator's client commands. Exit codes: 0 ok, 1 fatal or
// failed action, 2 config or usage error.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CLIENT_COMMANDS, DEFAULT_NODE_URL, runClientCommand, runHashPassword, type ClientCommand } from "./cli-client.js";
import { LOG_LEVELS } from "../core/types.js";
import { loadConfig } from "./config/load.js";
import type { TandemConfig } from "./config/schema.js";
import { fastestScanOf, type DeviceConfig } from "../drivers/config-schema.js";
import { startOrder } from "./services/config-schema.js";
import { historySummary } from "./history/config-schema.js";
import { ConfigError, TandemError } from "../core/errors.js";

const USAGE = `tandem — redundant plant-server runtime

  tandem start --config FILE        run one node until SIGTERM/SIGINT
  tandem demo [--dir DIR] [--base-port N]
                                    a whole redundant site on this machine (npm start)
  tandem witness --listen HOST:PORT --key KEY|PAIR=KEY …
                                    the third vote for one or more pairs
  tandem sim [--base-port N]        the plant simulator alone (OPC UA + Modbus TCP)
  tandem browse opc.tcp://HOST:PORT [--device NAME]
                                    list an OPC UA server's variables as a drivers.tags list
  tandem check-config FILE          validate a node config: print its devices, tag counts and services and exit 0,
                                    or print every problem and exit 2
  tandem import-tags FILE.csv [--device NAME] [--config FILE]
                                    a CSV tag list as drivers.tags YAML (checked against the config's devices)
  tandem status [--json]            one node's view: state, epoch, lease, peer, witness, devices (viewer)
  tandem status --probe --config FILE
                                    connect to every device of the config, read each tag once, list the refused
  tandem confirm | reject           resume or restart a held takeover (operator)
  tandem switchover [--to NODE]     planned switchover (admin)
  tandem promote --yes-the-active-is-down
                                    manual fencing: take over when no witness can decide
  tandem maintenance enter|leave [--force]
                                    take this node out of the pair and back (admin)
  tandem log-level [LEVEL] [--component NAME]
                                    show or change log levels (LEVEL: ${LOG_LEVELS.join(", ")}; admin to change)
  tandem audit [--limit N] [--since SEQ] [--pair]
                                    the audit log: who did what, when (--pair: the pair's, from the replicated store)
  tandem audit verify --config FILE check this host's node's audit chain: exit 0, or print the first bad line and exit 1
  tandem services [list | start NAME | stop NAME | restart NAME]
                                    the supervised services: placement, state, pid, restarts, CPU, RSS (operator for actions)
  tandem replication [status | verify | resync [--from-active]]
                                    replication mode, what a write's acknowledgement means now, peer, lag, journal,
                                    catch-up; compare both databases (operator); repair from the active (admin)
  tandem divergence [list | export | discard ID]
                                    records a rejoining node wrote under an old epoch, set aside: list them, print
                                    them all as JSON lines, or discard one once dealt with (operator)
  tandem context                    the process context: each process module's state, step, content, timers,
                                    the sequence number, epoch and age of its last write; held or not
  tandem tags [list | history NAME [--since 10m] [--until TIME] [--limit N]]
                                    the tags now; one tag's recorded values over a time range (the history section)
  tandem events [--after SEQ] [--limit N]
                                    the pair's stored events and alarms: takeovers, switchovers, confirms, failures
  tandem site                       every pair of the site from the site broker: active node, epoch, health,
                                    held takeovers, alarms, each node's HMI (viewer)
  tandem config [status | push]     both nodes' pair-wide configuration versions; push the active's config file's
                                    pair-wide part to the standby's (admin)
  tandem backup [list | now]        this node's backups, the last restore test and alarms; a backup now (operator)
  tandem restore-test [NAME]        restore the newest backup (or NAME) into a scratch place and check it (operator)
  tandem restore BACKUP [--to DIR] [--config FILE | --dir BACKUPS] [--in-place]
                                    a backup restored on this host and checked against its manifest; --in-place
                                    replaces a stopped node's database
  tandem upgrade PACKAGE [--root DIR] [--keep N]
                                    install a built Tandem beside the running one and make it current (the node
                                    runs it from its next start); tandem rollback returns to the previous one
  tandem version                    this build's version
  tandem hash-password              read a password on stdin, print its hash for the config
  tandem support-bundle --config FILE [--out FILE]
                                    one archive for whoever helps the site: status, recent logs, the config
                                    without secrets, versions, the last events (viewer login for the API parts)
  tandem service install|uninstall|status --config FILE | --witness --listen HOST:PORT [--dry-run --out DIR]
                                    this node (or the witness) as a systemd unit or Windows service, generated
                                    from the config (root); --dry-run --out DIR only writes the files

Client commands (status … restore-test) take --node URL (default ${DEFAULT_NODE_URL}) or
--config FILE (its http.listen), --json for the API's answer as is, and
credentials from --user NAME or TANDEM_USER, and TANDEM_PASSWORD (never on the
command line). Example: TANDEM_USER=viewer TANDEM_PASSWORD=viewer tandem status`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "start":
      return (await import("./start.js")).runStart(rest);
    case "demo":
      return (await import("./demo.js")).runDemo(rest);
    case "witness":
      return (await import("./witness-main.js")).runWitness(rest);
    case "sim":
      return (await import("./sim-cli.js")).runSimCli(rest);
    case "browse":
      return (await import("../drivers/browse-cli.js")).runBrowseCli(rest);
    case "check-config":
      return checkConfig(rest);
    case "import-tags":
      return (await import("./import-tags.js")).runImportTags(rest);
    case "audit":
      if (rest[0] === "verify") return (await import("./audit/verify-cli.js")).runAuditVerify(rest.slice(1));
      return runClientCommand("audit", rest);
    case "hash-password":
      return runHashPassword(rest);
    case "support-bundle":
      return (await import("./support-bundle.js")).runSupportBundle(rest);
    case "service":
      return (await import("./install/service-cli.js")).runService(rest);
    case "restore":
      return (await import("./backup/restore-cli.js")).runRestore(rest);
    case "upgrade":
      return (await import("./upgrade/upgrade-cli.js")).runUpgrade(rest);
    case "rollback":
      return (await import("./upgrade/upgrade-cli.js")).runRollback(rest);
    case "version":
    case "--version":
      return (await import("./upgrade/upgrade-cli.js")).runVersion(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      if ((CLIENT_COMMANDS as readonly string[]).includes(cmd)) return runClientCommand(cmd as ClientCommand, rest);
      console.error(`tandem: unknown command '${cmd}'\n\n${USAGE}`);
      return 2;
  }
}

function checkConfig(argv: string[]): number {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) {
    console.error("usage: tandem check-config FILE");
    return 2;
  }
  try {
    const c = loadConfig(positionals[0]!);
    console.log(
      `ok: ${positionals[0]}: pair ${c.pair.id}, node ${c.node.id} (${c.node.role}), peer ${c.peer.id} over ${c.peer.links.map((l) => l.name).join(", ")}, ` +
        `${c.witness ? `witness ${c.witness.address.host}:${c.witness.address.port}` : "no witness"}, HTTP ${c.http.listen.host}:${c.http.listen.port}`,
    );
    for (const l of deviceSummary(c)) console.log(l);
    for (const l of serviceSummary(c)) console.log(l);
    for (const l of historySummary(c.history, c.drivers?.tags ?? [])) console.log(l);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.report());
      return 2;
    }
    throw err;
  }
}

/** One line per device: driver, paths, standby mode, tags (writable). */
export function deviceSummary(c: TandemConfig): string[] {
  const d = c.drivers;
  if (!d || d.devices.length === 0) return ["  no devices (no drivers section)"];
  const lines = [`  ${d.devices.length} device${d.devices.length === 1 ? "" : "s"}, ${d.tags.length} tag${d.tags.length === 1 ? "" : "s"}:`];
  for (const dev of d.devices) {
    const tags = d.tags.filter((t) => t.device === dev.name);
    const paths = dev.driver === "modbus" ? (dev.transport === "rtu" ? (dev.serial ?? []).map((s) => s.path) : (dev.endpoints ?? [])) : dev.endpoints;
    const kind = dev.driver === "modbus" ? `modbus ${dev.transport}${dev.addressing === "modicon" ? ", modicon addresses" : ""}` : `opcua ${dev.securityMode}`;
    lines.push(`    ${dev.name} (${kind}) ${paths.join(", ")}; standby ${dev.standby}: ${tags.length} tag${tags.length === 1 ? "" : "s"}, ${tags.filter((t) => t.writable).length} writable${timeoutNote(dev, fastestScanOf(dev, d.tags, d.scanMs))}`);
  }
  if (c.watchdog) lines.push(`  watchdog on ${c.watchdog.device}: counter ${c.watchdog.counter}, epoch ${c.watchdog.epoch}${c.watchdog.fence ? ", fence on" : ""}`);
  return lines;
}

/** One line per service: placement, dependencies, health check, restart policy. */
export function serviceSummary(c: TandemConfig): string[] {
  const names = startOrder(c.services);
  if (!names.length) return ["  no services (no services section)"];
  const lines = [`  ${names.length} service${names.length === 1 ? "" : "s"}, started in this order:`];
  for (const n of names) {
    const s = c.services[n]!;
    const where = s.placement === "balanced" ? `balanced ×${s.instances} (${s.scheme ?? "fewest-instances"})` : s.placement;
    const h = s.health;
    const health = h ? (h.tcp ? `tcp ${h.tcp.host}:${h.tcp.port}` : h.http ? `http ${h.http}` : `command ${h.command!.join(" ")}`) : "none";
    const deps = s.dependsOn.length ? `, after ${s.dependsOn.join(", ")}` : "";
    lines.push(`    ${n} (${where}${deps}): ${[s.command, ...s.args].join(" ")}; health ${health}; restart ${s.restart}${s.user ? `; as ${s.user}` : ""}${s.memoryMaxMB ? `; memory ≤ ${s.memoryMaxMB} MB` : ""}`);
  }
  return lines;
}

/** A Modbus device's read timeout, and what it means when it outlasts the device's fastest scan. */
function timeoutNote(dev: DeviceConfig, fastestScanMs: number): string {
  if (dev.driver !== "modbus") return "";
  const late = dev.timeoutMs > fastestScanMs ? ` — longer than its fastest scan (${fastestScanMs} ms): a PLC that stops answering shows bad after the timeout, not within one scan` : "";
  return `; read timeout ${dev.timeoutMs} ms${late}`;
}

// run when executed (directly, through the npm bin link or npx), not when imported
function invokedDirectly(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  // `tandem status | head` closes the pipe early: that is not an error
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        console.error(err.report());
        process.exitCode = 2;
      } else if (err instanceof TandemError) {
        console.error(`tandem: ${err.message}`);
        process.exitCode = 1;
      } else {
        console.error(`tandem: ${(err as Error)?.stack ?? err}`);
        process.exitCode = 1;
      }
    },
  );
}
