/** `rrq queue ...`: list, stats (optionally watched), inspect, pause and resume. */
import { Args, Command, Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Option from "effect/Option"
import { RrqClient } from "../Client.js"
import { JobStore, type QueueStats } from "../JobStore.js"
import * as Common from "./common.js"

const statsTable = (stats: ReadonlyArray<QueueStats>) =>
  Common.table(
    ["QUEUE", "READY", "DELAYED", "ACTIVE", "DLQ", "COMPLETED", "FAILED", "STATE"],
    stats.map((s) => [s.queue, s.ready, s.delayed, s.active, s.dlq, s.completedTotal, s.failedTotal, s.paused ? "paused" : "running"])
  )

const allStats = (only: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const names = only.length > 0 ? only : yield* store.queues
    return yield* Effect.forEach(names, store.stats)
  })

const list = Command.make("list", { json: Common.json, redisUrl: Common.redisUrl }, (o) =>
  Common.withStore(o, Effect.gen(function*() {
    const stats = yield* allStats([])
    if (o.json) return yield* Effect.forEach(stats, Common.printJson, { discard: true })
    yield* statsTable(stats)
  }))).pipe(Command.withDescription("List known queues with their counts"))

const MIN_INTERVAL_MS = 100

const stats = Command.make(
  "stats",
  {
    queues: Options.text("queue").pipe(Options.withDescription("only this queue (repeatable)"), Options.repeated),
    watch: Options.boolean("watch").pipe(Options.withDescription("refresh in place until interrupted")),
    interval: Options.text("interval").pipe(Options.withDescription("refresh interval for --watch (at least 100ms, e.g. 2s)"), Options.withDefault("1s")),
    json: Common.json,
    redisUrl: Common.redisUrl
  },
  (o) =>
    Effect.gen(function*() {
      const interval = yield* Common.duration("interval", o.interval)
      // a bare number is milliseconds: `--interval 1` would redraw a thousand times a second
      if (interval < MIN_INTERVAL_MS) {
        return yield* new Common.UsageError({ message: `--interval: must be at least ${MIN_INTERVAL_MS}ms (e.g. 1s)` })
      }
      yield* Common.withStore(o, Effect.gen(function*() {
        const once = Effect.gen(function*() {
          const stats = yield* allStats(o.queues)
          if (o.json) return yield* Effect.forEach(stats, Common.printJson, { discard: true })
          if (o.watch) yield* Effect.sync(() => process.stdout.write("\x1b[H\x1b[2J"))
          yield* statsTable(stats)
          if (o.watch) yield* Common.print(`\n${new Date().toISOString()} (every ${o.interval}; Ctrl-C to stop)`)
        })
        if (!o.watch) return yield* once
        // a watch survives a Redis restart: it says so and keeps refreshing
        yield* once.pipe(
          Effect.catchAll((e) => Common.print(`${new Date().toISOString()} ${e.message}; retrying`)),
          Effect.repeat(Schedule.spaced(interval))
        )
      }))
    })
).pipe(Command.withDescription("Per-queue counts: ready, delayed, active, dlq, completed and failed totals"))

const inspect = Command.make(
  "inspect",
  { queue: Args.text({ name: "queue" }), limit: Common.limit(10), json: Common.json, redisUrl: Common.redisUrl },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const store = yield* JobStore
      const stats = yield* store.stats(o.queue)
      const page = { offset: 0, limit: o.limit }
      const [pending, active, dlq] = yield* Effect.all([
        store.listJobs(o.queue, "pending", page),
        store.listJobs(o.queue, "active", page),
        store.listJobs(o.queue, "dlq", page)
      ])
      if (o.json) return yield* Common.printJson({ ...stats, pending, active, dlqJobs: dlq })
      yield* statsTable([stats])
      for (const [title, jobs] of [["pending", pending], ["active", active], ["dlq", dlq]] as const) {
        yield* Common.print(`\n${title} (first ${o.limit}):`)
        yield* jobs.length === 0
          ? Common.print("  (none)")
          : Common.table(
            ["  ID", "FUNCTION", "STATUS", "ATTEMPT", "WORKER", "LAST ERROR"],
            jobs.map((j) => [`  ${j.id}`, j.functionName, j.status, `${j.currentRetries + 1}/${j.maxRetries}`, j.workerId ?? "-", Option.getOrElse(Option.fromNullable(j.lastError?.split("\n")[0]?.slice(0, 50)), () => "")])
          )
      }
    }))
).pipe(Command.withDescription("A queue's counts and its first pending, active and dead-lettered jobs"))

/** `pause` and `resume`: one queue, for every worker at once. */
const pausing = (name: "pause" | "resume") =>
  Command.make(name, { queue: Args.text({ name: "queue" }), json: Common.json, redisUrl: Common.redisUrl }, (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const client = yield* RrqClient
      const changed = yield* (name === "pause" ? client.pause(o.queue) : client.resume(o.queue)).pipe(
        Effect.catchTag("InvalidOptions", (e) => new Common.UsageError({ message: e.message }))
      )
      const paused = name === "pause"
      if (o.json) return yield* Common.printJson({ queue: o.queue, paused, changed })
      yield* Common.print(
        changed ? `queue '${o.queue}' ${paused ? "paused" : "resumed"}` : `queue '${o.queue}' was ${paused ? "paused" : "not paused"} already`
      )
    }))).pipe(Command.withDescription(
      name === "pause"
        ? "Pause a queue for every worker: enqueues still land, no job is claimed until resume (running jobs finish)"
        : "Resume a paused queue; idle workers wake at once"
    ))

export const command = Command.make("queue").pipe(
  Command.withDescription("Inspect, pause and resume queues"),
  Command.withSubcommands([list, stats, inspect, pausing("pause"), pausing("resume")])
)
