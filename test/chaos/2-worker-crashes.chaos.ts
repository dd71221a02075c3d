/**
 * Scenario 2 — worker crashes: 4 worker processes (concurrency 25, lease 2 s,
 * expired-lease sweep every 0.5 s) run 10,000 jobs of 30–120 ms, enqueued over
 * ~20 s (250 every 500 ms). Every ~2 s a random process that holds leases is
 * SIGKILLed (at most 10 times, and only while another process holds leases
 * too) and replaced by a fresh process.
 *
 * Right after each kill, the jobs whose lease the dead process held are read
 * from the active set: those are the only jobs allowed to run again. All jobs
 * must end COMPLETED, none lost, and `completedTotal` must equal the number of
 * jobs exactly (every completion goes through the lease-token check).
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import {
  activeJobsOf,
  counts,
  dbUrl,
  jobFields,
  keys,
  leaseHolders,
  liveWorkers,
  percentile,
  pidOfWorker,
  rawRedis,
  redisServer,
  report,
  rrqClient,
  type RrqProcess,
  runs,
  settingsFile,
  sleep,
  spawnWorker,
  tally,
  until,
  useHarness
} from "./support/harness.js"

useHarness()

const JOBS = 10_000
const PROCESSES = 4
const CONCURRENCY = 25
const LEASE_MS = 2_000
const RECOVER_MS = 500
const KILL_EVERY_MS = 2_000
const MAX_KILLS = 10
const ENQUEUE_BATCH = 250
const ENQUEUE_EVERY_MS = 500

interface Kill {
  readonly at: number
  readonly pid: number
  /** Jobs whose lease the killed process held. */
  readonly inFlight: ReadonlyArray<string>
  /** ms from the kill until all of them were back in pending (their lease recovered) or beyond. */
  requeuedMs?: number
  /** When they were back in pending: how many ready jobs were ahead of the last of them. */
  queuedBehind?: number
  /** ms from the kill until all of them were COMPLETED by other workers. */
  recoveredMs?: number
}

