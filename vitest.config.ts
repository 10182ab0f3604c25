import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make timing-sensitive tests noisier. On embedded PGlite one: its
    // queries run inside the test worker, synchronously, and two such workers beside a busy machine
    // stalled one long enough (60 s) for vitest's own worker RPC to time out ("Timeout calling
    // onTaskUpdate") although every test passed; PostgreSQL runs its queries elsewhere.
    poolOptions: { forks: { maxForks: process.env.DATABASE_URL ? 2 : 1, minForks: 1 } },
  },
});
