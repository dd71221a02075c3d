/**
 * The cases every system runs, written once against a small adapter so each
 * system is measured the same way. A system's file (`bench/rrq.ts`,
 * `bench/bullmq.ts`, `bench/beeQueue.ts`) supplies the adapter and calls
 * `main`; run it alone to measure one case:
 *
 *   npx tsx bench/rrq.ts --cases process:100 --jobs 20000            (starts its own redis-server)
 *   npx tsx bench/rrq.ts --cases bulk,enqueue --redis redis://127.0.0.1:6379/0
 *
 * Cases (`--cases a,b,...`, each preceded by FLUSHALL unless --no-flush):
 *   bulk          enqueue --jobs in batches of --batch (1,000), one batch at a time (after --warmup jobs)
 *   enqueue       enqueue --jobs one by one, --inflight (100) at once (after --warmup jobs)
 *   process:C     warm up (--warmup jobs on a scratch queue), fill --jobs (untimed), then time a worker
 *                 with concurrency C from its start until all are completed
 *   pickup        idle worker; after --pickup-warmup (200) samples, --samples enqueues, one at a time, --gap ms
 *                 apart: enqueue → handler start, from a producer in the same process, then from one in its own
 *   idle          idle worker: Redis commands per second over --window s, after 2 s of settling
 *   rss           worker (concurrency 100) over --jobs jobs already enqueued (see `fill`): RSS after warm-up and at the end
 *   fill          enqueue --jobs in batches (used before `rss` and by the two-process case)
 *   worker        one worker of the two-process case: warms up, prints READY, waits for "go" on stdin,
 *                 reports progress, stops on "stop"
 * One `BENCH_RESULT {json}` line per case on stdout; progress and logs on stderr.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { startRedis } from "./redisServer.js"
import {
  collectGarbage,
  cpuUs,
  monotonicUs,
  emitResult,
  type Flags,
  flagNumber,
  flagString,
  log,
  mb,
  now,
  parseFlags,
  percentile,
  perJobBreakdown,
  RedisAdmin,
  round,
  sleep
} from "./common.js"

/** The job every system runs: a no-op handler over this payload. */
export interface Payload {
  readonly i: number
}

export interface Producer {
  /** One batch, in one call of the system's bulk API. */
  readonly addBulk: (jobs: ReadonlyArray<Payload>) => Promise<void>
  /** Single enqueues, `inflight` at once, the way the system's users would write it. */
  readonly addConcurrent: (jobs: ReadonlyArray<Payload>, inflight: number) => Promise<void>
  readonly add: (job: Payload) => Promise<void>
  readonly close: () => Promise<void>
}

export interface PreparedWorker {
  /** Starts consuming (connections are already open). */
  readonly start: () => Promise<void>
  /** Jobs whose completion the system has recorded in Redis. */
  readonly completed: () => number
  readonly close: () => Promise<void>
}

export interface WorkerOptions {
  readonly concurrency: number
  /** Called by the no-op handler when a job starts. */
  readonly onJob: (job: Payload) => void
}

export interface Adapter {
  readonly name: string
  /** The result-keeping policy and other settings, for the report. */
  readonly settings: string
  readonly producer: (redisUrl: string, queue: string) => Promise<Producer>
  readonly worker: (redisUrl: string, queue: string, options: WorkerOptions) => Promise<PreparedWorker>
}

/** Runs `fn` over the items with at most `inflight` promises pending. */
export const pool = async <A>(items: ReadonlyArray<A>, inflight: number, fn: (a: A) => Promise<unknown>) => {
  let next = 0
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(inflight, items.length) }, lane))
}

const payloads = (n: number, from = 0): Array<Payload> => Array.from({ length: n }, (_, k) => ({ i: from + k }))

