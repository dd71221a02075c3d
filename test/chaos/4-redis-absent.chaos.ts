/**
 * Scenario 4 — Redis absent at start: a worker process is started against a
 * port where nothing listens. It must say so once, clearly, wait with backoff
 * (no busy loop), and process jobs as soon as Redis comes up there. Meanwhile
 * `rrq check`, `rrq job enqueue` and the library client must fail fast with a
 * clear error instead of hanging.
 */
import { randomUUID } from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import { JobStoreError } from "../../src/Errors.js"
import { freePort } from "../support/redisServer.js"
import {
  type CliResult,
  counts,
  cpuMsOf,
  dbUrl,
  rawRedis,
  redisServer,
  report,
  rrqCli,
  rrqClient,
  type RrqProcess,
  runs,
  settingsFile,
  sleep,
  spawnWorker,
  until,
  useHarness
} from "./support/harness.js"

useHarness()

const OUTAGE_MS = 10_000
const JOBS = 200

interface Facts {
  url: string
  worker: RrqProcess
  /** The worker's log lines from its start until Redis came up. */
  outageLines: Array<string>
  cpuMsDuringOutage: number
  aliveAfterOutage: boolean
  check: CliResult
  enqueueCli: CliResult
  client: { ms: number; error: unknown }
  clientLogs: Array<{ level: string; message: string }>
  /** Redis up → the first of the jobs enqueued then completed. */
  firstCompletionMs: number
  completed: number
  runsPerJob: Array<number>
  checkAfter: CliResult
  aliveAtEnd: boolean
}

/** The last line of a failed command's stderr (its error). */
const errorLine = (r: CliResult) => r.stderr.trim().split("\n").filter((l) => l.startsWith("rrq:")).at(-1) ?? ""

const WARN_OR_WORSE = /level=(WARN|ERROR|FATAL)/

