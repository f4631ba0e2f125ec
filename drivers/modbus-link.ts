// One connection to a Modbus device over modbus-serial, with what the library
// leaves out: a connect timeout, a per-request timeout that is ours, and a
// promise for every request that settles when the connection closes (the
// library clears its timers on close but never rejects what was pending).
// We own the TCP socket (linkTCP) because modbus-serial's TcpPort does not
// emit "close" after a socket error.
import net from "node:net";
import M from "modbus-serial";

const ModbusRTU = M.default;
type Client = InstanceType<typeof ModbusRTU>;

const EXCEPTION_NAMES: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target failed to respond",
};

/** The device answered with an exception: the connection is fine, the request is not. */
export class ModbusException extends Error {
  constructor(readonly code: number) {
    super(`modbus exception ${code} (${EXCEPTION_NAMES[code] ?? "unknown"})`);
    this.name = "ModbusException";
  }
  /** the quality reason for the tags the request covered */
  get reason(): string {
    return `modbus_exception:${this.code} ${EXCEPTION_NAMES[this.code] ?? "unknown"}`;
  }
}

export class LinkTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "LinkTimeout";
  }
}

/** A TCP connection to a device, or a LinkTimeout after timeoutMs; ready with no delay. */
export function openTcpSocket(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = new net.Socket();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new LinkTimeout(timeoutMs));
    }, timeoutMs);
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
    socket.connect({ host, port }, () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

export class LinkClosed extends Error {
  constructor(why: string) {
    super(`connection closed: ${why}`);
    this.name = "LinkClosed";
  }
}

/** What the driver needs of a connection; ModbusLink (modbus-serial) and MbapLink (modbus-tcp-link.ts) provide it. */
export interface Link {
  readonly label: string;
  readonly isClosed: boolean;
  onClose: (why: string) => void;
  close(why?: string): Promise<void>;
  readRegisters(table: "holding" | "input", unit: number, address: number, count: number, timeoutMs: number): Promise<number[]>;
  readBits(table: "coil" | "discrete", unit: number, address: number, count: number, timeoutMs: number): Promise<boolean[]>;
  writeRegister(unit: number, address: number, value: number, timeoutMs: number): Promise<void>;
  writeRegisters(unit: number, address: number, values: number[], timeoutMs: number): Promise<void>;
  writeCoil(unit: number, address: number, value: boolean, timeoutMs: number): Promise<void>;
  writeCoils(unit: number, address: number, values: boolean[], timeoutMs: number): Promise<void>;
}

export interface SerialOptions {
  path: string;
  baudRate: number;
  parity: "none" | "even" | "odd";
  dataBits: 7 | 8;
  stopBits: 1 | 2;
}

/** a read's answer: the decoded values, and the data bytes as the answer's byte count gave them */
type Answer = { data: unknown; buffer?: Buffer };
type Cb = (err: (Error & { modbusCode?: number }) | null, data?: Answer) => void;

/** The callback-style request functions of modbus-serial, with the unit id passed explicitly per request. */
interface RawClient {
  writeFC1(unit: number, address: number, count: number, cb: Cb): void;
  writeFC2(unit: number, address: number, count: number, cb: Cb): void;
  writeFC3(unit: number, address: number, count: number, cb: Cb): void;
  writeFC4(unit: number, address: number, count: number, cb: Cb): void;
  writeFC5(unit: number, address: number, value: boolean, cb: Cb): void;
  writeFC6(unit: number, address: number, value: number, cb: Cb): void;
  writeFC15(unit: number, address: number, values: boolean[], cb: Cb): void;
  writeFC16(unit: number, address: number, values: number[], cb: Cb): void;
  close(cb: () => void): void;
}

export class ModbusLink implements Link {
  private closedReason: string | null = null;
  private readonly closeWaiters = new Set<(why: string) => void>();
  onClose: (why: string) => void = () => {};

  private readonly raw: RawClient;

  private constructor(
    private readonly client: Client,
    private readonly socket: net.Socket | null,
    readonly label: string,
  ) {
    this.raw = client as unknown as RawClient;
  }

  static async connectTcp(host: string, port: number, timeoutMs: number): Promise<ModbusLink> {
    const socket = await openTcpSocket(host, port, timeoutMs);
    return new Promise((resolve, reject) => {
      const client = new ModbusRTU();
      const link = new ModbusLink(client, socket, `${host}:${port}`);
      socket.on("error", (err) => link.closed(err.message));
      socket.on("close", () => link.closed("socket closed"));
      (client as unknown as { linkTCP(s: net.Socket, o: object, cb: (e: Error | null) => void): void }).linkTCP(socket, {}, (err) => {
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(link);
      });
    });
  }

  static async connectRtu(o: SerialOptions, timeoutMs: number): Promise<ModbusLink> {
    const client = new ModbusRTU();
    let timer: NodeJS.Timeout | undefined;
    const opening = client.connectRTUBuffered(o.path, { baudRate: o.baudRate, parity: o.parity, dataBits: o.dataBits, stopBits: o.stopBits } as Parameters<Client["connectRTUBuffered"]>[1]);
    await Promise.race([
      opening,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new LinkTimeout(timeoutMs)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    const link = new ModbusLink(client, null, o.path);
    client.on("close", () => link.closed("serial port closed"));
    client.on("error", (e: unknown) => link.closed(e instanceof Error ? e.message : String(e)));
    return link;
  }

  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  private closed(why: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = why;
    for (const w of this.closeWaiters) w(why);
    this.closeWaiters.clear();
    this.onClose(why);
  }

  /** Closes the connection; pending requests reject with LinkClosed. */
  close(why = "closed by Tandem"): Promise<void> {
    if (this.socket) {
      this.socket.destroy();
      this.closed(why);
      return Promise.resolve();
    }
    this.closed(why);
    return new Promise((resolve) => {
      try {
        this.raw.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** `problem` says why an answer is not one (then the request fails with it) */
  private call<T>(timeoutMs: number, send: (cb: Cb) => void, problem?: (a: Answer | undefined) => string | null): Promise<T> {
    if (this.closedReason !== null) return Promise.reject(new LinkClosed(this.closedReason));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null, value?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.closeWaiters.delete(onClosed);
        if (err) reject(err);
        else resolve(value as T);
      };
      const onClosed = (why: string) => finish(new LinkClosed(why));
      const timer = setTimeout(() => finish(new LinkTimeout(timeoutMs)), timeoutMs);
      this.closeWaiters.add(onClosed);
      try {
        send((err, data) => {
          if (err) {
            if (typeof err.modbusCode === "number") finish(new ModbusException(err.modbusCode));
            else if ((err as { errno?: string }).errno === "ECONNREFUSED" || /Port Not Open/.test(err.message)) finish(new LinkClosed(err.message));
            else finish(err);
          } else {
            const why = problem?.(data) ?? null;
            if (why) finish(new Error(why));
            else finish(null, data?.data as T);
          }
        });
      } catch (e) {
        finish(e as Error);
      }
    });
  }

  // modbus-serial checks an answer's length against the request but takes its byte count on
  // trust: a byte count of 0 in an answer of the right length read as no data (a coil then
  // read false, good). The byte count must be the one asked for, as MbapLink requires.
  readRegisters(table: "holding" | "input", unit: number, address: number, count: number, timeoutMs: number): Promise<number[]> {
    return this.call(
      timeoutMs,
      (cb) => (table === "holding" ? this.raw.writeFC3(unit, address, count, cb) : this.raw.writeFC4(unit, address, count, cb)),
      (a) => byteCountProblem(a, count * 2, count, `${count} registers`),
    );
  }

  readBits(table: "coil" | "discrete", unit: number, address: number, count: number, timeoutMs: number): Promise<boolean[]> {
    const bytes = Math.ceil(count / 8);
    return this.call(
      timeoutMs,
      (cb) => (table === "coil" ? this.raw.writeFC1(unit, address, count, cb) : this.raw.writeFC2(unit, address, count, cb)),
      (a) => byteCountProblem(a, bytes, bytes * 8, `${count} bits`),
    );
  }

  writeRegister(unit: number, address: number, value: number, timeoutMs: number): Promise<void> {
    return this.call(timeoutMs, (cb) => this.raw.writeFC6(unit, address, value, cb));
  }

  writeRegisters(unit: number, address: number, values: number[], timeoutMs: number): Promise<void> {
    return this.call(timeoutMs, (cb) => this.raw.writeFC16(unit, address, values, cb));
  }

  writeCoil(unit: number, address: number, value: boolean, timeoutMs: number): Promise<void> {
    return this.call(timeoutMs, (cb) => this.raw.writeFC5(unit, address, value, cb));
  }

  writeCoils(unit: number, address: number, values: boolean[], timeoutMs: number): Promise<void> {
    return this.call(timeoutMs, (cb) => this.raw.writeFC15(unit, address, values, cb));
  }
}

/** Why a read's answer does not carry `bytes` data bytes decoded into `values` values, or null. */
function byteCountProblem(a: Answer | undefined, bytes: number, values: number, what: string): string | null {
  const got = a?.buffer?.length ?? 0;
  if (got === bytes && Array.isArray(a?.data) && a.data.length === values) return null;
  return `expected ${what}, got ${got} bytes`;
}
