// The HMI and the CLI read the same words: the node states, service-level
// bands, log levels and audited actions are defined once (core/types.ts,
// runtime/words.ts) and the HMI gets them from the node as /words.js. A copy
// kept in the page could drift from what the CLI prints; these tests find one.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOG_LEVELS, NODE_STATES } from "../../core/types.js";
import { findHmiDir, loadHmi } from "../../runtime/http/hmi-files.js";
import { createHttpServer, type HttpServer } from "../../runtime/http/server.js";
import { silentLogs } from "../../runtime/logging.js";
import { ACTION_WORDS, HMI_WORDS, SERVICE_LEVEL_BANDS, STATE_WORDS, serviceLevelWord } from "../../runtime/words.js";
import { FakeController } from "../helpers/fake-controller.js";
import { formatServices, servicesRequest } from "../../runtime/cli-services.js";
import { formatReplication } from "../../runtime/cli-replication.js";
import { ACK_RULES, PEER_PHASE_WORDS, REPLICATION_PANEL_WORDS, REPLICATION_ROLE_WORDS, ackText, type AckFacts } from "../../runtime/replication-words.js";
import type { ServiceView } from "../../runtime/node-api.js";
import { formatContext } from "../../runtime/cli-context.js";
import { CONTEXT_PANEL_WORDS, PROCESS_STATE_WORDS, duration, heldLine, processStateText } from "../../runtime/context-words.js";
import type { ProcessView } from "../../runtime/processes/host.js";
import {
  SERVICE_ACTION_DONE,
  SERVICE_HEALTH_WORDS,
  SERVICE_PANEL_WORDS,
  SERVICE_PLACEMENT_WORDS,
  SERVICE_STATE_WORDS,
  SERVICE_STOP_STAYS,
  serviceStateText,
} from "../../runtime/service-words.js";

const hmiDir = findHmiDir()!;

/**
 * A panel script's string literals, and those that read as text. Every
 * literal should be code: a lower-case token (an id, a tag, an event, a class,
 * an action), a list of classes the style sheet defines, or an HTTP method.
 * Text a person reads has a capital or a space between words; it comes from words.js.
 */
