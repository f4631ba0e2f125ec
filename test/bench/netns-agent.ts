// A tiny process a benchmark runs inside one of its network namespaces
// (Node cannot move one socket into another namespace, so the part of the
// bench that must stand on a given host runs there as its own process).
//
//   node netns-agent.js responder PORT NAME
//     a TCP server on every address of the host: it answers each connection
//     with NAME and closes it — "who is behind this address right now"
//   node netns-agent.js probe HOST:PORT
//     a client that, on `watch ID WANT LIMIT_MS` (one line on stdin), connects
//     to HOST:PORT over and over (1 ms apart) until the answer is WANT and
//     prints one JSON line: { id, t, tries, answers } where t is the
//     CLOCK_MONOTONIC time (ns, as process.hrtime.bigint(), the same clock in
//     every process on the machine) at which WANT's first byte arrived. It
//     prints { id, armed: true, answer } once its first answer is in, so the
//     bench can start the fault only while the probe is already polling.
//     `ask ID` connects once and prints { id, answer }.
//   node netns-agent.js forward
//     with an IPC channel: each message { target: "HOST:PORT" } comes with a
//     listening server made by the parent in *its* namespace; every
//     connection to it is piped to HOST:PORT from *this* namespace. So the
//     bench, on the machine's loopback, reaches an address inside the lab
//     without adding anything to the machine's own network.
import net from "node:net";
import { createInterface } from "node:readline";

function responder(port: number, name: string): void {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.end(name);
  });
  server.listen(port, "0.0.0.0", () => process.stdout.write("ready\n"));
}

/** One connection: the first bytes received, or "error:<code>" / "timeout". */
function ask(host: string, port: number, timeoutMs: number): Promise<{ answer: string; t: bigint }> {
  return new Promise((res) => {
    const s = net.connect({ host, port });
    let done = false;
    const finish = (answer: string) => {
      if (done) return;
      done = true;
      const t = process.hrtime.bigint();
      clearTimeout(timer);
      // RST instead of FIN: thousands of polls must not leave sockets in TIME_WAIT
      if (!s.destroyed) s.resetAndDestroy();
      res({ answer, t });
    };
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    s.once("data", (d) => finish(d.toString()));
    s.once("error", (e: NodeJS.ErrnoException) => finish(`error:${e.code ?? e.message}`));
    s.once("end", () => finish("closed"));
  });
}

function probe(target: string): void {
  const i = target.lastIndexOf(":");
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  const out = (o: unknown) => process.stdout.write(JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
  const rl = createInterface({ input: process.stdin });
  let busy = false;
  rl.on("line", async (line) => {
    const [cmd, id, want, limit] = line.trim().split(/\s+/);
    if (busy) return out({ id, error: "busy" });
    busy = true;
    try {
      if (cmd === "ask") {
        out({ id, answer: (await ask(host, port, 500)).answer });
      } else if (cmd === "watch") {
        const limitNs = BigInt(Number(limit) || 10_000) * 1_000_000n;
        const start = process.hrtime.bigint();
        const answers: Record<string, number> = {};
        let tries = 0;
        for (;;) {
          const r = await ask(host, port, 200);
          tries++;
          answers[r.answer] = (answers[r.answer] ?? 0) + 1;
          if (tries === 1) out({ id, armed: true, answer: r.answer });
          if (r.answer === want) {
            out({ id, t: r.t, tries, answers });
            break;
          }
          if (r.t - start > limitNs) {
            out({ id, timeout: true, tries, answers });
            break;
          }
          await new Promise((r) => setTimeout(r, 1));
        }
      } else {
        out({ id, error: `unknown command '${cmd}'` });
      }
    } finally {
      busy = false;
    }
  });
  rl.on("close", () => process.exit(0));
  process.stdout.write("ready\n");
}

function forward(): void {
  process.on("message", (msg: { target?: string }, server: net.Server | undefined) => {
    if (!server || !msg.target) return;
    const i = msg.target.lastIndexOf(":");
    const host = msg.target.slice(0, i);
    const port = Number(msg.target.slice(i + 1));
    server.on("connection", (inbound) => {
      const outbound = net.connect({ host, port });
      inbound.setNoDelay(true);
      outbound.setNoDelay(true);
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    process.send?.({ forwarding: msg.target });
  });
  process.on("disconnect", () => process.exit(0));
}

const [mode, a, b] = process.argv.slice(2);
if (mode === "responder" && a && b) responder(Number(a), b);
else if (mode === "probe" && a) probe(a);
else if (mode === "forward") forward();
else {
  process.stderr.write("usage: netns-agent.js responder PORT NAME | probe HOST:PORT | forward (with an IPC channel)\n");
  process.exit(2);
}
