// `tandem sim`: the plant simulator alone, an OPC UA server and a Modbus TCP
// server in one process showing the same small process (simulator/plant.ts),
// with fault switches for tests and demos.
import { mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { LogManager } from "../../runtime/logging.js";
import { ModbusSim } from "./modbus-sim.js";
import { OpcuaSim } from "./opcua-sim.js";
import { command, initialPlant, step, type PlantCommand, type PlantState } from "./plant.js";

export interface SimulatorFaults {
  /** drops every Modbus and OPC UA client connection once (clients reconnect) */
  dropConnections(): Promise<void>;
  /** Modbus: answer every request this much later (0 = at once) */
  setModbusDelay(ms: number): void;
  /** Modbus: holding register `address` answers with exception `code` (null clears it) */
  setModbusException(address: number, code: number | null): void;
  /** Modbus: refuse and drop connections while true */
  setModbusDown(down: boolean): void;
  /** OPC UA: the server's ServiceLevel */
  setServiceLevel(level: number): void;
  /** stops the plant moving (values freeze) or lets it run */
  freeze(frozen: boolean): void;
}

export interface Simulator {
  stop(): Promise<void>;
  faults: SimulatorFaults;
  modbusPort: number;
  opcuaPort: number;
  opcuaUrl: string;
  /** the live plant (tests read it to compare) */
  plant(): PlantState;
  /** client connections now: Modbus sockets and OPC UA sessions */
  connections(): { modbus: number; opcua: number };
  modbusRequests(): number;
}

export interface SimulatorOptions {
  modbusPort: number;
  opcuaPort: number;
  host?: string;
  dataDir: string;
  logs: LogManager;
  /** plant step (ms); default 100 */
  tickMs?: number;
  /** extra OPC UA variables ns=1;s=Plant.Bench.V<i> for benchmarks */
  benchItems?: number;
}

export async function runSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.logs.get("sim");
  mkdirSync(opts.dataDir, { recursive: true });
  let state = initialPlant();
  let frozen = false;
  const access = {
    get: () => state,
    apply: (c: PlantCommand) => {
      const r = command(state, c);
      if (typeof r === "string") return r;
      state = r;
      log.info({ command: c }, "plant command");
      return null;
    },
  };
  const tickMs = opts.tickMs ?? 100;
  const timer = setInterval(() => {
    if (!frozen) state = step(state, tickMs);
  }, tickMs);
  timer.unref();
  const modbus = new ModbusSim(access);
  const opcua = new OpcuaSim(access, { dataDir: opts.dataDir, benchItems: opts.benchItems });
  try {
    await modbus.start(host, opts.modbusPort);
    await opcua.start(host, opts.opcuaPort);
  } catch (e) {
    clearInterval(timer);
    await modbus.stop();
    await opcua.stop();
    throw e;
  }
  log.info({ modbus: `${host}:${opts.modbusPort}`, opcua: opcua.endpointUrl }, "plant simulator running");
  return {
    modbusPort: opts.modbusPort,
    opcuaPort: opts.opcuaPort,
    opcuaUrl: `opc.tcp://${host}:${opts.opcuaPort}`,
    plant: () => state,
    connections: () => ({ modbus: modbus.connections(), opcua: opcua.sessions() }),
    modbusRequests: () => modbus.requests,
    faults: {
      dropConnections: async () => {
        modbus.dropConnections();
        await opcua.dropConnections();
      },
      setModbusDelay: (ms) => void (modbus.faults.delayMs = ms),
      setModbusException: (address, code) => void (code === null ? modbus.faults.exceptions.delete(address) : modbus.faults.exceptions.set(address, code)),
      setModbusDown: (down) => {
        modbus.faults.down = down;
        if (down) modbus.dropConnections();
      },
      setServiceLevel: (level) => void (opcua.faults.serviceLevel = level),
      freeze: (f) => void (frozen = f),
    },
    async stop() {
      clearInterval(timer);
      await modbus.stop();
      await opcua.stop();
      log.info("plant simulator stopped");
    },
  };
}

const simFile = z.strictObject({
  sim: z
    .strictObject({
      host: z.string().default("127.0.0.1"),
      modbusPort: z.number().int().min(1).max(65535).default(5020),
      opcuaPort: z.number().int().min(1).max(65535).default(4840),
      dataDir: z.string().optional(),
      benchItems: z.number().int().min(0).max(100_000).default(0),
    })
    .prefault({}),
});

const USAGE = "usage: tandem sim [--config FILE] [--modbus-port 5020] [--opcua-port 4840] [--base-port N] [--host 127.0.0.1] [--data-dir DIR]";

/** `tandem sim …`: runs until SIGTERM/SIGINT; returns the exit code. */
export async function runSimCli(argv: string[]): Promise<number> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const m = /^--(config|modbus-port|opcua-port|base-port|host|data-dir)(?:=(.*))?$/.exec(a);
    if (!m) {
      process.stderr.write(`tandem sim: unknown argument '${a}'\n${USAGE}\n`);
      return 2;
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined) {
      process.stderr.write(`tandem sim: ${a} needs a value\n`);
      return 2;
    }
    args.set(m[1]!, v);
  }
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
  const logs = new LogManager({ level: "info" }); // each component logger adds its own name
  const dataDir = args.get("data-dir") ?? fileCfg.dataDir ?? path.join(os.tmpdir(), "tandem-sim");
  let sim: Simulator;
  try {
    sim = await runSimulator({ host: args.get("host") ?? fileCfg.host, modbusPort: modbusPort as number, opcuaPort: opcuaPort as number, dataDir, logs, benchItems: fileCfg.benchItems });
  } catch (e) {
    process.stderr.write(`tandem sim: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`plant simulator: Modbus TCP on ${sim.modbusPort}, OPC UA at ${sim.opcuaUrl} (Ctrl-C stops it)\n`);
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
  await sim.stop();
  logs.flush();
  return 0;
}
