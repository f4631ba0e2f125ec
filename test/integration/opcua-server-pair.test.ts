// The node's OPC UA server on a real pair, seen as a SCADA client sees it:
// node-opcua's own client, no Tandem code on the client side. Both nodes
// serve the tag model with the pair's non-transparent redundancy
// information (Hot, both URIs, a ServiceLevel from the node's state); the
// client picks the highest ServiceLevel, lands on the active, reads and
// writes there (the simulator shows the value), is refused on the standby
// and as a viewer; after kill -9 of the active it follows ServiceLevel to
// the new active and keeps reading.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttributeIds,
  BrowseDirection,
  ClientMonitoredItem,
  ClientSubscription,
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  type ClientSession,
  type DataValue,
} from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exited, freePort, sleep, spawnCli, waitUntil } from "../helpers/cluster.js";
import { useCluster } from "../helpers/use-cluster.js";

type Id = "a" | "b";
const pair = useCluster();
const dir = mkdtempSync(join(tmpdir(), "tandem-ua-"));
let sim: ReturnType<typeof spawnCli>;
let ports: { modbus: number; sim: number; a: number; b: number };
let pki: OPCUACertificateManager;

const url = (id: Id) => `opc.tcp://127.0.0.1:${ports[id]}`;

beforeAll(async () => {
  ports = { modbus: await freePort(), sim: await freePort(), a: await freePort(), b: await freePort() };
  sim = spawnCli(["sim", "--modbus-port", String(ports.modbus), "--opcua-port", String(ports.sim), "--data-dir", join(dir, "sim")]);
  await waitUntil("the simulator serving", () => sim.output().includes("plant simulator:"), { timeoutMs: 20_000, seen: () => sim.output() });
  pki = new OPCUACertificateManager({ rootFolder: join(dir, "client-pki"), automaticallyAcceptUnknownCertificate: true });
  await pki.initialize();
});

afterAll(async () => {
  await pki?.dispose();
  sim?.kill("SIGTERM");
  if (sim) await exited(sim);
  rmSync(dir, { recursive: true, force: true });
});

const extra = (id: Id) => `drivers:
  scanMs: 200
  devices:
    - { name: plc, driver: modbus, transport: tcp, endpoints: ["127.0.0.1:${ports.modbus}"], unitId: 1, timeoutMs: 500, standby: hot }
    - { name: scada, driver: opcua, endpoints: ["opc.tcp://127.0.0.1:${ports.sim}"], standby: hot, publishingIntervalMs: 200 }
  tags:
    - { name: line1.tank1.level, device: plc, address: "hr:0", type: float32, units: "%", description: "tank 1 level" }
    - { name: line1.tank1.inletValve, device: plc, address: "hr:8", type: uint16, writable: true, min: 0, max: 100, units: "%" }
    - { name: line1.pump1.runUa, device: scada, nodeId: "ns=1;s=Plant.Pump1.Run", writable: true }
    - { name: line1.batch.stepUa, device: scada, nodeId: "ns=1;s=Plant.Batch.Step" }
opcua:
  server: { listen: "127.0.0.1:${ports[id]}" }
`;

interface Ua {
  session: ClientSession;
  close(): Promise<void>;
}

/** A SCADA client's session: user name and password (the pair's http.users), or anonymous. */
async function open(endpoint: string, user: string | null): Promise<Ua> {
  const client = OPCUAClient.create({
    applicationName: "scada-under-test",
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    clientCertificateManager: pki,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: 20_000,
    // a request unanswered for 3 s fails (a node killed mid-request); an idle connection stays open
    defaultTransactionTimeout: 3000,
  });
  // a session on a node that was killed may never answer its close: 3 s, then on (the timer goes with it)
  const bounded = async <T>(p: Promise<T>) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise((res) => (timer = setTimeout(res, 3000)))]);
    clearTimeout(timer);
  };
  try {
    await client.connect(endpoint);
    const session = await client.createSession(user ? { type: UserTokenType.UserName, userName: user, password: user } : { type: UserTokenType.Anonymous });
    return {
      session,
      close: async () => {
        await bounded(session.close().catch(() => undefined));
        await bounded(client.disconnect().catch(() => undefined));
      },
    };
  } catch (err) {
    await bounded(client.disconnect().catch(() => undefined));
    throw err;
  }
}

