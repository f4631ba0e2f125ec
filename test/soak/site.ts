// The site the fault-injection runs use (issue 13): a pair, its witness and
// the plant simulator, each on a host of its own in network namespaces
// (test/bench/ns-pair.ts: two pair links "lan" and "plant", the witness's
// network "wit"), loaded as a plant would load it:
//  - the sample batch (config/demo/batch.js) drives the simulator over
//    Modbus, and the PLC watchdog writes the counter and the epoch (fence);
//  - a service placed `active` (beat.mjs) appends its beats to a shared file;
//  - the simulator logs every write it receives (--write-log), with its own
//    receive time, the writer's address and the epoch it last wrote;
//  - node b runs under libfaketime (its wall clock can be stepped) with its
//    data directory on a small tmpfs (a disk that can be filled).
// What the nodes say is used only to drive the run (who to kill, when to
// confirm); the verdict comes from the files above and the databases, read
// directly (evidence.ts).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/cluster.js";
import { NsPair } from "../bench/ns-pair.js";

export type Id = "a" | "b";

/** the watchdog's registers in the simulator: writes there are the watchdog's, every other write is the batch's */
export const WATCHDOG_REGISTERS = { counter: 900, epoch: 901 } as const;
/** the records table the writers stream into (sync replication) */
export const TABLE = "soak_log";
/** node b's data directory is a tmpfs of this size: big enough for a long run, small enough to fill in a moment */
const TMPFS_MB = 256;
const LIBFAKETIME = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"];

/** the batch's tags, all on Modbus so the simulator's write log sees every write (the demo's use OPC UA for some) */
function drivers(host: string, modbus: number): unknown {
  return {
    scanMs: 200,
    devices: [{ name: "plc", driver: "modbus", transport: "tcp", endpoints: [`${host}:${modbus}`], unitId: 1, byteOrder: "ABCD", standby: "hot", timeoutMs: 500, retries: 0 }],
    tags: [
      { name: "line1.tank1.level", device: "plc", address: "hr:0", type: "float32" },
      { name: "line1.reactor.temperature", device: "plc", address: "hr:4", type: "float32" },
      { name: "line1.reactor.setpoint", device: "plc", address: "hr:6", type: "float32", writable: true },
      { name: "line1.tank1.inletValve", device: "plc", address: "hr:8", type: "uint16", writable: true },
      { name: "line1.batch.step", device: "plc", address: "hr:9", type: "uint16", writable: true },
      { name: "line1.pump1.run", device: "plc", address: "co:0", writable: true },
      { name: "line1.reactor.heaterEnable", device: "plc", address: "co:1", writable: true },
    ],
  };
}

export interface SiteFiles {
  /** the simulator's write log (JSON lines) */
  plantLog: string;
  /** the `active` service's beats (JSON lines) */
  beats: string;
  /** node b's libfaketime offset ("+0", "+30s" …), read at every clock call */
  clockB: string;
}

export class FaultSite {
  readonly files: SiteFiles;

  private constructor(readonly ns: NsPair) {
    this.files = { plantLog: join(ns.dir, "plant-writes.jsonl"), beats: join(ns.dir, "beats.jsonl"), clockB: join(ns.dir, "clock-b") };
  }

  static async start(): Promise<FaultSite> {
    const lib = LIBFAKETIME.find((f) => existsSync(f));
    if (!lib) throw new Error(`libfaketime is not installed (Debian package faketime, in scripts/test-deps.txt): looked for ${LIBFAKETIME.join(", ")}`);
    const ns = await NsPair.start((host, modbus) => drivers(host, modbus), {
      extra: (dir) => siteExtra(dir),
      simArgs: (dir) => ["--write-log", join(dir, "plant-writes.jsonl"), "--epoch-register", String(WATCHDOG_REGISTERS.epoch)],
      // node b's wall clock follows the offset in clock-b (a step is a write to it); its monotonic clock is the machine's
      nodeEnv: (id, dir) => (id === "b" ? { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: join(dir, "clock-b"), FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" } : {}),
      beforeNodes: (dir) => {
        writeClock(join(dir, "clock-b"), "+0");
        mountTmpfs(join(dir, "data-b"));
      },
      afterNodes: (dir) => unmountTmpfs(join(dir, "data-b")),
    });
    return new FaultSite(ns);
  }

  stop(): Promise<void> {
    return this.ns.stop();
  }
}

/**
 * The YAML both nodes get beyond NsPair's own: sync replication that refuses
 * writes while the peer is away (every acknowledged write is on both
 * databases: RPO 0 is the promise checked), the batch, the beat service.
 */
function siteExtra(dir: string): string {
  return `watchdog: { device: plc, counter: "hr:${WATCHDOG_REGISTERS.counter}", epoch: "hr:${WATCHDOG_REGISTERS.epoch}", intervalMs: 200, staleAfterMs: 1000 }
replication: { mode: sync, whenPeerAway: refuse, tables: { ${TABLE}: {} } }
processes:
  batch:
    module: ${JSON.stringify(join(ROOT, "config", "demo", "batch.js"))}
    options: { fillMs: 600, heatMs: 600, mixMs: 600, drainMs: 600, heatTo: 60, report: "" }
services:
  beat: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(join(ROOT, "test", "soak", "beat.mjs"))}, ${JSON.stringify(join(dir, "beats.jsonl"))}], placement: active, stopTimeoutMs: 2000 }
`;
}

/** mounts a tmpfs of TMPFS_MB on `dir` (node b's data directory) */
function mountTmpfs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_MB}m`, "tandem-soak", dir]);
}

function unmountTmpfs(dir: string): void {
  try {
    execFileSync("umount", ["-l", dir], { stdio: "ignore" });
  } catch {
    /* not mounted */
  }
}

export function writeClock(file: string, offset: string): void {
  writeFileSync(file, `${offset}\n`);
}
