// The pair as a Sparkplug B edge node (mqtt.sparkplug), end to end: a real
// pair (`tandem start` from dist), a site broker Tandem did not write
// (Debian's mosquitto), the plant simulator with its write log, and a
// Sparkplug host of the tests' own making (test/sparkplug/host.ts: mqtt.js
// and Eclipse Tahu's sparkplug-payload, every payload also decoded with
// protobufjs from the vendored schema). Shows: no birth while the primary
// host is offline, then NBIRTH (bdSeq, seq 0) and DBIRTH from the active
// only, DDATA on change with quality, a rebirth on NCMD, STATE offline →
// NDEATH and a birth with the next bdSeq when it is back, DCMD writes
// reaching the plant through the active's tag write (refused ones never
// do), hostile NCMD/DCMD payloads changing nothing (S5), and after kill -9
// of the active the will's NDEATH and an NBIRTH with the next bdSeq from
// the new active; a node that stops publishes NDEATH (S1: one edge node).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runSimulator, type Simulator } from "../../drivers/simulator/main.js";
import { readWriteLog } from "../../drivers/simulator/write-log.js";
import { silentLogs } from "../../runtime/logging.js";
import { freePort, holdsFor, sleep, waitUntil } from "../helpers/cluster.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { useCluster } from "../helpers/use-cluster.js";
import { TestHost, type Seen } from "../sparkplug/host.js";

const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-spb-"));
const writeLog = join(dir, "plant-writes.jsonl");
const EDGE = "line1";
let sim: Simulator;
let broker: Mosquitto;
let port = 0;
let host: TestHost;

beforeAll(async () => {
  sim = await runSimulator({ modbusPort: await freePort(), opcuaPort: await freePort(), dataDir: join(dir, "sim"), logs: silentLogs(), writeLog: { file: writeLog } });
  broker = await startMosquitto(dir);
  port = broker.port;
});

afterEach(async () => {
  await host?.clearState();
  await host?.stop();
});

