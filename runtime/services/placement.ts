// Where the N instances of a `balanced` service run over the pair's healthy
// nodes. Both nodes run this with the same inputs (figures shared over the peer
// link, a shared seed and counter), so it is a pure function of them: no clock,
// no Math.random(), ties broken by node id; the two nodes never disagree.
//
// Two rules keep it calm. Instances with no healthy node are placed at once,
// all of them: a failed node's work belongs on the survivor now. Instances
// already running stay where they are when the figures change: a scheme picks
// where an instance goes, it does not chase load (chasing flaps, and a move is
// a stop and a start). They move only to reach the `ideal` spread — in practice
// when a node returns — one per call and never while a move is in flight, so
// no more than one instance is ever down for a rebalance.

export const SCHEMES = [
  "fewest-instances",
  "instances-per-capacity",
  "most-free-memory",
  "lowest-cpu",
  "fewest-events",
  "lowest-bandwidth",
  "random",
  "round-robin",
] as const;
export type Scheme = (typeof SCHEMES)[number];

export interface NodeFigures {
  nodeId: string;
  capacity: number;
  freeMemBytes: number;
  cpuPercent: number;
  eventsPerSec: number;
  netBytesPerSec: number;
  /** balanced instances of ALL services it runs now (load already on it) */
  instances: number;
}

/** what one instance adds to a node, on average */
export interface InstanceLoad {
  memBytes: number;
  cpuPercent: number;
  eventsPerSec: number;
  netBytesPerSec: number;
}

export interface PlacementInput {
  service: string;
  instances: number;
  scheme: Scheme;
  /** healthy nodes that may run instances now (0, 1 or 2 of them), with their shared figures */
  pool: NodeFigures[];
  /** where each instance (index 0..instances-1) is assigned now, null if nowhere (length may differ from `instances` after a config change) */
  current: (string | null)[];
  /** instances whose move is still in flight (assigned to a node but not yet running healthy there): while any is, no further rebalance move is made */
  moving: number;
  /** per-instance average figures, to estimate what one more instance adds to a node (greedy placement) */
  perInstance: InstanceLoad;
  /** a shared seed (e.g. pairId + service) for `random`, and a counter for `round-robin`, both identical on both nodes */
  seed: string;
  rotation: number;
}

export interface Placement {
  /** the node of each instance after this step, null when no node is healthy */
  assignment: (string | null)[];
  /** for each instance, a sentence naming the figures that put it there (API and HMI) */
  why: string[];
  /** the index of the instance moved to rebalance in this step (at most one) */
  moved: number[];
  /** the spread from scratch that rebalancing works towards */
  ideal: (string | null)[];
}

/**
 * Schemes whose ideal is exact (instance counts, a seed): safe to follow all
 * the way. The others rank measured load, which moves whenever an instance
 * does; following them would shuffle instances back and forth, so they only
 * give a returned node its share of one.
 */
const EXACT_IDEAL: ReadonlySet<Scheme> = new Set<Scheme>(["fewest-instances", "instances-per-capacity", "round-robin", "random"]);

interface Ctx {
  scheme: Scheme;
  per: InstanceLoad;
  seed: string;
  rotation: number;
}

