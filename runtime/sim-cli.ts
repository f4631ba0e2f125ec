// `tandem sim`: the plant simulator alone (drivers/simulator), run until
// SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 cannot start, 2 usage error.
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { runSimulator, simFile, type Simulator } from "../drivers/simulator/main.js";
import { LogManager } from "./logging.js";

const USAGE = "usage: tandem sim [--config FILE] [--modbus-port 5020] [--opcua-port 4840] [--base-port N] [--host 127.0.0.1] [--data-dir DIR] [--write-log FILE [--epoch-register 901]]";

/** `tandem sim …`: runs until SIGTERM/SIGINT; returns the exit code. */
export async function runSimCli(argv: string[]): Promise<number> {
  const opt = { type: "string" } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: opt, "modbus-port": opt, "opcua-port": opt, "base-port": opt, host: opt, "data-dir": opt, "write-log": opt, "epoch-register": opt, help: { type: "boolean", short: "h" } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`tandem sim: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const args = new Map(Object.entries(values).filter((e): e is [string, string] => typeof e[1] === "string"));
  let fileCfg: z.output<typeof simFile>["sim"] = simFile.parse({}).sim;
  const cfgPath = args.get("config");
  if (cfgPath) {
    try {
      const r = simFile.safeParse(parseYaml(readFileSync(cfgPath, "utf8")) ?? {});
      if (!r.success) {
        for (const i of r.error.issues) process.stderr.write(`config error: ${cfgPath}: ${i.path.join(".") || "(root)"}: ${i.message}\n`);
        return 2;
      }
      fileCfg = r.data.sim;
    } catch (e) {
      process.stderr.write(`config error: ${cfgPath}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const port = (name: string, dflt: number): number | string => {
    const v = args.get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : `--${name}: expected a port 1–65535, got '${v}'`;
  };
  // --base-port N shifts the demo's fixed ports by the same offset as 8080 → N.
  const base = port("base-port", 8080);
  if (typeof base === "string") {
    process.stderr.write(`tandem sim: ${base}\n`);
    return 2;
  }
  const shift = base - 8080;
  const modbusPort = port("modbus-port", fileCfg.modbusPort + shift);
  const opcuaPort = port("opcua-port", fileCfg.opcuaPort + shift);
  for (const p of [modbusPort, opcuaPort])
    if (typeof p === "string" || p < 1 || p > 65535) {
      process.stderr.write(`tandem sim: ${typeof p === "string" ? p : `port ${p} out of range after --base-port`}\n`);
      return 2;
    }
  const writeLogFile = args.get("write-log") ?? fileCfg.writeLog;
  const reg = args.get("epoch-register");
  const epochRegister = reg === undefined ? fileCfg.epochRegister : Number(reg);
  if (reg !== undefined && (!/^\d+$/.test(reg) || epochRegister! > 65534)) {
    process.stderr.write(`tandem sim: --epoch-register: expected a holding register 0–65534 (the epoch's high word), got '${reg}'\n`);
    return 2;
  }
  if (reg !== undefined && !writeLogFile) {
    process.stderr.write("tandem sim: --epoch-register needs --write-log FILE (it only says how writes are attributed in that log)\n");
    return 2;
  }
  const logs = new LogManager({ level: "info" }); // each component logger adds its own name
  const dataDir = args.get("data-dir") ?? fileCfg.dataDir ?? path.join(os.tmpdir(), "tandem-sim");
  let sim: Simulator;
  try {
    sim = await runSimulator({ host: args.get("host") ?? fileCfg.host, modbusPort: modbusPort as number, opcuaPort: opcuaPort as number, dataDir, logs, benchItems: fileCfg.benchItems, writeLog: writeLogFile ? { file: writeLogFile, epochRegister } : undefined });
  } catch (e) {
    process.stderr.write(`tandem sim: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`plant simulator: Modbus TCP on ${sim.modbusPort}, OPC UA at ${sim.opcuaUrl}${writeLogFile ? `, every write logged to ${writeLogFile}` : ""} (Ctrl-C stops it)\n`);
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
  logs.keepFinalLines();
  await sim.stop();
  await logs.flush();
  return 0;
}
