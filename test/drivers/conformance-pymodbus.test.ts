// The driver conformance suite for Modbus against a server Tandem did not
// write: Debian's pymodbus, over TCP with both TCP clients (Tandem's own MBAP
// framing and modbus-serial's), and over RTU on a serial line made of two
// socat pseudo-terminals.
import { driverConformance, type TargetServer, type TypeCase } from "./conformance.js";
import { MODBUS_DEVICE, modbusCases, type ModbusCase } from "./conformance-cases.js";
import { ptyPair, startPymodbus, type Pymodbus } from "./helpers.js";

const BASE = 100;
const WATCHDOG = BASE + 40;

/**
 * A pymodbus server as a conformance target. `where`: "0" (TCP, any free
 * port, the same one again when it comes back) or rtu:<pty>.
 */
async function pymodbusTarget(where: string, device: (port: number) => Record<string, unknown>, stopAlso?: () => Promise<void>): Promise<TargetServer> {
  let py: Pymodbus = await startPymodbus(where);
  const port = py.port;
  const cases = modbusCases(BASE);
  const at = (c: TypeCase) => (c as ModbusCase).at;
  return {
    driver: "modbus",
    device: { ...MODBUS_DEVICE, ...device(port) },
    cases,
    async seed() {
      for (const c of cases) await py.set(c.at.table, c.at.address, c.seed);
    },
    peek: (c) => py.get(at(c).table, at(c).address, at(c).count),
    async goAway() {
      await py.stop();
    },
    async comeBack() {
      py = await startPymodbus(where === "0" ? port : where);
    },
    slow: (ms) => py.delay(ms),
    slowWhile: "reading",
    writes: () => py.writes(),
    reads: () => py.count(),
    watchdogWord: `hr:${WATCHDOG}`,
    peekWord: async () => (await py.get("hr", WATCHDOG, 1))[0]!,
    async stop() {
      await py.stop();
      await stopAlso?.();
    },
  };
}

for (const tcpClient of ["tandem", "modbus-serial"]) {
  driverConformance({
    name: `Modbus TCP (${tcpClient} client) against pymodbus`,
    start: () => pymodbusTarget("0", (port) => ({ tcpClient, endpoints: [`127.0.0.1:${port}`] })),
  });
}

driverConformance({
  name: "Modbus RTU against pymodbus over a pty pair",
  async start(dir) {
    const pty = await ptyPair(dir);
    return pymodbusTarget(`rtu:${pty.b}`, () => ({ transport: "rtu", serial: [{ path: pty.a, baudRate: 19200, parity: "none" }] }), () => pty.stop());
  },
});
