import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/helpers/leak-check.ts"],
    pool: "forks",
    // Integration tests start real processes and bind real ports; two
    // workers on two cores keep the suite fast without starving the nodes.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
