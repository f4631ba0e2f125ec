// Shared helpers for the driver tests: real servers Tandem did not write
// (pymodbus, modbus-serial's ServerTCP), free ports, and polling waits.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import M from "modbus-serial";
import type { Logger } from "pino";
import { TandemError } from "../../core/errors.js";
import type { WriteGate, WriteKind } from "../../drivers/driver-api.js";
import { silentLogs } from "../../runtime/logging.js";

export const log: Logger = silentLogs().get("drivers-test");

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Polls until fn returns a truthy value or the time is up (then throws with the last value). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 5000, everyMs = 10): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lets every write through: for driver tests that are not about the gate. */
export const openGate: WriteGate = { check() {} };

/**
 * A lease as a node keeps it, on the wall clock: valid until `until`; a
 * request of needMs may leave only if it ends before then (the node's
 * PairRuntime.assertCanWrite, without the safety margin). Records every check.
 */
export class LeaseGate implements WriteGate {
  until = Number.POSITIVE_INFINITY;
  readonly checks: { kind: WriteKind; needMs: number; at: number; ok: boolean }[] = [];

  check(kind: WriteKind, needMs = 0): void {
    const at = Date.now();
    const ok = at + needMs < this.until;
    this.checks.push({ kind, needMs, at, ok });
    if (at >= this.until) throw new TandemError("TANDEM_ERR_LEASE", [`${kind} write`, "the lease ran out"]);
    if (!ok) throw new TandemError("TANDEM_ERR_LEASE", [`${kind} write`, `the lease (${this.until - at} ms left) may run out before the request's ${needMs} ms timeout`]);
  }

  /** the lease runs out ms from now */
  endsIn(ms: number): void {
    this.until = Date.now() + ms;
  }

  renew(): void {
    this.until = Number.POSITIVE_INFINITY;
  }
}

export type ModbusTable = "hr" | "ir" | "co" | "di";

