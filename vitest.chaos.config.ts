import { defineConfig } from "vitest/config"

// `npm run test:chaos`: the reliability scenarios of test/chaos/ (docs/reliability.md).
// They start their own redis-servers and rrq processes, so they run one file at a time.
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.chaos.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 240_000,
    // a failed scenario is a finding, not noise: never retried
    retry: 0
  }
})
