import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make timing-sensitive tests noisier.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
