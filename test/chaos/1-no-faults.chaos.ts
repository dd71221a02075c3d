/**
 * Scenario 1 — no faults, many processes: 4 worker processes × concurrency 25
 * over 20,000 jobs. Every handler run is recorded outside the queue (HINCRBY
 * runs <id> on database 1); every job must run exactly once and end COMPLETED.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import {
  counts,
  dbUrl,
  jobFields,
  liveWorkers,
  rawRedis,
  redisServer,
  report,
  rrqClient,
  runs,
  settingsFile,
  spawnWorker,
  tally,
  until,
  useHarness
} from "./support/harness.js"

useHarness()

const JOBS = 20_000
const PROCESSES = 4
const CONCURRENCY = 25
const BATCH = 1_000

describe("chaos 1: no faults, many processes", () => {
  it(`${PROCESSES} worker processes × concurrency ${CONCURRENCY}: ${JOBS} jobs each run exactly once and end COMPLETED`, async () => {
    const server = await redisServer()
    const recorderUrl = dbUrl(server.url, 1)
    const redis = rawRedis(server.url)
    const recorder = rawRedis(recorderUrl)
    const env = { RRQ_REDIS_URL: server.url, CHAOS_RECORDER_URL: recorderUrl }
    const settings = settingsFile("no-faults", { healthIntervalMs: 1_000 })

    const workers = Array.from(
      { length: PROCESSES },
      () => spawnWorker(settings, env, ["--concurrency", String(CONCURRENCY), "--num-workers", "1"])
    )
    await until(`${PROCESSES} live workers`, async () => (await liveWorkers(redis)).length === PROCESSES, 90_000, 250)

    const client = rrqClient(server.url)
    const ids: Array<string> = []
    const t0 = Date.now()
    for (let i = 0; i < JOBS; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, JOBS - i) }, () => randomUUID())
      await client.enqueueMany(batch.map((id) => ({ job: "work", params: {}, options: { jobId: id } })))
      ids.push(...batch)
    }
    const enqueuedMs = Date.now() - t0
    await until(
      `${JOBS} completions`,
      async () => (await counts(redis)).completedTotal >= JOBS,
      180_000,
      250,
      () => counts(redis)
    )
    const elapsedMs = Date.now() - t0
    // Let any stray duplicate completion land before counting.
    await new Promise((r) => setTimeout(r, 1_000))

    const final = await counts(redis)
    const fields = await jobFields(redis, ids, ["status", "result"])
    const byStatus = tally([...fields.values()].map(([s]) => s))
    const ran = await runs(recorder)
    const runCounts = ids.map((id) => ran.get(id) ?? 0)
    const never = runCounts.filter((n) => n === 0).length
    const twice = runCounts.filter((n) => n > 1).length
    const strays = [...ran.keys()].filter((id) => !fields.has(id)).length
    const perProcess = tally([...fields.values()].map(([, result]) => result))

    report("1-no-faults", {
      processes: PROCESSES,
      concurrency: CONCURRENCY,
      jobs: JOBS,
      enqueueSeconds: enqueuedMs / 1000,
      seconds: elapsedMs / 1000,
      jobsPerSecond: Math.round(JOBS / (elapsedMs / 1000)),
      faults: 0,
      completed: byStatus.COMPLETED ?? 0,
      completedTotal: final.completedTotal,
      lost: JOBS - (byStatus.COMPLETED ?? 0),
      completedTwice: final.completedTotal - (byStatus.COMPLETED ?? 0),
      neverRan: never,
      ranMoreThanOnce: twice,
      jobsPerProcess: Object.values(perProcess).sort((a, b) => b - a)
    })

    expect(workers.every((w) => w.alive()), "every worker process still running").toBe(true)
    expect(final).toMatchObject({ pending: 0, active: 0, dlq: 0, completedTotal: JOBS, failedTotal: 0 })
    expect(byStatus).toEqual({ COMPLETED: JOBS })
    expect({ never, twice, strays }).toEqual({ never: 0, twice: 0, strays: 0 })
    // the work was shared: each process completed some of it
    expect(Object.keys(perProcess).sort()).toEqual(workers.map((w) => String(w.pid)).sort())

    // and they stop gracefully
    const exits = await Promise.all(workers.map((w) => w.stop("SIGTERM")))
    expect(exits.map((e) => e.code)).toEqual(workers.map(() => 0))
  })
})
