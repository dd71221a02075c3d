/**
 * Scenario 3 — Redis crashes: the queue's redis-server runs with
 * `appendonly yes` + `appendfsync always` and is SIGKILLed, then restarted on
 * the same port and data directory, twice during a run. Meanwhile a client
 * enqueues continuously (retrying a batch until Redis acknowledges it), three
 * worker processes run the jobs, and some callers wait for results across the
 * crash. (A second test checks that `rrq queue stats --watch` survives too.)
 *
 * Handler runs are recorded on a second redis-server that never crashes.
 * Expected: no rrq process exits; every acknowledged enqueue completes; every
 * job is completed once (`completedTotal` = the COMPLETED records).
 */
import { randomUUID } from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import { DuplicateJob } from "../../src/Errors.js"
import {
  counts,
  keys,
  liveWorkers,
  rawRedis,
  redisServer,
  report,
  rrqClient,
  type RrqProcess,
  runs,
  settingsFile,
  sleep,
  spawnRrq,
  spawnWorker,
  statuses,
  tally,
  until,
  useHarness
} from "./support/harness.js"

useHarness()

const PROCESSES = 3
const CONCURRENCY = 20
const BATCH = 25
const BATCH_EVERY_MS = 100
const DOWN_MS = 1_500
const AOF = ["--appendonly", "yes", "--appendfsync", "always"]

interface Crash {
  readonly downMs: number
  /** restart → the first job completed after it */
  readonly firstCompletionMs: number
  /** restart → a job enqueued after it completed (workers, subscribers and clients all back) */
  readonly roundTripMs: number
  readonly ackedBefore: number
  readonly completedAtRestart: number
}

interface Facts {
  crashes: Array<Crash>
  acked: Array<string>
  ackedStatus: Record<string, number>
  allStatus: Record<string, number>
  allIds: number
  final: Awaited<ReturnType<typeof counts>>
  neverRan: Array<string>
  waiterFailures: Array<string>
  workersAlive: Array<boolean>
  errorLines: Array<string>
}

