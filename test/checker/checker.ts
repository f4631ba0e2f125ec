// The independent checker (issue 13): it trusts no node's word. It reads
// what the world outside the nodes recorded — every write the plant
// received (its own receive time, the writer's node and epoch), the lines a
// service placed `active` appended while it ran, every write a client got an
// acknowledgement for, the rows read straight from the surviving databases,
// and when takeovers were held — and proves the promises from those alone:
//   S1  no two nodes drive the plant at once: an epoch is one node's, the
//       epochs' spans of writes do not overlap, no write carries an epoch
//       lower than one already seen, no two nodes' `active` service runs overlap;
//   S2  every acknowledged write is in every surviving database;
//   S3  no process write between an unplanned takeover and its confirm.
// Pure: logs in, verdict out, so it is tested with planted breaches
// (checker.test.ts) before any scenario relies on it.

export interface PlantWrite {
  /** ms, the plant's own clock */
  at: number;
  node: string;
  epoch: number;
  /** a process module's write (held back while a takeover is held), an operator's, or the PLC watchdog's (counter and epoch: written while held too) */
  source: "process" | "operator" | "watchdog";
  what?: string;
}

/** a line a service placed `active` appended while it ran */
export interface ServiceBeat {
  at: number;
  node: string;
  epoch: number;
}

export interface AckedWrite {
  /** the record's id as the API answered it (epoch-seq) */
  id: string;
  epoch: number;
  seq: number;
}

export interface StoredRow {
  epoch: number;
  seq: number;
}

/** an unplanned takeover held on `node` in `epoch` from `from` until an operator confirmed (null: still held at the end) */
export interface Hold {
  node: string;
  epoch: number;
  from: number;
  confirmedAt: number | null;
}

export interface CheckerInput {
  plant: PlantWrite[];
  services?: ServiceBeat[];
  acked?: AckedWrite[];
  /** each surviving node's rows, read directly from its database */
  survivors?: Record<string, StoredRow[]>;
  holds?: Hold[];
  /** how far apart two beats of one service run may be and still be one run (ms) */
  beatGapMs?: number;
}

export interface Violation {
  promise: "S1" | "S2" | "S3";
  text: string;
}

export interface Verdict {
  ok: boolean;
  violations: Violation[];
  counts: { plantWrites: number; epochs: number; serviceRuns: number; acked: number; holds: number };
}

interface Span {
  node: string;
  epoch: number;
  from: number;
  to: number;
}

/** each epoch's span of plant writes, and the epochs written by more than one node */
function epochSpans(plant: PlantWrite[], out: Violation[]): Span[] {
  const byEpoch = new Map<number, Span>();
  for (const w of plant) {
    const s = byEpoch.get(w.epoch);
    if (!s) byEpoch.set(w.epoch, { node: w.node, epoch: w.epoch, from: w.at, to: w.at });
    else {
      if (s.node !== w.node) out.push({ promise: "S1", text: `epoch ${w.epoch} wrote to the plant from two nodes: ${s.node} and ${w.node} (at ${w.at})` });
      s.from = Math.min(s.from, w.at);
      s.to = Math.max(s.to, w.at);
    }
  }
  return [...byEpoch.values()].sort((a, b) => a.from - b.from);
}

function overlaps(spans: Span[], what: string, out: Violation[]): void {
  for (let i = 0; i < spans.length; i++)
    for (let j = i + 1; j < spans.length && spans[j]!.from <= spans[i]!.to; j++) {
      const a = spans[i]!;
      const b = spans[j]!;
      if (a.node !== b.node) out.push({ promise: "S1", text: `${what} of ${a.node} (epoch ${a.epoch}, ${a.from}–${a.to}) and of ${b.node} (epoch ${b.epoch}, ${b.from}–${b.to}) overlap` });
    }
}

/** a service's runs: consecutive beats of one node and epoch, no further apart than gapMs */
function serviceRuns(beats: ServiceBeat[], gapMs: number): Span[] {
  const runs: Span[] = [];
  const open = new Map<string, Span>();
  for (const b of [...beats].sort((x, y) => x.at - y.at)) {
    const key = `${b.node}/${b.epoch}`;
    const r = open.get(key);
    if (r && b.at - r.to <= gapMs) r.to = b.at;
    else {
      const s = { node: b.node, epoch: b.epoch, from: b.at, to: b.at };
      runs.push(s);
      open.set(key, s);
    }
  }
  return runs.sort((a, b) => a.from - b.from);
}

export function check(input: CheckerInput): Verdict {
  const v: Violation[] = [];
  const plant = [...input.plant].sort((a, b) => a.at - b.at);

  // S1: epochs never go back at the plant
  let highest = -Infinity;
  let highestBy = "";
  for (const w of plant) {
    if (w.epoch < highest) v.push({ promise: "S1", text: `a write from ${w.node} with epoch ${w.epoch} reached the plant at ${w.at}, after ${highestBy} had written with epoch ${highest}` });
    if (w.epoch > highest) {
      highest = w.epoch;
      highestBy = w.node;
    }
  }
  // S1: each epoch one node, the epochs' spans of writes apart
  const spans = epochSpans(plant, v);
  overlaps(spans, "the plant writes", v);
  // S1: services placed active never ran on two nodes at once
  const runs = serviceRuns(input.services ?? [], input.beatGapMs ?? 1000);
  overlaps(runs, "the active service's runs", v);

  // S2: every acknowledged write in every surviving database
  const survivors = Object.entries(input.survivors ?? {});
  for (const [node, rows] of survivors) {
    const have = new Set(rows.map((r) => `${r.epoch}-${r.seq}`));
    const lost = (input.acked ?? []).filter((a) => !have.has(`${a.epoch}-${a.seq}`));
    if (lost.length) v.push({ promise: "S2", text: `${lost.length} acknowledged write(s) missing from ${node}'s database: ${lost.slice(0, 5).map((a) => a.id).join(", ")}${lost.length > 5 ? ", …" : ""}` });
  }

  // S3: no process write while a takeover is held
  for (const h of input.holds ?? []) {
    const end = h.confirmedAt ?? Infinity;
    const during = plant.filter((w) => w.source === "process" && w.node === h.node && w.epoch === h.epoch && w.at > h.from && w.at < end);
    if (during.length) v.push({ promise: "S3", text: `${during.length} process write(s) from ${h.node} (epoch ${h.epoch}) reached the plant while its takeover was held (${h.from}–${h.confirmedAt ?? "end"}), the first at ${during[0]!.at}` });
  }

  return { ok: v.length === 0, violations: v, counts: { plantWrites: plant.length, epochs: spans.length, serviceRuns: runs.length, acked: input.acked?.length ?? 0, holds: input.holds?.length ?? 0 } };
}