export function place(input: PlacementInput): Placement {
  const n = Number.isFinite(input.instances) ? Math.max(0, Math.floor(input.instances)) : 0;
  const pool = sortedPool(input.pool);
  const ctx: Ctx = { scheme: input.scheme, per: input.perInstance, seed: input.seed, rotation: Number.isFinite(input.rotation) ? Math.floor(input.rotation) : 0 };
  // shrinking drops the highest indexes; growing adds instances placed below
  const current = Array.from({ length: n }, (_, i) => input.current[i] ?? null);
  const assignment = [...current];
  const why = new Array<string>(n).fill("no healthy node");
  const ideal = new Array<string | null>(n).fill(null);
  if (pool.length === 0) return { assignment: current.map(() => null), why, moved: [], ideal };

  const inPool = new Set(pool.map((f) => f.nodeId));
  // The figures still carry the load of instances being dropped (still
  // running until stopped) and of this service's own instances: take the
  // first out for placing, both out for the ideal, so a returned node (none of
  // ours) and the survivor (all of ours) are compared without our own load.
  const dropped = countOn(input.current.slice(n));
  const own = countOn(input.current);
  const working = pool.map((f) => withLoad(f, ctx.per, -(dropped.get(f.nodeId) ?? 0)));
  const base = pool.map((f) => withLoad(f, ctx.per, -(own.get(f.nodeId) ?? 0)));

  const orphans = current.flatMap((id, i) => (id === null || !inPool.has(id) ? [i] : []));
  const placedNow = new Set(orphans);
  greedy(ctx, working, orphans, assignment, why);
  greedy(ctx, base, current.map((_, i) => i), ideal);
  for (let i = 0; i < n; i++) if (!placedNow.has(i)) why[i] = stayReason(ctx, pool, assignment[i] as string);

  // Placements made just now are starting: like a move in flight, they wait.
  const moved: number[] = [];
  const step = orphans.length === 0 ? rebalanceStep(ctx, pool, assignment, ideal) : null;
  if (step) {
    const { index, from, to, receiverHad } = step;
    if (input.moving > 0) {
      why[index] += `; moves to ${to} once the ${input.moving} move${input.moving === 1 ? "" : "s"} in flight ${input.moving === 1 ? "is" : "are"} done`;
    } else {
      assignment[index] = to;
      moved.push(index);
      why[index] = receiverHad === 0
        ? `moved from ${from} to ${to}, which returned (one at a time)`
        : `moved from ${from} to ${to} towards the ${ctx.scheme} spread ${spread(pool, ideal)} (one at a time)`;
    }
  }
  return { assignment, why, moved, ideal };
}

/** One line of a node's shared figures, for the API and the HMI. */
export function describeFigures(f: NodeFigures): string {
  return `${f.nodeId}: ${f.instances} instance${f.instances === 1 ? "" : "s"}, capacity ${f.capacity}, ${bytes(f.freeMemBytes)} free, ${round1(f.cpuPercent)}% CPU, ${round1(f.eventsPerSec)} events/s, ${bytes(f.netBytesPerSec)}/s net`;
}

interface Step {
  index: number;
  from: string;
  to: string;
  receiverHad: number;
}

/** The one move towards the ideal, or null when the spread is to be left alone. */
function rebalanceStep(ctx: Ctx, pool: NodeFigures[], assignment: (string | null)[], ideal: (string | null)[]): Step | null {
  const have = countOn(assignment);
  const want = countOn(ideal);
  const exact = EXACT_IDEAL.has(ctx.scheme);
  const over = new Set<string>();
  let to: string | null = null;
  for (const { nodeId } of pool) {
    const h = have.get(nodeId) ?? 0;
    const w = want.get(nodeId) ?? 0;
    // Load-based schemes: only a node with none of ours takes one, and only
    // from a node that keeps one; a lone instance is not stopped to chase a
    // figure, and once both nodes run some the spread is left to settle.
    if (h > w && (exact || h >= 2)) over.add(nodeId);
    if (h < w && to === null && (exact || h === 0)) to = nodeId;
  }
  if (to === null || over.size === 0) return null;
  for (let i = assignment.length - 1; i >= 0; i--) {
    const from = assignment[i];
    if (from !== null && over.has(from)) return { index: i, from, to, receiverHad: have.get(to) ?? 0 };
  }
  return null;
}

/** Places `indexes` one by one on the node the scheme prefers, each adding its load to that node's figures. */
function greedy(ctx: Ctx, figures: NodeFigures[], indexes: number[], out: (string | null)[], why?: string[]): void {
  const work = figures.map((f) => ({ ...f }));
  for (const i of indexes) {
    const k = choose(ctx, work, i);
    if (why) why[i] = placeReason(ctx, work, i);
    out[i] = work[k].nodeId;
    work[k] = withLoad(work[k], ctx.per, 1);
  }
}

function choose(ctx: Ctx, figures: NodeFigures[], i: number): number {
  if (ctx.scheme === "round-robin") return mod(i + ctx.rotation, figures.length);
  if (ctx.scheme === "random") return Math.floor(draw(`${ctx.seed}:${ctx.rotation}:${i}`) * figures.length);
  let best = 0;
  // strictly lower wins, so an equal figure leaves the lower node id
  for (let k = 1; k < figures.length; k++) if (rank(ctx.scheme, figures[k]) < rank(ctx.scheme, figures[best])) best = k;
  return best;
}