/** Resolves when `done()` is true, checking every `everyMs`; rejects after `timeoutMs`. */
const until = async (done: () => boolean, what: string, timeoutMs: number, everyMs = 2) => {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

interface Context {
  readonly adapter: Adapter
  readonly url: string
  readonly admin: RedisAdmin
  readonly flags: Flags
  readonly jobs: number
  readonly batch: number
  readonly timeoutMs: number
}

const queueName = (what: string) => `bench-${what}-${Math.random().toString(36).slice(2, 8)}`

const fill = async (ctx: Context, queue: string, n: number) => {
  const producer = await ctx.adapter.producer(ctx.url, queue)
  try {
    for (let from = 0; from < n; from += ctx.batch) {
      await producer.addBulk(payloads(Math.min(ctx.batch, n - from), from))
    }
  } finally {
    await producer.close()
  }
}

/**
 * Sends `--warmup` jobs (default 1,000) through the same producer call first,
 * so the timed part runs JIT-compiled code. They stay in the queue, ahead of the timed ones.
 */
const warmUpProducer = async (ctx: Context, producer: Producer, single: boolean) => {
  const n = flagNumber(ctx.flags, "warmup", 1_000)
  const jobs = payloads(n, -n)
  if (single) await producer.addConcurrent(jobs, flagNumber(ctx.flags, "inflight", 100))
  else for (let from = 0; from < n; from += ctx.batch) await producer.addBulk(jobs.slice(from, from + ctx.batch))
}

const caseBulk = async (ctx: Context) => {
  const queue = queueName("bulk")
  const producer = await ctx.adapter.producer(ctx.url, queue)
  try {
    const batches: Array<Array<Payload>> = []
    for (let from = 0; from < ctx.jobs; from += ctx.batch) batches.push(payloads(Math.min(ctx.batch, ctx.jobs - from), from))
    await warmUpProducer(ctx, producer, false)
    const before = await ctx.admin.snapshot()
    const cpu0 = cpuUs()
    const t0 = now()
    const w0 = monotonicUs()
    for (const b of batches) await producer.addBulk(b)
    const w1 = monotonicUs()
    const ms = now() - t0
    const cpu = cpuUs() - cpu0
    const delta = RedisAdmin.delta(before, await ctx.admin.snapshot())
    return {
      perSec: round(ctx.jobs / (ms / 1000)),
      jobs: ctx.jobs,
      batch: ctx.batch,
      ms: round(ms),
      /** The timed part on the CPU profile's clock, for `--profile`. */
      profileWindowUs: [w0, w1],
      redisCmdsPerJob: round(delta.calls / ctx.jobs, 2),
      redisCpuUsPerJob: round(delta.cpuUs / ctx.jobs, 2),
      clientCpuUsPerJob: round(cpu / ctx.jobs, 2)
    }
  } finally {
    await producer.close()
  }
}

const caseEnqueue = async (ctx: Context) => {
  const queue = queueName("enqueue")
  const inflight = flagNumber(ctx.flags, "inflight", 100)
  const producer = await ctx.adapter.producer(ctx.url, queue)
  try {
    const jobs = payloads(ctx.jobs)
    await warmUpProducer(ctx, producer, true)
    const before = await ctx.admin.snapshot()
    const cpu0 = cpuUs()
    const t0 = now()
    await producer.addConcurrent(jobs, inflight)
    const ms = now() - t0
    const cpu = cpuUs() - cpu0
    const delta = RedisAdmin.delta(before, await ctx.admin.snapshot())
    return {
      perSec: round(ctx.jobs / (ms / 1000)),
      jobs: ctx.jobs,
      inflight,
      ms: round(ms),
      redisCmdsPerJob: round(delta.calls / ctx.jobs, 2),
      redisCpuUsPerJob: round(delta.cpuUs / ctx.jobs, 2),
      clientCpuUsPerJob: round(cpu / ctx.jobs, 2)
    }
  } finally {
    await producer.close()
  }
}

/**
 * Runs a throw-away worker over `--warmup` jobs (default 1,000) on a scratch
 * queue first, so every measured worker runs JIT-compiled code, whatever ran
 * before it in this process.
 */
const warmUp = async (ctx: Context, concurrency: number) => {
  const n = flagNumber(ctx.flags, "warmup", 1_000)
  if (n === 0) return
  const queue = queueName("warmup")
  await fill(ctx, queue, n)
  // the same code paths; at least 10 at once so a concurrency-1 case does not spend seconds warming up
  const worker = await ctx.adapter.worker(ctx.url, queue, { concurrency: Math.max(10, concurrency), onJob: () => {} })
  try {
    await worker.start()
    await until(() => worker.completed() >= n, `${n} warm-up completions`, ctx.timeoutMs)
  } finally {
    await worker.close()
  }
}

const caseProcess = async (ctx: Context, concurrency: number) => {
  const queue = queueName(`c${concurrency}`)
  // Concurrency 1 is bound by round trips, not throughput: a smaller run measures it as well.
  const jobs = concurrency === 1 ? Math.min(ctx.jobs, flagNumber(ctx.flags, "c1-jobs", 2_000)) : ctx.jobs
  await warmUp(ctx, concurrency)
  await fill(ctx, queue, jobs)
  const worker = await ctx.adapter.worker(ctx.url, queue, { concurrency, onJob: () => {} })
  try {
    const before = await ctx.admin.snapshot()
    const cpu0 = cpuUs()
    const t0 = now()
    const w0 = monotonicUs()
    await worker.start()
    await until(() => worker.completed() >= jobs, `${jobs} completions`, ctx.timeoutMs)
    const w1 = monotonicUs()
    const ms = now() - t0
    const cpu = cpuUs() - cpu0
    const delta = RedisAdmin.delta(before, await ctx.admin.snapshot())
    return {
      perSec: round(jobs / (ms / 1000)),
      jobs,
      concurrency,
      ms: round(ms),
      profileWindowUs: [w0, w1],
      redisCmdsPerJob: round(delta.calls / jobs, 2),
      redisCmdsBreakdown: perJobBreakdown(delta, jobs, 20),
      redisCpuUsPerJob: round(delta.cpuUs / jobs, 2),
      /** Redis busy fraction over the run: near 1.0 means Redis was the bottleneck. */
      redisBusy: round(delta.cpuUs / 1000 / ms, 2),
      workerCpuUsPerJob: round(cpu / jobs, 2),
      workerBusy: round(cpu / 1000 / ms, 2)
    }
  } finally {
    await worker.close()
  }
}

/**
 * The producer of the pickup case, in a process of its own as in a real deployment (with
 * producer and worker in one process, whichever reply Node reads first delays the other).
 * It enqueues on "add i" and answers "ADDED i t0 t1" (process.hrtime, shared by the processes).
 */
const caseProducer = async (ctx: Context) => {
  const queue = flagString(ctx.flags, "queue", "bench-pickup")
  const producer = await ctx.adapter.producer(ctx.url, queue)
  const lines = createInterface({ input: process.stdin })
  try {
    process.stdout.write("BENCH_READY\n")
    for await (const line of lines) {
      const [command, arg] = line.trim().split(" ")
      if (command === "stop") break
      if (command !== "add") continue
      const t0 = monotonicUs()
      await producer.add({ i: Number(arg) })
      process.stdout.write(`BENCH_ADDED ${arg} ${t0} ${monotonicUs()}\n`)
    }
    return {}
  } finally {
    lines.close()
    await producer.close()
  }
}

/** A producer child process (this file, case `producer`): `add(i)` resolves with [t0, t1] in µs. */
const producerProcess = async (ctx: Context, queue: string) => {
  const child = spawn(process.execPath, [
    ...process.execArgv,
    process.argv[1]!,
    ...["--cases", "producer", "--redis", ctx.url, "--queue", queue, "--no-flush"]
  ], { stdio: ["pipe", "pipe", "inherit"] })
  const waiting = new Map<string, (times: [number, number]) => void>()
  let ready: () => void = () => {}
  const isReady = new Promise<void>((resolve) => (ready = resolve))
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line === "BENCH_READY") ready()
    const [tag, i, t0, t1] = line.split(" ")
    if (tag === "BENCH_ADDED") waiting.get(i!)?.([Number(t0), Number(t1)])
  })
  await isReady
  return {
    add: (i: number) =>
      new Promise<[number, number]>((resolve) => {
        waiting.set(String(i), resolve)
        child.stdin!.write(`add ${i}\n`)
      }),
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.stdin!.write("stop\n")
      })
  }
}

