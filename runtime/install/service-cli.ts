// `tandem service install|uninstall|status`: a node (from its config) or the
// witness as a systemd unit, or on Windows a WinSW service. `--dry-run --out
// DIR` writes the files it would install into DIR and changes nothing else.
// Exit codes: 0 done (status: installed), 1 failed, 2 usage or config error,
// 3 status: not installed.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../../core/errors.js";
import { loadConfig } from "../config/load.js";
import { envFileOf, systemdUnit } from "./systemd.js";
import { nodeUnitSettings, witnessUnitSettings, type UnitSettings } from "./unit-settings.js";
import { installPs1, winswXml } from "./windows.js";

const USAGE = `usage: tandem service install|uninstall|status [--config FILE | --witness --listen HOST:PORT [--user NAME]]
                      [--platform linux|windows] [--dry-run --out DIR]
  install     generate the service definition from the config and install it (root; systemd on Linux, WinSW on Windows)
  uninstall   stop and remove it (the data dir, config and secrets stay)
  status      whether it is installed, and its state (exit 3: not installed)
  --dry-run --out DIR   write the files install would install into DIR; change nothing else`;

const UNIT_DIR = "/etc/systemd/system";

type Io = { out: (s: string) => void; err: (s: string) => void };
const stdio: Io = { out: (s) => console.log(s), err: (s) => console.error(s) };

export async function runService(argv: string[], io: Io = stdio): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string" },
        witness: { type: "boolean", default: false },
        listen: { type: "string" },
        user: { type: "string" },
        platform: { type: "string", default: process.platform === "win32" ? "windows" : "linux" },
        "dry-run": { type: "boolean", default: false },
        out: { type: "string" },
      },
    }));
  } catch (err) {
    io.err(`tandem service: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const action = positionals[0];
  const usage = (why: string) => (io.err(`tandem service: ${why}\n${USAGE}`), 2);
  if (action !== "install" && action !== "uninstall" && action !== "status") return usage(action ? `unknown action '${action}'` : "install, uninstall or status?");
  if (positionals.length > 1) return usage(`unexpected '${positionals[1]}'`);
  if (values.platform !== "linux" && values.platform !== "windows") return usage(`--platform: linux or windows, got '${values.platform}'`);
  if (values["dry-run"] !== (values.out !== undefined)) return usage("--dry-run and --out DIR go together");
  if (values["dry-run"] && action !== "install") return usage("--dry-run is for install");
  if (values.witness ? values.config !== undefined : values.config === undefined) return usage("either --config FILE (a node) or --witness --listen HOST:PORT");
  if (values.witness && !values.listen) return usage("--witness needs --listen HOST:PORT (where the pairs reach it)");
  if (!values.witness && values.user !== undefined) return usage("--user is for the witness; a node runs as node.serviceUser of its config");

  let s: UnitSettings;
  try {
    if (values.witness) s = witnessUnitSettings(values.listen as string, values.user ?? "tandem");
    else {
      const file = values.config as string;
      s = nodeUnitSettings(loadConfig(file), file, dirname(resolve(file)));
    }
  } catch (err) {
    if (err instanceof ConfigError) return (io.err(err.message), 2);
    throw err;
  }
  const from = values.witness ? `--listen ${values.listen}` : resolve(values.config as string);
  const files =
    values.platform === "linux"
      ? [{ name: `${s.name}.service`, text: systemdUnit(s, from) }]
      : [
          { name: `${s.name}.xml`, text: winswXml(s, from) },
          { name: "install.ps1", text: installPs1(s) },
        ];

  if (values["dry-run"]) {
    const out = resolve(values.out as string);
    mkdirSync(out, { recursive: true });
    for (const f of files) writeFileSync(join(out, f.name), f.text);
    io.out(`wrote ${files.map((f) => join(out, f.name)).join(", ")} (nothing installed)`);
    if (s.kind === "node") io.out(`  user ${s.user}, MemoryMax ${s.memoryMaxMB} MB (${s.memoryWhy}), LimitNOFILE ${s.maxOpenFiles}, stop within ${s.stopTimeoutSec} s`);
    return 0;
  }
  if (values.platform === "windows") {
    if (process.platform !== "win32") return usage("installing a Windows service works on Windows only: use --dry-run --out DIR here");
    return installWindows(s, files, action, io);
  }
  return systemd(s, files[0]!.text, action, io);
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function systemd(s: UnitSettings, unit: string, action: "install" | "uninstall" | "status", io: Io): number {
  const file = join(UNIT_DIR, `${s.name}.service`);
  if (action === "status") {
    if (!existsSync(file)) return (io.out(`${s.name}: not installed (no ${file})`), 3);
    try {
      io.out(run("systemctl", ["show", s.name, "-p", "LoadState", "-p", "ActiveState", "-p", "SubState", "-p", "UnitFileState", "-p", "MainPID"]).trim());
    } catch (err) {
      io.out(`${s.name}: installed (${file}); its state cannot be read: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
    return 0;
  }
  if (process.getuid?.() !== 0) return (io.err(`tandem service ${action}: run it as root (sudo tandem service ${action} …): it writes ${UNIT_DIR} and runs systemctl`), 1);
  if (!existsSync("/run/systemd/system")) {
    io.err(`tandem service ${action}: systemd is not running on this machine (no /run/systemd/system): nothing was changed. Write the unit with --dry-run --out DIR and install it where systemd runs.`);
    return 1;
  }
  try {
    if (action === "uninstall") {
      if (!existsSync(file)) return (io.out(`${s.name}: not installed (no ${file}); nothing to do`), 0);
      run("systemctl", ["disable", "--now", s.name]);
      rmSync(file);
      run("systemctl", ["daemon-reload"]);
      io.out(`${s.name}: stopped, disabled and removed (${file}); the data dir, config and ${envFileOf(s)} stay`);
      return 0;
    }
    ensureUser(s, io);
    writeFileSync(file, unit, { mode: 0o644 });
    const env = envFileOf(s);
    if (!existsSync(env)) {
      mkdirSync(dirname(env), { recursive: true, mode: 0o750 });
      writeFileSync(env, "# secrets for the service: NAME=value lines (TANDEM_PAIR_KEY=…, password hashes)\n", { mode: 0o640 });
      chownGroup(env, s.user);
    }
    run("systemctl", ["daemon-reload"]);
    run("systemctl", ["enable", s.name]);
    io.out(`${s.name}: installed (${file}) and enabled; put the secrets in ${env}, then: systemctl start ${s.name}`);
    return 0;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    io.err(`tandem service ${action}: ${e.stderr?.trim() || e.message}`);
    return 1;
  }
}

