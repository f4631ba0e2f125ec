// Driver benchmarks (not part of `npm test`). Run from the build:
//   npm run build && node dist/test/bench/drivers.js [--seconds 5] [--items 10000]
//
// 1. Modbus TCP polling throughput over loopback against one libmodbus server
//    (a C program compiled here, so the server is never the bottleneck):
//    - the reference: a C client on libmodbus polling the same registers back to back
//    - Tandem's ModbusDriver: 30,000 float32 tags (60,000 registers) in one
//      scan class, coalesced to 480 requests of 125 registers, polled back to back
//    - Tandem's ModbusLink alone (no tags, no decoding): the transport's ceiling
//    - mbpoll reading 125 registers at its fastest poll rate (10 ms), as a
//      latency reference: it cannot poll faster
// 2. OPC UA: the plant simulator in a child process serving N changing
//    variables; the OpcuaDriver monitors all of them at 1 s; updates/s
//    delivered and this process's CPU share.
// Prints a markdown table and a JSON line with the figures. `--only modbus|opcua` runs one part.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { driversSection, type ModbusDeviceConfig, type OpcuaDeviceConfig } from "../../drivers/config-schema.js";
import { ModbusDriver, modbusTag } from "../../drivers/modbus-driver.js";
import { ModbusLink } from "../../drivers/modbus-link.js";
import { MbapLink } from "../../drivers/modbus-tcp-link.js";
import { OpcuaDriver, opcuaTag } from "../../drivers/opcua-driver.js";
import { runSimulator } from "../../drivers/simulator/main.js";
import { silentLogs } from "../../runtime/logging.js";

const C_SERVER = `
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
int main(int argc, char **argv) {
  modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
  modbus_mapping_t *map = modbus_mapping_new(0, 0, 65535, 0);
  for (int i = 0; i < 65535; i++) map->tab_registers[i] = (uint16_t)i;
  int s = modbus_tcp_listen(ctx, 4);
  if (s < 0) { perror("listen"); return 1; }
  printf("READY\\n"); fflush(stdout);
  uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
  for (;;) {
    if (modbus_tcp_accept(ctx, &s) < 0) continue;
    /* answer at once, as a device should: no Nagle delay on pipelined answers */
    int one = 1;
    setsockopt(modbus_get_socket(ctx), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
      int rc = modbus_receive(ctx, q);
      if (rc > 0) modbus_reply(ctx, q, rc, map);
      else if (rc == -1) break;
    }
    close(modbus_get_socket(ctx));
  }
}
`;

const C_CLIENT = `
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
  double secs = atof(argv[2]);
  int total = atoi(argv[3]);
  if (modbus_connect(ctx) < 0) { perror("connect"); return 1; }
  modbus_set_slave(ctx, 1);
  uint16_t regs[125];
  long requests = 0, registers = 0;
  double t0 = now(), t;
  do {
    for (int a = 0; a < total; a += 125) {
      int n = total - a < 125 ? total - a : 125;
      if (modbus_read_registers(ctx, a, n, regs) != n) { perror("read"); return 1; }
      requests++; registers += n;
    }
    t = now();
  } while (t - t0 < secs);
  printf("%ld %ld %f\\n", requests, registers, t - t0);
  modbus_close(ctx); modbus_free(ctx);
  return 0;
}
`;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function waitLine(child: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => reject(new Error(`child did not print ${re} within ${ms} ms: ${buf}`)), ms);
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[0]);
      }
    });
    child.once("exit", (code) => reject(new Error(`child exited ${code}: ${buf}`)));
  });
}