const casePickup = async (ctx: Context) => {
  const queue = queueName("pickup")
  const samples = flagNumber(ctx.flags, "samples", 200)
  // as for the other cases, enough to measure the path JIT-compiled, as in a long-running worker
  const warmup = flagNumber(ctx.flags, "pickup-warmup", 200)
  const gapMs = flagNumber(ctx.flags, "gap", 5)
  const started = new Map<number, number>()
  const worker = await ctx.adapter.worker(ctx.url, queue, {
    concurrency: flagNumber(ctx.flags, "concurrency", 10),
    onJob: (job) => started.set(job.i, monotonicUs())
  })
  const sameProcess = await ctx.adapter.producer(ctx.url, queue)
  const ownProcess = await producerProcess(ctx, queue)
  try {
    await worker.start()
    await sleep(500) // let the worker reach its idle wait
    let i = 0
    /** Enqueue → handler start, one job at a time from an idle worker; the add call's own time too. */
    const measure = async (add: (i: number) => Promise<[number, number]>) => {
      const latencies: Array<number> = []
      const adds: Array<number> = []
      for (let k = 0; k < warmup + samples; k++, i++) {
        const [t0, t1] = await add(i)
        await until(() => started.has(i), `pickup of sample ${i}`, 10_000, 1)
        if (k >= warmup) {
          latencies.push((started.get(i)! - t0) / 1000)
          adds.push((t1 - t0) / 1000)
        }
        // wait for the completion too, so every sample starts from an idle worker
        await until(() => worker.completed() >= i + 1, `completion of sample ${i}`, 10_000, 1)
        await sleep(gapMs)
      }
      return { latencies, adds }
    }
    const same = await measure(async (i) => {
      const t0 = monotonicUs()
      await sameProcess.add({ i })
      return [t0, monotonicUs()]
    })
    const own = await measure(ownProcess.add)
    return {
      p50Ms: round(percentile(same.latencies, 50), 2),
      p90Ms: round(percentile(same.latencies, 90), 2),
      p99Ms: round(percentile(same.latencies, 99), 2),
      maxMs: round(Math.max(...same.latencies), 2),
      // how long the producer's call took (enqueue → its reply), for reading the pickup figure
      addP50Ms: round(percentile(same.adds, 50), 2),
      // the same with the producer in a process of its own: three processes to wake instead of two
      ownProcessP50Ms: round(percentile(own.latencies, 50), 2),
      ownProcessP99Ms: round(percentile(own.latencies, 99), 2),
      samples
    }
  } finally {
    await ownProcess.close()
    await sameProcess.close()
    await worker.close()
  }
}