function textLiterals(js: string, css: string): { literals: string[]; text: string[] } {
  const classes = new Set([...css.matchAll(/\.([a-z][a-z0-9-]*)/g)].map((m) => m[1]));
  const code = js.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
  const literals = [...code.matchAll(/(["'`])((?:\\.|(?!\1)[^\\\n])*)\1/g)].map((m) => m[2]!);
  const text = literals.filter((l) => {
    if (l === "use strict" || l === "GET" || l === "POST") return false;
    if (/[A-Z]/.test(l)) return true;
    const tokens = l.trim().split(/\s+/).filter(Boolean);
    return tokens.length > 1 ? tokens.some((t) => !classes.has(t)) : /[^\w\s#/[\]=.-]/.test(l);
  });
  return { literals, text };
}
/** api.js, app.js and the board's scripts split off it, in the order the page loads them */
const BOARD_SCRIPTS = ["api.js", "app.js", "session.js", "board.js", "tags.js", "audit.js", "actions.js"];
const boardJs = BOARD_SCRIPTS.map((file) => ({ file, js: readFileSync(join(hmiDir, file), "utf8") }));
const indexHtml = readFileSync(join(hmiDir, "index.html"), "utf8");

/** Runs words.js as the browser would (a classic script) and returns what it defines. */
function evaluate(script: string): unknown {
  const sandbox: Record<string, unknown> = {};
  sandbox.globalThis = sandbox;
  vm.runInNewContext(script, sandbox);
  return sandbox.TANDEM_WORDS;
}

describe("one set of words for the CLI and the HMI", () => {
  it("every node state and 'unknown' has a label and a meaning", () => {
    for (const s of [...NODE_STATES, "unknown"] as const) {
      expect(STATE_WORDS[s].label, s).toMatch(/^[A-Z —-]+$/);
      expect(STATE_WORDS[s].meaning.length, s).toBeGreaterThan(3);
    }
    expect(Object.keys(STATE_WORDS).sort()).toEqual([...NODE_STATES, "unknown"].sort());
  });

  it("service level bands follow DESIGN.md: 0 maintenance, 1 no data, 2–199 degraded, 200–255 healthy", () => {
    expect([0, 1, 2, 199, 200, 255].map(serviceLevelWord)).toEqual(["maintenance", "no data", "degraded", "degraded", "healthy", "healthy"]);
    expect(SERVICE_LEVEL_BANDS.at(-1)!.upTo).toBe(255);
  });

  it("words.js defines exactly runtime/words.ts's words, with the state and level lists of core/types.ts", () => {
    const served = evaluate(loadHmi(hmiDir).get("words.js")!.body.toString("utf8")) as typeof HMI_WORDS;
    expect(JSON.parse(JSON.stringify(served))).toEqual(JSON.parse(JSON.stringify(HMI_WORDS)));
    expect(served.states).toEqual([...NODE_STATES]);
    expect(served.logLevels).toEqual([...LOG_LEVELS]);
    expect(served.actingStates).toEqual(["active-held", "active"]);
    expect(Object.isFrozen(served)).toBe(true);
  });

  it("the page loads words.js before app.js and the board's scripts (in order), and none keeps a copy of the words", () => {
    const words = indexHtml.indexOf('src="/words.js"');
    const at = BOARD_SCRIPTS.map((file) => indexHtml.indexOf(`src="/${file}"`));
    expect(words).toBeGreaterThan(0);
    expect([words, ...at]).toEqual([words, ...at].slice().sort((a, b) => a - b));
    expect(at.every((i) => i > words)).toBe(true);
    const copies = [
      ...Object.values(STATE_WORDS).flatMap((w) => [w.label, w.meaning]),
      ...SERVICE_LEVEL_BANDS.map((b) => `"${b.word}"`),
      // the level names that are not also everyday words in the page ("error", "info" are)
      ...LOG_LEVELS.filter((l) => l !== "error" && l !== "info").map((l) => `"${l}"`),
      ...Object.values(ACTION_WORDS).filter((w) => w.includes(" ")).map((w) => `"${w}"`),
    ];
    for (const { file, js } of boardJs) for (const c of copies) expect(js, `${file} holds its own copy of ${c}`).not.toContain(c);
  });
});

describe("GET /words.js", () => {
  let server: HttpServer;
  let base: string;
  beforeAll(async () => {
    server = createHttpServer({
      controller: new FakeController(),
      http: { listen: { host: "127.0.0.1", port: 0 }, users: [], metricsAuth: false, sessionTtlMs: 60_000 },
      logs: silentLogs(),
      pairId: "line1",
      nodeId: "a",
      hmiDir: null, // even without the static files, the words are there
    });
    const { port } = await server.start();
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("is served without a login, as a script the HMI's CSP allows", async () => {
    const r = await fetch(`${base}/words.js`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
    const served = evaluate(await r.text()) as typeof HMI_WORDS;
    expect(served.stateWords["active-held"]).toEqual(STATE_WORDS["active-held"]);
  });
});

describe("the services' words: one set for the CLI and the services panel", () => {
  const servicesJs = readFileSync(join(hmiDir, "services.js"), "utf8");
  const css = readFileSync(join(hmiDir, "style.css"), "utf8");

  it("every instance state has a label and a meaning; the supervisor's states are all there", () => {
    expect(Object.keys(SERVICE_STATE_WORDS).sort()).toEqual(["backoff", "failed", "running", "starting", "stopped", "stopping", "waiting"]);
    for (const [s, w] of Object.entries(SERVICE_STATE_WORDS)) {
      expect(w.label, s).toMatch(/^[a-z]+$/);
      expect(w.meaning.length, s).toBeGreaterThan(3);
    }
    expect(Object.keys(SERVICE_HEALTH_WORDS).sort()).toEqual(["failing", "none", "ok", "unknown"]);
    expect(Object.keys(SERVICE_PLACEMENT_WORDS).sort()).toEqual(["active", "balanced", "both", "standby"]);
    expect(HMI_WORDS.services.panel.ask.stop.text).toContain("{stays}");
    expect(HMI_WORDS.services.panel.stays).toBe(SERVICE_STOP_STAYS);
  });

  it("the CLI prints the same state, health and stop words", () => {
    const s = { ...({} as ServiceView), instance: "pool#2", name: "pool", placement: "balanced", state: "running", health: "failing", pid: 7, node: "a", uptimeMs: 1000, restarts: 0, cpuPercent: 1, rssBytes: 1, reason: "r", stoppedByOperator: null } as ServiceView;
    const lines = formatServices({ nodeId: "a", state: "active", epoch: 3, services: [s], figures: { own: {}, peer: null } });
    expect(lines[2]).toContain(serviceStateText(s));
    expect(serviceStateText(s)).toBe(`running (${HMI_WORDS.services.panel.healthFailing})`);
    const stop = servicesRequest(["stop", "pool"]);
    if (typeof stop === "string") throw new Error(stop);
    expect(stop.format({ name: "pool", instances: ["pool#1", "pool#2"] })).toEqual([`service pool ${SERVICE_ACTION_DONE.stop}: pool#1, pool#2`]);
    expect(SERVICE_ACTION_DONE.stop).toContain(SERVICE_STOP_STAYS);
  });

  it("the page loads services.js after app.js, and services.js holds no words of its own", () => {
    expect(indexHtml.indexOf('src="/services.js"')).toBeGreaterThan(indexHtml.indexOf('src="/app.js"'));
    expect(servicesJs).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write/); // text goes in as text
    const { literals, text } = textLiterals(servicesJs, css);
    expect(literals.length).toBeGreaterThan(20);
    expect(text).toEqual([]);
    // and no copy of a services word
    for (const w of Object.values(SERVICE_PANEL_WORDS.buttons)) expect(servicesJs).not.toContain(`"${w}"`);
  });
});

describe("the replication words: one set for the CLI and the replication panel", () => {
  const replicationJs = readFileSync(join(hmiDir, "replication.js"), "utf8");
  const css = readFileSync(join(hmiDir, "style.css"), "utf8");

  it("every mode, role, acknowledgement and peer phase has a line, and the CLI prints the one the panel shows", () => {
    const phases = Object.keys(PEER_PHASE_WORDS) as AckFacts["peer"][];
    for (const mode of ["sync", "async", "none"] as const)
      for (const role of Object.keys(REPLICATION_ROLE_WORDS) as AckFacts["role"][])
        for (const acknowledging of ["both", "local", "refusing", "n/a"] as const)
          for (const peer of phases) {
            const r = { mode, role, acknowledging, peer, lagRecords: 0, journalRecords: 0 };
            const line = ackText(r);
            expect(line, JSON.stringify(r)).not.toMatch(/\{\w+\}/);
            expect(formatReplication(r)[1]).toBe(`  ${line}`);
          }
    expect(HMI_WORDS.replication.ackRules).toBe(ACK_RULES);
    expect(ACK_RULES.at(-1)!.when).toEqual({}); // the last rule matches whatever is left
  });

  it("the page loads replication.js after app.js, and replication.js holds no words of its own", () => {
    expect(indexHtml.indexOf('src="/replication.js"')).toBeGreaterThan(indexHtml.indexOf('src="/app.js"'));
    expect(replicationJs).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write/);
    const { literals, text } = textLiterals(replicationJs, css);
    expect(literals.length).toBeGreaterThan(10);
    expect(text).toEqual([]);
    for (const w of Object.values(REPLICATION_PANEL_WORDS.labels)) expect(replicationJs).not.toContain(`"${w}"`);
  });
});

describe("the process context's words: one set for the CLI and the process panel", () => {
  const contextJs = readFileSync(join(hmiDir, "context.js"), "utf8");
  const css = readFileSync(join(hmiDir, "style.css"), "utf8");
  const batch: ProcessView = { name: "batch", state: "held", error: null, step: "heat", content: { batch: 3, step: "heat" }, timers: {}, seq: 1230, epoch: 6, writtenAt: "2026-11-30T02:59:55.000Z", ageMs: 12_000, resumedFrom: null };

  it("every process state has a label and a meaning; idle on a standby says where the batch runs", () => {
    expect(Object.keys(PROCESS_STATE_WORDS).sort()).toEqual(["failed", "held", "idle", "loading", "running", "stopped", "stopping", "waiting"]);
    for (const [s, w] of Object.entries(PROCESS_STATE_WORDS)) {
      expect(w.label, s).toBe(s); // the host's own word, as its log lines say it
      expect(w.meaning.length, s).toBeGreaterThan(3);
    }
    expect(processStateText("idle", "standby")).toBe("idle: runs on the active");
    expect(processStateText("idle", "active")).toBe(`idle: ${PROCESS_STATE_WORDS.idle.meaning}`);
    expect(processStateText("failed", "standby")).toBe("failed: stopped by an error: see the node's log");
  });

  it("durations count in s, min and h; the held line names step, sequence, age and epoch", () => {
    expect([0, 12_000, 119_000, 120_000, 7_199_000, 7_200_000].map(duration)).toEqual(["0 s", "12 s", "119 s", "2 min", "120 min", "2 h"]);
    expect(heldLine(batch, "active-held")).toBe("batch: held at step heat, context sequence 1230, written 12 s ago in epoch 6");
    expect(heldLine({ ...batch, seq: null, epoch: null, step: null, ageMs: null }, "active-held")).toBe(CONTEXT_PANEL_WORDS.heldEmpty.replace("{name}", "batch"));
    expect(heldLine({ ...batch, state: "failed" }, "active-held")).toBe("batch: failed: stopped by an error: see the node's log");
    const lines = formatContext({ nodeId: "b", state: "active-held", epoch: 7, held: true, seq: 1230, processes: [batch] });
    expect(lines).toContain(`  ${heldLine(batch, "active-held")}`);
    expect(HMI_WORDS.context.panel).toBe(CONTEXT_PANEL_WORDS);
  });

  it("the page loads context.js after app.js, and context.js holds no words of its own", () => {
    expect(indexHtml.indexOf('src="/context.js"')).toBeGreaterThan(indexHtml.indexOf('src="/app.js"'));
    expect(indexHtml).toContain('id="context-card"');
    expect(indexHtml.indexOf('id="held-context"')).toBeLessThan(indexHtml.indexOf('id="held-actions"')); // beside confirm and reject
    expect(contextJs).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write/);
    const { literals, text } = textLiterals(contextJs, css);
    expect(literals.length).toBeGreaterThan(10);
    expect(text).toEqual([]);
    for (const w of [...Object.values(CONTEXT_PANEL_WORDS.labels), CONTEXT_PANEL_WORDS.title, CONTEXT_PANEL_WORDS.step]) expect(contextJs).not.toContain(`"${w}"`);
    for (const w of Object.values(PROCESS_STATE_WORDS)) expect(contextJs).not.toContain(w.meaning);
  });
});

describe("the trend and timeline panels' words", () => {
  const css = readFileSync(join(hmiDir, "style.css"), "utf8");

  it("the page loads plot-data.js, trend.js and timeline.js after app.js and uPlot, and they hold no words of their own", () => {
    const at = (src: string) => indexHtml.indexOf(`src="${src}"`);
    expect(at("/vendor/uPlot.iife.min.js")).toBeGreaterThan(at("/app.js"));
    expect(at("/plot-data.js")).toBeGreaterThan(at("/vendor/uPlot.iife.min.js"));
    expect(at("/trend.js")).toBeGreaterThan(at("/plot-data.js"));
    expect(at("/timeline.js")).toBeGreaterThan(at("/trend.js"));
    expect(indexHtml).toContain('href="/vendor/uPlot.min.css"');
    for (const file of ["plot-data.js", "trend.js", "timeline.js"]) {
      const js = readFileSync(join(hmiDir, file), "utf8");
      expect(js, file).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write|setAttribute\("style"/);
      // an API path with its query string, and the unit of a position ("%"), are code too
      const { text } = textLiterals(js, css);
      expect(text.filter((l) => !l.startsWith("/") && l !== "%"), file).toEqual([]);
    }
    expect(HMI_WORDS.trends.trend.ranges.map((r) => r.label)).toEqual(["15 min", "1 h", "8 h", "24 h"]);
  });
});
