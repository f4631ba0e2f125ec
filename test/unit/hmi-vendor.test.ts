// The charting library the HMI's trend uses (uPlot) is served by the node
// from its npm package, under the HMI's CSP: a plant floor without internet
// gets the whole page from the node.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HMI_PATHS, VENDOR_FILES, packageDir } from "../../runtime/http/hmi-files.js";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { silentLogs } from "../../runtime/logging.js";
import { FakeController } from "../helpers/fake-controller.js";

const servers: HttpServer[] = [];
const start = async (hmiDir?: null) => {
  const server = createHttpServer({
    controller: new FakeController(),
    http: { listen: { host: "127.0.0.1", port: 0 }, users: [], metricsAuth: false, sessionTtlMs: 60_000 },
    logs: silentLogs(),
    pairId: "line1",
    nodeId: "a",
    ...(hmiDir === null ? { hmiDir } : {}),
  });
  servers.push(server);
  const { port } = await server.start();
  return `http://127.0.0.1:${port}`;
};

let base: string;
beforeAll(async () => {
  base = await start();
});
afterAll(async () => {
  for (const s of servers) await s.stop();
});

describe("uPlot, served by the node", () => {
  it("the package is found where Node resolves it, and a missing one is null", () => {
    const dir = packageDir("uplot");
    expect(dir).not.toBeNull();
    expect(JSON.parse(readFileSync(join(dir!, "package.json"), "utf8")).version).toBe("1.6.32");
    expect(packageDir("no-such-package-here")).toBeNull();
    expect(HMI_PATHS).toEqual(expect.arrayContaining(["vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "trend.js", "timeline.js", "plot-data.js"]));
  });

  it("its script and style sheet are served without a login, byte for byte, with their types and the HMI's CSP", async () => {
    for (const [path, { file, type }] of Object.entries(VENDOR_FILES)) {
      const r = await fetch(`${base}/${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get("content-type"), path).toBe(type);
      expect(r.headers.get("content-security-policy"), path).toContain("script-src 'self'; style-src 'self'");
      expect(Buffer.from(await r.arrayBuffer()).equals(readFileSync(join(packageDir("uplot")!, file))), path).toBe(true);
    }
  });

  it("an installation without the files answers 503 naming the file and what to do", async () => {
    const bare = await start(null);
    const r = await fetch(`${bare}/vendor/uPlot.iife.min.js`);
    expect(r.status).toBe(503);
    expect(JSON.stringify(await r.json())).toContain("the HMI file vendor/uPlot.iife.min.js is missing from this installation (its npm package: run npm install)");
  });
});