/** The checkout (where scripts/ lives), found upward from this file, else the working directory. */
function repoRoot(): string {
  for (let d = path.dirname(fileURLToPath(import.meta.url)); d !== path.dirname(d); d = path.dirname(d)) {
    if (existsSync(path.join(d, "scripts", "ensure-test-deps.sh"))) return d;
  }
  return process.cwd();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function modbusBench(seconds: number, dir: string) {
  const repo = repoRoot();
  execFileSync("bash", [path.join(repo, "scripts/ensure-test-deps.sh"), path.join(repo, "scripts/bench-deps.txt")], { stdio: "inherit" });
  const flags = execFileSync("pkg-config", ["--cflags", "--libs", "libmodbus"]).toString().trim().split(/\s+/);
  writeFileSync(path.join(dir, "server.c"), C_SERVER);
  writeFileSync(path.join(dir, "client.c"), C_CLIENT);
  execFileSync("gcc", ["-O2", "-o", path.join(dir, "server"), path.join(dir, "server.c"), ...flags]);
  execFileSync("gcc", ["-O2", "-o", path.join(dir, "client"), path.join(dir, "client.c"), ...flags]);
  const port = await freePort();
  const server = spawn(path.join(dir, "server"), [String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await waitLine(server, /READY/, 5000);
    const REGS = 60_000;

    // the reference: libmodbus C client, run before and after Tandem's runs
    // (the mean is the reference: a shared machine drifts between runs)
    const cRun = () => {
      const [req, regs, secs] = execFileSync(path.join(dir, "client"), [String(port), String(seconds), String(REGS)]).toString().trim().split(/\s+/).map(Number) as [number, number, number];
      return { requestsPerS: req / secs, registersPerS: regs / secs };
    };
    const cBefore = cRun();

    // the links alone (no tags, no decoding), same request sequence
    const linkRun = async (link: { readRegisters: MbapLink["readRegisters"]; close(): Promise<void> }) => {
      let n = 0;
      let regs = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) {
        for (let a = 0; a < REGS; a += 125) {
          const k = Math.min(125, REGS - a);
          await link.readRegisters("holding", 1, a, k, 2000);
          n++;
          regs += k;
        }
      }
      const secs = (performance.now() - t0) / 1000;
      await link.close();
      return { requestsPerS: n / secs, registersPerS: regs / secs };
    };
    const l = await linkRun(await ModbusLink.connectTcp("127.0.0.1", port, 2000));
    const lt = await linkRun(await MbapLink.connectTcp("127.0.0.1", port, 2000));

    // Tandem's driver: 30,000 float32 tags, one scan class, polled back to back
    const d = await driverRun(port, REGS, seconds, 1, "modbus-serial");
    const dt = await driverRun(port, REGS, seconds, 1, "tandem");
    const d4 = await driverRun(port, REGS, seconds, 4, "tandem");

    const cAfter = cRun();
    const c = {
      requestsPerS: (cBefore.requestsPerS + cAfter.requestsPerS) / 2,
      registersPerS: (cBefore.registersPerS + cAfter.registersPerS) / 2,
      before: cBefore.requestsPerS,
      after: cAfter.requestsPerS,
    };

    // mbpoll: 125 registers at its fastest poll rate
    const mb = spawn("mbpoll", ["-m", "tcp", "-a", "1", "-0", "-r", "0", "-c", "125", "-t", "4", "-l", "10", "-p", String(port), "127.0.0.1"], { stdio: ["ignore", "pipe", "ignore"] });
    let polls = 0;
    mb.stdout!.on("data", (b: Buffer) => (polls += (b.toString().match(/-- Polling slave/g) ?? []).length));
    const m0 = performance.now();
    await sleep(seconds * 1000);
    const mSecs = (performance.now() - m0) / 1000;
    mb.kill("SIGINT");
    await new Promise((r) => mb.once("exit", r));
    const m = { requestsPerS: polls / mSecs, registersPerS: (polls * 125) / mSecs };
    return { c, link: l, linkTandem: lt, driver: d, driverTandem: dt, driverTandem4: d4, mbpoll: m, registers: REGS };
  } finally {
    server.kill("SIGKILL");
  }
}

async function driverRun(port: number, REGS: number, seconds: number, maxInFlight: number, tcpClient: "modbus-serial" | "tandem") {
  const cfg = driversSection.parse({
    devices: [{ name: "bench", driver: "modbus", endpoints: [`127.0.0.1:${port}`], timeoutMs: 2000, maxGapRegisters: 0, maxInFlight, tcpClient }],
    tags: Array.from({ length: REGS / 2 }, (_, i) => ({ name: `b.t${i}`, device: "bench", address: `hr:${i * 2}`, type: "float32", scanMs: 10 })),
  });
  const dev = cfg.devices[0] as ModbusDeviceConfig;
  let samples = 0;
  const driver = new ModbusDriver({ device: dev, tags: cfg.tags.map((t) => modbusTag(t, dev, cfg.scanMs)), onSample: () => samples++, log: silentLogs().get("bench") });
  const plan = driver.plan()[0]!;
  driver.setMode("read");
  while (!driver.status().connected) await sleep(5);
  await sleep(500); // warm up the JIT
  const r0 = driver.counters().requests;
  const s0 = samples;
  const cpu0 = process.cpuUsage();
  const d0 = performance.now();
  await sleep(seconds * 1000);
  const dSecs = (performance.now() - d0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const dReq = driver.counters().requests - r0;
  const dSamples = samples - s0;
  await driver.stop();
  return {
    maxInFlight,
    tcpClient,
    requestsPerS: dReq / dSecs,
    registersPerS: (dReq / dSecs) * (plan.registers / plan.requests),
    tagsPerS: dSamples / dSecs,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / (dSecs * 1000)) * 100,
    requestsPerScan: plan.requests,
  };
}

async function opcuaBench(seconds: number, items: number, dir: string) {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--sim-child", String(port), String(items), dir], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await waitLine(child, /READY/, 120_000);
    const cfg = driversSection.parse({
      devices: [{ name: "ua", driver: "opcua", endpoints: [`opc.tcp://127.0.0.1:${port}`], publishingIntervalMs: 1000, requestTimeoutMs: 60_000 }],
      tags: Array.from({ length: items }, (_, i) => ({ name: `u.v${i}`, device: "ua", nodeId: `ns=1;s=Plant.Bench.V${i}`, scanMs: 1000 })),
    });
    const dev = cfg.devices[0] as OpcuaDeviceConfig;
    let updates = 0;
    let confirms = 0;
    let good = 0;
    const seen = new Set<string>();
    const driver = new OpcuaDriver({
      device: dev,
      tags: cfg.tags.map((t) => opcuaTag(t, dev, cfg.scanMs)),
      onSample: (n, s) => {
        if (s.quality !== "good") return;
        updates++;
        if (!seen.has(n)) {
          seen.add(n);
          good++;
        }
      },
      // as the node's DriverManager does: a publish response confirms the last samples in one call
      onConfirm: (samples) => void (confirms += samples.size),
      log: silentLogs().get("bench"),
      pkiDir: path.join(dir, "client-pki"),
    });
    const t0 = performance.now();
    driver.setMode("read");
    while (good < items) {
      await sleep(50);
      if (performance.now() - t0 > 120_000) throw new Error(`only ${good}/${items} items delivered a value in 120 s`);
    }
    const setupS = (performance.now() - t0) / 1000;
    await sleep(2000);
    const u0 = updates;
    const c0 = confirms;
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(seconds * 1000);
    const secs = (performance.now() - w0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const rate = (updates - u0) / secs;
    await driver.stop();
    return { items, setupS, updatesPerS: rate, expectedPerS: items, confirmationsPerS: (confirms - c0) / secs, cpuPercent: ((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100, rssMB: process.memoryUsage().rss / 1e6 };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

async function simChild(): Promise<void> {
  const i = process.argv.indexOf("--sim-child");
  const [port, items, dir] = [Number(process.argv[i + 1]), Number(process.argv[i + 2]), process.argv[i + 3]!];
  const sim = await runSimulator({ modbusPort: await freePort(), opcuaPort: port, dataDir: path.join(dir, "sim"), logs: silentLogs(), benchItems: items });
  process.stdout.write("READY\n");
  await new Promise<void>((r) => process.once("SIGTERM", () => r()));
  await sim.stop();
  process.exit(0);
}

async function main(): Promise<void> {
  if (process.argv.includes("--sim-child")) return simChild();
  const seconds = arg("seconds", 5);
  const items = arg("items", 10_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), "tandem-bench-drivers-"));
  try {
    const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
    // OPC UA first: its RSS figure is then not inflated by the Modbus run's 30,000 tags
    const ua = only === "modbus" ? null : await opcuaBench(seconds * 2, items, dir);
    const mb = only === "opcua" ? null : await modbusBench(seconds, dir);
    const f = (n: number) => Math.round(n).toLocaleString("en-US");
    const lines: string[] = [];
    if (mb)
      lines.push(
        `Modbus TCP over loopback, libmodbus server, ${f(mb.registers)} holding registers read as 125-register requests, one request in flight, ${seconds} s each (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "?"}, Node ${process.version})`,
        "",
        "| client | requests/s | registers/s | ratio to C libmodbus (requests) |",
        "|---|---|---|---|",
        `| C client on libmodbus (reference: mean of a run before and after, ${f(mb.c.before)} and ${f(mb.c.after)}) | ${f(mb.c.requestsPerS)} | ${f(mb.c.registersPerS)} | 1.00 |`,
        `| Tandem ModbusDriver, tcpClient modbus-serial, ${f(mb.registers / 2)} float32 tags, ${mb.driver.requestsPerScan} requests/scan | ${f(mb.driver.requestsPerS)} | ${f(mb.driver.registersPerS)} | ${(mb.driver.requestsPerS / mb.c.requestsPerS).toFixed(2)} |`,
        `| Tandem ModbusDriver, tcpClient tandem (own MBAP framing, the default), same tags | ${f(mb.driverTandem.requestsPerS)} | ${f(mb.driverTandem.registersPerS)} | ${(mb.driverTandem.requestsPerS / mb.c.requestsPerS).toFixed(2)} |`,
        `| same, maxInFlight 4 (a device that takes 4 requests in flight) | ${f(mb.driverTandem4.requestsPerS)} | ${f(mb.driverTandem4.registersPerS)} | ${(mb.driverTandem4.requestsPerS / mb.c.requestsPerS).toFixed(2)} |`,
        `| modbus-serial link alone (no tags, no decoding) | ${f(mb.link.requestsPerS)} | ${f(mb.link.registersPerS)} | ${(mb.link.requestsPerS / mb.c.requestsPerS).toFixed(2)} |`,
        `| Tandem MBAP link alone (no tags, no decoding) | ${f(mb.linkTandem.requestsPerS)} | ${f(mb.linkTandem.registersPerS)} | ${(mb.linkTandem.requestsPerS / mb.c.requestsPerS).toFixed(2)} |`,
        `| mbpoll -l 10 (its fastest poll rate; a latency reference) | ${f(mb.mbpoll.requestsPerS)} | ${f(mb.mbpoll.registersPerS)} | ${(mb.mbpoll.requestsPerS / mb.c.requestsPerS).toFixed(3)} |`,
        "",
        `Tandem driver (modbus-serial): ${f(mb.driver.tagsPerS)} tag values decoded/s at ${mb.driver.cpuPercent.toFixed(0)}% of one core; (tandem client): ${f(mb.driverTandem.tagsPerS)}/s at ${mb.driverTandem.cpuPercent.toFixed(0)}%. Request ratio to mbpoll: ${(mb.driver.requestsPerS / mb.mbpoll.requestsPerS).toFixed(0)}× and ${(mb.driverTandem.requestsPerS / mb.mbpoll.requestsPerS).toFixed(0)}×.`,
      );
    if (ua)
      lines.push(
        "",
        `OPC UA: ${f(ua.items)} monitored items, sampling 1000 ms, publishing 1000 ms, simulator in a child process, ${seconds * 2} s measured`,
        "",
        "| measure | value |",
        "|---|---|",
        `| updates/s delivered (expected ${f(ua.expectedPerS)}) | ${f(ua.updatesPerS)} |`,
        `| confirmations/s (each publish response confirms every item's last value) | ${f(ua.confirmationsPerS)} |`,
        `| Tandem process CPU (share of one core) | ${ua.cpuPercent.toFixed(1)}% |`,
        `| time to create the items and receive every first value | ${ua.setupS.toFixed(1)} s |`,
        `| Tandem process RSS | ${f(ua.rssMB)} MB |`,
      );
    process.stdout.write(`${lines.join("\n")}\n\n${JSON.stringify({ modbus: mb, opcua: ua })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