/** Lower is preferred. */
function rank(scheme: Scheme, f: NodeFigures): number {
  switch (scheme) {
    case "fewest-instances": return f.instances;
    case "instances-per-capacity": return (f.instances + 1) / Math.max(1, f.capacity);
    case "most-free-memory": return -f.freeMemBytes;
    case "lowest-cpu": return f.cpuPercent;
    case "fewest-events": return f.eventsPerSec;
    case "lowest-bandwidth": return f.netBytesPerSec;
    case "random":
    case "round-robin": return 0;
  }
}

function placeReason(ctx: Ctx, figures: NodeFigures[], i: number): string {
  if (figures.length === 1) return "the only healthy node";
  const ids = figures.map((f) => f.nodeId).join(", ");
  if (ctx.scheme === "round-robin") return `round-robin: turn ${i + ctx.rotation} over ${ids}`;
  if (ctx.scheme === "random") return `random: seeded draw over ${ids}`;
  return `${ctx.scheme}: ${figures.map((f) => figureText(ctx.scheme, f)).join(", ")}`;
}

function stayReason(ctx: Ctx, pool: NodeFigures[], at: string): string {
  if (pool.length === 1) return `runs on ${at}, the only healthy node`;
  if (ctx.scheme === "round-robin" || ctx.scheme === "random") return `runs on ${at}`;
  return `runs on ${at}; ${ctx.scheme} now: ${pool.map((f) => figureText(ctx.scheme, f)).join(", ")}`;
}

function figureText(scheme: Scheme, f: NodeFigures): string {
  switch (scheme) {
    case "fewest-instances": return `${f.nodeId} runs ${f.instances}`;
    case "instances-per-capacity": return `${f.nodeId} runs ${f.instances} for capacity ${f.capacity}`;
    case "most-free-memory": return `${f.nodeId} ${bytes(f.freeMemBytes)} free`;
    case "lowest-cpu": return `${f.nodeId} ${round1(f.cpuPercent)}% CPU`;
    case "fewest-events": return `${f.nodeId} ${round1(f.eventsPerSec)} events/s`;
    case "lowest-bandwidth": return `${f.nodeId} ${bytes(f.netBytesPerSec)}/s`;
    case "random":
    case "round-robin": return f.nodeId;
  }
}

function spread(pool: NodeFigures[], ideal: (string | null)[]): string {
  const want = countOn(ideal);
  return pool.map((f) => `${f.nodeId} ${want.get(f.nodeId) ?? 0}`).join(", ");
}

/** Sorted by id (ties and round-robin turns follow it); a repeated id counts once. */
function sortedPool(pool: NodeFigures[]): NodeFigures[] {
  const seen = new Set<string>();
  const unique = pool.filter((f) => !seen.has(f.nodeId) && seen.add(f.nodeId));
  return unique.sort((x, y) => (x.nodeId < y.nodeId ? -1 : x.nodeId > y.nodeId ? 1 : 0));
}

function withLoad(f: NodeFigures, per: InstanceLoad, k: number): NodeFigures {
  return {
    ...f,
    instances: f.instances + k,
    freeMemBytes: f.freeMemBytes - k * per.memBytes,
    cpuPercent: f.cpuPercent + k * per.cpuPercent,
    eventsPerSec: f.eventsPerSec + k * per.eventsPerSec,
    netBytesPerSec: f.netBytesPerSec + k * per.netBytesPerSec,
  };
}

function countOn(ids: (string | null)[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids) if (id !== null) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

function mod(x: number, m: number): number {
  return ((x % m) + m) % m;
}

/** A number in [0, 1) from a string: FNV-1a, then one round of mulberry32. */
function draw(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let t = (h + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function bytes(n: number): string {
  for (const [size, unit] of [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"]] as const) if (Math.abs(n) >= size) return `${round1(n / size)} ${unit}`;
  return `${round1(n)} B`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
