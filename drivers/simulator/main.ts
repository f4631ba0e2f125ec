// The plant simulator (`tandem sim`, runtime/sim-cli.ts), an OPC UA server and a Modbus TCP
// server in one process showing the same small process (simulator/plant.ts),
// with fault switches for tests and demos.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { LogSource } from "../../core/logger.js";
import { ModbusSim } from "./modbus-sim.js";
import { OpcuaSim } from "./opcua-sim.js";
import { command, initialPlant, step, type PlantCommand, type PlantState } from "./plant.js";
import { DEFAULT_EPOCH_REGISTER, EpochAttribution, WriteLogFile, type WriteWitness } from "./write-log.js";

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
  /** write requests received: Modbus (registers and coils) and OPC UA (values) */
  writes(): { modbus: number; opcua: number };
  /** the Modbus server's free memory, live: holding registers 100–1999 and coils 3–1999 (tests seed and inspect it) */
  memory(): { registers: Uint16Array; coils: Uint8Array };
}

export interface SimulatorOptions {
  modbusPort: number;
  opcuaPort: number;
  host?: string;
  dataDir: string;
  logs: LogSource;
  /** plant step (ms); default 100 */
  tickMs?: number;
  /** extra OPC UA variables ns=1;s=Plant.Bench.V<i> for benchmarks */
  benchItems?: number;
  /**
   * Append every write request received to `file`, one JSON line each, before
   * it is applied (drivers/simulator/write-log.ts); the writer's epoch is
   * attributed from its writes to the epoch register (hr:`epochRegister`–+1,
   * uint32 high word first; default 901).
   */
  writeLog?: { file: string; epochRegister?: number };
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
  const witness = opts.writeLog ? openWriteLog(opts.writeLog, (e) => log.error({ err: e, file: opts.writeLog!.file }, "write log failed: every later write is refused")) : undefined;
  const tickMs = opts.tickMs ?? 100;
  const timer = setInterval(() => {
    if (!frozen) state = step(state, tickMs);
  }, tickMs);
  timer.unref();
  const modbus = new ModbusSim(access, witness);
  const opcua = new OpcuaSim(access, { dataDir: opts.dataDir, benchItems: opts.benchItems, witness });
  try {
    await modbus.start(host, opts.modbusPort);
    await opcua.start(host, opts.opcuaPort);
  } catch (e) {
    clearInterval(timer);
    await modbus.stop();
    await opcua.stop();
    witness?.file.close();
    throw e;
  }
  if (witness) log.info({ file: witness.file.file, epochRegister: witness.epochs.register }, "logging every write received");
  log.info({ modbus: `${host}:${opts.modbusPort}`, opcua: opcua.endpointUrl }, "plant simulator running");
  return {
    modbusPort: opts.modbusPort,
    opcuaPort: opts.opcuaPort,
    opcuaUrl: `opc.tcp://${host}:${opts.opcuaPort}`,
    plant: () => state,
    connections: () => ({ modbus: modbus.connections(), opcua: opcua.sessions() }),
    modbusRequests: () => modbus.requests,
    writes: () => ({ modbus: modbus.writes, opcua: opcua.writes }),
    memory: () => ({ registers: state.memory, coils: modbus.coilMem }),
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
      witness?.file.close(); // after the servers: no write arrives once it is closed
      log.info("plant simulator stopped");
    },
  };
}

function openWriteLog(o: NonNullable<SimulatorOptions["writeLog"]>, onFail: (e: Error) => void): WriteWitness {
  const register = o.epochRegister ?? DEFAULT_EPOCH_REGISTER;
  if (!Number.isInteger(register) || register < 0 || register > 65534) throw new Error(`writeLog.epochRegister: expected a holding register 0–65534, got ${register}`);
  mkdirSync(path.dirname(path.resolve(o.file)), { recursive: true });
  return { file: new WriteLogFile(o.file, onFail), epochs: new EpochAttribution(register) };
}

export const simFile = z.strictObject({
  sim: z
    .strictObject({
      host: z.string().default("127.0.0.1"),
      modbusPort: z.number().int().min(1).max(65535).default(5020),
      opcuaPort: z.number().int().min(1).max(65535).default(4840),
      dataDir: z.string().optional(),
      benchItems: z.number().int().min(0).max(100_000).default(0),
      /** append every write received to this file (JSON lines) */
      writeLog: z.string().min(1).optional(),
      /** the epoch register's first holding register (uint32, 2 registers) for the write log */
      epochRegister: z.number().int().min(0).max(65534).optional(),
    })
    .prefault({}),
});
