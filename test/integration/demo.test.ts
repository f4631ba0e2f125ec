// `npm start` runs `tandem demo`: a whole site on this machine. It must come
// up with one active and one standby reading the simulator, print what a
// newcomer needs, and every command it prints under "Things to try" must work
// exactly as printed, pasted in that order into a shell in the checkout. Then
// Ctrl-C stops every process it started.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttributeIds, MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy, UserTokenType } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoPorts } from "../../runtime/demo.js";
import { ROOT, exited, killAllChildren, spawnCli, waitUntil } from "../helpers/cluster.js";

const dir = mkdtempSync(join(tmpdir(), "tandem-demo-it-"));
// all of the demo's ports (base − 6197 … base + 1) below the ephemeral range and the clusters' slices
const base = 14000 + Math.floor(Math.random() * 6000);
const port = { a: base, b: base + 1 } as const;
let demo: ReturnType<typeof spawnCli> | null = null;
const started = new Set<number>();

/** The demo's current processes, from the pid files its printed commands read. */
function currentPids(): number[] {
  return ["a", "b", "witness", "sim"].map((n) => join(dir, `${n}.pid`)).filter((f) => existsSync(f)).map((f) => Number(readFileSync(f, "utf8")));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  demo = spawnCli(["demo", "--base-port", String(base), "--dir", dir]);
  // printed once one node is active, the other standby, and the witness holds the active's lease
  await waitUntil("the demo's list of things to try", () => demo!.output().includes("Ctrl-C stops everything"), { timeoutMs: 60_000, seen: () => demo!.output() });
  for (const m of demo!.output().matchAll(/pid (\d+)/g)) started.add(Number(m[1]));
}, 90_000);

afterAll(async () => {
  // a failed test must not orphan the demo's nodes: Ctrl-C it, then make sure
  for (const pid of currentPids()) started.add(pid);
  if (demo && demo.exitCode === null) {
    demo.kill("SIGINT");
    await exited(demo, 20_000).catch(() => undefined);
  }
  for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL");
  killAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

type Health = { state: string; epoch: number; replication?: { peer?: string } };
async function health(id: "a" | "b"): Promise<Health | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port[id]}/api/v1/status`, { headers: auth("viewer"), signal: AbortSignal.timeout(1000) });
    return r.ok ? ((await r.json()) as Health) : null;
  } catch {
    return null;
  }
}
/** A node's state and epoch (/status, viewer) once it answers (a loaded machine may make one request time out). */
const answer = (id: "a" | "b") => waitUntil(`node ${id} answers /status`, () => health(id), { timeoutMs: 10_000 });
const until = (id: "a" | "b", what: string, pred: (h: Health) => boolean, timeoutMs = 15_000) =>
  waitUntil(`node ${id}: ${what}`, async () => {
    const h = await health(id);
    return h && pred(h) ? h : null;
  }, { timeoutMs, seen: async () => `status: ${JSON.stringify(await health(id))}` });

const auth = (u: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${u}`).toString("base64")}` });
type Tag = { name: string; driver: string; value: unknown; quality: string; timestamp: string | null; writable: boolean };
const tagsOf = async (id: "a" | "b") => ((await (await fetch(`http://127.0.0.1:${port[id]}/api/v1/tags`, { headers: auth("viewer") })).json()) as { tags: Tag[] }).tags;

/** Runs one printed line in a shell, as pasted, in the folder the demo names; no Tandem credentials of the test's own. */
function shell(line: string, cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TANDEM_")));
  const child = spawn("bash", ["-c", line], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d)); // curl's progress meter when not on a terminal, npm's notices
  return new Promise((res) => child.on("exit", (code) => res({ code, out, err })));
}

