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

export interface Pymodbus {
  port: number;
  /** requests the server answered since start (data-store reads and writes) */
  count(): Promise<number>;
  stop(): Promise<void>;
}

/** Debian's python3-pymodbus TCP server (test/drivers/fixtures/pymodbus-server.py). */
export async function startPymodbus(port: number | string = 0): Promise<Pymodbus> {
  const script = fileURLToPath(new URL("./fixtures/pymodbus-server.py", import.meta.url));
  const child: ChildProcess = spawn("/usr/bin/python3", [script, String(port)], { stdio: ["pipe", "pipe", "pipe"] });
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
  return {
    port: Number(m[1]),
    async count() {
      const p = next();
      child.stdin!.write("count\n");
      return Number(/^COUNT (\d+)$/.exec(await p)?.[1]);
    },
    async stop() {
      if (child.exitCode === null) {
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