describe("chaos 3: Redis crashes", () => {
  const facts = {} as Facts

  beforeAll(async () => {
    const first = await redisServer(AOF)
    const { port, dir, url } = first
    const recorderServer = await redisServer()
    const redis = rawRedis(url, { maxRetriesPerRequest: 1 })
    const recorder = rawRedis(recorderServer.url)
    const env = { RRQ_REDIS_URL: url, CHAOS_RECORDER_URL: recorderServer.url }
    const settings = settingsFile("redis-crashes", {
      leaseMs: 5_000,
      recoverIntervalMs: 1_000,
      maxStalls: 1_000,
      healthIntervalMs: 1_000
    })

    const workers: Array<RrqProcess> = Array.from(
      { length: PROCESSES },
      () => spawnWorker(settings, env, ["--concurrency", String(CONCURRENCY)])
    )
    await until(`${PROCESSES} live workers`, async () => (await liveWorkers(redis)).length === PROCESSES, 90_000, 250)

    const client = rrqClient(url)

    // Callers waiting for results across both crashes (at ~3 s and ~9 s): the jobs take 10–12 s.
    const waited = await client.enqueueMany(
      Array.from({ length: 10 }, () => ({ job: "work", params: { ms: 10_000, maxMs: 12_000 } }))
    )
    const waiters = waited.map((ref) =>
      client.waitForResult(ref, { timeout: "120 seconds" }).then(
        (result) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error: String(error) })
      )
    )

    // --- the producer: a batch every 100 ms, retried until acknowledged ---------------
    const acked: Array<string> = [...waited.map((r) => r.id)]
    const attempted = new Set<string>(acked)
    let failedAttempts = 0
    let ackedAsDuplicate = 0
    let producing = true
    const producer = (async () => {
      while (producing) {
        const batch = Array.from({ length: BATCH }, () => randomUUID())
        for (const id of batch) attempted.add(id)
        for (let attempt = 0;; attempt++) {
          try {
            await client.enqueueMany(batch.map((id) => ({ job: "work", params: { ms: 10, maxMs: 60 }, options: { jobId: id } })))
            break
          } catch (e) {
            // A retry that finds the ids already there: the lost reply was an acknowledged write
            // (the script is all or nothing, and fsync happens before any reply).
            if (attempt > 0 && e instanceof DuplicateJob) {
              ackedAsDuplicate++
              break
            }
            failedAttempts++
            if (attempt >= 600) throw new Error(`enqueue still failing after 60 s: ${String(e)}`)
            await sleep(100)
          }
        }
        acked.push(...batch)
        await sleep(BATCH_EVERY_MS)
      }
    })()

    // --- the crashes ----------------------------------------------------------------
    const crashes: Array<Crash> = []
    let current = first
    const crash = async () => {
      const ackedBefore = acked.length
      const killedAt = Date.now()
      current.process.kill("SIGKILL")
      await new Promise((r) => current.process.exitCode !== null || current.process.signalCode !== null ? r(null) : current.process.once("exit", r))
      await sleep(DOWN_MS)
      current = await redisServer([...AOF, "--dir", dir], port)
      const restartedAt = Date.now()
      let completedAtRestart = -1
      await until("Redis answering again", async () => {
        completedAtRestart = (await counts(redis)).completedTotal
        return true
      }, 20_000, 50)
      await until("a completion after the restart", async () => (await counts(redis)).completedTotal > completedAtRestart, 60_000, 50)
      const firstCompletionMs = Date.now() - restartedAt
      const probe = await client.enqueue("work", {})
      await client.waitForResult(probe, { timeout: "60 seconds" })
      crashes.push({
        downMs: restartedAt - killedAt,
        firstCompletionMs,
        roundTripMs: Date.now() - restartedAt,
        ackedBefore,
        completedAtRestart
      })
      acked.push(probe.id)
      attempted.add(probe.id)
    }

    const t0 = Date.now()
    await sleep(3_000)
    await crash()
    await sleep(3_000)
    await crash()
    await sleep(2_000)
    producing = false
    await producer
    const producedMs = Date.now() - t0

    await until(
      `all ${acked.length} acknowledged jobs COMPLETED`,
      async () => {
        const c = await counts(redis)
        return c.pending === 0 && c.active === 0 && c.completedTotal >= acked.length
      },
      120_000,
      500,
      () => counts(redis)
    )
    const results = await Promise.all(waiters)
    await sleep(1_000)

    // --- what is left -------------------------------------------------------------------
    const final = await counts(redis)
    const ackedStatus = await statuses(redis, acked)
    const byStatus = tally(ackedStatus.values())
    const jobKeys: Array<string> = []
    let cursor = "0"
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", keys.job("*"), "COUNT", 1_000)
      jobKeys.push(...batch)
      cursor = next
    } while (cursor !== "0")
    const allIds = jobKeys.map((k) => k.slice(keys.job("").length))
    const allStatus = tally((await statuses(redis, allIds)).values())
    const unacknowledgedButPresent = allIds.filter((id) => !ackedStatus.has(id)).length
    const ran = await runs(recorder)
    const neverRan = acked.filter((id) => (ran.get(id) ?? 0) === 0)
    const reRun = acked.filter((id) => (ran.get(id) ?? 0) > 1).length
    const errorLines = workers.flatMap((w) => w.stderr().split("\n").filter((l) => /level=(ERROR|FATAL)/.test(l)))

    report("3-redis-crashes", {
      processes: PROCESSES,
      concurrency: CONCURRENCY,
      producer: `${BATCH} jobs every ${BATCH_EVERY_MS} ms for ${(producedMs / 1000).toFixed(1)} s`,
      faults: `${crashes.length} × SIGKILL of redis-server (appendfsync always), restarted after ${DOWN_MS} ms`,
      acknowledged: acked.length,
      failedEnqueueAttempts: failedAttempts,
      ackedOnRetryAsDuplicate: ackedAsDuplicate,
      unacknowledgedButPresent,
      completed: byStatus.COMPLETED ?? 0,
      completedTotal: final.completedTotal,
      lost: acked.length - (byStatus.COMPLETED ?? 0),
      completedTwice: final.completedTotal - (allStatus.COMPLETED ?? 0),
      reRun,
      crashes,
      processesExited: workers.filter((p) => !p.alive()).length,
      clientWarnings: client.logs.filter((l) => l.level === "WARN").length,
      waitersAcrossCrash: results.length,
      waitersFailed: results.filter((r) => !r.ok).length,
      workerErrorLines: errorLines.length
    })

    Object.assign(facts, {
      crashes,
      acked,
      ackedStatus: byStatus,
      allStatus,
      allIds: allIds.length,
      final,
      neverRan,
      waiterFailures: results.filter((r) => !r.ok).map((r) => (r.ok ? "" : r.error)),
      workersAlive: workers.map((w) => w.alive()),
      errorLines
    } satisfies Facts)
  })

  it("every acknowledged job COMPLETED; no job completed twice", () => {
    expect(facts.crashes).toHaveLength(2)
    expect(facts.ackedStatus, "every acknowledged job COMPLETED").toEqual({ COMPLETED: facts.acked.length })
    expect(facts.allStatus, "every job in Redis COMPLETED").toEqual({ COMPLETED: facts.allIds })
    expect(facts.final).toMatchObject({ pending: 0, active: 0, dlq: 0, failedTotal: 0 })
    expect(facts.final.completedTotal, "completed exactly once").toBe(facts.allStatus.COMPLETED)
    expect(facts.neverRan).toEqual([])
  })

  it("no worker process exits, and none logs an error or a defect", () => {
    expect(facts.workersAlive).toEqual(facts.workersAlive.map(() => true))
    expect(facts.errorLines).toEqual([])
  })

  it("callers waiting for a result (RrqClient.waitForResult) across a Redis restart get it", () => {
    expect(facts.waiterFailures).toEqual([])
  })

  it("a long-running `rrq queue stats --watch` survives the Redis restarts", async () => {
    // Kept apart from the run above: a monitoring command is not on the job path.
    const first = await redisServer(AOF)
    const watcher = spawnRrq(["queue", "stats", "--watch", "--interval", "300ms", "--json", "--queue", "default"], {
      RRQ_REDIS_URL: first.url
    })
    await until("the first stats line", () => watcher.stdout().includes('"queue":"default"'), 60_000)
    first.process.kill("SIGKILL")
    await new Promise((r) => first.process.once("exit", r))
    await sleep(DOWN_MS)
    await redisServer([...AOF, "--dir", first.dir], first.port)
    const seen = watcher.stdout().length
    await until("a stats line after the restart", () => !watcher.alive() || watcher.stdout().length > seen, 30_000)
    expect(watcher.alive(), `rrq queue stats --watch exited: ${watcher.stderr().slice(-500)}`).toBe(true)
    expect(watcher.stdout().length).toBeGreaterThan(seen)
  })
})
