/**
 * Scenario 5 — bad input: garbage written straight into Redis (job records of
 * the wrong type, with missing or non-numeric fields, with params that are not
 * JSON; pending and active entries with no record), params that fail the
 * handler's Schema, an unknown function, a result JSON cannot carry, an
 * oversized payload, and invalid JSON through the CLI — mixed into 2,000 good
 * jobs served by two worker processes.
 *
 * Each bad input must end as a clear error (nothing written) or as a DLQ entry
 * whose error says why, readable with `rrq dlq list` / `rrq job show`; the
 * workers must keep running and complete every good job exactly once.
 */
import { randomUUID } from "node:crypto"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { InvalidOptions, InvalidParams } from "../../src/Errors.js"
import { JobRef } from "../../src/Job.js"
import {
  type CliResult,
  counts,
  dbUrl,
  keys,
  liveWorkers,
  rawRedis,
  redisServer,
  report,
  rrqCli,
  rrqClient,
  type RrqProcess,
  runs,
  settingsFile,
  spawnWorker,
  statuses,
  until,
  useHarness
} from "./support/harness.js"

useHarness()

const GOOD = 2_000
const OVERSIZED = 600 * 1024 // maxPayloadBytes is 512 KiB

interface BadJob {
  readonly id: string
  readonly what: string
  /** What the DLQ entry's error must say. */
  readonly reason: RegExp
}

/** Every bad job that must end in the DLQ, by what was wrong with it. */
const BAD: ReadonlyArray<BadJob> = [
  { id: "bad-missing", what: "a pending entry with no record", reason: /Job record missing/ },
  { id: "bad-string", what: "a record that is a string", reason: /Corrupted job record.*string.*kept at/ },
  { id: "bad-list", what: "a record that is a list", reason: /Corrupted job record.*list.*kept at/ },
  { id: "bad-fields", what: "a record with non-numeric counters", reason: /invalid fields.*currentRetries was "lots"/ },
  { id: "bad-partial", what: "a record missing its function name and counters", reason: /Corrupted job record: missing or invalid fields/ },
  { id: "bad-json", what: "params that are not JSON", reason: /Invalid params for 'work': not valid JSON/ },
  { id: "bad-ghost", what: "an active entry with no record (expired lease)", reason: /Job record missing or unreadable: found with an expired lease/ },
  { id: "bad-schema", what: "params that fail the handler's Schema", reason: /Invalid params for 'typed'.*n/s },
  { id: "bad-unknown", what: "an unknown function", reason: /No handler registered for function 'no_such_function'/ },
  { id: "bad-result", what: "a result JSON cannot carry", reason: /Result of 'unserialisable' is not JSON-serialisable/ }
]

interface Facts {
  workers: Array<RrqProcess>
  goodIds: Array<string>
  goodStatus: Map<string, string | null>
  goodRuns: Array<number>
  bad: Map<string, { status: string | null; inDlq: boolean; error: string | null }>
  corruptKept: Record<string, string>
  garbageTimeout: { status: string | null; read: string | undefined }
  oversizedClient: unknown
  oversizedCliResult: CliResult
  badJsonParams: CliResult
  badJsonFile: CliResult
  cliQueuePending: number
  dlqList: CliResult
  /** `rrq job show bad-json`: the CLI's view of one record the worker dead-lettered. */
  showBadJson: CliResult
  /** RrqClient.getJob of each dead-lettered job: undefined when readable, else the error. */
  reads: Map<string, string | undefined>
  final: Awaited<ReturnType<typeof counts>>
}

