// The teardown every integration file needs: stop the pair after each test
// and check that nodes stopped with SIGTERM exited 0 with nothing left open
// (TANDEM_CHECK_HANDLES=1 makes a leaking node exit 3); kill any stray child.
import { afterAll, afterEach, expect } from "vitest";
import { Cluster, killAllChildren, type ClusterOptions } from "./cluster.js";

export function useCluster(): { start(opts?: ClusterOptions): Promise<Cluster> } {
  let current: Cluster | null = null;
  afterEach(async () => {
    const codes = await current?.stop();
    current = null;
    if (codes) expect(Object.values(codes).filter((c) => c !== 0 && c !== null)).toEqual([]);
  });
  afterAll(() => killAllChildren());
  return {
    async start(opts?: ClusterOptions) {
      current = await Cluster.start(opts);
      return current;
    },
  };
}
