// The S2 soak: many kill -9 rounds on a real pair (test/helpers/kill-rounds.ts),
// on SQLite and on PostgreSQL (a throwaway cluster, fsync on), each node's
// database read after every takeover by a reader of our own. Reports the
// rounds, the records acknowledged and checked, and any loss (there must be
// none) as JSON.
//   npm run soak:replication [-- --rounds N --engine sqlite|postgres|both --sync-ack flushed|written --out FILE]
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import { Cluster, killAllChildren, waitUntil } from "../helpers/cluster.js";
import { killRounds, type Acked, type RoundReport } from "../helpers/kill-rounds.js";
import { startPostgres } from "../helpers/postgres.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "60" }, engine: { type: "string", default: "both" }, out: { type: "string" }, seed: { type: "string", default: "7" }, "sync-ack": { type: "string", default: "flushed" } } });
const rounds = Number(values.rounds);
const seed = Number(values.seed);
const engines = values.engine === "both" ? ["sqlite", "postgres"] : [values.engine as string];
const syncAck = values["sync-ack"];
if (syncAck !== "flushed" && syncAck !== "written") throw new Error(`--sync-ack: flushed or written, got '${syncAck}'`);

const TABLES = `replication: { mode: sync, whenPeerAway: refuse, syncAck: ${syncAck}, tables: { batch_log: {} } }`;

function fromRows(rows: { seq: number; epoch: number; tbl: string; key: string | null }[]): Map<string, Acked> {
  const m = new Map<string, Acked>();
  for (const r of rows) if (r.tbl === "batch_log" && r.key) m.set(r.key, { seq: Number(r.seq), epoch: Number(r.epoch) });
  return m;
}

async function soak(engine: string): Promise<RoundReport & { engine: string; seconds: number }> {
  const t0 = Date.now();
  const pgc = engine === "postgres" ? await startPostgres() : null;
  const urls = pgc ? { a: await pgc.createDatabase("soak_a"), b: await pgc.createDatabase("soak_b") } : null;
  let c: Cluster | null = null;
  try {
    c = await Cluster.start({ extra: (id) => (urls ? `database: { engine: postgres, url: "${urls[id]}" }\n${TABLES}` : `database: { engine: sqlite }\n${TABLES}`) });
    await c.ready();
    const cl = c;
    const read = async (node: "a" | "b") => {
      if (urls) {
        const client = new pg.Client({ connectionString: urls[node] });
        await client.connect();
        try {
          return fromRows((await client.query("SELECT seq, epoch, tbl, key FROM tandem_rows")).rows);
        } finally {
          await client.end();
        }
      }
      const db = new Database(join(cl.dir, `data-${node}`, "tandem.db"), { readonly: true });
      try {
        return fromRows(db.prepare("SELECT seq, epoch, tbl, key FROM tandem_rows").all() as never);
      } finally {
        db.close();
      }
    };
    const r = await killRounds(cl, read, { rounds, seed, log: (s) => process.stderr.write(`${engine}: ${s}\n`) });
    const { active } = await cl.ready();
    await waitUntil("caught up", () => cl.status(active).then((s) => s?.replication.peer === "live" && s.replication.lagRecords === 0), { timeoutMs: 30_000 });
    return { engine, ...r, seconds: Math.round((Date.now() - t0) / 1000) };
  } finally {
    await c?.stop().catch(() => undefined);
    killAllChildren();
    await pgc?.stop();
  }
}

const results = [];
for (const e of engines) results.push(await soak(e));
const report = { date: new Date().toISOString(), rounds, seed, mode: `sync, whenPeerAway refuse, syncAck ${syncAck}`, results };
const text = JSON.stringify(report, null, 2);
process.stdout.write(`${text}\n`);
if (values.out) writeFileSync(values.out, `${text}\n`);
