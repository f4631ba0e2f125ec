// A throwaway site broker Tandem did not write: Debian's mosquitto on a free
// loopback port, anonymous, without persistence, for one test file (or the
// screenshot tool). `scripts/test-deps.txt` brings the package. Its log is
// kept to say why a broker did not come up.
import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitUntil } from "./cluster.js";

const run = promisify(execFile);

export interface Mosquitto {
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  stop(): void;
}

const accepts = (port: number) =>
  new Promise<boolean>((r) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => (s.destroy(), r(true))).on("error", () => r(false));
  });

/** Starts mosquitto with its config in `dir`; resolves once it accepts connections. */
export async function startMosquitto(dir: string): Promise<Mosquitto> {
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n`);
  const child = spawn("/usr/sbin/mosquitto", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const stop = () => void child.kill("SIGKILL");
  try {
    await waitUntil(`mosquitto listening on ${port}`, async () => (child.exitCode === null ? accepts(port) : false), { timeoutMs: 10_000, seen: () => err.slice(-300) });
  } catch (e) {
    stop();
    throw e;
  }
  return { port, url: `mqtt://127.0.0.1:${port}`, stop };
}

/** mosquitto_sub -V 5 against the broker on `port`; never throws: `-W` running out (exit 27) is an answer, not an error */
export async function mosquittoSub(port: number, args: string[], waitS = 8): Promise<{ out: string; err: string }> {
  try {
    const r = await run("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(port), "-V", "5", ...args], { timeout: (waitS + 5) * 1000 });
    return { out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; code?: number };
    return { out: x.stdout ?? "", err: x.code === 27 ? "" : (x.stderr ?? String(e)) };
  }
}
