// The reference of the services bench (services.ts): a plain bash script
// starts the same three programs one after another, each waited for until
// its port answers (a connection through bash's /dev/tcp every 5 ms), and
// measures on its own clock ($EPOCHREALTIME) from its start to the last port
// answering. Then it stops them (SIGTERM, wait) and prints the two times, so
// that when the bench reads the line the programs are gone.
import { spawn, type ChildProcess } from "node:child_process";

/** bash: $1 START_MS, $2 the ports in start order (separated by spaces), then the program and its arguments */
export const REFERENCE_SCRIPT = `set -u
start_ms=$1 ports=$2
shift 2
t0=$EPOCHREALTIME
pids=()
for port in $ports; do
  PORT=$port START_MS=$start_ms "$@" &
  pids+=("$!")
  n=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 2000 ]; then
      echo "port $port did not answer after 2000 polls" >&2
      kill "\${pids[@]}" 2>/dev/null
      exit 1
    fi
    sleep 0.005
  done
done
t1=$EPOCHREALTIME
kill "\${pids[@]}"
wait
echo "$t0 $t1"`;

/** "1764456000.123456" → microseconds, exactly (a double holds 16 digits; seconds since 1970 with 6 decimals are 16) */
function micros(t: string): bigint {
  const [s, f = ""] = t.split(".");
  return BigInt(s!) * 1_000_000n + BigInt(f.padEnd(6, "0").slice(0, 6));
}

let running: ChildProcess | null = null;

/** Kills a reference run still going (its own process group: the script and its programs). */
export function killReference(): void {
  const ch = running;
  if (ch?.pid && ch.exitCode === null && ch.signalCode === null) {
    try {
      process.kill(-ch.pid, "SIGKILL");
    } catch {
      /* gone meanwhile */
    }
  }
}

/**
 * One reference sample: ms from the script's start to its last program's
 * port answering. `program` (argv) is run once per port, with PORT and START_MS.
 */
export function referenceStart(program: string[], ports: number[], startMs: number, limitMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    // its own process group, so that a bench that stops early takes the programs along (killReference)
    const ch = spawn("/bin/bash", ["--norc", "--noprofile", "-c", REFERENCE_SCRIPT, "reference", String(startMs), ports.join(" "), ...program], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    running = ch;
    let out = "";
    let err = "";
    ch.stdout!.on("data", (d) => (out += d));
    ch.stderr!.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      killReference();
      reject(new Error(`the reference script did not finish within ${limitMs} ms: ${err.trim()}`));
    }, limitMs);
    ch.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ch.once("exit", (code, signal) => {
      clearTimeout(timer);
      running = null;
      const m = /^(\d+\.\d+) (\d+\.\d+)$/m.exec(out);
      if (code !== 0 || !m) return reject(new Error(`the reference script ended with ${signal ?? `code ${code}`}: ${(out + err).trim()}`));
      resolve(Number(micros(m[2]!) - micros(m[1]!)) / 1000);
    });
  });
}
