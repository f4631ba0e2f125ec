// The README's picture of the site view (docs/site-view.png), taken from two
// real pairs on one site broker: `npm run screenshots:site` starts Debian's
// mosquitto, two pairs (line1 and line2, each two `tandem start` processes
// and a witness from dist, mqtt.broker: external), kills line2's active with
// -9 so that its standby takes over held, logs into line1's active HMI as
// the viewer in Debian's chromium at 1280×720 and takes the site page once
// it shows line2 held. Every wait is bounded; everything is stopped at the end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { Cluster, killAllChildren, ROOT, waitUntil } from "../helpers/cluster.js";
import { startMosquitto } from "../helpers/mosquitto.js";

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tandem-site-shot-"));
  const broker = await startMosquitto(dir);
  const extra = () => `mqtt:\n  broker: external\n  url: ${broker.url}\n  reconnectMs: 200\n  site: { staleMs: 20000, refreshMs: 2000 }\n`;
  const pairs: Cluster[] = [];
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"], env: { ...process.env, XDG_CONFIG_HOME: join(dir, "xdg"), XDG_CACHE_HOME: join(dir, "xdg") } });
  try {
    for (const pairId of ["line1", "line2"]) pairs.push(await Cluster.start({ pairId, extra, peerApi: true }));
    const [line1, line2] = pairs as [Cluster, Cluster];
    const one = await line1.ready();
    const two = await line2.ready();
    // line2's active dies: its standby takes over and holds the process for an operator
    line2.signal(two.active, "SIGKILL");
    await line2.waitFor(two.standby, (s) => s.state === "active-held", 20_000, "held after the kill");
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
    await page.goto(`${line1.nodes[one.active].url}/site.html`);
    await page.locator("#login-user").fill("viewer");
    await page.locator("#login-password").fill("viewer");
    await page.locator("#login-submit").click();
    await waitUntil(
      "the site page showing line2 held",
      async () => ((await page.locator('tr.pair-main[data-pair="line2"] td').nth(5).textContent().catch(() => "")) === "HELD" ? true : null),
      { timeoutMs: 20_000 },
    );
    await page.screenshot({ path: join(ROOT, "docs/site-view.png"), fullPage: true });
    console.log(`docs/site-view.png: line1 (${one.active} active) and line2 (${two.standby} held after the kill of ${two.active}), seen from line1/${one.active}`);
  } finally {
    await browser.close();
    for (const c of pairs) await c.stop().catch(() => undefined);
    killAllChildren();
    broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