const read = (s: ClientSession, nodeId: string, attributeId = AttributeIds.Value): Promise<DataValue> => s.read({ nodeId, attributeId });
const serviceLevel = async (s: ClientSession) => (await read(s, "i=2267")).value.value as number;
const write = async (s: ClientSession, nodeId: string, dataType: DataType, value: unknown) => (await s.write({ nodeId, attributeId: AttributeIds.Value, value: { value: { dataType, value } } })).name;

/** A subscription to one variable (sampling 0: as the server's value changes); every value it reports, and how to end it. */
async function watch(s: ClientSession, nodeId: string): Promise<{ values: DataValue[]; end(): Promise<void> }> {
  const sub = ClientSubscription.create(s, { requestedPublishingInterval: 100, requestedLifetimeCount: 600, requestedMaxKeepAliveCount: 20, publishingEnabled: true });
  const item = ClientMonitoredItem.create(sub, { nodeId, attributeId: AttributeIds.Value }, { samplingInterval: 0, queueSize: 10, discardOldest: true }, TimestampsToReturn.Both);
  const values: DataValue[] = [];
  item.on("changed", (dv: DataValue) => values.push(dv));
  return { values, end: () => sub.terminate().catch(() => undefined) };
}

/** the child of `nodeId` with this browse name, by a forward hierarchical browse */
async function child(s: ClientSession, nodeId: string, name: string): Promise<string> {
  const r = await s.browse({ nodeId, browseDirection: BrowseDirection.Forward, resultMask: 63 });
  const hit = r.references?.find((ref) => ref.browseName.name === name);
  if (!hit) throw new Error(`no ${name} under ${nodeId}: ${r.references?.map((x) => x.browseName.name).join(", ")}`);
  return hit.nodeId.toString();
}

