// The database, replication and processes sections (S5: refused at start
// with the key path and the reason; defaults that make a working node).
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../runtime/config/load.js";
import { initialPlant, command } from "../../drivers/simulator/plant.js";
import { configProblems, minimalConfig, TEST_KEY } from "../helpers/min-config.js";

const minimal = minimalConfig({ key: "${PAIR_KEY}" });
const env = { PAIR_KEY: TEST_KEY };

const problems = (text: string, e: NodeJS.ProcessEnv = env) => configProblems(text, e);

describe("config: database, replication, processes (S5)", () => {
  it("a node without them has its own SQLite database, sync replication and no process modules", () => {
    const c = parseConfig(minimal, { env, baseDir: "/etc/tandem" });
    expect(c.database).toEqual({ engine: "sqlite", file: "tandem.db" });
    expect(c.replication).toMatchObject({ mode: "sync", whenPeerAway: "accept", tables: {}, verifyEveryMinutes: 5 });
    expect(c.processes).toEqual({});
  });

  it("takes a sqlite file without naming the engine, a postgres URL, tables and process modules resolved against the config's folder", () => {
    const c = parseConfig(
      `${minimal}
database: { file: line1.db }
replication: { mode: async, maxLagRecords: 500, tables: { batch_log: { retentionDays: 30 }, quality: {} } }
processes:
  batch: { module: ./batch.js, options: { fillMs: 100 } }
`,
      { env, baseDir: "/etc/tandem" },
    );
    expect(c.database).toEqual({ engine: "sqlite", file: "line1.db" });
    expect(c.replication.tables).toEqual({ batch_log: { retentionDays: 30 }, quality: { retentionDays: 0 } });
    expect(c.processes.batch).toEqual({ module: "/etc/tandem/batch.js", options: { fillMs: 100 }, stopTimeoutMs: 5000 });
    const pg = parseConfig(`${minimal}\ndatabase: { engine: postgres, url: "postgres://tandem@db1:5432/line1", schema: line1_a }\n`, { env });
    expect(pg.database).toEqual({ engine: "postgres", url: "postgres://tandem@db1:5432/line1", schema: "line1_a", poolSize: 4 });
  });

  it("names each bad key with its path and reason", () => {
    const p = problems(`${minimal}
database: { engine: oracle }
replication: { mode: eventually, whenPeerAway: maybe, tables: { "bad name": {} } }
processes:
  "1st": { module: ./x.js }
  batch: { options: {} }
`);
    expect(p.some((x) => x.startsWith("database.engine:"))).toBe(true);
    expect(p.some((x) => x.startsWith("replication.mode:"))).toBe(true);
    expect(p.some((x) => x.startsWith("replication.whenPeerAway:"))).toBe(true);
    expect(p.some((x) => x.startsWith("replication.tables.bad name:") || x.startsWith("replication.tables:"))).toBe(true);
    expect(p.some((x) => x.startsWith("processes.1st:") || x.startsWith("processes:"))).toBe(true);
    expect(p.some((x) => x.startsWith("processes.batch.module:"))).toBe(true);
    expect(problems(`${minimal}\ndatabase: { engine: postgres, url: "mysql://x" }\n`).some((x) => x.startsWith("database.url: expected a postgres:// URL"))).toBe(true);
  });
});

describe("the simulator follows a process module's steps", () => {
  it("once a client writes the step register the plant no longer advances by itself; a finished batch counts", () => {
    let s = initialPlant();
    const w = (v: number) => {
      const r = command(s, { kind: "batchStep", value: v });
      if (typeof r === "string") throw new Error(r);
      s = r;
    };
    w(1);
    expect(s).toMatchObject({ sequencer: "client", batchStep: 1, batchName: "BATCH-0001" });
    w(1); // a resumed module re-asserting its step changes nothing
    expect(s.batchStep).toBe(1);
    w(2);
    w(3);
    w(4);
    w(0);
    expect(s.batchCount).toBe(1);
    expect(command(s, { kind: "batchStep", value: 7 })).toMatch(/0–4/);
  });
});