afterAll(async () => {
  broker?.stop();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const extra = () => `mqtt:
  broker: external
  url: mqtt://127.0.0.1:${port}
  reconnectMs: 200
  sparkplug:
    groupId: plant
    edgeNodeId: ${EDGE}
    primaryHostId: scada
    acceptWrites: true
    keepaliveS: 2
    reconnectMs: 200
drivers:
  scanMs: 100
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${sim.modbusPort}"], unitId: 1, standby: hot }
  tags:
    - { name: line.level, device: plc, address: "hr:0", type: float32 }
    - { name: line.valve, device: plc, address: "hr:8", type: uint16, writable: true, min: 0, max: 100 }
    - { name: line.missing, device: plc, address: "hr:5000", type: uint16 }
`;

const metric = (s: Seen, name: string) => s.metrics.find((m) => m.name === name);
const valveWrites = () => readWriteLog(writeLog).filter((w) => w.table === "hr" && w.addr === 8);
const last = <T>(a: T[]): T | undefined => a[a.length - 1];

describe("Sparkplug B edge node on a real pair", () => {
  it("births only with the primary host online, from the active only; DDATA with quality; rebirth; STATE offline → NDEATH, back → the next bdSeq; DCMD writes through the active's gate; hostile commands change nothing", async () => {
    host = new TestHost(`mqtt://127.0.0.1:${port}`, "plant", "scada");
    await host.start({ online: false });
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();
    await waitUntil("the active's edge node connected", async () => (await c.status(active))?.mqtt?.sparkplug?.connected === true, { timeoutMs: 15_000 });
    await holdsFor("no birth while the primary host is offline", 1500, () => host.seen.length === 0);

    await host.state(true);
    await waitUntil("NBIRTH and DBIRTH", () => host.of("NBIRTH").length === 1 && host.of("DBIRTH", "plc").length === 1, { timeoutMs: 10_000 });
    const nb = host.of("NBIRTH")[0];
    expect(nb.seq).toBe(0);
    expect(metric(nb, "Tandem/Active Node")?.value).toBe(active);
    expect(metric(nb, "Node Control/Rebirth")?.value).toBe(false);
    const bd0 = nb.bdSeq!;
    expect(bd0).toBeGreaterThanOrEqual(0);
    const db = host.of("DBIRTH", "plc")[0];
    expect(db.seq).toBe(1);
    // each tag born with its own type: uint16 → UInt16 (6), float32 → Float (9)
    expect(metric(db, "line.valve")).toMatchObject({ datatype: 6, isNull: false, properties: { Quality: 192, readOnly: false } });
    expect(metric(db, "line.level")).toMatchObject({ datatype: 9, properties: { readOnly: true } });
    expect(metric(nb, "Tandem/Epoch")).toMatchObject({ datatype: 8, value: (await c.status(active))!.epoch });
    await waitUntil("line.missing bad: is_null with Quality 0", () => host.seen.some((s) => (s.kind === "DBIRTH" || s.kind === "DDATA") && metric(s, "line.missing")?.isNull === true && metric(s, "line.missing")?.properties.Quality === 0), { timeoutMs: 10_000 });

    // the plant moves: DDATA with good quality, seq one after another
    await waitUntil("DDATA of line.level", () => host.of("DDATA", "plc").filter((s) => metric(s, "line.level")).length >= 3, { timeoutMs: 10_000 });
    const seqs = host.seen.filter((s) => s.kind !== "NDEATH").map((s) => s.seq!);
    seqs.forEach((q, i) => expect(q).toBe(i % 256));
    expect(host.of("DDATA", "plc").filter((s) => metric(s, "line.level")).every((s) => metric(s, "line.level")!.properties.Quality === 192 && typeof metric(s, "line.level")!.value === "number")).toBe(true);

    // the standby never connects nor publishes
    const sb = (await c.status(standby))?.mqtt?.sparkplug;
    expect(sb).toMatchObject({ connected: false, born: false, published: 0, bdSeq: bd0 });

    // DCMD: a write of a writable tag reaches the plant through the active; a read-only tag and a value over max never do
    const before = valveWrites().length;
    await host.write(EDGE, "plc", "line.valve", 42);
    await waitUntil("the valve written to 42", () => sim.plant().inletValve === 42, { timeoutMs: 5000 });
    await waitUntil("DDATA of line.valve = 42", () => host.of("DDATA", "plc").some((s) => metric(s, "line.valve")?.value === 42), { timeoutMs: 5000 });
    expect(valveWrites().length).toBe(before + 1);
    expect(last(valveWrites())!.values).toEqual([42]);
    const audit = await c.api(active, "GET", "/audit?limit=50");
    expect(JSON.stringify(audit.json)).toMatch(/sparkplug/);
    await host.write(EDGE, "plc", "line.valve", 500);
    await host.write(EDGE, "plc", "line.level", 1);
    await host.write(EDGE, "nodevice", "line.valve", 7);
    await sleep(800);
    expect(valveWrites().length).toBe(before + 1);
    expect(readWriteLog(writeLog).filter((w) => w.table === "hr" && w.addr === 0)).toEqual([]);

    // hostile NCMD/DCMD payloads: no write, no rebirth, no new session, the node serves on
    const births = host.of("NBIRTH").length;
    const writes = sim.writes().modbus;
    const samples = fc.sample(fc.tuple(fc.constantFrom(`spBv1.0/plant/NCMD/${EDGE}`, `spBv1.0/plant/DCMD/${EDGE}/plc`), fc.uint8Array({ maxLength: 120 })), { numRuns: 200, seed: 20261201 });
    for (const [topic, bytes] of samples) await host.command(topic, bytes);
    await sleep(1000);
    expect(host.of("NBIRTH").length).toBe(births);
    expect(sim.writes().modbus).toBe(writes);
    const after = (await c.status(active))?.mqtt?.sparkplug;
    expect(after).toMatchObject({ connected: true, born: true, bdSeq: bd0 });
    expect(after?.refused).toBeGreaterThan(0);
    expect((await c.status(active))?.state).toMatch(/^active/);

    // NCMD Node Control/Rebirth: NBIRTH again with the same bdSeq and seq 0
    await host.rebirth(EDGE);
    await waitUntil("a rebirth", () => host.of("NBIRTH").length === births + 1, { timeoutMs: 5000 });
    expect(last(host.of("NBIRTH"))).toMatchObject({ seq: 0, bdSeq: bd0 });

    // the primary host goes offline: NDEATH, no data; back online: a birth with the next bdSeq
    await host.state(false);
    await waitUntil("NDEATH", () => host.of("NDEATH").length === 1, { timeoutMs: 5000 });
    expect(host.of("NDEATH")[0].bdSeq).toBe(bd0);
    const quietFrom = host.seen.length;
    await holdsFor("nothing while the host is offline", 1500, () => host.seen.length === quietFrom);
    await host.state(true);
    await waitUntil("a fresh NBIRTH", () => host.of("NBIRTH").length === births + 2, { timeoutMs: 10_000 });
    expect(last(host.of("NBIRTH"))).toMatchObject({ seq: 0, bdSeq: (bd0 + 1) % 256 });
    expect(host.disagreements).toEqual([]);
  });

  it("kill -9 of the active: the will's NDEATH, then NBIRTH/DBIRTH with the next bdSeq from the new active, whose DCMD writes reach the plant; a stopped node publishes NDEATH", async () => {
    host = new TestHost(`mqtt://127.0.0.1:${port}`, "plant", "scada");
    await host.start();
    const c = await pair.start({ extra });
    const { active, standby } = await c.ready();
    await waitUntil("the first birth", () => host.of("DBIRTH", "plc").length >= 1, { timeoutMs: 15_000 });
    const bd = last(host.of("NBIRTH"))!.bdSeq!;
    await waitUntil("the standby told the active's bdSeq", async () => (await c.status(standby))?.mqtt?.sparkplug?.bdSeq === bd, { timeoutMs: 10_000 });

    c.signal(active, "SIGKILL");
    await waitUntil("the NDEATH will of the old session", () => host.of("NDEATH").some((s) => s.bdSeq === bd), { timeoutMs: 10_000 });
    await waitUntil("NBIRTH from the new active", () => host.of("NBIRTH").some((s) => metric(s, "Tandem/Active Node")?.value === standby), { timeoutMs: 15_000 });
    const nb = last(host.of("NBIRTH"))!;
    expect(nb).toMatchObject({ seq: 0, bdSeq: (bd + 1) % 256 });
    expect(metric(nb, "Tandem/Held")?.value).toBe(true);
    await waitUntil("DBIRTH from the new active", () => host.seen.indexOf(last(host.of("DBIRTH", "plc"))!) > host.seen.indexOf(nb), { timeoutMs: 10_000 });
    // the host saw one edge node: every NBIRTH after the first has a new bdSeq, and no NDEATH of the live session
    const live = nb.bdSeq;
    expect(host.of("NDEATH").filter((s) => s.bdSeq === live)).toEqual([]);

    await host.write(EDGE, "plc", "line.valve", 17);
    await waitUntil("the new active's write in the plant", () => sim.plant().inletValve === 17, { timeoutMs: 5000 });

    c.signal(standby, "SIGTERM");
    await waitUntil("NDEATH of the stopped node's session", () => host.of("NDEATH").some((s) => s.bdSeq === live), { timeoutMs: 10_000 });
    expect(host.disagreements).toEqual([]);
  });
});
