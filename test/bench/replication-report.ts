// The replication bench's tables and ratios (replication.ts measures, this
// prints): per engine, the throughput runs with their ratios to the local
// writer and, for PostgreSQL, to its own streaming replication; the async
// lag; the catch-up.
import type { Run } from "./replication-load.js";
import type { CatchUp, EngineResult } from "./replication.js";

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export const TARGET_RATIO = 0.85;
export const TARGET_CATCH_UP = 100_000;

const fmt = (n: number | null | undefined) => (n === null || n === undefined ? "—" : Math.round(n).toLocaleString("en-US"));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? round(a / b, 2) : null);
const lat = (r: Run) => (r.latencyMs ? `${r.latencyMs.p50} / ${r.latencyMs.p99}` : "—");

type Ack = "flushed" | "written";
const ACKS: Ack[] = ["flushed", "written"];
/** the streaming reference that waits for what the same syncAck waits for */
const LIKE: Record<Ack, "on" | "remote_write"> = { flushed: "on", written: "remote_write" };

/**
 * The local writer must spend at least this share of its run inside
 * apply(): the rest is its own loop, and a reference that does work there
 * (as an object spread per row did until 2026-12-01: a fifth of its time)
 * flatters every ratio to it.
 */
export const REFERENCE_MIN_IN_APPLY = 0.9;

/** the lower of the two local runs' shares inside apply(), against REFERENCE_MIN_IN_APPLY */
function referenceCheck(runs: (Run | null)[]) {
  const shares = runs.map((r) => r?.inApplyShare).filter((x): x is number => typeof x === "number");
  if (!shares.length) return { inApplyShare: null, ok: null };
  const inApplyShare = Math.min(...shares);
  return { inApplyShare, ok: inApplyShare >= REFERENCE_MIN_IN_APPLY };
}

/** records/s a run could reach at the machine CPU it spent per write, every core busy (null: not measured) */
const cpuCeiling = (r: Run | null) => (r?.cpu && r.cpu.msPerWrite > 0 ? ((r.cpu.cores * 1000) / r.cpu.msPerWrite) * r.batch : null);

/** "CPU 1.02 of 2 cores, 3.31 ms a write" */
const cpuNote = (r: Run) => (r.cpu ? `machine CPU ${r.cpu.busyCores} of ${r.cpu.cores} cores, ${r.cpu.msPerWrite} ms a write` : "");

export function ratios(e: EngineResult) {
  return e.batches.map((b) => {
    const ref = b.local.meanRecordsPerS;
    const sync = (ack: Ack, k: number) => b.sync.find((r) => r.syncAck === ack && r.inFlight === k) ?? null;
    const str = (sc: "on" | "remote_write" | "local", k: number) => b.streaming.find((r) => r.synchronousCommit === sc && r.inFlight === k) ?? null;
    const per = <T>(f: (ack: Ack) => T) => Object.fromEntries(ACKS.map((a) => [a, f(a)])) as Record<Ack, T>;
    return {
      batch: b.batch,
      reference: referenceCheck([b.local.before, b.local.after]),
      tandemSyncToLocal: per((a) => ({ 1: ratio(sync(a, 1)?.recordsPerS, ref), 4: ratio(sync(a, 4)?.recordsPerS, ref) })),
      // the most the pair could make with the machine CPU it spent per write, all cores busy: ÷ the local writer
      cpuCeilingToLocal: per((a) => ({ 1: ratio(cpuCeiling(sync(a, 1)), ref), 4: ratio(cpuCeiling(sync(a, 4)), ref) })),
      // the same pair with a standby that stores nothing (1 in flight, flushed): the most the active makes on this host
      hollowStandbyToLocal: ratio(b.ceiling?.recordsPerS, ref),
      ...(e.engine === "postgres"
        ? {
            streamingToLocal: per((a) => ({ 1: ratio(str(LIKE[a], 1)?.recordsPerS, ref), 4: ratio(str(LIKE[a], 4)?.recordsPerS, ref) })),
            streamingToItsLocal: per((a) => ({ 1: ratio(str(LIKE[a], 1)?.recordsPerS, str("local", 1)?.recordsPerS), 4: ratio(str(LIKE[a], 4)?.recordsPerS, str("local", 4)?.recordsPerS) })),
            tandemToStreaming: per((a) => ({ 1: ratio(sync(a, 1)?.recordsPerS, str(LIKE[a], 1)?.recordsPerS), 4: ratio(sync(a, 4)?.recordsPerS, str(LIKE[a], 4)?.recordsPerS) })),
          }
        : {}),
      target: per((a) => {
        const r = ratio(sync(a, 1)?.recordsPerS, ref);
        return { rule: `Tandem sync (syncAck ${a}), 1 in flight ÷ the local writer ≥ ${TARGET_RATIO}`, met: r === null ? null : r >= TARGET_RATIO };
      }),
    };
  });
}

