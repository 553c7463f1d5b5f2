import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests that load real MNIST or spawn the CLI take seconds on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two workers: the machine has two cores, and several tests hold the 55 MB dataset.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: "forks",
  },
});
