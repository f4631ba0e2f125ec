// The load the replication bench applies and how it times it: the records
// (~100 bytes of JSON each, in batches), and `measure`, k writer loops back to
// back for a warm-up and then a timed part.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import type { Row, RowWrite } from "../../redundancy/storage.js";
import { EPOCH } from "./replication-node.js";
import { sleep } from "./replication-pair.js";
import { summary, type Summary } from "./stats.js";

export const BODY_BYTES = 100;
export const TABLE = "bench";
/** latency samples kept per run (the first ones): summary() spreads them into Math.min */
export const MAX_SAMPLES = 50_000;
/** each timed loop stops at this many records too, whatever --seconds says */
const MAX_RECORDS_PER_RUN = 20_000_000;

/** one record's body: ~100 bytes of JSON, as a tag-history or event record might be */
export function body(i: number): string {
  const rec = (pad: string) => JSON.stringify({ n: i, tag: "line1.tank1.level", v: 12.345678, q: "good", pad });
  return rec("x".repeat(Math.max(0, BODY_BYTES - rec("").length)));
}

export const batchOf = (n: number): RowWrite[] => Array.from({ length: n }, (_, i) => ({ table: TABLE, kind: "ins", key: null, body: body(i) }));

/**
 * The rows the local writer applies: stamped as the active stamps them
 * (redundancy/replication/leader.ts), the fields written out. A spread of
 * each write (`{ ...w, seq, … }`) cost ~170 µs per 100 rows here, a fifth of
 * a local commit: until 2026-12-01 the reference carried that and every
 * ratio to it was flattered by as much.
 */
export const stamped = (writes: RowWrite[], after: number): Row[] => {
  const at = Date.now();
  return writes.map((w, i): Row => ({ seq: after + i + 1, epoch: EPOCH, at, table: w.table, kind: w.kind, key: w.key, body: w.body }));
};

export interface Run {
  batch: number;
  inFlight: number;
  records: number;
  seconds: number;
  recordsPerS: number;
  /** ms per write (per batch), from its call to its answer */
  latencyMs: Summary | null;
  errors: number;
  firstError: string | null;
  /** the local writer only: the share of its timed part spent inside apply() (the rest is its loop, stamping the rows included) */
  inApplyShare?: number;
  /** the whole machine's CPU over the timed part (every process and the kernel; Linux only) */
  cpu?: MachineCpu;
}

/**
 * What the whole machine's CPUs did over a run, from /proc/stat: the cores
 * busy on average (of `cores`) and the busy CPU time per write. A run whose
 * cores are all busy is bounded by the work it does per write: at
 * `msPerWrite` it can make at most `cores × 1000 / msPerWrite` writes a
 * second, however well its processes overlap.
 */
export interface MachineCpu {
  cores: number;
  busyCores: number;
  msPerWrite: number;
}

/** busy and total jiffies of all CPUs (user, nice, system, irq and softirq are busy; idle, iowait and steal, time the hypervisor gave to others, are not), or null off Linux */
function cpuJiffies(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "latin1").split("\n", 1)[0];
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
    const busy = user + nice + system + irq + softirq;
    return { busy, total: busy + idle + iowait + steal };
  } catch {
    return null;
  }
}

function machineCpu(a: ReturnType<typeof cpuJiffies>, b: ReturnType<typeof cpuJiffies>, writes: number): MachineCpu | undefined {
  if (!a || !b || b.total <= a.total || writes <= 0) return undefined;
  const cores = cpus().length;
  // jiffies are of USER_HZ, 100 a second on Linux; those of all CPUs add up to cores × the time
  const busyMs = (b.busy - a.busy) * 10;
  return { cores, busyCores: round(((b.busy - a.busy) / (b.total - a.total)) * cores, 2), msPerWrite: round(busyMs / writes, 3) };
}

/** `k` loops calling `once` back to back: a warm-up, then `seconds` timed (and at most MAX_RECORDS_PER_RUN records) */
export async function measure(o: { seconds: number; warmupS: number }, batch: number, k: number, once: (loop: number) => Promise<unknown>, onTimed?: () => void): Promise<Run> {
  const warmEnd = performance.now() + o.warmupS * 1000;
  await Promise.all(
    Array.from({ length: k }, async (_, loop) => {
      // a refusal here shows again in the timed part, where it is counted
      while (performance.now() < warmEnd) await once(loop).catch(() => sleep(10));
    }),
  );
  const lat: number[] = [];
  let done = 0;
  let started = 0;
  let errors = 0;
  let firstError: string | null = null;
  const maxBatches = Math.ceil(MAX_RECORDS_PER_RUN / batch);
  onTimed?.();
  const cpu0 = cpuJiffies();
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: k }, async (_, loop) => {
      while (performance.now() < end && started < maxBatches) {
        started++;
        const s = performance.now();
        try {
          await once(loop);
          done++;
          if (lat.length < MAX_SAMPLES) lat.push(performance.now() - s);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
          await sleep(10);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = machineCpu(cpu0, cpuJiffies(), done);
  return { batch, inFlight: k, records: done * batch, seconds: round(seconds, 3), recordsPerS: Math.round((done * batch) / seconds), latencyMs: summary(lat), errors, firstError, ...(cpu ? { cpu } : {}) };
}

export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
