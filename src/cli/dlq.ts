/** `rrq dlq ...`: list, stats, inspect, requeue, purge. */
import { Args, Command, Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Job } from "../Job.js"
import { type DlqFilter, JobStore } from "../JobStore.js"
import { RrqSettings } from "../Settings.js"
import * as Common from "./common.js"

const functionName = Options.text("function").pipe(Options.withDescription("only jobs of this function"), Options.optional)

/** The queues a DLQ command covers: the one named, or every known queue. */
const queuesOf = (queue: Option.Option<string>) =>
  Option.isSome(queue) ? Effect.succeed([queue.value]) : Effect.flatMap(JobStore, (s) => s.queues)

const entries = (queue: string, limit: number) =>
  Effect.flatMap(JobStore, (s) => s.listJobs(queue, "dlq", { offset: 0, limit }))

const matching = (jobs: ReadonlyArray<Job>, fn: Option.Option<string>) =>
  jobs.filter((j) => Option.isNone(fn) || j.functionName === fn.value)

const list = Command.make(
  "list",
  { queue: Common.queue, function: functionName, limit: Common.limit(50), json: Common.json, redisUrl: Common.redisUrl },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const jobs = matching(
        (yield* Effect.forEach(yield* queuesOf(o.queue), (q) => entries(q, o.limit))).flat(),
        o.function
      ).slice(0, o.limit)
      if (o.json) return yield* Effect.forEach(jobs, Common.printJson, { discard: true })
      yield* Common.table(
        ["QUEUE", "ID", "FUNCTION", "FAILED AT", "ATTEMPTS", "ERROR"],
        jobs.map((j) => [j.queue, j.id, j.functionName, Common.time(j.completedAt), j.currentRetries, (j.lastError ?? "").split("\n")[0]!.slice(0, 60)])
      )
    }))
).pipe(Command.withDescription("List dead-lettered jobs, most recent first"))

const stats = Command.make("stats", { json: Common.json, redisUrl: Common.redisUrl }, (o) =>
  Common.withStore(o, Effect.gen(function*() {
    const store = yield* JobStore
    const rows = yield* Effect.forEach(yield* queuesOf(Option.none()), (queue) =>
      Effect.gen(function*() {
        const byFunction = yield* store.dlqByFunction(queue)
        return { queue, dlq: (yield* store.stats(queue)).dlq, byFunction }
      }))
    if (o.json) return yield* Effect.forEach(rows, Common.printJson, { discard: true })
    yield* Common.table(
      ["QUEUE", "DLQ", "BY FUNCTION"],
      rows.map((r) => [r.queue, r.dlq, Object.entries(r.byFunction).map(([f, n]) => `${f}=${n}`).join(" ")])
    )
  }))).pipe(Command.withDescription("Dead-letter counts per queue and function"))

const inspect = Command.make(
  "inspect",
  { id: Args.text({ name: "job-id" }), queue: Common.queue, json: Common.json, redisUrl: Common.redisUrl },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const settings = yield* RrqSettings
      const queue = Option.getOrElse(o.queue, () => settings.defaultQueue)
      const job = yield* (yield* JobStore).getJob({ queue, id: o.id })
      if (Option.isNone(job) || job.value.status !== "FAILED") {
        return yield* new Common.CheckFailed({ message: `job '${o.id}' is not in the DLQ of queue '${queue}'` })
      }
      if (o.json) return yield* Common.printJson(job.value)
      for (const [k, v] of Object.entries(job.value)) {
        if (v !== undefined) yield* Common.print(`${k.padEnd(15)} ${typeof v === "string" ? v : JSON.stringify(v)}`)
      }
    }))
).pipe(Command.withDescription("Show a dead-lettered job with its error"))

/** `requeue` and `purge` share their filters and their guard against acting on everything by accident. */
const filterOptions = {
  queue: Common.queue,
  function: functionName,
  jobIds: Options.text("job-id").pipe(Options.withDescription("only this job (repeatable)"), Options.repeated),
  limit: Common.integer("limit", { min: 1 }).pipe(Options.withDescription("at most this many jobs"), Options.optional),
  all: Options.boolean("all").pipe(Options.withDescription("every DLQ job (of the queue, or of every queue)")),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("show what would be done, change nothing")),
  json: Common.json,
  redisUrl: Common.redisUrl
}

type FilterFlags = {
  readonly queue: Option.Option<string>
  readonly function: Option.Option<string>
  readonly jobIds: ReadonlyArray<string>
  readonly limit: Option.Option<number>
  readonly all: boolean
  readonly dryRun: boolean
  readonly json: boolean
  readonly redisUrl: Option.Option<string>
}

const act = (verb: "requeue" | "purge", o: FilterFlags) =>
  Effect.gen(function*() {
    const filtered = Option.isSome(o.function) || o.jobIds.length > 0 || Option.isSome(o.limit)
    if (!filtered && !o.all) {
      return yield* new Common.UsageError({
        message: `dlq ${verb} needs a filter (--function, --job-id, --limit, --queue with one of them) or --all`
      })
    }
    if (o.all && (Option.isSome(o.function) || o.jobIds.length > 0)) {
      return yield* new Common.UsageError({ message: "--all cannot be combined with --function or --job-id" })
    }
    yield* Common.withStore(o, Effect.gen(function*() {
      const store = yield* JobStore
      let remaining = Option.getOrElse(o.limit, () => Number.POSITIVE_INFINITY)
      const done: Array<{ queue: string; id: string }> = []
      for (const queue of yield* queuesOf(o.queue)) {
        if (remaining <= 0) break
        const filter: DlqFilter = {
          ...(Option.isSome(o.function) ? { functionName: o.function.value } : {}),
          ...(o.jobIds.length > 0 ? { ids: o.jobIds } : {}),
          ...(Number.isFinite(remaining) ? { limit: remaining } : {})
        }
        const ids = o.dryRun
          ? yield* store.dlqPreview(queue, filter, verb)
          : verb === "requeue"
          ? yield* store.dlqRequeue(queue, filter)
          : yield* store.dlqPurge(queue, filter).pipe(Effect.map((n) => Array.from({ length: n }, () => "")))
        remaining -= ids.length
        for (const id of ids) done.push({ queue, id })
      }
      const past = verb === "requeue" ? "requeued" : "purged"
      if (o.json) return yield* Common.printJson({ dryRun: o.dryRun, [past]: done.length, jobs: done.filter((d) => d.id !== "") })
      for (const d of done) if (d.id !== "") yield* Common.print(`${o.dryRun ? "would " + verb : past} ${d.queue} ${d.id}`)
      yield* Common.print(`${done.length} job(s) ${o.dryRun ? `would be ${past}` : past}`)
    }))
  })

const requeue = Command.make("requeue", filterOptions, (o) => act("requeue", o)).pipe(
  Command.withDescription("Move dead-lettered jobs back to pending, with retries, status and expiry reset")
)

const purge = Command.make("purge", filterOptions, (o) => act("purge", o)).pipe(
  Command.withDescription("Delete dead-lettered jobs")
)

export const command = Command.make("dlq").pipe(
  Command.withDescription("The dead-letter queue"),
  Command.withSubcommands([list, stats, inspect, requeue, purge])
)