/** the system user the unit names, made when missing, owning the node's data dir */
function ensureUser(s: UnitSettings, io: Io): void {
  try {
    run("id", ["-u", s.user]);
  } catch {
    const home = s.kind === "node" ? s.dataDir : "/var/lib/tandem";
    run("useradd", ["--system", "--home-dir", home, "--shell", "/usr/sbin/nologin", s.user]);
    io.out(`made the system user ${s.user}`);
  }
  if (s.kind === "node") {
    mkdirSync(s.dataDir, { recursive: true, mode: 0o750 });
    const uid = Number(run("id", ["-u", s.user]).trim());
    const gid = Number(run("id", ["-g", s.user]).trim());
    chownSync(s.dataDir, uid, gid);
  }
}

function chownGroup(file: string, user: string): void {
  const gid = Number(run("id", ["-g", user]).trim());
  chownSync(file, 0, gid);
  chmodSync(file, 0o640);
}

function installWindows(s: UnitSettings, files: { name: string; text: string }[], action: string, io: Io): number {
  const dir = s.kind === "node" ? join(s.dataDir, "service") : join(process.env.ProgramData ?? "C:\\ProgramData", "Tandem", "witness-service");
  try {
    if (action === "install") {
      mkdirSync(dir, { recursive: true });
      for (const f of files) writeFileSync(join(dir, f.name), f.text);
      run("powershell.exe", ["-NoProfile", "-ExecutionPolicy", "Bypass", "-File", join(dir, "install.ps1")]);
      io.out(`${s.name}: installed and started (${dir})`);
    } else if (action === "uninstall") {
      run(join(dir, `${s.name}.exe`), ["uninstall", join(dir, `${s.name}.xml`)]);
      io.out(`${s.name}: removed`);
    } else {
      if (!existsSync(join(dir, `${s.name}.exe`))) return (io.out(`${s.name}: not installed`), 3);
      io.out(run(join(dir, `${s.name}.exe`), ["status", join(dir, `${s.name}.xml`)]).trim());
    }
    return 0;
  } catch (err) {
    io.err(`tandem service ${action}: ${(err as Error).message}`);
    return 1;
  }
}
