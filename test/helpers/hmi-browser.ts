// The HMI in a real browser for the HMI tests: Debian's chromium through
// playwright-core, against the real HTTP server with a FakeController and
// three users (vera viewer, otto operator, ada admin). stop() closes the
// browser and the server and removes the browser's profile folders.
import type { EventStreamOptions } from "../../runtime/http/event-stream.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { hashPassword } from "../../runtime/auth/passwords.js";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { silentLogs } from "../../runtime/logging.js";
import { waitUntil } from "./cluster.js";
import { FakeController } from "./fake-controller.js";

const CHROMIUM = "/usr/bin/chromium";

export interface HmiRig {
  fake: FakeController;
  /** the fake-controller server's URL */
  base: string;
  browser: Browser;
  /** a new browser context, logged in; the page records its script errors (problemsOf) */
  login(user: string, password: string, viewport?: { width: number; height: number }, at?: string): Promise<Page>;
  stop(): Promise<void>;
}

export async function startHmiRig(opts: { eventStream?: Partial<Omit<EventStreamOptions, "tls">> } = {}): Promise<HmiRig> {
  const fake = new FakeController();
  const users = [
    { name: "vera", role: "viewer" as const, passwordHash: await hashPassword("v-pass") },
    { name: "otto", role: "operator" as const, passwordHash: await hashPassword("o-pass") },
    { name: "ada", role: "admin" as const, passwordHash: await hashPassword("a-pass") },
  ];
  const savedEnv = { XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
  let server: HttpServer | null = null;
  let browser: Browser | null = null;
  let dir: string | null = null;
  const stop = async () => {
    await browser?.close();
    await server?.stop();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    server = createHttpServer({
      controller: fake,
      http: { listen: { host: "127.0.0.1", port: 0 }, users, metricsAuth: false, sessionTtlMs: 60_000 },
      logs: silentLogs(),
      pairId: "line1",
      nodeId: "a",
      eventStream: opts.eventStream,
    });
    const { port } = await server.start();
    const base = `http://127.0.0.1:${port}`;
    dir = mkdtempSync(join(tmpdir(), "tandem-hmi-"));
    process.env.XDG_CONFIG_HOME = join(dir, "config");
    process.env.XDG_CACHE_HOME = join(dir, "cache");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      env: { ...process.env },
    });
    const b = browser;
    const login = async (user: string, password: string, viewport = { width: 1280, height: 800 }, at = base): Promise<Page> => {
      const ctx = await b.newContext({ viewport });
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error" && !/401/.test(m.text())) problems.push(m.text());
      });
      (page as Page & { problems?: string[] }).problems = problems;
      await page.goto(at + "/");
      await page.locator("#login-user").fill(user);
      await page.locator("#login-password").fill(password);
      await page.locator("#login-submit").click();
      await page.locator("#board").waitFor({ state: "visible" });
      return page;
    };
    return { fake, base, browser, login, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The page's script errors and console errors (other than a 401) since login. */
export const problemsOf = (p: Page): string[] => (p as Page & { problems?: string[] }).problems ?? [];

/** Waits until the element's text is `want` (a function: until it passes), naming what it shows instead. */
export const shows = (page: Page, selector: string, want: string | ((t: string) => boolean), timeoutMs = 10_000) =>
  waitUntil(
    `${selector} shows ${typeof want === "string" ? `'${want}'` : "the expected text"}`,
    async () => {
      const t = (await page.locator(selector).textContent()) ?? "";
      return (typeof want === "string" ? t === want : want(t)) ? t : null;
    },
    { timeoutMs, seen: async () => `it shows '${await page.locator(selector).textContent()}'` },
  );

/** Waits until the fake controller has seen `n` calls of `method`, naming how many it saw instead. */
export const calledOn = (fake: FakeController, n: number, method: Parameters<FakeController["callsOf"]>[0]) =>
  waitUntil(`${n} ${method} call(s) reach the controller`, () => fake.callsOf(method).length === n, { seen: () => `${fake.callsOf(method).length} did` });
