// The teardown every integration file needs: stop the pair after each test
// and check that nodes stopped with SIGTERM exited 0 with nothing left open
// (TANDEM_CHECK_HANDLES=1 makes a leaking node exit 3); kill any stray child.
import { afterAll, afterEach, expect } from "vitest";
import { Cluster, killAllChildren, type ClusterOptions } from "./cluster.js";

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