describe("the node's OPC UA server on a real pair", () => {
  it("both nodes say Hot, name both servers and give the active the higher ServiceLevel; the client reads and writes there and is refused elsewhere", async () => {
    const cluster = await pair.start({ extra });
    const { active, standby } = await cluster.ready();
    const ua = { a: await open(url("a"), "operator"), b: await open(url("b"), "operator") };
    try {
      // the ServiceLevel follows the node's state (≥ 200 acting, < 200 standby)
      await waitUntil("ServiceLevels of an active and a standby", async () => (await serviceLevel(ua[active].session)) >= 200 && (await serviceLevel(ua[standby].session)) < 200, { timeoutMs: 10_000 });
      for (const id of ["a", "b"] as Id[]) {
        const s = ua[id].session;
        expect((await read(s, "i=3709")).value.value, `node ${id}: RedundancySupport Hot`).toBe(2);
        expect([...((await read(s, "i=11314")).value.value as string[])].sort()).toEqual(["urn:tandem:it:a", "urn:tandem:it:b"]);
        // the server's own URI (Server.ServerArray[0]) is its node's entry in that list
        expect(((await read(s, "i=2254")).value.value as string[])[0]).toBe(`urn:tandem:it:${id}`);
        // ServerUriArray is found by browsing, as a generic client finds it: a property of Server/ServerRedundancy
        expect(await child(s, "i=2296", "ServerUriArray")).toBe("ns=0;i=11314");
      }
      // a client that picks the highest ServiceLevel lands on the active
      const levels = { a: await serviceLevel(ua.a.session), b: await serviceLevel(ua.b.session) };
      const picked: Id = levels.a > levels.b ? "a" : "b";
      expect(picked).toBe(active);
      const s = ua[picked].session;

      // the tag model: Objects/Tandem/<device>/<tag>
      const tandem = await child(s, "i=85", "Tandem");
      const plc = await child(s, tandem, "plc");
      expect(await child(s, await child(s, tandem, "scada"), "line1.pump1.runUa")).toBe("ns=1;s=line1.pump1.runUa");
      const level = await child(s, plc, "line1.tank1.level");
      expect(level).toBe("ns=1;s=line1.tank1.level");
      expect((await read(s, level, AttributeIds.DataType)).value.value.toString()).toBe("ns=0;i=10"); // Float
      const eu = await child(s, level, "EngineeringUnits");
      expect((await read(s, eu)).value.value.displayName.text).toBe("%");
      const good = await waitUntil("a Good value of line1.tank1.level", async () => {
        const dv = await read(s, level);
        return dv.statusCode.name === "Good" ? dv : null;
      }, { timeoutMs: 15_000 });
      expect(typeof good.value.value).toBe("number");
      expect(good.sourceTimestamp, "source timestamp").toBeInstanceOf(Date);
      expect(good.serverTimestamp, "server timestamp").toBeInstanceOf(Date);
      expect(Date.now() - good.serverTimestamp!.getTime()).toBeLessThan(60_000);
      // the value moves as the tag bus says (the simulated tank fills or drains): a subscription is told
      const levelWatch = await watch(s, level);
      try {
        await waitUntil("three changes of line1.tank1.level reported", () => new Set(levelWatch.values.map((v) => v.value.value)).size >= 3, { timeoutMs: 15_000 });
      } finally {
        await levelWatch.end();
      }
      // an OPC UA source's tag takes the source's type once its first value came
      await waitUntil("line1.pump1.runUa typed Boolean", async () => (await read(s, "ns=1;s=line1.pump1.runUa", AttributeIds.DataType)).value.value.toString() === "ns=0;i=1", { timeoutMs: 15_000 });
      await waitUntil("line1.batch.stepUa typed UInt16 like its source", async () => (await read(s, "ns=1;s=line1.batch.stepUa", AttributeIds.DataType)).value.value.toString() === "ns=0;i=5", { timeoutMs: 15_000 });

      // a write on the active reaches the plant (read from the simulator by another client)
      const valve = "ns=1;s=line1.tank1.inletValve";
      expect(await write(s, valve, DataType.UInt16, 42)).toBe("Good");
      const plant = await open(`opc.tcp://127.0.0.1:${ports.sim}`, null);
      try {
        await waitUntil("the simulator's inlet valve at 42", async () => (await read(plant.session, "ns=1;s=Plant.Tank1.InletValve")).value.value === 42, { timeoutMs: 5000 });
      } finally {
        await plant.close();
      }
      await waitUntil("the active's variable showing 42 from the PLC", async () => (await read(s, valve)).value.value === 42, { timeoutMs: 5000 });
      expect(await write(s, valve, DataType.UInt16, 150), "above the tag's max").toBe("BadOutOfRange");
      expect(await write(s, level, DataType.Float, 1), "a read-only tag").toBe("BadNotWritable");
      // the standby writes nothing: it is not the acting node
      expect(await write(ua[standby].session, valve, DataType.UInt16, 43)).toBe("BadInvalidState");
      // a viewer reads and never writes
      const viewer = await open(url(active), "viewer");
      try {
        expect((await read(viewer.session, level)).statusCode.name).toBe("Good");
        expect(await write(viewer.session, valve, DataType.UInt16, 44)).toBe("BadUserAccessDenied");
      } finally {
        await viewer.close();
      }
      // a client that sends garbage, or a message it never finishes, costs the node nothing
      const hello = Buffer.alloc(8);
      hello.write("HELF", "latin1");
      hello.writeUInt32LE(0xffffffff, 4);
      for (const bytes of [randomBytes(256), hello, Buffer.concat([hello.subarray(0, 4), Buffer.from([64, 0, 0, 0]), randomBytes(20)])]) {
        await new Promise<void>((res) => {
          const sock = net.connect(ports[active], "127.0.0.1", () => sock.end(bytes));
          sock.setTimeout(1000, () => sock.destroy());
          sock.on("close", () => res());
          sock.on("error", () => res());
        });
      }
      expect((await read(s, level)).statusCode.name).toBe("Good");
      const st = await cluster.status(active);
      expect(st?.opcua).toMatchObject({ endpoint: url(active), sessions: expect.any(Number) });
      expect(st!.opcua!.serviceLevel).toBeGreaterThanOrEqual(200);
      // wrong passwords and anonymous sessions (allowAnonymous is off) are turned away
      await expect(open(url(active), "nobody")).rejects.toThrow();
      await expect(open(url(active), null)).rejects.toThrow();
      // the audit log has the OPC UA write under the operator's name, from the client's address
      const audit = (await cluster.api(active, "GET", "/audit?limit=1000", undefined, "viewer")).json.entries as { action: string; user: string; from: string; result: string; details?: { tag?: string } }[];
      expect(audit.filter((e) => e.action === "write-tag" && e.result === "ok").map((e) => ({ user: e.user, from: e.from, tag: e.details?.tag }))).toContainEqual({ user: "operator", from: "opcua 127.0.0.1", tag: "line1.tank1.inletValve" });
    } finally {
      await Promise.all([ua.a.close(), ua.b.close()]);
    }
  }, 120_000);

  it("after kill -9 of the active, a client that follows ServiceLevel moves to the new active and keeps reading", async () => {
    const cluster = await pair.start({ extra });
    const { active, standby } = await cluster.ready();
    const sessions: Partial<Record<Id, Ua>> = {};
    const reads: { t: number; node: Id; level: number; status: string }[] = [];
    let running = true;
    // the SCADA client: every 200 ms each node's ServiceLevel, then a read from the highest
    const follow = async () => {
      while (running) {
        const levels: Partial<Record<Id, number>> = {};
        for (const id of ["a", "b"] as Id[]) {
          try {
            sessions[id] ??= await open(url(id), "viewer");
            levels[id] = await serviceLevel(sessions[id]!.session);
          } catch {
            const gone = sessions[id];
            delete sessions[id];
            await gone?.close();
          }
        }
        const best = (["a", "b"] as Id[]).filter((id) => levels[id] !== undefined).sort((x, y) => levels[y]! - levels[x]!)[0];
        if (best) {
          try {
            const dv = await read(sessions[best]!.session, "ns=1;s=line1.tank1.level");
            reads.push({ t: Date.now(), node: best, level: levels[best]!, status: dv.statusCode.name });
          } catch {
            // the node went away between the two reads: the next round asks again
          }
        }
        await sleep(200);
      }
    };
    const following = follow();
    let standbyUa: Ua | null = null;
    let levelWatch: Awaited<ReturnType<typeof watch>> | null = null;
    try {
      await waitUntil("good reads from the active", () => reads.filter((r) => r.node === active && r.status === "Good").length >= 3, { timeoutMs: 20_000 });
      // a client subscribed to the standby's ServiceLevel hears it rise when it takes over
      standbyUa = await open(url(standby), "viewer");
      levelWatch = await watch(standbyUa.session, "i=2267");
      await waitUntil("the standby's ServiceLevel reported", () => levelWatch!.values.length > 0, { timeoutMs: 5000 });
      expect(levelWatch.values.at(-1)!.value.value).toBeLessThan(200);
      const killedAt = Date.now();
      cluster.signal(active, "SIGKILL");
      await cluster.waitFor(standby, (st) => st.state === "active-held" || st.state === "active", 15_000, "the standby takes over");
      // the old standby answers at once (Hot: it reads the plant too); then as the active (ServiceLevel ≥ 200)
      const asActive = (r: (typeof reads)[number]) => r.t > killedAt && r.node === standby && r.level >= 200 && r.status === "Good";
      await waitUntil("good reads from the new active", () => reads.filter(asActive).length >= 3, { timeoutMs: 20_000, seen: () => JSON.stringify(reads.slice(-10)) });
      const other = reads.find((r) => r.t > killedAt && r.node === standby && r.status === "Good")!;
      console.log(`OPC UA client reading from the other node ${other.t - killedAt} ms, from it as the new active (ServiceLevel ≥ 200) ${reads.find(asActive)!.t - killedAt} ms after kill -9 of the active`);
      // it never read from the standby while the active served
      expect(reads.filter((r) => r.t < killedAt && r.node === standby)).toEqual([]);
      await waitUntil("the new active's ServiceLevel ≥ 200 reported to its subscriber", () => (levelWatch!.values.at(-1)?.value.value ?? 0) >= 200, { timeoutMs: 5000 });
    } finally {
      running = false;
      await following;
      await levelWatch?.end();
      await standbyUa?.close();
      await Promise.all(Object.values(sessions).map((u) => u?.close()));
    }
  }, 120_000);
});