describe("chaos 5: bad input", () => {
  const facts = {} as Facts

  beforeAll(async () => {
    const server = await redisServer()
    const recorderUrl = dbUrl(server.url, 1)
    const redis = rawRedis(server.url)
    const env = { RRQ_REDIS_URL: server.url, CHAOS_RECORDER_URL: recorderUrl }
    const settings = settingsFile("bad-input", { leaseMs: 2_000, recoverIntervalMs: 500, healthIntervalMs: 1_000 })
    facts.workers = [0, 1].map(() => spawnWorker(settings, env, ["--concurrency", "10"]))
    await until("2 live workers", async () => (await liveWorkers(redis)).length === 2, 90_000, 250)

    const client = rrqClient(server.url)
    const enqueueGood = async (n: number) => {
      const ids = Array.from({ length: n }, () => randomUUID())
      await client.enqueueMany(ids.map((id) => ({ job: "work", params: { ms: 1, maxMs: 5 }, options: { jobId: id } })))
      return ids
    }
    facts.goodIds = await enqueueGood(GOOD / 2)

    // --- garbage written straight into Redis, between the good jobs ---------------------
    const now = Date.now()
    const record = (id: string, fields: Record<string, string>) =>
      redis.hset(keys.job(id), {
        id,
        queue: "default",
        functionName: "work",
        params: "{}",
        status: "PENDING",
        currentRetries: "0",
        maxRetries: "3",
        enqueuedAt: String(now),
        stalls: "0",
        ...fields
      })
    await redis.set(keys.job("bad-string"), "garbage")
    await redis.rpush(keys.job("bad-list"), "a", "b")
    await record("bad-fields", { currentRetries: "lots", maxRetries: "x", enqueuedAt: "yesterday" })
    await redis.hset(keys.job("bad-partial"), { params: "{}", status: "PENDING" })
    await record("bad-json", { params: "{not json" })
    // a garbage optional field: the job is runnable and must not be stuck or lost
    await record("garbage-timeout", { timeoutMs: "soon" })
    for (const id of ["bad-missing", "bad-string", "bad-list", "bad-fields", "bad-partial", "bad-json", "garbage-timeout"]) {
      await redis.zadd(keys.pending, now, id)
    }
    await redis.zadd(keys.active, now - 1_000, "bad-ghost")

    // --- bad input through the library ---------------------------------------------
    await client.enqueue("typed", { n: "two" }, { jobId: "bad-schema" })
    await client.enqueue("no_such_function", {}, { jobId: "bad-unknown" })
    await client.enqueue("unserialisable", {}, { jobId: "bad-result", maxRetries: 1 })
    facts.oversizedClient = await client
      .enqueue("work", { pad: "x".repeat(OVERSIZED) }, { jobId: "bad-oversized" })
      .then(() => undefined, (e: unknown) => e)

    // --- bad input through the CLI (a queue no worker serves, to see that nothing lands) ----
    const dir = join(settings, "..")
    const badFile = join(dir, "bad-line-3.ndjson")
    writeFileSync(badFile, ['{"ms":1}', '{"ms":2}', '{"ms": }', '{"ms":4}'].join("\n") + "\n")
    const bigFile = join(dir, "oversized.ndjson")
    writeFileSync(bigFile, `{"ms":1}\n${JSON.stringify({ pad: "x".repeat(OVERSIZED) })}\n`)
    const cli = (args: ReadonlyArray<string>) => rrqCli(["job", "enqueue", "work", "--queue", "clicheck", ...args], env)
    ;[facts.badJsonParams, facts.badJsonFile, facts.oversizedCliResult] = await Promise.all([
      cli(["--params", "{not json"]),
      cli(["--params-file", badFile]),
      cli(["--params-file", bigFile])
    ])
    facts.cliQueuePending = await redis.zcard("rrq:{clicheck}:pending")

    facts.goodIds.push(...(await enqueueGood(GOOD / 2)))

    // --- the outcome ------------------------------------------------------------------
    await until(
      "the good jobs completed and the bad ones dead-lettered",
      async () => {
        const c = await counts(redis)
        return c.completedTotal >= GOOD && c.dlq >= BAD.length && c.pending === 0 && c.active === 0
      },
      90_000,
      250,
      () => counts(redis)
    )
    await new Promise((r) => setTimeout(r, 1_000))
    facts.final = await counts(redis)
    facts.goodStatus = await statuses(redis, facts.goodIds)
    const ran = await runs(rawRedis(recorderUrl))
    facts.goodRuns = facts.goodIds.map((id) => ran.get(id) ?? 0)
    facts.bad = new Map()
    for (const b of BAD) {
      const [status, error] = await redis.hmget(keys.job(b.id), "status", "lastError")
      facts.bad.set(b.id, { status, error, inDlq: (await redis.zscore(keys.dlq, b.id)) !== null })
    }
    facts.corruptKept = {
      "bad-string": await redis.type(keys.corrupt("bad-string")),
      "bad-list": await redis.type(keys.corrupt("bad-list"))
    }
    const read = (id: string) =>
      client.getJob(new JobRef({ queue: "default", id })).then(
        (job) => (job === undefined ? "not found" : undefined),
        (e: unknown) => (e instanceof Error ? e.message : String(e))
      )
    facts.reads = new Map(await Promise.all(BAD.map(async (b) => [b.id, await read(b.id)] as const)))
    facts.garbageTimeout = { status: await redis.hget(keys.job("garbage-timeout"), "status"), read: await read("garbage-timeout") }
    ;[facts.dlqList, facts.showBadJson] = await Promise.all([
      rrqCli(["dlq", "list", "--json", "--limit", "100"], env),
      rrqCli(["job", "show", "bad-json", "--json"], env)
    ])

    report("5-bad-input", {
      goodJobs: GOOD,
      // dead-lettered, plus: a garbage timeoutMs (runs), an oversized payload (client, CLI),
      // invalid JSON (--params, --params-file) refused at enqueue
      badInputs: BAD.length + 5,
      refusedAtEnqueue: 4,
      faults: [...BAD.map((b) => b.what), "a garbage timeoutMs", "an oversized payload (library and CLI)", "invalid JSON through the CLI (--params, --params-file)"],
      deadLettered: [...facts.bad.values()].filter((b) => b.inDlq).length,
      goodCompleted: [...facts.goodStatus.values()].filter((s) => s === "COMPLETED").length,
      lost: GOOD - [...facts.goodStatus.values()].filter((s) => s === "COMPLETED").length,
      completedTwice: facts.goodRuns.filter((n) => n > 1).length,
      completedTotal: facts.final.completedTotal,
      workersAlive: facts.workers.filter((w) => w.alive()).length,
      dlqListExit: facts.dlqList.code,
      unreadableDlqEntries: [...facts.reads.values()].filter((r) => r !== undefined).length
    })
  })

  it("the workers keep running and complete every good job exactly once", () => {
    expect(facts.workers.map((w) => w.alive())).toEqual([true, true])
    expect([...facts.goodStatus.values()].filter((s) => s !== "COMPLETED")).toEqual([])
    expect(facts.goodRuns.filter((n) => n !== 1)).toEqual([])
    expect(facts.final).toMatchObject({ pending: 0, active: 0, dlq: BAD.length, failedTotal: BAD.length })
  })

  for (const bad of BAD) {
    it(`${bad.what}: a DLQ entry that says why`, () => {
      const got = facts.bad.get(bad.id)!
      expect({ status: got.status, inDlq: got.inDlq }).toEqual({ status: "FAILED", inDlq: true })
      expect(got.error).toMatch(bad.reason)
    })
  }

  it("a record that was not a hash is kept aside for inspection", () => {
    expect(facts.corruptKept).toEqual({ "bad-string": "string", "bad-list": "list" })
  })

  it("a garbage optional field (timeoutMs) does not block the job: it runs or is dead-lettered", () => {
    expect(["COMPLETED", "FAILED"]).toContain(facts.garbageTimeout.status)
  })

  it("a garbage optional field (timeoutMs): the record can still be read", () => {
    expect(facts.garbageTimeout.read).toBeUndefined()
  })

  it("an oversized payload is refused with a clear error, and nothing is written", () => {
    const e = facts.oversizedClient
    expect(e instanceof InvalidParams || e instanceof InvalidOptions).toBe(true)
    expect((e as Error).message).toMatch(/more than maxPayloadBytes \(524288\)/)
    expect(facts.oversizedCliResult.code).not.toBe(0)
    expect(facts.oversizedCliResult.stderr).toMatch(/more than maxPayloadBytes/)
    expect(facts.final.completedTotal).toBe(GOOD + (facts.garbageTimeout.status === "COMPLETED" ? 1 : 0))
  })

  it("invalid JSON through the CLI: exit 2, one clear line naming the bad line, nothing enqueued", () => {
    expect(facts.badJsonParams.code).toBe(2)
    expect(facts.badJsonParams.stderr).toMatch(/--params is not valid JSON/)
    expect(facts.badJsonFile.code).toBe(2)
    expect(facts.badJsonFile.stderr).toMatch(/--params-file line 3 is not valid JSON/)
    expect(facts.cliQueuePending).toBe(0)
  })

  it("`rrq dlq list --json` lists every dead-lettered job with its error, whatever the record held", () => {
    expect(facts.dlqList.stderr).toBe("")
    expect(facts.dlqList.code).toBe(0)
    const listed = facts.dlqList.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { id: string; lastError?: string })
    expect(listed.map((j) => j.id).sort()).toEqual(BAD.map((b) => b.id).sort())
    for (const j of listed) expect(j.lastError).toMatch(BAD.find((b) => b.id === j.id)!.reason)
  })

  it("every dead-lettered job can be read (RrqClient.getJob, as `rrq job show` and `rrq dlq inspect` do)", () => {
    const unreadable = [...facts.reads].filter(([, error]) => error !== undefined).map(([id, error]) => `${id}: ${error}`)
    expect(unreadable).toEqual([])
  })

  it("`rrq job show` of a job dead-lettered for non-JSON params shows it", () => {
    expect(facts.showBadJson.stderr).toBe("")
    expect(facts.showBadJson.code).toBe(0)
    expect(JSON.parse(facts.showBadJson.stdout)).toMatchObject({ id: "bad-json", status: "FAILED" })
  })
})