const caseIdle = async (ctx: Context) => {
  const queue = queueName("idle")
  const windowS = flagNumber(ctx.flags, "window", 10)
  const settleS = flagNumber(ctx.flags, "settle", 2)
  const worker = await ctx.adapter.worker(ctx.url, queue, { concurrency: flagNumber(ctx.flags, "concurrency", 10), onJob: () => {} })
  try {
    await worker.start()
    await sleep(settleS * 1000)
    const cpu0 = cpuUs()
    const before = await ctx.admin.snapshot()
    await sleep(windowS * 1000)
    const delta = RedisAdmin.delta(before, await ctx.admin.snapshot())
    const cpu = cpuUs() - cpu0
    const seconds = delta.ms / 1000
    return {
      cmdsPerSec: round(delta.calls / seconds, 1),
      byCommandPerSec: Object.fromEntries(
        Object.entries(delta.byCommand).sort((a, b) => b[1] - a[1]).map(([c, n]) => [c, round(n / seconds, 2)])
      ),
      workerCpuPct: round(cpu / 10 / delta.ms, 2),
      windowS: round(seconds, 1)
    }
  } finally {
    await worker.close()
  }
}

const caseRss = async (ctx: Context) => {
  // the jobs are already enqueued (by a `fill` child) so the producer's memory is not in this process
  const queue = flagString(ctx.flags, "queue", "bench-rss")
  const jobs = ctx.jobs
  const warm = Math.min(jobs, flagNumber(ctx.flags, "warm", Math.min(10_000, Math.floor(jobs / 5))))
  const concurrency = flagNumber(ctx.flags, "concurrency", 100)
  const worker = await ctx.adapter.worker(ctx.url, queue, { concurrency, onJob: () => {} })
  try {
    const redisBefore = await ctx.admin.snapshot()
    await collectGarbage()
    const rssStart = process.memoryUsage().rss
    let peak = rssStart
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100)
    const t0 = now()
    const w0 = monotonicUs()
    await worker.start()
    await until(() => worker.completed() >= warm, `${warm} completions`, ctx.timeoutMs, 5)
    await collectGarbage()
    const afterWarm = process.memoryUsage()
    await until(() => worker.completed() >= jobs, `${jobs} completions`, ctx.timeoutMs, 5)
    const w1 = monotonicUs()
    const ms = now() - t0
    clearInterval(sampler)
    await collectGarbage()
    const end = process.memoryUsage()
    const redisDelta = RedisAdmin.delta(redisBefore, await ctx.admin.snapshot())
    return {
      jobs,
      warm,
      concurrency,
      perSec: round(jobs / (ms / 1000)),
      rssMbStart: mb(rssStart),
      rssMbAfterWarmup: mb(afterWarm.rss),
      rssMbAfter: mb(end.rss),
      rssMbGrowth: mb(end.rss - afterWarm.rss),
      rssMbPeak: mb(peak),
      heapMbAfterWarmup: mb(afterWarm.heapUsed),
      heapMbAfter: mb(end.heapUsed),
      /** What processing changed in Redis memory per job: a finished record kept vs a pending one. */
      redisBytesPerJobProcessed: round(redisDelta.memory / jobs),
      /** From the worker's start to the last completion, on the CPU profile's clock (includes the two GCs forced around warm-up). */
      profileWindowUs: [w0, w1],
      gc: typeof (globalThis as { gc?: unknown }).gc === "function"
    }
  } finally {
    await worker.close()
  }
}

