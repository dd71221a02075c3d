/**
 * Scenario 6 — a short soak: 60 s of steady load (25 jobs every 100 ms) on two
 * worker processes, finished records kept 5 s (`defaultResultTtlMs`).
 *
 * Sampled every 5 s: each worker's RSS (/proc), its heap after a full GC (a
 * `probe` job; the workers run with --expose-gc), Redis `used_memory` and the
 * number of keys. After a 20 s warm-up all of them must stay flat, and the
 * records of finished jobs must expire as their TTL says: a fresh COMPLETED
 * record has PTTL = completedAt + 5 s − now, and no record outlives it.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import { PROBES } from "./support/handlers.js"
import {
  counts,
  keys,
  liveWorkers,
  mb,
  rawRedis,
  redisServer,
  report,
  rrqClient,
  runs,
  rssOf,
  settingsFile,
  sleep,
  spawnWorker,
  until,
  useHarness
} from "./support/harness.js"

useHarness()

const LOAD_MS = 60_000
const WARMUP_MS = 20_000
const SAMPLE_EVERY_MS = 5_000
const BATCH = 25
const BATCH_EVERY_MS = 100
const RESULT_TTL_MS = 5_000

interface Sample {
  readonly t: number
  readonly rss: Record<number, number | undefined>
  readonly usedMemory: number
  readonly keys: number
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

describe("chaos 6: short soak", () => {
  it(`${LOAD_MS / 1000} s of steady load: worker memory and Redis memory flat after warm-up; finished records expire on time`, async () => {
    const server = await redisServer()
    // runs are recorded on a server of their own, so used_memory is the queue's alone
    const recorderUrl = (await redisServer()).url
    const redis = rawRedis(server.url)
    const recorder = rawRedis(recorderUrl)
    const env = { RRQ_REDIS_URL: server.url, CHAOS_RECORDER_URL: recorderUrl }
    const settings = settingsFile("soak", { defaultResultTtlMs: RESULT_TTL_MS, healthIntervalMs: 2_000 })
    const workers = [0, 1].map(() => spawnWorker(settings, env, ["--concurrency", "20"], ["--expose-gc"]))
    await until("2 live workers", async () => (await liveWorkers(redis)).length === 2, 90_000, 250)
    // the TTL of a record is fixed at enqueue, by the producer's settings
    const client = rrqClient(server.url, { defaultResultTtlMs: RESULT_TTL_MS })

    // --- steady load ------------------------------------------------------------------
    const batches: Array<{ at: number; ids: Array<string> }> = []
    let producing = true
    const t0 = Date.now()
    const producer = (async () => {
      let next = Date.now()
      while (producing) {
        const ids = Array.from({ length: BATCH }, () => randomUUID())
        await client.enqueueMany(ids.map((id) => ({ job: "work", params: { ms: 2, maxMs: 10 }, options: { jobId: id } })))
        batches.push({ at: Date.now(), ids })
        next += BATCH_EVERY_MS
        await sleep(Math.max(0, next - Date.now()))
      }
    })()

    // --- sampling ----------------------------------------------------------------------
    const samples: Array<Sample> = []
    const ttlChecks: Array<{ checked: number; worstSkewMs: number }> = []
    const overdue: Array<string> = []
    let probes = 0
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? Number.NaN)
    while (Date.now() - t0 < LOAD_MS) {
      await sleep(SAMPLE_EVERY_MS - ((Date.now() - t0) % SAMPLE_EVERY_MS))
      const t = Date.now() - t0
      await client.enqueueMany(Array.from({ length: 4 }, () => ({ job: "probe", params: {} })))
      probes += 4
      samples.push({
        t,
        rss: Object.fromEntries(workers.map((w) => [w.pid, rssOf(w.pid)])),
        usedMemory: await usedMemory(),
        keys: await redis.dbsize()
      })
      if (t < WARMUP_MS) continue
      // A batch enqueued ~2 s ago: each COMPLETED record's PTTL is completedAt + TTL − now.
      const recent = batches.filter((b) => b.at < Date.now() - 2_000).at(-1)
      if (recent) {
        const p = redis.pipeline()
        for (const id of recent.ids) p.hget(keys.job(id), "completedAt").pttl(keys.job(id))
        p.time()
        const replies = ((await p.exec()) ?? []).map(([, v]) => v)
        const [sec, usec] = replies.at(-1) as [string, string]
        const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000)
        let checked = 0
        let worstSkewMs = 0
        recent.ids.forEach((_, i) => {
          const completedAt = replies[i * 2] as string | null
          const pttl = replies[i * 2 + 1] as number
          if (completedAt === null) return
          checked++
          worstSkewMs = Math.max(worstSkewMs, Math.abs(pttl - (Number(completedAt) + RESULT_TTL_MS - now)))
        })
        ttlChecks.push({ checked, worstSkewMs })
      }
      // Batches enqueued more than TTL + 5 s ago: a record still readable must not be past its TTL
      // (one still waiting in a backlog is fine; an expired one must be gone).
      const old = batches.filter((b) => b.at < Date.now() - RESULT_TTL_MS - 5_000).slice(-40)
      const p = redis.pipeline()
      for (const b of old) for (const id of b.ids) p.hget(keys.job(id), "completedAt")
      const completedAt = ((await p.exec()) ?? []).map(([, v]) => v as string | null)
      const checkedAt = Date.now()
      old.flatMap((b) => b.ids).forEach((id, i) => {
        const at = completedAt[i]
        if (at != null && Number(at) + RESULT_TTL_MS < checkedAt - 1_000) overdue.push(id)
      })
    }
    producing = false
    await producer
    const loadMs = Date.now() - t0
    const ids = batches.flatMap((b) => b.ids)
    const total = ids.length + probes

    await until(`${total} completions`, async () => (await counts(redis)).completedTotal >= total, 60_000, 250, () => counts(redis))
    const drainedAt = Date.now()
    // Every record expires within its TTL after the last completion: only the queue's fixed keys remain.
    const jobKeysLeft = async () => {
      const [cursor, found] = await redis.scan("0", "MATCH", keys.job("*"), "COUNT", 1_000_000)
      return cursor === "0" ? found : [...found, "(more)"]
    }
    await until("every finished record to expire", async () => (await jobKeysLeft()).length === 0, RESULT_TTL_MS + 10_000, 250, async () => {
      const left = await jobKeysLeft()
      return { left: left.length, first: left[0], pttl: left[0] ? await redis.pttl(left[0]) : undefined }
    })
    const expiredAllMs = Date.now() - drainedAt
    await sleep(500)
    const final = await counts(redis)
    const ran = await runs(recorder)
    const notOnce = ids.filter((id) => ran.get(id) !== 1).length
    const probeEntries = (await recorder.lrange(PROBES, 0, -1)).map((l) => JSON.parse(l) as { pid: number; at: number; heapUsed: number; gc: boolean })

    // --- flatness ------------------------------------------------------------------------
    const after = samples.filter((s) => s.t >= WARMUP_MS)
    const third = Math.max(1, Math.floor(after.length / 3))
    const early = after.slice(0, third)
    const late = after.slice(-third)
    const rssEarly = Object.fromEntries(workers.map((w) => [w.pid, mean(early.map((s) => s.rss[w.pid] ?? 0))]))
    const rssLate = Object.fromEntries(workers.map((w) => [w.pid, mean(late.map((s) => s.rss[w.pid] ?? 0))]))
    const memEarly = mean(early.map((s) => s.usedMemory))
    const memLate = mean(late.map((s) => s.usedMemory))
    const heapOf = (pid: number, from: number, to: number) =>
      probeEntries.filter((e) => e.pid === pid && e.at - t0 >= from && e.at - t0 < to).map((e) => e.heapUsed)
    const split = WARMUP_MS + (LOAD_MS - WARMUP_MS) / 2
    const heap = workers.map((w) => ({ pid: w.pid, early: mean(heapOf(w.pid, WARMUP_MS, split)), late: mean(heapOf(w.pid, split, LOAD_MS + 5_000)) }))
    const steadyKeys = after.map((s) => s.keys)

    report("6-soak", {
      load: `${BATCH} jobs every ${BATCH_EVERY_MS} ms for ${(loadMs / 1000).toFixed(0)} s (${Math.round(ids.length / (loadMs / 1000))} jobs/s) on 2 processes × concurrency 20`,
      jobs: ids.length,
      faults: 0,
      completedTotal: final.completedTotal,
      lost: total - final.completedTotal,
      completedTwice: Math.max(0, final.completedTotal - total),
      notRunExactlyOnce: notOnce,
      workerRssMb: workers.map((w) => ({ early: mb(rssEarly[w.pid]), late: mb(rssLate[w.pid]) })),
      workerHeapAfterGcMb: heap.map((h) => ({ early: mb(h.early), late: mb(h.late) })),
      redisUsedMemoryMb: { early: mb(memEarly), late: mb(memLate) },
      keysSteadyState: { min: Math.min(...steadyKeys), max: Math.max(...steadyKeys) },
      resultTtlMs: RESULT_TTL_MS,
      ttlWorstSkewMs: Math.max(0, ...ttlChecks.map((c) => c.worstSkewMs)),
      ttlRecordsChecked: ttlChecks.reduce((a, c) => a + c.checked, 0),
      recordsOutlivingTtl: overdue.length,
      lastRecordExpiredAfterDrainMs: expiredAllMs,
      samples: samples.map((s) => ({ t: s.t, rssMb: Object.values(s.rss).map(mb), usedMemoryMb: mb(s.usedMemory), keys: s.keys }))
    })

    expect(workers.map((w) => w.alive())).toEqual([true, true])
    expect(final).toMatchObject({ pending: 0, active: 0, dlq: 0, failedTotal: 0, completedTotal: total })
    expect(notOnce).toBe(0)
    // flat after warm-up: generous bounds (a leak of one record per job would be ~10 MB and ~15,000 keys)
    for (const w of workers) expect(rssLate[w.pid]!, `RSS of worker ${w.pid}`).toBeLessThan(rssEarly[w.pid]! * 1.25 + 15 * 1048576)
    for (const h of heap) if (h.early > 0 && h.late > 0) expect(h.late, `heap after GC of ${h.pid}`).toBeLessThan(h.early * 1.2 + 4 * 1048576)
    expect(heap.some((h) => h.early > 0 && h.late > 0), "heap probes from at least one worker").toBe(true)
    expect(memLate, "Redis used_memory").toBeLessThan(memEarly * 1.25 + 2 * 1048576)
    expect(Math.max(...steadyKeys), "keys at steady state ≈ jobs/s × TTL").toBeLessThan((BATCH * 1000 / BATCH_EVERY_MS) * (RESULT_TTL_MS / 1000) * 2 + 500)
    // expiry as the TTL says
    expect(ttlChecks.length).toBeGreaterThan(0)
    expect(Math.max(...ttlChecks.map((c) => c.worstSkewMs)), "PTTL vs completedAt + TTL").toBeLessThan(1_000)
    expect(overdue, "records still readable more than 1 s past completedAt + TTL").toEqual([])
  })
})