export function tables(e: EngineResult): string {
  const out: string[] = [`### ${e.engine}`, ""];
  out.push(`| writer | batch | in flight | records/s | ÷ local writer | ms per write p50 / p99 | checks |`, `|---|---|---|---|---|---|---|`);
  for (const b of e.batches) {
    const ref = b.local.meanRecordsPerS;
    const inApply = (r: Run) => (r.inApplyShare === undefined ? "" : `${Math.round(r.inApplyShare * 100)}% of its time in apply()`);
    const localRow = (what: string, r: Run | null) => r && out.push(`| ${what} | ${b.batch} | 1 | ${fmt(r.recordsPerS)} | ${ratio(r.recordsPerS, ref) ?? "—"} | ${lat(r)} | ${[inApply(r), cpuNote(r), r.errors ? `${r.errors} errors` : ""].filter(Boolean).join("; ")} |`);
    localRow("local writer (reference 1), before", b.local.before);
    localRow("local writer (reference 1), after", b.local.after);
    const c = referenceCheck([b.local.before, b.local.after]);
    const suspect = c.ok === false ? `**REFERENCE SUSPECT**: ${Math.round((c.inApplyShare ?? 0) * 100)}% of its time in apply(), under ${REFERENCE_MIN_IN_APPLY * 100}%: it does work outside the store, and every ratio to it is flattered` : "";
    out.push(`| **local writer, mean** | ${b.batch} | 1 | **${fmt(ref)}** | 1.00 | | ${suspect} |`);
    for (const r of b.sync) {
      const tx = `transactions: active ${r.times.active.apply.calls} × ${r.times.active.apply.msPerCall ?? "—"} ms, standby ${r.times.standby.apply.calls} × ${r.times.standby.apply.msPerCall ?? "—"} ms`;
      const checks = [r.check.same ? "both stores at the same head" : `HEADS DIFFER (${r.check.head} / ${r.check.standbyLastSeq})`, tx, cpuNote(r), r.peerNotLive ? `peer not live in ${r.peerNotLive}/${r.samples} samples` : "", r.errors ? `${r.errors} refused (${r.firstError})` : ""].filter(Boolean).join("; ");
      out.push(`| **Tandem sync dual-write, syncAck ${r.syncAck}** | ${b.batch} | ${r.inFlight} | **${fmt(r.recordsPerS)}** | **${ratio(r.recordsPerS, ref) ?? "—"}** | ${lat(r)} | ${checks} |`);
    }
    const c0 = b.ceiling;
    if (c0) {
      const checks = [c0.check.same ? "the standby acknowledged every write" : `HEADS DIFFER (${c0.check.head} / ${c0.check.standbyLastSeq})`, cpuNote(c0), c0.errors ? `${c0.errors} refused (${c0.firstError})` : ""].filter(Boolean).join("; ");
      out.push(`| ceiling on this host: the same pair, a standby that stores nothing | ${b.batch} | 1 | ${fmt(c0.recordsPerS)} | ${ratio(c0.recordsPerS, ref) ?? "—"} | ${lat(c0)} | ${checks} |`);
    }
    for (const r of b.streaming) {
      const sync = r.synchronousCommit !== "local";
      const ok = sync ? (r.before?.sync_state === "sync" && r.after?.sync_state === "sync" ? "standby sync_state = sync before and after" : `standby ${r.before?.sync_state} / ${r.after?.sync_state}`) : "";
      out.push(`| PostgreSQL ${sync ? `synchronous streaming replication, synchronous_commit = ${r.synchronousCommit} (reference 2)` : "primary, synchronous_commit = local"} | ${b.batch} | ${r.inFlight} | ${fmt(r.recordsPerS)} | ${ratio(r.recordsPerS, ref) ?? "—"} | ${lat(r)} | ${[ok, cpuNote(r), r.errors ? `${r.errors} errors` : ""].filter(Boolean).join("; ")} |`);
    }
  }
  const rt = ratios(e);
  const pg = e.engine === "postgres";
  out.push("", `| batch | syncAck | Tandem sync ÷ local writer (1 / 4 in flight) | target ≥ ${TARGET_RATIO} (1 in flight) | ceiling at the machine CPU it spent, ÷ local (1 / 4) | a standby that stores nothing ÷ local (1) |${pg ? " streaming (like for like) ÷ local writer (1 / 4) | streaming ÷ its own synchronous_commit local (1 / 4) | Tandem ÷ streaming (1 / 4) |" : ""}`);
  out.push(`|---|---|---|---|---|---|${pg ? "---|---|---|" : ""}`);
  const pair = (x: Record<number, number | null> | undefined) => (x ? `${x[1] ?? "—"} / ${x[4] ?? "—"}` : "");
  for (const r of rt) {
    for (const ack of ACKS) {
      const met = r.target[ack].met;
      const like = pg ? ` ${pair(r.streamingToLocal?.[ack])} (${LIKE[ack]}) | ${pair(r.streamingToItsLocal?.[ack])} | ${pair(r.tandemToStreaming?.[ack])} |` : "";
      out.push(`| ${r.batch} | ${ack} | ${pair(r.tandemSyncToLocal[ack])} | ${met === null ? "—" : met ? "met" : "**not met**"} | ${pair(r.cpuCeilingToLocal[ack])} | ${ack === "flushed" ? (r.hollowStandbyToLocal ?? "—") : ""} |${like}`);
    }
  }
  const a = e.async;
  if (a?.lag) {
    out.push(
      "",
      `| async, ${a.inFlight} writers of ${a.batch} | records/s | lag records p50 / p99 / max | lag ms p50 / p99 / max | samples | bounds |`,
      `|---|---|---|---|---|---|`,
      `| ${e.engine} | ${fmt(a.recordsPerS)} | ${a.lag.records ? `${a.lag.records.p50} / ${a.lag.records.p99} / ${a.lag.records.max}` : "—"} | ${a.lag.ms ? `${a.lag.ms.p50} / ${a.lag.ms.p99} / ${a.lag.ms.max}` : "—"} | ${a.samples} | maxLagRecords ${a.lag.maxLagRecords}, maxLagMs ${a.lag.maxLagMs} |`,
    );
  }
  const c = e.catchUp;
  if (c) {
    const row = (what: string, x: CatchUp) =>
      `| ${what} | ${fmt(x.records)} | ${x.seconds} s | **${fmt(x.recordsPerS)}** | ${x.recordsPerS >= TARGET_CATCH_UP ? "met" : "**not met**"} | ${x.fromReadyS} s | ${x.times.active.rowsAfter.calls} reads, ${x.times.active.rowsAfter.ms} ms | ${x.times.standby.apply.calls} transactions, ${x.times.standby.apply.ms} ms | ${x.standby.loopDelay ? `${x.standby.loopDelay.p99} / ${x.standby.loopDelay.max} ms` : "—"} | ${x.check.same ? "checksums equal" : "CHECKSUMS DIFFER"}${x.standby.gaps ? `; ${x.standby.gaps} gap${x.standby.gaps > 1 ? "s" : ""} (resumed)` : ""} |`;
    out.push("", `| catch-up | records | time | records/s | target ≥ ${fmt(TARGET_CATCH_UP)}/s | from the standby's start | the active's reads | the standby's transactions | the standby's event loop late p99 / max | check |`, `|---|---|---|---|---|---|---|---|---|---|`, row("after an outage", c.outage), row("empty joiner (snapshot)", c.emptyJoiner));
    out.push("", `(the active wrote the ${fmt(c.written.records)} records in batches of 1000 while the standby was away: ${c.written.seconds} s)`);
  }
  if (e.failures.length) out.push("", "Failures:", ...e.failures.map((f) => `- ${f}`));
  return out.join("\n");
}
