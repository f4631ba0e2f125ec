// The services section (runtime/services/config-schema.ts): defaults, and
// every problem refused at start with its key path and a reason (S5).
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../core/errors.js";
import { parseConfig } from "../../runtime/config/load.js";
import { startOrder } from "../../runtime/services/config-schema.js";
import { minimalConfig } from "../helpers/min-config.js";

const withServices = (yaml: string) => parseConfig(`${minimalConfig()}services:\n${yaml}`, { baseDir: "/etc/tandem" });

function problems(yaml: string): string[] {
  try {
    withServices(yaml);
  } catch (err) {
    // the YAML line a problem is on is checked once below; the other expectations leave it out
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`.replace(/ \(line \d+\)$/, ""));
    throw err;
  }
  return [];
}

describe("the services section", () => {
  it("fills the defaults a plant engineer would expect and resolves cwd against the config file", () => {
    const c = withServices(`  agent: { command: /opt/site/agent, placement: active, cwd: work }\n`);
    expect(c.services.agent).toMatchObject({ args: [], env: {}, restart: "always", restartDelayMs: 200, restartMaxDelayMs: 30_000, restartLimit: 5, stableAfterMs: 10_000, stopTimeoutMs: 10_000, dependsOn: [], cwd: "/etc/tandem/work" });
    expect(c.node.stopTimeoutMs).toBe(30_000);
    expect(c.node.capacity).toBe(1);
    expect(parseConfig(minimalConfig()).services).toEqual({});
  });

  it("orders services after their dependencies", () => {
    const c = withServices(`  c: { command: x, placement: both, dependsOn: [b] }\n  a: { command: x, placement: both }\n  b: { command: x, placement: both, dependsOn: [a] }\n`);
    expect(startOrder(c.services)).toEqual(["a", "b", "c"]);
  });

  it("refuses an unknown dependency, a cycle, and a dependency that does not run where its dependant does, each with its path", () => {
    expect(problems(`  a: { command: x, placement: both, dependsOn: [nope] }\n`)).toEqual(["services.a.dependsOn[0]: unknown service 'nope' (services here: a)"]);
    expect(() => withServices(`  a: { command: x, placement: both, dependsOn: [nope] }\n`)).toThrow(/services\.a\.dependsOn\[0\]: unknown service 'nope' \(services here: a\) \(line 11\)/);
    expect(problems(`  a: { command: x, placement: both, dependsOn: [b] }\n  b: { command: x, placement: both, dependsOn: [a] }\n`)).toEqual(["services.a.dependsOn: dependency cycle: a → b → a"]);
    expect(problems(`  a: { command: x, placement: both, dependsOn: [a] }\n`)).toEqual(["services.a.dependsOn[0]: 'a' cannot depend on itself"]);
    expect(problems(`  job: { command: x, placement: active, dependsOn: [rep] }\n  rep: { command: x, placement: standby }\n`)[0]).toMatch(/^services\.job\.dependsOn\[0\]: 'rep' is placed standby and would not run everywhere 'job' \(placed active\) runs/);
    expect(problems(`  w: { command: x, placement: balanced, instances: 2, dependsOn: [v] }\n  v: { command: x, placement: balanced, instances: 2 }\n`)).toHaveLength(1);
  });

  it("refuses what does not fit a placement, a health check of two kinds, and unknown keys", () => {
    expect(problems(`  p: { command: x, placement: balanced }\n`)).toEqual(["services.p.instances: a balanced service needs instances: N"]);
    expect(problems(`  p: { command: x, placement: active, instances: 2, scheme: random }\n`)).toEqual([
      "services.p.instances: only for placement balanced (this one is active)",
      "services.p.scheme: only for placement balanced (this one is active)",
    ]);
    expect(problems(`  p: { command: x, placement: both, health: { tcp: "127.0.0.1:1", http: "http://127.0.0.1:2/" } }\n`)[0]).toMatch(/^services\.p\.health: needs exactly one of tcp, http or command \(got tcp, http\)/);
    expect(problems(`  p: { command: x, placement: both, health: { tcp: "nowhere" } }\n`)[0]).toMatch(/^services\.p\.health\.tcp: expected host:port/);
    expect(problems(`  p: { command: x, placement: both, restartDelayMs: 5000, restartMaxDelayMs: 100 }\n`)).toEqual(["services.p.restartMaxDelayMs: must be at least restartDelayMs (5000)"]);
    expect(problems(`  p: { command: x, placement: everywhere }\n`)[0]).toMatch(/^services\.p\.placement: /);
    expect(problems(`  p: { command: x, placement: both, memoryLimit: 5 }\n`)[0]).toMatch(/memoryLimit/);
    expect(problems(`  "bad name!": { command: x, placement: both }\n`)[0]).toMatch(/^services/);
  });
});
