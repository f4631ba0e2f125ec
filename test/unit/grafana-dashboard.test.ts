// deploy/grafana/tandem-pair.json: every metric a panel asks for is one the
// node registers (a name in the sources) and docs/monitoring.md describes, so
// the dashboard cannot drift from the node; the panels do not overlap.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../helpers/cluster.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("the Grafana dashboard", () => {
  const dash = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/tandem-pair.json"), "utf8"));
  const panels = dash.panels as { id: number; type: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr: string }[] }[];

  it("asks only for metrics the node registers and the docs describe", () => {
    const code = ["runtime", "drivers", "redundancy"].flatMap((d) => sources(join(ROOT, d))).map((f) => readFileSync(f, "utf8")).join("\n");
    const doc = readFileSync(join(ROOT, "docs/monitoring.md"), "utf8");
    const asked = new Set(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => t.expr.match(/tandem_[a-z0-9_]+/g) ?? [])));
    expect(asked.size).toBeGreaterThan(20);
    for (const m of asked) {
      expect(code.includes(`"${m}"`), `${m} is registered by the node`).toBe(true);
      expect(doc.includes(`\`${m}`), `${m} is described in docs/monitoring.md`).toBe(true);
    }
  });

  it("has unique panel ids, a datasource input, and no overlapping panels", () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    expect(dash.__inputs[0].name).toBe("DS_PROMETHEUS");
    const cells = new Set<string>();
    for (const p of panels) {
      const g = p.gridPos;
      expect(g.x + g.w, `panel ${p.id} fits 24 columns`).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `panel ${p.id} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  it("the Prometheus alert rules ask only for metrics the node registers and the docs describe, and each says what to do", () => {
    const code = ["runtime", "drivers", "redundancy"].flatMap((d) => sources(join(ROOT, d))).map((f) => readFileSync(f, "utf8")).join("\n");
    const doc = readFileSync(join(ROOT, "docs/monitoring.md"), "utf8");
    const rules = (parse(readFileSync(join(ROOT, "deploy/prometheus/tandem-alerts.yml"), "utf8")) as { groups: { rules: { alert: string; expr: string; annotations: { summary: string; description: string } }[] }[] }).groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(5);
    for (const r of rules) {
      expect(r.annotations.summary.length, r.alert).toBeGreaterThan(10);
      expect(r.annotations.description.length, r.alert).toBeGreaterThan(10);
      for (const m of r.expr.match(/tandem_[a-z0-9_]+/g) ?? []) {
        expect(code.includes(`"${m}"`), `${r.alert}: ${m} is registered by the node`).toBe(true);
        expect(doc.includes(`\`${m}`), `${r.alert}: ${m} is described in docs/monitoring.md`).toBe(true);
      }
    }
  });
});
