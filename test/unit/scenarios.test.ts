// The failover scenarios in test/scenarios/*.txt: DESIGN.md's takeover causes
// and lease rules written as scripts with golden output, run on the simulated
// pair (test/helpers/scenario.ts). A scenario fails when the code's output
// differs from the script's, or when an invariant (S1, persist before
// announce, S3, the lease promises) breaks at any step.
// TANDEM_UPDATE_SCENARIOS=1 npx vitest run test/unit/scenarios.test.ts rewrites the outputs.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatScenario, parseScenario, ScenarioRunner } from "../helpers/scenario.js";

const DIR = join(import.meta.dirname, "../scenarios");
const files = readdirSync(DIR).filter((f) => f.endsWith(".txt")).sort();
const update = process.env.TANDEM_UPDATE_SCENARIOS === "1";

describe("failover scenarios (test/scenarios)", () => {
  it("there are scenarios for every takeover cause and the lease rules", () => {
    for (const name of ["cause1-host-lost", "cause2-process-killed", "cause3-not-visible", "cause4-service-level", "cause5-switchover", "lease-rules"]) expect(files).toContain(`${name}.txt`);
  });

  for (const file of files) {
    it(file.replace(/\.txt$/, ""), async () => {
      const path = join(DIR, file);
      const { steps, header } = parseScenario(readFileSync(path, "utf8"));
      const r = new ScenarioRunner();
      const done: { comment: string[]; command: string; actual: string }[] = [];
      for (const step of steps) {
        let actual: string;
        try {
          actual = await r.exec(step.command);
        } catch (err) {
          throw new Error(`${file}:${step.line}: ${step.command}: ${(err as Error).message}`);
        }
        done.push({ comment: step.comment, command: step.command, actual });
        if (actual.startsWith("FAILED")) throw new Error(`${file}:${step.line}: ${step.command}: ${actual}`);
        if (!update) expect(actual, `${file}:${step.line}: ${step.command}`).toBe(step.expected);
      }
      if (update) writeFileSync(path, formatScenario(header, done));
    });
  }
});
