/**
 * The rrq quickstart: `npm run demo`.
 *
 * Enqueues about 1,000 jobs (some fail and are retried, some always fail and end
 * in the dead-letter queue, some are deferred), runs a pool of two in-process
 * workers with a live progress line, and prints a summary table.
 *
 * Runs on the embedded in-memory store; set RRQ_REDIS_URL to run it on Redis.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Logger, LogLevel, Schema } from "effect"
import { Client, FailJob, Handler, JobDefinition, JobStore, Redis, RrqClient, Settings, Worker } from "effect-rrq"

// --- job definitions: shared by producers and workers ------------------------

const ResizeImage = JobDefinition.make("resize_image", {
  params: Schema.Struct({ url: Schema.String, width: Schema.Number }),
  result: Schema.Struct({ url: Schema.String, bytes: Schema.Number })
})
const SendEmail = JobDefinition.make("send_email", {
  params: Schema.Struct({ to: Schema.String }),
  maxRetries: 3
})
const ChargeCard = JobDefinition.make("charge_card", {
  params: Schema.Struct({ card: Schema.String, cents: Schema.Number }),
  maxRetries: 3
})
const DailyReport = JobDefinition.make("daily_report", { params: Schema.Struct({ day: Schema.Number }) })

// --- handlers ------------------------------------------------------------------

const flakyOnce = new Set<string>()

const handlers = {
  // an Effect handler, typed by its definition
  [ResizeImage.name]: Handler.forJob(ResizeImage, ({ url, width }) =>
    Effect.sleep(Math.random() * 20).pipe(Effect.as({ url: `${url}?w=${width}`, bytes: width * 42 }))),
  // a plain async handler: every fifth address fails its first attempt and is retried
  [SendEmail.name]: Handler.forJob(SendEmail, async ({ to }, ctx) => {
    await new Promise((r) => setTimeout(r, Math.random() * 10))
    if (to.endsWith("5@example.com") && !flakyOnce.has(ctx.jobId)) {
      flakyOnce.add(ctx.jobId)
      throw new Error(`SMTP timeout for ${to}`)
    }
    return `sent to ${to}`
  }),
  // expired cards always fail (three attempts, then the DLQ); stolen ones fail at once
  [ChargeCard.name]: Handler.forJob(ChargeCard, ({ card }) =>
    card === "stolen"
      ? Effect.fail(new FailJob({ reason: "card reported stolen" }))
      : card === "expired"
      ? Effect.fail(new Error("card expired"))
      : Effect.succeed("charged")),
  [DailyReport.name]: Handler.forJob(DailyReport, ({ day }) => Effect.succeed(`report for day ${day}`))
}

// --- the program -----------------------------------------------------------------

const isTTY = process.stdout.isTTY === true

const program = Effect.gen(function*() {
  const client = yield* RrqClient
  const store = yield* JobStore.JobStore
  const started = Date.now()

  yield* client.enqueueMany([
    ...Array.from({ length: 600 }, (_, i) => ({ job: ResizeImage, params: { url: `https://img/${i}.png`, width: 100 + i } })),
    ...Array.from({ length: 300 }, (_, i) => ({ job: SendEmail, params: { to: `user${i}@example.com` } })),
    ...Array.from({ length: 80 }, (_, i) => ({
      job: ChargeCard,
      params: { card: i % 10 === 0 ? "expired" : i % 10 === 1 ? "stolen" : "valid", cents: 100 * i }
    })),
    ...Array.from({ length: 20 }, (_, i) => ({
      job: DailyReport,
      params: { day: i },
      options: { deferBy: 500 + i * 50 }
    }))
  ])
  const total = 1_000
  yield* Console.log(`Enqueued ${total} jobs (600 resizes, 300 emails, 80 charges, 20 deferred reports)`)

  const workers = yield* Worker.pool({ handlers, concurrency: 50 }, 2)
  yield* Console.log(`Started ${workers.length} workers × 50 slots on the ${process.env.RRQ_REDIS_URL ? "Redis" : "in-memory"} store\n`)

  // live progress until every job is finished
  let last = 0
  while (true) {
    const s = yield* store.stats("default")
    const finished = s.completedTotal + s.failedTotal
    const line = `  completed ${String(s.completedTotal).padStart(4)}  failed ${String(s.failedTotal).padStart(3)}  ` +
      `running ${String(s.active).padStart(3)}  ready ${String(s.ready).padStart(4)}  waiting ${String(s.delayed).padStart(3)}  ` +
      `[${"#".repeat(Math.round((finished / total) * 30)).padEnd(30)}]`
    if (isTTY) process.stdout.write(`\r${line}`)
    else if (Date.now() - last > 1_000 || finished >= total) {
      yield* Console.log(line)
      last = Date.now()
    }
    if (finished >= total && s.active === 0) break
    yield* Effect.sleep("100 millis")
  }
  if (isTTY) process.stdout.write("\n")

  // summary per function
  const counts = yield* Effect.forEach(workers, (w) => w.counts)
  const retried = counts.reduce((n, c) => n + c.retried, 0)
  const dlq = yield* store.listJobs("default", "dlq", { offset: 0, limit: 1_000 })
  const rows = [ResizeImage, SendEmail, ChargeCard, DailyReport].map((d) => ({
    function: d.name,
    failed: dlq.filter((j) => j.functionName === d.name).length
  }))
  const enqueued: Record<string, number> = { resize_image: 600, send_email: 300, charge_card: 80, daily_report: 20 }
  yield* Console.log(`\nFinished in ${((Date.now() - started) / 1000).toFixed(1)}s — ${retried} retries along the way\n`)
  yield* Console.log("  function        completed  failed (DLQ)")
  for (const r of rows) {
    yield* Console.log(`  ${r.function.padEnd(14)}  ${String(enqueued[r.function]! - r.failed).padStart(9)}  ${String(r.failed).padStart(12)}`)
  }
  const reasons = new Map<string, number>()
  for (const j of dlq) reasons.set(j.lastError?.split("\n")[0] ?? "?", (reasons.get(j.lastError?.split("\n")[0] ?? "?") ?? 0) + 1)
  yield* Console.log("\n  dead-letter reasons:")
  for (const [reason, n] of reasons) yield* Console.log(`    ${String(n).padStart(3)} × ${reason}`)
})

const settings = Settings.layer({
  ...(process.env.RRQ_REDIS_URL ? { redisUrl: process.env.RRQ_REDIS_URL, keyPrefix: `rrq-demo-${Date.now()}` } : {}),
  retryBaseMs: "200ms",
  retryMaxMs: "1s"
})
const store = process.env.RRQ_REDIS_URL
  ? JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))
  : JobStore.layerMemory

program.pipe(
  Effect.scoped,
  Effect.provide(Client.layer.pipe(Layer.provideMerge(store), Layer.provideMerge(settings))),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