describe("chaos 2: worker crashes", () => {
  it(`SIGKILL a worker every ~${KILL_EVERY_MS / 1000} s over ${JOBS} jobs: all COMPLETED, none lost, none completed twice, re-runs only for jobs in flight at a kill`, async () => {
    const server = await redisServer()
    const recorderUrl = dbUrl(server.url, 1)
    const redis = rawRedis(server.url)
    const recorder = rawRedis(recorderUrl)
    const env = { RRQ_REDIS_URL: server.url, CHAOS_RECORDER_URL: recorderUrl }
    const settings = settingsFile("worker-crashes", {
      leaseMs: LEASE_MS,
      recoverIntervalMs: RECOVER_MS,
      // a job may be in flight at several kills; it must never be dead-lettered as lost here
      maxStalls: 1_000,
      healthIntervalMs: 1_000
    })
    const start = () => spawnWorker(settings, env, ["--concurrency", String(CONCURRENCY), "--num-workers", "1"])

    const workers = new Set<RrqProcess>(Array.from({ length: PROCESSES }, start))
    const replaced: Array<RrqProcess> = []
    await until(`${PROCESSES} live workers`, async () => (await liveWorkers(redis)).length === PROCESSES, 90_000, 250)

    const client = rrqClient(server.url)
    const ids = Array.from({ length: JOBS }, () => randomUUID())
    // Paced over ~20 s (250 jobs every 500 ms), so the run lasts long enough for several kills
    // however fast the machine is.
    const t0 = Date.now()
    const producer = (async () => {
      for (let i = 0; i < JOBS; i += ENQUEUE_BATCH) {
        await client.enqueueMany(
          ids.slice(i, i + ENQUEUE_BATCH).map((id) => ({ job: "work", params: { ms: 30, maxMs: 120 }, options: { jobId: id } }))
        )
        await sleep(t0 + ((i / ENQUEUE_BATCH) + 1) * ENQUEUE_EVERY_MS - Date.now())
      }
    })()

    // --- the killer -------------------------------------------------------------
    const kills: Array<Kill> = []
    const recoveries: Array<Promise<void>> = []
    const watchRecovery = (kill: Kill) =>
      (async () => {
        const deadline = Date.now() + 150_000
        let held = kill.inFlight
        let left = kill.inFlight
        while (left.length > 0 && Date.now() < deadline) {
          const st = await jobFields(redis, left, ["status", "workerId"])
          // still held by the dead process: ACTIVE under its worker id
          held = held.filter((id) => {
            const [status, workerId] = st.get(id) ?? []
            return status === "ACTIVE" && pidOfWorker(workerId) === kill.pid
          })
          if (held.length === 0 && kill.requeuedMs === undefined) {
            kill.requeuedMs = Date.now() - kill.at
            const p = redis.pipeline()
            for (const id of kill.inFlight) p.zrank(keys.pending, id)
            const ranks = ((await p.exec()) ?? []).map(([, r]) => r as number | null).filter((r): r is number => r !== null)
            kill.queuedBehind = Math.max(0, ...ranks)
          }
          left = left.filter((id) => st.get(id)?.[0] !== "COMPLETED")
          if (left.length > 0) await sleep(200)
        }
        if (left.length === 0) kill.recoveredMs = Date.now() - kill.at
        if (held.length === 0) kill.requeuedMs ??= Date.now() - kill.at
      })()

    let done = false
    const killer = (async () => {
      while (!done && kills.length < MAX_KILLS) {
        await sleep(KILL_EVERY_MS * (0.75 + Math.random() * 0.5))
        // Kill a random process that holds leases, and only while another one holds leases too:
        // a replacement takes seconds to start on a busy machine, and a kill with no live worker
        // left would measure process start-up, not rrq.
        let victim: RrqProcess | undefined
        while (!done && victim === undefined) {
          const holders = await leaseHolders(redis)
          const serving = [...workers].filter((w) => w.alive() && (holders.get(w.pid) ?? 0) > 0)
          if (serving.length >= 2) victim = serving[Math.floor(Math.random() * serving.length)]!
          else await sleep(250)
        }
        if (done || victim === undefined) break
        const at = Date.now()
        await victim.stop("SIGKILL")
        // read at once: its leases stay in the active set for at least lease/3
        const inFlight = await activeJobsOf(redis, victim.pid)
        workers.delete(victim)
        const kill: Kill = { at, pid: victim.pid, inFlight }
        kills.push(kill)
        recoveries.push(watchRecovery(kill))
        const fresh = start()
        workers.add(fresh)
        replaced.push(fresh)
      }
    })()

    try {
      await until(
        `${JOBS} completions`,
        async () => (await counts(redis)).completedTotal >= JOBS,
        200_000,
        250,
        () => counts(redis)
      )
    } finally {
      done = true
      await killer
      await producer
    }
    const elapsedMs = Date.now() - t0
    await Promise.all(recoveries)
    await sleep(1_000)

    const final = await counts(redis)
    const fields = await jobFields(redis, ids, ["status", "stalls"])
    const byStatus = tally([...fields.values()].map(([s]) => s))
    const ran = await runs(recorder)
    const inFlightAtKills = new Set(kills.flatMap((k) => k.inFlight))
    const reRun = ids.filter((id) => (ran.get(id) ?? 0) > 1)
    const reRunNotInFlight = reRun.filter((id) => !inFlightAtKills.has(id))
    const neverRan = ids.filter((id) => (ran.get(id) ?? 0) === 0)
    // a job runs again only after its lease was recovered: runs ≤ stalls + 1
    const moreRunsThanStalls = ids.filter((id) => (ran.get(id) ?? 0) > Number(fields.get(id)?.[1] ?? 0) + 1)
    const recovered = kills.map((k) => k.recoveredMs).filter((ms): ms is number => ms !== undefined)
    const requeued = kills.map((k) => k.requeuedMs).filter((ms): ms is number => ms !== undefined)
    const spread = (values: ReadonlyArray<number>) => ({
      min: Math.min(...values),
      median: percentile(values, 50),
      max: Math.max(...values)
    })

    report("2-worker-crashes", {
      processes: PROCESSES,
      concurrency: CONCURRENCY,
      leaseMs: LEASE_MS,
      recoverIntervalMs: RECOVER_MS,
      jobs: JOBS,
      seconds: elapsedMs / 1000,
      faults: `${kills.length} × SIGKILL of a worker process`,
      kills: kills.length,
      killIntervalMs: percentile(kills.slice(1).map((k, i) => k.at - kills[i]!.at), 50),
      inFlightAtKills: inFlightAtKills.size,
      reRun: reRun.length,
      reRunNotInFlightAtAKill: reRunNotInFlight.length,
      completed: byStatus.COMPLETED ?? 0,
      completedTotal: final.completedTotal,
      lost: JOBS - (byStatus.COMPLETED ?? 0),
      completedTwice: final.completedTotal - (byStatus.COMPLETED ?? 0),
      // kill → the dead worker's jobs are back in pending (lease expiry + sweep)
      requeuedMs: spread(requeued),
      // the recovered jobs rejoin pending at run-at = now, behind the jobs already waiting
      queuedBehindJobs: spread(kills.map((k) => k.queuedBehind ?? 0)),
      // kill → those jobs COMPLETED elsewhere (they rejoin the queue behind the backlog)
      completedElsewhereMs: spread(recovered),
      unrecovered: kills.length - recovered.length
    })

    if (process.env.CHAOS_DEBUG) {
      console.log(JSON.stringify(kills.map((k) => ({ at: new Date(k.at).toISOString(), pid: k.pid, n: k.inFlight.length, requeuedMs: k.requeuedMs, recoveredMs: k.recoveredMs }))))
      for (const w of [...workers, ...replaced]) console.log(w.pid, w.stderr().split("\n").filter((l) => /recovered|WARN|ERROR/.test(l)).map((l) => l.slice(0, 220)).join("\n"))
    }
    expect(kills.length, "enough kills to mean something").toBeGreaterThanOrEqual(4)
    expect(final).toMatchObject({ pending: 0, active: 0, dlq: 0, completedTotal: JOBS, failedTotal: 0 })
    expect(byStatus).toEqual({ COMPLETED: JOBS })
    expect(neverRan).toEqual([])
    expect(reRunNotInFlight, "jobs run again that no killed worker held").toEqual([])
    expect(reRun.length).toBeLessThanOrEqual(kills.length * CONCURRENCY)
    expect(moreRunsThanStalls, "jobs run more often than their leases were recovered").toEqual([])
    expect(recovered.length, "every kill's jobs completed elsewhere").toBe(kills.length)
    // detection is lease + sweep (2 s + ≤ 0.75 s); generous for a loaded machine
    expect(Math.max(...requeued)).toBeLessThan(LEASE_MS + 4 * RECOVER_MS + 10_000)
    // the survivors and the replacements were never disturbed
    expect([...workers].every((w) => w.alive())).toBe(true)
    expect(replaced.length).toBe(kills.length)
  })
})
