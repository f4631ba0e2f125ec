// Storage benchmark (not part of `npm test`): how fast each adapter applies
// replicated rows, by batch size — the catch-up shape (big batches of
// inserts) and the live shape (small group commits), for inserts, keyed
// writes over a set of keys, and a half-and-half mix. SQLite as a node runs it
// (WAL, synchronous FULL) in a temporary directory; PostgreSQL on a throwaway
// cluster (test/helpers/postgres.ts, fsync on), a fresh database per run.
//   npm run bench:storage [-- --rows 100000 --batches 1000,100,10,1 --kinds ins,put,mix]
// Prints a markdown table and a JSON line with the figures.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Row, Storage } from "../../redundancy/storage.js";
import { PostgresStorage } from "../../runtime/storage/postgres.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";
import { startPostgres } from "../helpers/postgres.js";
import { log } from "./stats.js";

export type Kind = "ins" | "put" | "mix";

export interface StorageBenchOptions {
  /** rows per run for batches of 100 and more (smaller batches run a tenth, at least 2,000) */
  rows: number;
  batches: number[];
  kinds: Kind[];
  engines: ("sqlite" | "postgres")[];
}

export interface StorageBenchResult {
  engine: "sqlite" | "postgres";
  kind: Kind;
  batch: number;
  rows: number;
  rowsPerSec: number;
  /** ms per apply, median */
  p50: number;
}

// a sample as a plant writes it: a tag's value with its quality, ≈90 bytes of JSON
const BODY = JSON.stringify({ tag: "line1.oven3.temperature", v: 21.5, q: "good", ts: 1_700_000_000_000 });
const KEYS = 5_000;

function row(kind: Kind, seq: number): Row {
  const k = kind === "mix" ? (seq % 2 ? "ins" : "put") : kind;
  return k === "ins"
    ? { seq, epoch: 1, at: 1_700_000_000_000 + seq, table: "batch_log", kind: "ins", key: null, body: BODY }
    : { seq, epoch: 1, at: 1_700_000_000_000 + seq, table: "tags", kind: "put", key: `tag-${seq % KEYS}`, body: BODY };
}

async function run(s: Storage, kind: Kind, total: number, batch: number): Promise<{ rowsPerSec: number; p50: number }> {
  let seq = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  while (seq < total) {
    const rows: Row[] = [];
    for (let j = 1; j <= batch; j++) rows.push(row(kind, seq + j));
    const t = performance.now();
    await s.apply(seq, rows);
    lat.push(performance.now() - t);
    seq += batch;
  }
  const ms = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { rowsPerSec: Math.round((seq / ms) * 1000), p50: Math.round(lat[Math.floor(lat.length / 2)] * 100) / 100 };
}

export async function storageBench(opts: StorageBenchOptions): Promise<StorageBenchResult[]> {
  const out: StorageBenchResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), "tandem-bench-storage-"));
  const cluster = opts.engines.includes("postgres") ? await startPostgres() : null;
  let n = 0;
  try {
    for (const kind of opts.kinds) {
      for (const batch of opts.batches) {
        const total = batch >= 100 ? opts.rows : Math.max(2_000, Math.floor(opts.rows / 10));
        for (const engine of opts.engines) {
          const db = `bench_${++n}`;
          const s: Storage = engine === "sqlite" ? new SqliteStorage({ file: join(dir, `${db}.db`) }) : new PostgresStorage({ url: await cluster!.createDatabase(db) });
          await s.open();
          try {
            const r = await run(s, kind, total, batch);
            out.push({ engine, kind, batch, rows: total, ...r });
            log(`${engine} ${kind} batch ${batch}: ${r.rowsPerSec} rows/s, p50 ${r.p50} ms per apply`);
          } finally {
            await s.close();
            if (engine === "postgres") await cluster!.dropDatabase(db);
          }
        }
      }
    }
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export function table(results: StorageBenchResult[]): string {
  const lines = ["| rows | batch | engine | rows/s | ms per apply (p50) |", "|---|---:|---|---:|---:|"];
  for (const r of results) lines.push(`| ${r.kind} | ${r.batch} | ${r.engine} | ${r.rowsPerSec.toLocaleString("en-US")} | ${r.p50} |`);
  return lines.join("\n");
}

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const results = await storageBench({
    rows: Number(arg("rows") ?? 100_000),
    batches: (arg("batches") ?? "1000,100,10,1").split(",").map(Number),
    kinds: (arg("kinds") ?? "ins,put,mix").split(",") as Kind[],
    engines: (arg("engines") ?? "sqlite,postgres").split(",") as StorageBenchOptions["engines"],
  });
  console.log(table(results));
  console.log(JSON.stringify({ bench: "storage", at: new Date().toISOString(), results }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
