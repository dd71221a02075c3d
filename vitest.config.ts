import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    // One file at a time on two cores (vitest's default, cores − 1): three at once halved the
    // run but made the latency checks (dlq-bulk's script p99, measured in Redis) flaky.
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
