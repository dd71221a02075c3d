import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    // Most files wait on subprocesses, servers and sleeps, not the CPU: three at once even on
    // two cores (vitest's default there is one, cores − 1)
    maxWorkers: 3,
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
