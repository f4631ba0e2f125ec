// S2 on a real pair with PostgreSQL: each node has its own database in a
// throwaway PostgreSQL cluster the test starts (fsync on). Records streamed
// through the API while the active is killed with SIGKILL at random moments;
// every acknowledged record is on the survivor, read by our own pg client
// (not Tandem's adapter); then both databases compared row by row.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster, killAllChildren, waitUntil } from "../helpers/cluster.js";
import { startPostgres, type PgCluster } from "../helpers/postgres.js";
import { killRounds, type Acked } from "../helpers/kill-rounds.js";

let pgc: PgCluster;
let c: Cluster | null = null;
const urls = {} as Record<"a" | "b", string>;

beforeAll(async () => {
  pgc = await startPostgres();
  urls.a = await pgc.createDatabase("node_a");
  urls.b = await pgc.createDatabase("node_b");
});

afterEach(async () => {
  await c?.stop().catch(() => undefined);
  c = null;
  killAllChildren();
});

afterAll(async () => {
  await pgc?.stop();
});

async function rowsOf(node: "a" | "b"): Promise<{ seq: number; epoch: number; tbl: string; kind: string; key: string | null; body: string | null }[]> {
  const client = new pg.Client({ connectionString: urls[node] });
  await client.connect();
  try {
    const r = await client.query("SELECT seq::float8 AS seq, epoch::float8 AS epoch, tbl, kind, key, body FROM tandem_rows ORDER BY seq");
    return r.rows as never;
  } finally {
    await client.end();
  }
}

async function ackedOnDisk(node: "a" | "b"): Promise<Map<string, Acked>> {
  const m = new Map<string, Acked>();
  for (const r of await rowsOf(node)) if (r.tbl === "batch_log" && r.key) m.set(r.key, { seq: r.seq, epoch: r.epoch });
  return m;
}

describe("S2 sync replication on PostgreSQL: no acknowledged record lost to kill -9", () => {
  it("whenPeerAway refuse: 8 kills of the active during a stream of writes", async () => {
    c = await Cluster.start({
      extra: (id) => `database: { engine: postgres, url: "${urls[id]}", poolSize: 4 }
replication: { mode: sync, whenPeerAway: refuse, tables: { batch_log: {} } }`,
    });
    await c.ready();
    const cl = c;
    const r = await killRounds(cl, ackedOnDisk, { rounds: 8, seed: 303 });
    expect(r.checks).toBeGreaterThan(80);
    const { active } = await cl.ready();
    await waitUntil("caught up", () => cl.status(active).then((s) => s?.replication.peer === "live" && s.replication.lagRecords === 0), { timeoutMs: 20_000 });
    const [a, b] = [await rowsOf("a"), await rowsOf("b")];
    expect(a.length).toBeGreaterThan(r.acked);
    expect(b).toEqual(a);
  }, 180_000);
});