describe("tandem demo (npm start)", () => {
  it("comes up as a pair reading the simulator over Modbus and OPC UA; the standby reads too (hot) and refuses writes with a reason (S1)", async () => {
    const out = demo!.output();
    expect(out).toContain(`http://127.0.0.1:${base}/`);
    expect(out).toContain(`http://127.0.0.1:${base + 1}/`);
    expect(out).toContain("viewer/viewer  operator/operator  admin/admin");
    expect(started.size).toBe(4); // a, b, the witness, the simulator
    // the list was printed once the pair had settled: the node it names is active, the other standby
    const active = /\(node ([ab]) is the active now\)/.exec(out)?.[1] as "a" | "b";
    const standby = active === "a" ? "b" : "a";
    expect((await answer(active)).state).toBe("active");
    expect((await answer(standby)).state).toBe("standby");

    // ≥ 10 tags from the simulator over Modbus and OPC UA, read by both nodes
    const tags = await waitUntil("all tags good on the active", async () => {
      const t = await tagsOf(active);
      return t.length >= 10 && t.every((x) => x.quality === "good") ? t : null;
    }, { timeoutMs: 20_000 });
    expect(new Set(tags.map((t) => t.driver))).toEqual(new Set(["modbus", "opcua"]));
    for (const t of tags) expect(Object.keys(t)).toEqual(expect.arrayContaining(["name", "driver", "value", "quality", "timestamp", "writable"]));
    await waitUntil("all tags good on the standby", async () => (await tagsOf(standby)).every((x) => x.quality === "good"), { timeoutMs: 20_000 });
    const write = (id: "a" | "b", value: number) =>
      fetch(`http://127.0.0.1:${port[id]}/api/v1/tags/line1.reactor.highLimit`, { method: "POST", headers: { ...auth("operator"), "content-type": "application/json" }, body: JSON.stringify({ value }) });
    expect((await write(active, 42)).status).toBe(200);
    const refused = await write(standby, 43);
    // the demo's nodes know each other's address (peer.api): the standby names the active and points to it
    expect(refused.status).toBe(421);
    expect(refused.headers.get("location")).toBe(`http://127.0.0.1:${port[active]}/api/v1/tags/line1.reactor.highLimit`);
    const body = (await refused.json()) as { error: { message: string; activeNode: string } };
    expect(body.error.activeNode).toBe(active);
    expect(body.error.message).toMatch(/standby/);
    await waitUntil("the standby reads the value the active wrote", async () => (await tagsOf(standby)).find((t) => t.name === "line1.reactor.highLimit")?.value === 42, { timeoutMs: 5000 });
  }, 90_000);

  it("each node serves OPC UA on its demo port (4841, 4842) with the pair's redundancy information: Hot, both servers named, the active's ServiceLevel above the standby's", async () => {
    const ua = demoPorts(base);
    const pki = new OPCUACertificateManager({ rootFolder: join(dir, "test-client-pki"), automaticallyAcceptUnknownCertificate: true });
    await pki.initialize();
    /** what a SCADA client reads from one node: ServiceLevel, RedundancySupport, ServerUriArray (node-opcua's own client) */
    const look = async (port: number) => {
      const client = OPCUAClient.create({ applicationName: "demo-scada", endpointMustExist: false, securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None, clientCertificateManager: pki, connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 500 }, defaultTransactionTimeout: 5000 });
      await client.connect(`opc.tcp://127.0.0.1:${port}`);
      try {
        const session = await client.createSession({ type: UserTokenType.UserName, userName: "viewer", password: "viewer" });
        const read = async (nodeId: string) => (await session.read({ nodeId, attributeId: AttributeIds.Value })).value.value as unknown;
        const out = { level: (await read("i=2267")) as number, support: (await read("i=3709")) as number, uris: [...((await read("i=11314")) as string[])].sort() };
        await session.close();
        return out;
      } finally {
        await client.disconnect();
      }
    };
    try {
      const a = await waitUntil("OPC UA levels of an active and a standby", async () => {
        const [la, lb] = [await look(ua.opcuaA), await look(ua.opcuaB)];
        return Math.max(la.level, lb.level) >= 200 && Math.min(la.level, lb.level) < 200 ? { a: la, b: lb } : null;
      }, { timeoutMs: 20_000 });
      expect(ua.opcuaA - base).toBe(4841 - 8080);
      expect(ua.opcuaB - base).toBe(4842 - 8080);
      for (const id of ["a", "b"] as const) {
        expect(a[id].support, `node ${id}: RedundancySupport Hot`).toBe(2);
        expect(a[id].uris).toHaveLength(2);
        expect(a[id].uris.map((u) => u.split(":").pop())).toEqual(["a", "b"]);
      }
      const active = (await health("a"))?.state === "active" ? "a" : "b";
      const standby = active === "a" ? "b" : "a";
      expect(a[active].level).toBeGreaterThanOrEqual(200);
      expect(a[standby].level).toBeLessThan(200);
    } finally {
      await pki.dispose();
    }
  }, 60_000);

  it("every command under 'Things to try' works exactly as printed, in order: kill -9 and SIGSTOP of the active give a held takeover, the killed node comes back as standby (S1, S3)", async () => {
    const out = demo!.output();
    const block = out.slice(out.indexOf("Things to try"), out.indexOf("Logs:"));
    const [, cwd, printedActive] = /from a shell in (\S+) \(node ([ab]) is the active now\)/.exec(block) ?? [];
    expect(cwd).toBe(ROOT);
    const active = printedActive as "a" | "b";
    const standby = active === "a" ? "b" : "a";
    expect((await answer(active)).state).toBe("active");
    // each command is on a line of its own, indented under what it does
    const commands = block.split("\n").filter((l) => /^ {6}\S/.test(l)).map((l) => l.trim());
    expect(commands).toHaveLength(18);
    const run = async (i: number, starts: string) => {
      expect(commands[i]!.startsWith(starts), `command ${i + 1} is '${starts}…': ${commands[i]}`).toBe(true);
      const r = await shell(commands[i]!, cwd!);
      expect(r.code, `${commands[i]}\n${r.out}\n${r.err}`).toBe(0);
      return r.out;
    };

    // 1. status of the active, with the viewer's demo login
    expect(await run(0, "TANDEM_USER=viewer TANDEM_PASSWORD=viewer npx tandem status")).toMatch(new RegExp(`node ${active} \\(\\w+\\) of pair line1: ACTIVE \\(`));
    // 2. its services: the job agent runs on the active, the web tier on both, one worker each
    const services = await run(1, "TANDEM_USER=viewer TANDEM_PASSWORD=viewer npx tandem services");
    expect(services).toMatch(new RegExp(`^job-agent +active +running +${active} `, "m"));
    expect(services).toMatch(new RegExp(`^web +both +running +${active} `, "m"));
    expect(services).toMatch(/^worker#1 +balanced +/m);
    // 3. the sample batch runs on the active; its context is the same on the standby
    await waitUntil("the batch running", async () => /^batch +running +(fill|heat|mix|drain) /m.test((await shell(commands[2]!, cwd!)).out), { timeoutMs: 30_000 });
    expect(await run(2, "TANDEM_USER=viewer TANDEM_PASSWORD=viewer npx tandem context")).toMatch(/^batch +running +(fill|heat|mix|drain) +\d+/m);
    // 4. a record, answered once both databases hold it
    const rec = JSON.parse(await run(3, "curl -u operator:operator ")) as { seq: number; epoch: number; table: string };
    expect(rec).toMatchObject({ table: "batch_log" });

    // 5. kill -9 of the active: the standby takes over held, in the next epoch; the demo restarts the killed node
    const epoch = (await answer(active)).epoch;
    await run(4, "kill -9 $(cat ");
    const held = await until(standby, "held takeover", (h) => h.state === "active-held");
    expect(held.epoch).toBe(epoch + 1);
    // 6. the batch is held on the new active, at the step it was on
    const heldContext = await run(5, "TANDEM_USER=viewer TANDEM_PASSWORD=viewer npx tandem context");
    expect(heldContext).toContain("the process is HELD after a takeover");
    expect(heldContext).toMatch(/^batch +held +(fill|heat|mix|drain) /m);

    // 7. an operator confirms: the process resumes on the new active
    expect(await run(6, "TANDEM_USER=operator TANDEM_PASSWORD=operator npx tandem confirm")).toContain("confirmed: the process resumes; node is active");
    expect((await answer(standby)).state).toBe("active");
    // 8. the record written before the kill is there, as it was answered
    const records = JSON.parse(await run(7, "curl -u viewer:viewer ")) as { records: { seq: number; epoch: number; data: { order: string } }[] };
    expect(records.records.find((r) => r.seq === rec.seq)).toMatchObject({ epoch: rec.epoch, data: { order: "4711" } });
    // 9. the job agent writes from the new active, under its epoch (it started while held)
    await waitUntil("the job agent writes from the new active", async () => (await shell(`tail -n 1 ${join(dir, "job-agent.out")}`, cwd!)).out.includes(`node=${standby} epoch=${epoch + 1}`), { timeoutMs: 10_000 });
    expect(await run(8, "tail -n 3 ")).toContain(`node=${standby} epoch=${epoch + 1}`);

    // 10. once the killed node is back as standby (and caught up), an admin switches the role back to it
    await until(active, "restarted as standby", (h) => h.state === "standby" && h.epoch === epoch + 1, 30_000);
    expect(demo!.output()).toMatch(new RegExp(`${active} exited \\(SIGKILL\\); restarting it in 3 s`));
    expect(await run(9, "TANDEM_USER=admin TANDEM_PASSWORD=admin npx tandem switchover")).toContain(`switched over from ${standby} to ${active}: epoch ${epoch + 2}`);
    await until(active, "active again", (h) => h.state === "active" && h.epoch === epoch + 2);
    // 11. both databases compared while the batch writes on
    await waitUntil("the standby live again", async () => (await answer(active)).replication?.peer === "live", { timeoutMs: 20_000 });
    expect(await run(10, "TANDEM_USER=operator TANDEM_PASSWORD=operator npx tandem replication verify")).toContain("identical");

    // 12. the tags as the active reads them (curl exits 0 on any HTTP answer: the body says what it was)
    const tags = JSON.parse(await run(11, "curl -u viewer:viewer ")) as { tags: Tag[] };
    expect(tags.tags.length).toBeGreaterThanOrEqual(10);
    // 13. the same values over MQTT from the active's broker: the four reactor tags, retained
    const mqttLines = (await run(12, "mosquitto_sub -h 127.0.0.1 -p ")).trim().split("\n");
    expect(mqttLines).toHaveLength(4);
    for (const l of mqttLines) expect(JSON.parse(l.slice(l.indexOf(" ") + 1))).toMatchObject({ quality: "good" });
    // retained, then on change: a change of the temperature may come in while the retained values are sent
    const reactor = ["heaterEnable", "highLimit", "setpoint", "temperature"].map((t) => `tandem/line1/tags/line1/reactor/${t}`);
    const topics = mqttLines.map((l) => l.slice(0, l.indexOf(" ")));
    for (const t of topics) expect(reactor).toContain(t);
    expect(new Set(topics).size).toBeGreaterThanOrEqual(3);
    // 14. a write through the active, which reaches the plant (the standby reads it back)
    expect(JSON.parse(await run(13, "curl -u operator:operator "))).toEqual({ name: "line1.reactor.highLimit", value: 90 });
    await waitUntil("the standby reads the written 90", async () => (await tagsOf(standby)).find((t) => t.name === "line1.reactor.highLimit")?.value === 90, { timeoutMs: 5000 });

    // 15. a frozen active: the standby takes over held once the lease ran out
    await run(14, "kill -STOP $(cat ");
    const held2 = await until(standby, "held takeover of a frozen active", (h) => h.state === "active-held");
    expect(held2.epoch).toBe(epoch + 3);
    // 16. woken up, it sees the higher epoch and stays standby
    await run(15, "kill -CONT $(cat ");
    await until(active, "standby after waking", (h) => h.state === "standby" && h.epoch === epoch + 3);
    expect((await answer(standby)).state).toBe("active-held");
    // 17. the limit's history: the values written, as recorded by the actives of the time
    const limitHistory = await run(16, "TANDEM_USER=viewer TANDEM_PASSWORD=viewer npx tandem tags history line1.reactor.highLimit");
    expect(limitHistory).toMatch(/^\S+Z +42 +good$/m);
    expect(limitHistory).toMatch(/^\S+Z +90 +good$/m);
    // 18. the events: both takeovers (kill -9 and SIGSTOP), the confirm and the switchover (a loaded
    // machine may add takeovers of its own while the pair starts: they are recorded too)
    const events = await run(17, "TANDEM_USER=viewer TANDEM_PASSWORD=viewer npx tandem events");
    expect(events.match(new RegExp(` ${standby} +ALARM +takeover +took over from ${active}`, "g"))?.length, events).toBeGreaterThanOrEqual(2);
    expect(events).toMatch(new RegExp(` ${standby} +INFO +confirm +takeover confirmed by operator`));
    expect(events).toMatch(new RegExp(` ${active} +INFO +switchover +switchover from ${standby}`));
    // the job agent ran on one node at a time: its lines never go back to an older epoch
    const epochs = readFileSync(join(dir, "job-agent.out"), "utf8").split("\n").map((l) => /epoch=(\d+)$/.exec(l)?.[1]).filter(Boolean).map(Number);
    expect(epochs.every((e, i) => i === 0 || e >= epochs[i - 1]!)).toBe(true);
  }, 300_000);

  it("Ctrl-C stops every process it started", async () => {
    const running = currentPids(); // the restarted node has a new pid
    expect(running).toHaveLength(4);
    for (const pid of running) started.add(pid);
    demo!.kill("SIGINT");
    expect((await exited(demo!, 20_000)).code).toBe(0);
    expect(demo!.output()).toContain("demo stopped");
    for (const pid of started) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(currentPids()).toEqual([]); // and no pid file points at a process that is gone
    expect(await health("a")).toBeNull();
    expect(await health("b")).toBeNull();
  });
});
