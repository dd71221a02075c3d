/**
 * Scenario 7 — a handler that blocks the event loop past its lease (issue 11, defect 10).
 * Worker A (CHAOS_BLOCK=1) runs a job that works 3 s without yielding, with a 1 s lease:
 * nothing in A renews it. Worker B, started once A runs the job, recovers the expired
 * lease and finishes the job at once. When A comes back, it must say both things an
 * operator needs: that its event loop was blocked past the lease, and that its completion
 * came after the lease was lost (nothing recorded). The job is COMPLETED exactly once.
 */
import { describe, expect, it } from "vitest"
import {
  dbUrl,
  keys,
  rawRedis,
  redisServer,
  rrqClient,
  runs,
  settingsFile,
  spawnWorker,
  until,
  useHarness
} from "./support/harness.js"

useHarness()

describe("chaos 7: a blocked event loop", () => {
  it("a handler that blocks past its lease: the stall and the late completion are logged, the job completes once", async () => {
    const server = await redisServer()
    const recorderUrl = dbUrl(server.url, 1)
    const redis = rawRedis(server.url)
    const recorder = rawRedis(recorderUrl)
    const env = { RRQ_REDIS_URL: server.url, CHAOS_RECORDER_URL: recorderUrl }
    const settings = settingsFile("blocked-loop", { leaseMs: 1_000, recoverIntervalMs: 200, pollDelayMs: 50 })
    const client = rrqClient(server.url)

    const a = spawnWorker(settings, { ...env, CHAOS_BLOCK: "1" }, ["--concurrency", "1"])
    await until("worker A up", () => a.stderr().includes("started"), 30_000, 50)
    const ref = await client.enqueue("block", { ms: 3_000 })
    await until("A running the job", async () => (await runs(recorder)).get(ref.id) === 1, 10_000, 20)
    const b = spawnWorker(settings, env, ["--concurrency", "1"])
    await until("the job COMPLETED by B", async () => (await redis.hget(keys.job(ref.id), "status")) === "COMPLETED", 20_000, 50)
    await until(
      "A reporting its late completion",
      () => /finished after their lease was lost/.test(a.stderr()),
      15_000,
      100,
      () => a.stderr()
    )
    expect(a.stderr()).toMatch(/event loop was blocked for ~[\d.]+s \(lease 1s\)/)
    expect(a.stderr()).toContain(ref.id)
    expect(await redis.hget(keys.stats, "completedTotal")).toBe("1")
    expect(await redis.hget(keys.job(ref.id), "status")).toBe("COMPLETED")
    expect((await runs(recorder)).get(ref.id)).toBe(2)
    await Promise.all([a.stop(), b.stop()])
  }, 120_000)
})