describe("chaos 4: Redis absent at start", () => {
  const facts = {} as Facts

  beforeAll(async () => {
    const port = await freePort()
    const url = `redis://127.0.0.1:${port}/0`
    const recorderUrl = dbUrl(url, 1)
    const env = { RRQ_REDIS_URL: url, CHAOS_RECORDER_URL: recorderUrl }
    facts.url = url
    const worker = spawnWorker(settingsFile("redis-absent", { healthIntervalMs: 2_000 }), env)
    facts.worker = worker
    await until("the worker to start", () => /Worker \S+ started/.test(worker.stderr()) || !worker.alive(), 90_000)

    // The outage: the worker waits; the CLI and the library client fail fast.
    const cpuBefore = cpuMsOf(worker.pid) ?? 0
    const outageStart = Date.now()
    const client = rrqClient(url)
    const [check, enqueueCli, lib] = await Promise.all([
      rrqCli(["check"], env, 60_000),
      rrqCli(["job", "enqueue", "work", "--params", "{}"], env, 60_000),
      (async () => {
        const t0 = Date.now()
        const error = await client.enqueue("work", {}).then(() => undefined, (e: unknown) => e)
        return { ms: Date.now() - t0, error }
      })()
    ])
    facts.check = check
    facts.enqueueCli = enqueueCli
    facts.client = lib
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)))
    facts.cpuMsDuringOutage = (cpuMsOf(worker.pid) ?? Number.NaN) - cpuBefore
    facts.aliveAfterOutage = worker.alive()
    facts.outageLines = worker.stderr().split("\n").filter((l) => l.trim() !== "")
    facts.clientLogs = [...client.logs]

    // Redis comes up on that port: the same client and the waiting worker carry on.
    await redisServer([], port)
    const upAt = Date.now()
    const redis = rawRedis(url)
    const ids = Array.from({ length: JOBS }, () => randomUUID())
    await until("the client to enqueue again", async () => {
      await client.enqueueMany(ids.map((id) => ({ job: "work", params: {}, options: { jobId: id } })))
      return true
    }, 30_000, 200)
    await until("a first completion", async () => (await counts(redis)).completedTotal > 0, 60_000, 100)
    facts.firstCompletionMs = Date.now() - upAt
    await until(`${JOBS} completions`, async () => (await counts(redis)).completedTotal >= JOBS, 60_000, 200)
    facts.completed = (await counts(redis)).completedTotal
    const ran = await runs(rawRedis(recorderUrl))
    facts.runsPerJob = ids.map((id) => ran.get(id) ?? 0)
    let after: CliResult | undefined
    await until("rrq check to see the worker", async () => {
      after = await rrqCli(["check", "--json"], env, 60_000)
      return after.code === 0
    }, 60_000, 500)
    facts.checkAfter = after!
    facts.aliveAtEnd = worker.alive()

    report("4-redis-absent", {
      outageMs: OUTAGE_MS,
      workerLinesDuringOutage: facts.outageLines.filter((l) => WARN_OR_WORSE.test(l)).length,
      workerCpuMsDuringOutage: Math.round(facts.cpuMsDuringOutage),
      checkExit: check.code,
      checkMs: check.ms,
      checkError: errorLine(check),
      enqueueCliExit: enqueueCli.code,
      enqueueCliMs: enqueueCli.ms,
      clientFailedInMs: lib.ms,
      clientError: lib.error instanceof Error ? lib.error.message : String(lib.error),
      redisUpToFirstCompletionMs: facts.firstCompletionMs,
      jobs: JOBS,
      completed: facts.completed,
      lost: JOBS - facts.completed,
      completedTwice: facts.completed - JOBS
    })
  })

  it("the worker keeps running and processes the jobs once Redis is up", () => {
    expect(facts.aliveAfterOutage).toBe(true)
    expect(facts.aliveAtEnd).toBe(true)
    expect(facts.completed).toBe(JOBS)
    expect(facts.runsPerJob.filter((n) => n !== 1)).toEqual([])
    expect(JSON.parse(facts.checkAfter.stdout)).toMatchObject({ ok: true, workers: [{ pid: facts.worker.pid }] })
  })

  it("waits with backoff: no busy loop while Redis is absent", () => {
    // an idle worker retrying with backoff uses a few percent of a core, not a core
    expect(facts.cpuMsDuringOutage).toBeLessThan(OUTAGE_MS * 0.2)
  })

  it("logs one clear line for the outage: where, why, and that it waits", () => {
    const warnings = facts.outageLines.filter((l) => WARN_OR_WORSE.test(l))
    /** The message of a log line, cut short: enough to see what it is. */
    const gist = (l: string) => (/message="(.*)$/.exec(l)?.[1] ?? l).slice(0, 110)
    expect(warnings.some((l) => l.includes(facts.url) && l.includes("ECONNREFUSED"))).toBe(true)
    // no stack traces in the log of an expected condition
    expect(warnings.filter((l) => /\\n\s+at |at <anonymous>/.test(l)).map(gist), "lines with a stack trace").toEqual([])
    expect(warnings.map(gist), `${warnings.length} warning lines in ${OUTAGE_MS / 1000} s`).toHaveLength(1)
  })

  it("`rrq check` and `rrq job enqueue` fail fast with exit code 1", () => {
    for (const r of [facts.check, facts.enqueueCli]) {
      expect(r.timedOut).toBe(false)
      expect(r.code).toBe(1)
      // process start-up included (several seconds on a loaded machine); a hang would be 60 s
      expect(r.ms).toBeLessThan(30_000)
    }
  })

  it("`rrq check` and `rrq job enqueue` end with a clear error: which Redis, and why", () => {
    for (const r of [facts.check, facts.enqueueCli]) {
      const line = errorLine(r)
      expect(line).toContain(facts.url.replace(/\/0$/, ""))
      expect(line).toMatch(/ECONNREFUSED|unreachable|unavailable|cannot connect/i)
      expect(line).not.toContain("maxRetriesPerRequest")
    }
  })

  it("the library client fails fast with a JobStoreError", () => {
    expect(facts.client.error).toBeInstanceOf(JobStoreError)
    expect(facts.client.ms).toBeLessThan(5_000)
  })

  it("the library client's error says which Redis, and why", () => {
    const message = (facts.client.error as JobStoreError).message
    expect(message).toContain(facts.url.replace(/\/0$/, ""))
    expect(message).toMatch(/ECONNREFUSED|unreachable|unavailable|cannot connect/i)
    expect(message).not.toContain("maxRetriesPerRequest")
  })
})
