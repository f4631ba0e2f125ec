// The teardown every integration file needs: stop the pair after each test
// and check that nodes stopped with SIGTERM exited 0 with nothing left open
// (TANDEM_CHECK_HANDLES=1 makes a leaking node exit 3); kill any stray child.
import { afterAll, afterEach, expect } from "vitest";
import { Cluster, killAllChildren, waitUntil, type ClusterOptions } from "./cluster.js";

export function useCluster(): { start(opts?: ClusterOptions): Promise<Cluster> } {
  let current: Cluster | null = null;
  afterEach(async () => {
    const c = current;
    current = null;
    if (!c) return;
    const codes = await c.stop();
    const bad = (Object.entries(codes) as ["a" | "b", number | null][]).filter(([, code]) => code !== 0 && code !== null);
    const why = bad.map(([id, code]) => `node ${id} exited ${code}: ${c.nodes[id].child.output().trim().split("\n").slice(-3).join(" | ")}`).join("\n");
    expect(bad, why).toEqual([]);
  });
  afterAll(() => killAllChildren());
  return {
    async start(opts?: ClusterOptions) {
      current = await Cluster.start(opts);
      return current;
    },
  };
}

/** Samples in which both nodes answered: the only ones that can show two actives. */
export const bothAnswered = (c: Cluster) => c.samples.filter((s) => s.a !== undefined && s.b !== undefined);

/** Waits until the sampler has seen both nodes answer `n` more times (it covers what comes next). */
export async function sampledBoth(c: Cluster, n = 5): Promise<void> {
  const from = bothAnswered(c).length;
  await waitUntil(`${n} samples in which both nodes answered`, () => bothAnswered(c).length >= from + n, { timeoutMs: 10_000 });
}

/**
 * S1 over what the sampler saw: never both nodes acting at once. An S1 check
 * over samples in which one node never answered (killed, frozen) proves
 * nothing, so it also asks for `minBoth` samples in which both answered,
 * and for each node in `acted` a sample in which it was the acting one.
 */
export function expectOneActive(c: Cluster, opts: { minBoth?: number; acted?: ("a" | "b")[] } = {}): void {
  c.stopSampling();
  const acting = (s?: string) => s === "active" || s === "active-held";
  expect(bothAnswered(c).length, "samples in which both nodes answered").toBeGreaterThanOrEqual(opts.minBoth ?? 5);
  for (const id of opts.acted ?? []) expect(c.samples.some((s) => acting(s[id])), `a sample in which node ${id} acted`).toBe(true);
  expect(c.twoActives()).toEqual([]);
}