export interface Pymodbus {
  port: number;
  /** the server's process id (to freeze it with SIGSTOP; stop() thaws it first) */
  pid: number;
  /** requests the server answered since start (data-store reads and writes) */
  count(): Promise<number>;
  /** write requests the server received since start */
  writes(): Promise<number>;
  /** values in a table, read inside the server (coils as 0/1) */
  get(table: ModbusTable, address: number, n: number): Promise<number[]>;
  /** stores values inside the server (not counted as writes) */
  set(table: ModbusTable, address: number, values: number[]): Promise<void>;
  /** every read answers this much later from now on (the server is single-threaded: requests behind it wait too) */
  delay(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/** Debian's python3-pymodbus TCP server (test/drivers/fixtures/pymodbus-server.py). */
export async function startPymodbus(port: number | string = 0): Promise<Pymodbus> {
  const script = fileURLToPath(new URL("./fixtures/pymodbus-server.py", import.meta.url));
  const child: ChildProcess = spawn("/usr/bin/python3", [script, String(port)], { stdio: ["pipe", "pipe", "pipe"] });
  // a command written as the server goes away (a test stops it) must not become an uncaught error in the worker
  child.stdin!.on("error", () => {});
  let buf = "";
  let stderr = "";
  const lines: ((l: string) => void)[] = [];
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.shift()?.(line);
    }
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`pymodbus did not answer: ${stderr}`)), 10_000);
      lines.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  const first = await next();
  const m = /^PORT (\d+)$/.exec(first);
  void 0;
  if (!m) throw new Error(`pymodbus: unexpected '${first}' ${stderr}`);
  const ask = async (line: string): Promise<string> => {
    const p = next();
    child.stdin!.write(`${line}\n`);
    return p;
  };
  return {
    port: Number(m[1]),
    pid: child.pid!,
    async count() {
      return Number(/^COUNT (\d+)$/.exec(await ask("count"))?.[1]);
    },
    async writes() {
      return Number(/^WRITES (\d+)$/.exec(await ask("writes"))?.[1]);
    },
    async get(table, address, n) {
      const a = await ask(`get ${table} ${address} ${n}`);
      if (!a.startsWith("VALUES")) throw new Error(`pymodbus: ${a}`);
      return a.split(" ").slice(1).map(Number);
    },
    async set(table, address, values) {
      const a = await ask(`set ${table} ${address} ${values.join(" ")}`);
      if (a !== "OK") throw new Error(`pymodbus: ${a}`);
    },
    async delay(ms) {
      const a = await ask(`delay ${ms}`);
      if (a !== "OK") throw new Error(`pymodbus: ${a}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGCONT");
        child.stdin!.end("stop\n");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

export interface FakePlc {
  port: number;
  holding: number[];
  coils: boolean[];
  /** requests served per function (reads of several registers count once) */
  requests: number;
  /** addresses answering with this exception code */
  exceptions: Map<number, number>;
  delayMs: number;
  stop(): Promise<void>;
  /** drops every client connection (the server keeps listening) */
  dropClients(): void;
}

/** modbus-serial's ServerTCP (not Tandem's code) with a memory map and fault switches. */
export async function startFakePlc(port?: number): Promise<FakePlc> {
  const p = port ?? (await freePort());
  const plc: FakePlc = {
    port: p,
    holding: new Array(1000).fill(0),
    coils: new Array(1000).fill(false),
    requests: 0,
    exceptions: new Map(),
    delayMs: 0,
    stop: async () => {},
    dropClients: () => {},
  };
  const check = (addr: number, n: number) => {
    for (let a = addr; a < addr + n; a++) {
      const code = plc.exceptions.get(a);
      if (code !== undefined) throw Object.assign(new Error("exception"), { modbusErrorCode: code });
    }
  };
  const later = <T>(v: () => T): Promise<T> | T =>
    plc.delayMs > 0 ? new Promise<T>((res, rej) => setTimeout(() => { try { res(v()); } catch (e) { rej(e); } }, plc.delayMs)) : v();
  const vector = {
    // callback form: the library does not await a promise returned for several registers
    getMultipleHoldingRegisters: (addr: number, n: number, _unit: number, cb: (err: Error | null, v?: number[]) => void) => {
      plc.requests++;
      const answer = () => {
        try {
          check(addr, n);
          cb(null, plc.holding.slice(addr, addr + n));
        } catch (e) {
          cb(e as Error);
        }
      };
      if (plc.delayMs > 0) setTimeout(answer, plc.delayMs);
      else answer();
    },
    getHoldingRegister: (addr: number) => {
      plc.requests++;
      return later(() => (check(addr, 1), plc.holding[addr]!));
    },
    getInputRegister: (addr: number) => (check(addr, 1), plc.holding[addr]!),
    getCoil: (addr: number) => {
      check(addr, 1);
      return plc.coils[addr]!;
    },
    getDiscreteInput: (addr: number) => plc.coils[addr]!,
    setRegister: (addr: number, v: number) => {
      plc.requests++;
      check(addr, 1);
      plc.holding[addr] = v;
    },
    setRegisterArray: (addr: number, v: number[]) => {
      plc.requests++;
      check(addr, v.length);
      v.forEach((x, i) => (plc.holding[addr + i] = x));
    },
    setCoil: (addr: number, v: boolean) => {
      plc.coils[addr] = v;
    },
  };
  const server = new M.ServerTCP(vector as never, { host: "127.0.0.1", port: p, unitID: 1 });
  await new Promise<void>((resolve, reject) => {
    server.on("initialized", () => resolve());
    server.on("serverError", (e) => reject(e));
  });
  server.on("socketError", () => {});
  server.on("error", () => {});
  plc.dropClients = () => {
    for (const s of server.socks.keys()) s.destroy();
  };
  plc.stop = () => new Promise<void>((r) => server.close(() => r()));
  return plc;
}


export function tempDir(prefix = "tandem-drivers-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface PtyPair {
  a: string;
  b: string;
  stop(): Promise<void>;
}

/** Two connected pseudo-terminals (socat): a serial line without hardware. */
export async function ptyPair(dir: string, name = "pty"): Promise<PtyPair> {
  const a = path.join(dir, `${name}-a`);
  const b = path.join(dir, `${name}-b`);
  const child = spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await waitFor(() => existsSync(a) && existsSync(b), "socat ptys", 5000);
  return {
    a,
    b,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/**
 * A TCP relay in front of a server that can hold every chunk back for a
 * while, in order (a slow path to the device): the client's requests reach
 * the server late and its answers come back late.
 */
export class DelayRelay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  delayMs = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    const server = net.createServer((inbound) => {
      const outbound = net.connect(this.target);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => {
          this.sockets.delete(s);
          inbound.destroy();
          outbound.destroy();
        });
      }
      this.forward(inbound, outbound);
      this.forward(outbound, inbound);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  private forward(from: net.Socket, to: net.Socket): void {
    // one queue per direction, sent in order: a chunk never overtakes the one before when the delay changes
    const queue: { at: number; d: Buffer }[] = [];
    let timer: NodeJS.Timeout | null = null;
    const pump = () => {
      timer = null;
      while (queue.length && queue[0]!.at <= Date.now()) {
        const { d } = queue.shift()!;
        if (!to.destroyed) to.write(d);
      }
      if (queue.length) timer = setTimeout(pump, queue[0]!.at - Date.now());
    };
    from.on("data", (d: Buffer) => {
      queue.push({ at: Date.now() + this.delayMs, d });
      if (timer === null) pump();
    });
    from.on("close", () => {
      if (timer) clearTimeout(timer);
      timer = null;
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** Resources of this process that mean "something is open" (sockets, timers), counted by kind. */
export function openResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (r === "TCPSocketWrap" || r === "Timeout" || r === "TTYWrap" || r === "PipeWrap") out[r] = (out[r] ?? 0) + 1;
  return out;
}
