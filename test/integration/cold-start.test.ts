// A cold start of both servers on a loaded machine (issue 6): the preferred
// main must end up active even when its drivers have not yet had their first
// answer from the PLC while the secondary's already have. Before the start-up
// grace, the secondary's level (255) beat the main's (195: device not yet
// connected) by more than the margin, it won the first election, and with
// manual failback it stayed active. Here node a's path to the PLC holds every
// answer back until the pair has chosen its active, and one core is kept
// busy by a bounded CPU hog for the whole start.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exited, freePort, spawnCli, waitUntil } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-cold-"));
let sim: ReturnType<typeof spawnCli>;
let modbus: number;

/** A path to the PLC that connects at once but holds the PLC's answers back until released. */
class HeldPath {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly held: (() => void)[] = [];
  released = false;
  port = 0;

  async start(target: number): Promise<void> {
    this.server = net.createServer((client) => {
      const plc = net.connect({ host: "127.0.0.1", port: target });
      for (const s of [client, plc]) {
        this.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => this.sockets.delete(s));
      }
      client.on("data", (b) => plc.write(b));
      plc.on("data", (b) => (this.released ? client.write(b) : this.held.push(() => client.write(b))));
      client.on("close", () => plc.destroy());
      plc.on("close", () => client.destroy());
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  release(): void {
    this.released = true;
    for (const f of this.held.splice(0)) f();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

beforeAll(async () => {
  modbus = await freePort();
  const opcua = await freePort();
  sim = spawnCli(["sim", "--modbus-port", String(modbus), "--opcua-port", String(opcua), "--data-dir", join(dir, "sim")]);
  await waitUntil("the simulator serving", () => sim.output().includes("plant simulator:"), { timeoutMs: 20_000, seen: () => sim.output() });
});

afterAll(async () => {
  sim?.kill("SIGTERM");
  if (sim) await exited(sim);
  rmSync(dir, { recursive: true, force: true });
});

describe("cold start of both servers", () => {
  it("S1: the preferred main is active after a cold start under load, though its PLC answered after the secondary's", async () => {
    const held = new HeldPath();
    await held.start(modbus);
    // one core busy for the whole start; it ends by itself after 60 s at most
    const hog: ChildProcess = spawn(process.execPath, ["-e", "const end = Date.now() + 60000; while (Date.now() < end) {}"], { stdio: "ignore" });
    try {
      const port = (id: "a" | "b") => (id === "a" ? held.port : modbus);
      const drivers = (id: "a" | "b") => `drivers:
  scanMs: 200
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${port(id)}"], unitId: 1, timeoutMs: 60000, writeTimeoutMs: 300, retries: 0, standby: hot }
  tags:
    - { name: line1.tank1.level, device: plc, address: "hr:0", type: float32 }
`;
      // both servers come up within the start-up wait (a node that is up alone past it claims the role
      // through the witness, as it should: that is not this case, so the wait is long here)
      const cluster = await pair.start({ extra: drivers, takeover: "  levelGraceMs: 120000\n  startupWaitMs: 30000" });
      const chosen = await cluster.waitFor("b", (s) => s.peer.state === "active" || s.state === "active", 60_000, "the pair chose an active");
      const a = await cluster.waitFor("a", () => true, 20_000, "node a answers");
      expect({ a: a.state, b: chosen.state }).toEqual({ a: "active", b: "standby" });
      // a's level did not count yet: its status says why
      expect(a.serviceLevelReasons.join("; ")).toMatch(/start-up grace/);
      held.release();
      const settled = await cluster.waitFor("a", (s) => s.serviceLevel === 255 && !s.serviceLevelReasons.some((r) => /grace/.test(r)), 30_000, "a reads the PLC");
      expect(settled.state).toBe("active");
    } finally {
      hog.kill("SIGKILL");
      held.release();
      await held.stop();
    }
  });
});
