// The demo's web tier (`tandem demo`, placed both): answers /health on
// 127.0.0.1:PORT and stops cleanly on SIGTERM, as a supervised service
// should. The demo's other sample services are shell scripts in config/demo/.
import { createServer } from "node:http";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error("usage: demo-service PORT");
  process.exit(2);
}
const node = process.env.TANDEM_NODE ?? "?";
const epoch = process.env.TANDEM_EPOCH ?? "?";
const server = createServer((req, res) => {
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(req.url === "/health" ? `ok node=${node}\n` : `demo web tier on node ${node} (epoch ${epoch} when it started)\n`);
});
server.listen(port, "127.0.0.1", () => console.log(`web tier listening on 127.0.0.1:${port}`));
process.once("SIGTERM", () => {
  console.log("web tier stopping on SIGTERM");
  server.close();
});
