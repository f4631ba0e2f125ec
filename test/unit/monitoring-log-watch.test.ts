// runtime/monitoring/log-watch.ts: error lines per component and the site's
// patterns over a sliding window; an alarm at the threshold, back to normal
// once the window has passed; the watch's own lines never count.
import { describe, expect, it } from "vitest";
import { monitoringSection } from "../../runtime/monitoring/config-schema.js";
import { LogWatch } from "../../runtime/monitoring/log-watch.js";

const line = (component: string, msg: string, level = "error") => JSON.stringify({ level, time: "2026-11-30T00:00:00Z", component, msg });

describe("the log watch", () => {
  it("counts error lines per component over the window: an alarm at the threshold, back to normal once they age out", () => {
    let now = 0;
    const w = new LogWatch(monitoringSection.parse({ logs: { windowSeconds: 60, errorsPerWindow: 3 } }).logs, () => now);
    for (let i = 0; i < 2; i++) w.line(50, line("replication", "peer refused"));
    w.line(40, line("replication", "a warning is not an error", "warn"));
    w.line(50, line("drivers", "read failed"));
    expect(w.assess()).toEqual([]);
    now = 10_000;
    w.line(60, line("replication", "fatal counts too", "fatal"));
    const c = w.assess();
    expect(c.map((x) => [x.item.name, x.item.level, x.item.text])).toEqual([["errors:replication", "alarm", "3 error lines from replication in the last 60 s (threshold 3)"]]);
    now = 65_000; // the first two are out of the window
    expect(w.assess().map((x) => [x.item.name, x.item.level])).toEqual([["errors:replication", "ok"]]);
    now = 200_000;
    expect(w.assess()).toEqual([]);
    expect(w.items()).toEqual([]);
  });

  it("a site pattern (an SMTP error in a service's output) alarms at its count; the watch's own lines are not matched", () => {
    let now = 0;
    const cfg = monitoringSection.parse({ logs: { patterns: [{ name: "smtp", match: "SMTP.*(refused|timed out)", ignoreCase: true, count: 2 }] } }).logs;
    const w = new LogWatch(cfg, () => now);
    w.line(40, line("services", "mailer: smtp connection REFUSED by relay", "warn"));
    w.line(40, line("monitoring", "2 log lines matching 'smtp' (SMTP refused)", "warn"));
    expect(w.assess()).toEqual([]);
    now = 1000;
    w.line(30, line("services", "mailer: SMTP send timed out", "info"));
    expect(w.assess().map((x) => x.item.text)).toEqual(["2 log lines matching 'smtp' in the last 300 s (threshold 2)"]);
  });

  it("refuses a pattern that is not a regular expression, naming it", () => {
    const r = monitoringSection.safeParse({ logs: { patterns: [{ name: "bad", match: "(unclosed" }] } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/not a regular expression/);
  });
});
