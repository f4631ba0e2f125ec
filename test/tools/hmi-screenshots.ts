// The README's pictures of the HMI, taken from the demo as a newcomer sees
// it: `npm run screenshots:hmi` starts `tandem demo` in a temporary folder
// (ports from 28080), logs into node a's HMI as the operator in Debian's
// chromium at 1280×800, lets the sample batch run, takes the normal view
// (docs/hmi-active.png), kills node a with -9, opens node b's HMI in the same
// browser (the session is replicated: no new login) and takes the held view
// (docs/hmi-held.png). Every wait is bounded; the demo is stopped at the end.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "../helpers/cluster.js";

const BASE = 28080;
const urls = { a: `http://127.0.0.1:${BASE}`, b: `http://127.0.0.1:${BASE + 1}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await fn().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

const stateOf = async (url: string): Promise<string> => {
  const r = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(2000) });
  const h = (await r.json()) as { serving: boolean };
  return h.serving ? "serving" : "not";
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tandem-shots-"));
  const demo = spawn(process.execPath, [join(ROOT, "dist/runtime/cli.js"), "demo", "--dir", dir, "--base-port", String(BASE)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  demo.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
  try {
    await until("the demo's active", async () => out.includes("Things to try"), 90_000);
    const active = (await stateOf(urls.a)) === "serving" ? "a" : "b";
    const other = active === "a" ? "b" : "a";
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(urls[active] + "/");
    await page.locator("#login-user").fill("operator");
    await page.locator("#login-password").fill("operator");
    await page.locator("#login-submit").click();
    await page.locator("#board").waitFor({ state: "visible" });
    // the batch runs a few steps, the tags fill in
    await sleep(12_000);
    await page.screenshot({ path: join(ROOT, "docs/hmi-active.png") });
    console.log(`docs/hmi-active.png: node ${active}, the active`);
    const pid = Number(readFileSync(join(dir, `${active}.pid`), "utf8").trim());
    process.kill(pid, "SIGKILL");
    await until(`node ${other} serving`, async () => (await stateOf(urls[other])) === "serving", 15_000);
    await page.goto(urls[other] + "/");
    await page.locator("#held-banner").waitFor({ state: "visible", timeout: 15_000 });
    await sleep(2000);
    await page.screenshot({ path: join(ROOT, "docs/hmi-held.png") });
    console.log(`docs/hmi-held.png: node ${other}, held after the kill of ${active}`);
  } finally {
    await browser.close();
    demo.kill("SIGINT");
    await new Promise((r) => demo.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
