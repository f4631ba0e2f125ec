// The sample services of `tandem demo`, one small program in three modes:
//   agent FILE  a job agent (placed active): appends its node and epoch to FILE every 100 ms
//   web PORT    a local web tier (placed both): answers /health on 127.0.0.1:PORT
//   worker      a pool worker (placed balanced): reports the events it handles
// Each stops cleanly on SIGTERM, as a supervised service should.
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";

const [mode, arg] = process.argv.slice(2);
const node = process.env.TANDEM_NODE ?? "?";
const epoch = process.env.TANDEM_EPOCH ?? "?";
const timers: NodeJS.Timeout[] = [];
let close: () => void = () => {};

if (mode === "agent" && arg) {
  appendFileSync(arg, `${new Date().toISOString()} job agent started on node=${node} epoch=${epoch}\n`);
  timers.push(setInterval(() => appendFileSync(arg, `${new Date().toISOString()} node=${node} epoch=${epoch}\n`), 100));
} else if (mode === "web" && arg) {
  const server = createServer((req, res) => {
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end(req.url === "/health" ? `ok node=${node}\n` : `demo web tier on node ${node} (epoch ${epoch} when it started)\n`);
  });
  server.listen(Number(arg), "127.0.0.1", () => console.log(`web tier listening on 127.0.0.1:${arg}`));
  close = () => server.close();
} else if (mode === "worker") {
  const instance = Number(process.env.TANDEM_INSTANCE ?? 1);
  console.log(`worker ${instance} started on node ${node}`);
  // "@tandem events N": N events handled since the last report (docs/services.md)
  timers.push(setInterval(() => console.log(`@tandem events ${10 * instance}`), 1000));
} else {
  console.error("usage: demo-service agent FILE | web PORT | worker");
  process.exit(2);
}

process.once("SIGTERM", () => {
  for (const t of timers) clearInterval(t);
  close();
  console.log(`${mode} stopping on SIGTERM`);
  process.exitCode = 0;
});
