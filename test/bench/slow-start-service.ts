// The service of the services bench (services.ts): a program with a fixed
// start time. It waits START_MS (default 100) after it runs, then listens on
// 127.0.0.1:PORT and closes every connection it accepts at once — enough for
// a `health: { tcp }` check and for the bench's own probe. SIGTERM ends it.
//   PORT=5001 START_MS=100 node dist/test/bench/slow-start-service.js
import net from "node:net";

const port = Number(process.env.PORT);
const startMs = Number(process.env.START_MS ?? "100");
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`slow-start-service: PORT must be a TCP port, got '${process.env.PORT}'\n`);
  process.exit(2);
}
if (!Number.isFinite(startMs) || startMs < 0) {
  process.stderr.write(`slow-start-service: START_MS must be a number of ms ≥ 0, got '${process.env.START_MS}'\n`);
  process.exit(2);
}

const server = net.createServer((s) => s.destroy());
setTimeout(() => {
  server.once("error", (err) => {
    process.stderr.write(`slow-start-service: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(port, "127.0.0.1");
}, startMs);
process.once("SIGTERM", () => process.exit(0));
