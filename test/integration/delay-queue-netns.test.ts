// The delay fault's mechanism (issue 13: `tc netem` is not in this kernel):
// iptables sends a host's packets to an NFQUEUE and test/helpers/delay-queue.py
// accepts each one after its delay. Shown on two hosts in namespaces of
// their own: datagrams and a TCP connection both ways take the delay, keep
// their order, still come from the sender's own address and port (a node's
// peer checks see nothing else), and flow at once again when it ends.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { NetLab } from "../bench/netns.js";

const DELAY_QUEUE = fileURLToPath(new URL("../helpers/delay-queue.py", import.meta.url));
const X = "192.0.2.1";
const Y = "192.0.2.2";

/** y echoes datagrams (with the address and port they came from) and TCP lines */
const ECHO = `
const dgram = require("node:dgram"), net = require("node:net");
const u = dgram.createSocket("udp4");
u.on("message", (m, r) => u.send(JSON.stringify({ m: m.toString(), from: r.address + ":" + r.port }), r.port, r.address));
u.bind(9000, "${Y}", () => net.createServer((s) => s.pipe(s)).listen(9001, "${Y}", () => console.log("up")));
`;

/** x sends n datagrams 20 ms apart and one TCP line, and prints what came back and when */
const PROBE = `
const dgram = require("node:dgram"), net = require("node:net");
const n = Number(process.argv[1]);
const u = dgram.createSocket("udp4");
const sent = new Map(), got = [];
u.on("message", (m) => { const j = JSON.parse(m.toString()); got.push({ i: Number(j.m), rtt: performance.now() - sent.get(Number(j.m)), from: j.from }); });
u.bind(0, "${X}", async () => {
  const me = "${X}:" + u.address().port;
  for (let i = 0; i < n; i++) { sent.set(i, performance.now()); u.send(String(i), 9000, "${Y}"); await new Promise((r) => setTimeout(r, 20)); }
  const t0 = performance.now();
  const s = net.connect(9001, "${Y}", () => s.write("ping\\n"));
  s.once("data", () => {
    const tcp = performance.now() - t0;
    s.destroy();
    setTimeout(() => { console.log(JSON.stringify({ me, got, tcp })); u.close(); }, 1500);
  });
});
`;

interface Probe {
  me: string;
  got: { i: number; rtt: number; from: string }[];
  tcp: number;
}

const lab = new NetLab("dq");
afterAll(() => lab.close());

function output(child: ChildProcess): () => string {
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return () => out;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function probe(n: number): Promise<Probe> {
  const child = spawn("ip", ["netns", "exec", lab.ns("x"), process.execPath, "-e", PROBE, String(n)], { stdio: ["ignore", "pipe", "pipe"] });
  const out = output(child);
  await new Promise((res) => child.once("exit", res));
  return JSON.parse(out().trim().split("\n").pop() as string) as Probe;
}

describe("delay on a real network stack (NFQUEUE and delay-queue.py)", () => {
  it("datagrams and TCP segments both ways take the delay, in order, from their own address and port; none after it ends", async () => {
    lab.host("x");
    lab.host("y");
    lab.cable("x", "lan", "lan", `${X}/24`);
    lab.cable("y", "lan", "lan", `${Y}/24`);
    const echo = lab.spawn("y", [process.execPath, "-e", ECHO]);
    const echoOut = output(echo);
    await until("the echo host", () => echoOut().includes("up"));

    const before = await probe(10);
    expect(before.got).toHaveLength(10);
    expect(Math.max(...before.got.map((g) => g.rtt))).toBeLessThan(80);

    const q = lab.spawn("x", ["/usr/bin/python3", DELAY_QUEUE, "--queue", "7", "--delay-ms", "150", "--max-seconds", "60"]);
    const qOut = output(q);
    await until("delay-queue.py bound", () => qOut().includes("ready"));
    const nfq = ["-j", "NFQUEUE", "--queue-num", "7"];
    lab.run("x", ["iptables", "-A", "OUTPUT", "-d", Y, ...nfq]);
    lab.run("x", ["iptables", "-A", "INPUT", "-s", Y, ...nfq]);

    const during = await probe(10);
    // 150 ms out and 150 ms back, every datagram, in the order sent, from the sender's own address and port
    expect(during.got.map((g) => g.i)).toEqual([...Array(10).keys()]);
    for (const g of during.got) {
      expect(g.rtt).toBeGreaterThanOrEqual(295);
      expect(g.rtt).toBeLessThan(1000);
      expect(g.from).toBe(during.me);
    }
    // a TCP connection's handshake and its first exchange: at least two round trips of 300 ms
    expect(during.tcp).toBeGreaterThanOrEqual(590);

    lab.run("x", ["iptables", "-D", "OUTPUT", "-d", Y, ...nfq]);
    lab.run("x", ["iptables", "-D", "INPUT", "-s", Y, ...nfq]);
    q.kill("SIGTERM");
    await new Promise((res) => (q.exitCode !== null ? res(null) : q.once("exit", res)));
    expect(qOut()).toMatch(/released \d+ packets \(SIGTERM\)/);

    const after = await probe(5);
    expect(after.got).toHaveLength(5);
    expect(Math.max(...after.got.map((g) => g.rtt))).toBeLessThan(80);
  }, 60_000);
});