const caseFill = async (ctx: Context) => {
  const queue = flagString(ctx.flags, "queue", "bench-rss")
  const before = await ctx.admin.snapshot()
  const t0 = now()
  await fill(ctx, queue, ctx.jobs)
  const ms = now() - t0
  const delta = RedisAdmin.delta(before, await ctx.admin.snapshot())
  return { jobs: ctx.jobs, queue, ms: round(ms), redisBytesPerPendingJob: round(delta.memory / ctx.jobs) }
}

/** One worker of a multi-process case: the parent starts all at once and stops them when the total is reached. */
const caseWorker = async (ctx: Context) => {
  const queue = flagString(ctx.flags, "queue", "bench-2proc")
  const concurrency = flagNumber(ctx.flags, "concurrency", 100)
  await warmUp(ctx, concurrency)
  const worker = await ctx.adapter.worker(ctx.url, queue, { concurrency, onJob: () => {} })
  const lines = createInterface({ input: process.stdin })
  const commands: Array<string> = []
  lines.on("line", (l) => commands.push(l.trim()))
  try {
    process.stdout.write("BENCH_READY\n")
    await until(() => commands.includes("go"), "go", 60_000, 1)
    const startedAt = now()
    await worker.start()
    let last = 0
    let lastAt = startedAt
    while (!commands.includes("stop")) {
      const c = worker.completed()
      if (c !== last) {
        last = c
        lastAt = now()
        process.stdout.write(`BENCH_PROGRESS ${c}\n`)
      }
      await sleep(2)
    }
    return { startedAt, lastCompletionAt: lastAt, completed: worker.completed(), concurrency }
  } finally {
    lines.close()
    await worker.close()
  }
}

const runCase = async (ctx: Context, name: string): Promise<Record<string, unknown>> => {
  const [kind, arg] = name.split(":")
  switch (kind) {
    case "bulk":
      return caseBulk(ctx)
    case "enqueue":
      return caseEnqueue(ctx)
    case "process":
      return caseProcess(ctx, Number(arg ?? flagNumber(ctx.flags, "concurrency", 100)))
    case "pickup":
      return casePickup(ctx)
    case "producer":
      return caseProducer(ctx)
    case "idle":
      return caseIdle(ctx)
    case "rss":
      return caseRss(ctx)
    case "fill":
      return caseFill(ctx)
    case "worker":
      return caseWorker(ctx)
    default:
      throw new Error(`unknown case '${name}'`)
  }
}

/** The entry point of a system's child process. */
export const main = async (adapter: Adapter) => {
  const flags = parseFlags(process.argv.slice(2))
  const cases = flagString(flags, "cases", flagString(flags, "mode", "bulk,enqueue,process:1,process:10,process:100,pickup"))
    .split(",")
    .filter((c) => c.length > 0)
  const own = typeof flags["redis"] === "string" ? undefined : await startRedis()
  const url = own?.url ?? (flags["redis"] as string)
  const admin = new RedisAdmin(url)
  const ctx: Context = {
    adapter,
    url,
    admin,
    flags,
    jobs: flagNumber(flags, "jobs", 20_000),
    batch: flagNumber(flags, "batch", 1_000),
    timeoutMs: flagNumber(flags, "timeout", 600) * 1000
  }
  let failed = false
  try {
    for (const name of cases) {
      const flush = !(flags["no-flush"] === true || name === "rss" || name === "worker" || name === "producer")
      if (flush) await admin.flush()
      const t0 = now()
      const result = await runCase(ctx, name)
      log(`  ${adapter.name} ${name}: ${JSON.stringify(result)} (${round((now() - t0) / 1000, 1)} s)`)
      emitResult({ system: adapter.name, case: name, ...result })
    }
  } catch (e) {
    failed = true
    log(`${adapter.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  } finally {
    await admin.close()
    await own?.stop()
  }
  // some clients keep timers alive after close; the result is out, so leave
  process.exit(failed ? 1 : 0)
}
