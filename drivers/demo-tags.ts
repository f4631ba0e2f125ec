// The demo's drivers section: the plant simulator read over Modbus TCP and
// OPC UA, 16 tags, some writable, standby hot. A plain object, as if it came
// from YAML; it passes driversSection.
export function demoDriversConfig(simHost: string, modbusPort: number, opcuaPort: number): Record<string, unknown> {
  return {
    scanMs: 500,
    devices: [
      { name: "sim-modbus", driver: "modbus", transport: "tcp", endpoints: [`${simHost}:${modbusPort}`], unitId: 1, byteOrder: "ABCD", standby: "hot", maxConnections: 4, timeoutMs: 1000, retries: 1 },
      { name: "sim-opcua", driver: "opcua", endpoints: [`opc.tcp://${simHost}:${opcuaPort}`], securityMode: "None", standby: "hot", maxConnections: 4, publishingIntervalMs: 500 },
    ],
    tags: [
      { name: "line1.tank1.level", device: "sim-modbus", address: "hr:0", type: "float32", units: "%", deadband: 0.05, description: "tank 1 level" },
      { name: "line1.tank2.level", device: "sim-modbus", address: "hr:2", type: "float32", units: "%", deadband: 0.05, description: "tank 2 level" },
      { name: "line1.tank1.levelRaw", device: "sim-modbus", address: "hr:12", type: "int16", scaling: { rawMin: 0, rawMax: 27648, engMin: 0, engMax: 100 }, units: "%", description: "tank 1 level, 4–20 mA card counts scaled" },
      { name: "line1.tank1.inletValve", device: "sim-modbus", address: "hr:8", type: "uint16", writable: true, min: 0, max: 100, units: "%", description: "inlet valve opening" },
      { name: "line1.pump1.run", device: "sim-modbus", address: "co:0", writable: true, description: "transfer pump" },
      { name: "line1.tank1.high", device: "sim-modbus", address: "di:0", description: "tank 1 high level switch" },
      { name: "line1.batch.count", device: "sim-modbus", address: "hr:10", type: "uint32", description: "batches completed" },
      { name: "line1.ambient.temperature", device: "sim-modbus", address: "ir:0", type: "int16", scaling: { rawMin: 0, rawMax: 1000, engMin: 0, engMax: 100 }, units: "°C" },
      { name: "line1.reactor.temperature", device: "sim-opcua", nodeId: "ns=1;s=Plant.Reactor.Temperature", units: "°C", deadband: 0.05, description: "reactor temperature" },
      { name: "line1.reactor.setpoint", device: "sim-opcua", nodeId: "ns=1;s=Plant.Reactor.Setpoint", writable: true, min: 0, max: 150, units: "°C", description: "reactor temperature setpoint" },
      { name: "line1.reactor.heaterEnable", device: "sim-opcua", nodeId: "ns=1;s=Plant.Reactor.HeaterEnable", writable: true },
      { name: "line1.batch.step", device: "sim-opcua", nodeId: "ns=1;s=Plant.Batch.Step", writable: true, min: 0, max: 4, description: "0 idle, 1 fill, 2 heat, 3 hold, 4 drain (the batch process module writes it)" },
      { name: "line1.batch.name", device: "sim-opcua", nodeId: "ns=1;s=Plant.Batch.Name" },
      { name: "line1.tank1.levelUa", device: "sim-opcua", nodeId: "ns=1;s=Plant.Tank1.Level", units: "%", deadband: 0.05, description: "tank 1 level over OPC UA" },
      { name: "line1.pump1.runUa", device: "sim-opcua", nodeId: "ns=1;s=Plant.Pump1.Run", writable: true },
      { name: "line1.tank1.inletValveUa", device: "sim-opcua", nodeId: "ns=1;s=Plant.Tank1.InletValve", writable: true, min: 0, max: 100, units: "%" },
      { name: "line1.reactor.highLimit", device: "sim-modbus", address: "hr:100", type: "uint16", writable: true, min: 0, max: 150, units: "°C", description: "operator's high-temperature alarm limit (the batch does not write it)" },
    ],
  };
}
