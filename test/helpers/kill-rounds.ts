// S2 under fire: writers stream records into a real pair through the API
// while the active is killed with SIGKILL at random moments; after each
// takeover an independent reader — opening the survivor's database itself,
// not through Tandem — checks that every record the API acknowledged is
// there, with the seq and epoch the answer gave. Used by the integration
// test (a few rounds per engine) and the soak (many).
import { Cluster, sleep, waitUntil } from "./cluster.js";
import { prng } from "./prng.js";

export interface Acked {
  seq: number;
  epoch: number;
}

/** opens one node's database as a reader of its own: every batch_log key with its seq and epoch */
export type DbReader = (node: "a" | "b") => Promise<Map<string, Acked>>;

/** Writers that follow the active: a refused or failed write is retried on the other node with the same Idempotency-Key. */
export class RecordWriters {
  readonly acked = new Map<string, Acked>();
  private next = 0;
  private running = true;
  private loops: Promise<void>[] = [];
  retries = 0;
  private target: "a" | "b" = "a";

  constructor(
    /** a Cluster, or any site whose nodes answer at these URLs (test/soak's namespaces) */
    private readonly c: { nodes: Record<"a" | "b", { url: string }> },
    private readonly table: string,
    /** a pause after each acknowledged write (a steady stream rather than full speed) */
    private readonly pauseMs = 0,
  ) {}

  start(n: number, maxRecords: number): void {
    for (let i = 0; i < n; i++) this.loops.push(this.loop(maxRecords));
  }

  private async post(node: "a" | "b", key: string, body: unknown): Promise<{ status: number; json: any } | null> {
    try {
      const r = await fetch(`${this.c.nodes[node].url}/api/v1/records/${this.table}`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from("operator:operator").toString("base64")}`, "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(3000),
      });
      return { status: r.status, json: await r.json().catch(() => null) };
    } catch {
      return null;
    }
  }

  private async loop(maxRecords: number): Promise<void> {
    while (this.running && this.next < maxRecords) {
      const i = this.next++;
      const key = `w-${i}`;
      for (let attempt = 0; this.running; attempt++) {
        const node = this.target;
        const r = await this.post(node, key, { n: i, at: Date.now() });
        if (r && (r.status === 201 || r.status === 200)) {
          this.acked.set(key, { seq: r.json.seq, epoch: r.json.epoch });
          if (this.pauseMs) await sleep(this.pauseMs);
          break;
        }
        this.retries++;
        // not the active (or gone): try the other node
        if (this.target === node) this.target = node === "a" ? "b" : "a";
        await sleep(Math.min(100, 10 + attempt * 5));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

export interface RoundReport {
  rounds: number;
  acked: number;
  checks: number;
  retries: number;
}

/**
 * `rounds` times: let the writers run for a random while, kill -9 the
 * active, wait for the takeover, check the survivor holds every acknowledged
 * record (read by `read`, not through Tandem), restart the killed node and
 * wait until it has caught up.
 */
export async function killRounds(c: Cluster, read: DbReader, opts: { rounds: number; seed: number; table?: string; log?: (s: string) => void }): Promise<RoundReport> {
  const rnd = prng(opts.seed);
  const w = new RecordWriters(c, opts.table ?? "batch_log");
  let checks = 0;
  w.start(4, Number.MAX_SAFE_INTEGER);
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const { active, standby } = await activeAndStandby(c);
      const lag = () => c.status(active).then((s) => s?.replication.peer === "live" && s.replication.lagRecords === 0);
      await waitUntil(`round ${round}: the standby caught up`, lag, { timeoutMs: 20_000 });
      const before = w.acked.size;
      await sleep(50 + Math.floor(rnd() * 400));
      await waitUntil(`round ${round}: writes flowing`, () => w.acked.size > before, { timeoutMs: 10_000 });
      c.signal(active, "SIGKILL");
      await c.exited(active);
      // what the API acknowledged before the kill, and whatever answers were still on their way
      await waitUntil(`round ${round}: ${standby} takes over`, () => c.status(standby).then((s) => s?.state === "active-held" || s?.state === "active"), { timeoutMs: 10_000 });
      const ackedNow = new Map(w.acked);
      const onDisk = await read(standby);
      const missing = [...ackedNow].filter(([k, a]) => {
        const d = onDisk.get(k);
        return !d || d.seq !== a.seq || d.epoch !== a.epoch;
      });
      if (missing.length) throw new Error(`round ${round}: ${missing.length} acknowledged records are not on the survivor ${standby} as acknowledged: ${JSON.stringify(missing.slice(0, 5))} (on disk: ${JSON.stringify(missing.slice(0, 5).map(([k]) => onDisk.get(k) ?? null))})`);
      checks += ackedNow.size;
      opts.log?.(`round ${round}: killed ${active}, ${ackedNow.size} acknowledged records all on ${standby}`);
      c.startNode(active);
      await waitUntil(`round ${round}: ${active} back as standby`, () => c.status(active).then((s) => s?.state === "standby"), {
        timeoutMs: 20_000,
        seen: async () => `${active} says ${JSON.stringify((await c.status(active))?.state ?? "nothing")}; its last log lines:\n${c.logTail(active, 25)}\n${c.nodes[active].child.output().slice(-2000)}`,
      });
    }
  } finally {
    await w.stop();
  }
  return { rounds: opts.rounds, acked: w.acked.size, checks, retries: w.retries };
}

async function activeAndStandby(c: Cluster): Promise<{ active: "a" | "b"; standby: "a" | "b" }> {
  return waitUntil("one active, one standby", async () => {
    const [a, b] = await Promise.all([c.status("a"), c.status("b")]);
    const acting = (s?: string) => s === "active" || s === "active-held";
    if (acting(a?.state) && b?.state === "standby") return { active: "a", standby: "b" } as const;
    if (acting(b?.state) && a?.state === "standby") return { active: "b", standby: "a" } as const;
    return null;
  }, { timeoutMs: 20_000 });
}
