/** `rrq job ...`: enqueue, show, list, cancel, result. */
import { Args, Command, Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import { RrqClient } from "../Client.js"
import type { EnqueueOptions } from "../Job.js"
import { isTerminal, JobRef } from "../Job.js"
import { JobStore, type JobState } from "../JobStore.js"
import { RrqSettings } from "../Settings.js"
import * as Common from "./common.js"

const jobId = Args.text({ name: "job-id" }).pipe(Args.withDescription("the job id"))

const parseJson = (what: string, text: string) =>
  Either.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => new Common.UsageError({ message: `${what} is not valid JSON: ${(e as Error).message}` })
  })

const refOf = (id: string, queue: Option.Option<string>) =>
  Effect.map(RrqSettings, (s) => new JobRef({ queue: Option.getOrElse(queue, () => s.defaultQueue), id }))

const findJob = (id: string, queue: Option.Option<string>) =>
  Effect.gen(function*() {
    const ref = yield* refOf(id, queue)
    const job = yield* (yield* RrqClient).getJob(ref)
    if (Option.isNone(job)) return yield* new Common.CheckFailed({ message: `job '${id}' not found in queue '${ref.queue}'` })
    return job.value
  })

const showJob = (job: Parameters<typeof JSON.stringify>[0] & Record<string, unknown>) =>
  Common.print(
    Object.entries(job)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k.padEnd(15)} ${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join("\n")
  )

const BATCH = 1_000

const enqueue = Command.make(
  "enqueue",
  {
    functionName: Args.text({ name: "function" }).pipe(Args.withDescription("the handler's function name")),
    params: Options.text("params").pipe(Options.withDescription("params as JSON (default {})"), Options.optional),
    paramsFile: Options.text("params-file").pipe(
      Options.withDescription("NDJSON file, one params object per line (- for stdin): enqueues one job per line"),
      Options.optional
    ),
    queue: Common.queue,
    jobId: Options.text("job-id").pipe(Options.optional),
    deferBy: Options.text("defer-by").pipe(Options.withDescription("run after this delay, e.g. 30s"), Options.optional),
    deferUntil: Options.text("defer-until").pipe(
      Options.withDescription("run at this time (ISO 8601 or epoch ms)"),
      Options.optional
    ),
    maxRetries: Common.integer("max-retries", { min: 1 }).pipe(Options.withDescription("total attempts allowed"), Options.optional),
    timeout: Options.text("timeout").pipe(Options.withDescription("per-attempt timeout, e.g. 5m"), Options.optional),
    uniqueKey: Options.text("unique-key").pipe(Options.optional),
    idempotencyKey: Options.text("idempotency-key").pipe(Options.optional),
    json: Common.json,
    redisUrl: Common.redisUrl
  },
  (o) =>
    Effect.gen(function*() {
      if (Option.isSome(o.deferBy) && Option.isSome(o.deferUntil)) {
        return yield* new Common.UsageError({ message: "--defer-by and --defer-until cannot be combined" })
      }
      if (Option.isSome(o.params) && Option.isSome(o.paramsFile)) {
        return yield* new Common.UsageError({ message: "--params and --params-file cannot be combined" })
      }
      if (Option.isSome(o.jobId) && Option.isSome(o.paramsFile)) {
        return yield* new Common.UsageError({ message: "--job-id cannot be combined with --params-file" })
      }
      const options: Record<string, unknown> = {}
      if (Option.isSome(o.queue)) options.queue = o.queue.value
      if (Option.isSome(o.jobId)) options.jobId = o.jobId.value
      if (Option.isSome(o.deferBy)) options.deferBy = yield* Common.duration("defer-by", o.deferBy.value)
      if (Option.isSome(o.deferUntil)) {
        const raw = o.deferUntil.value
        const at = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw)
        if (!Number.isFinite(at)) return yield* new Common.UsageError({ message: `--defer-until: invalid time '${raw}'` })
        options.deferUntil = at
      }
      if (Option.isSome(o.maxRetries)) options.maxRetries = o.maxRetries.value
      if (Option.isSome(o.timeout)) options.timeout = yield* Common.duration("timeout", o.timeout.value)
      if (Option.isSome(o.uniqueKey)) options.uniqueKey = o.uniqueKey.value
      if (Option.isSome(o.idempotencyKey)) options.idempotencyKey = o.idempotencyKey.value

      const paramsList = Option.isSome(o.paramsFile)
        ? yield* readParamsFile(o.paramsFile.value)
        : [Option.isSome(o.params) ? yield* parseJson("--params", o.params.value) : {}]

      yield* Common.withStore(o, Effect.gen(function*() {
        const client = yield* RrqClient
        for (let i = 0; i < paramsList.length; i += BATCH) {
          const batch = paramsList.slice(i, i + BATCH).map((params) => ({
            job: o.functionName,
            params,
            options: options as EnqueueOptions
          }))
          const refs = yield* client.enqueueMany(batch)
          for (const ref of refs) {
            yield* o.json ? Common.printJson({ id: ref.id, queue: ref.queue, created: ref.created }) : Common.print(ref.id)
          }
        }
      }))
    })
).pipe(Command.withDescription("Enqueue a job by function name (or one per line of an NDJSON file)"))

const readParamsFile = (file: string) =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => readFileSync(file === "-" ? 0 : file, "utf8"),
      catch: (e) => new Common.UsageError({ message: `--params-file: cannot read '${file}': ${(e as Error).message}` })
    })
    const out: Array<unknown> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      out.push(yield* parseJson(`--params-file line ${i + 1}`, line))
    }
    return out
  })

const show = Command.make(
  "show",
  { id: jobId, queue: Common.queue, json: Common.json, redisUrl: Common.redisUrl },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const job = yield* findJob(o.id, o.queue)
      yield* o.json ? Common.printJson(job) : showJob({ ...job })
    }))
).pipe(Command.withDescription("Show a job's record"))

const list = Command.make(
  "list",
  {
    queue: Common.queue,
    state: Options.choice("state", ["pending", "active", "dlq"] as const).pipe(
      Options.withDescription("which jobs: pending (by run-at), active, or dlq"),
      Options.withDefault("pending" as JobState)
    ),
    limit: Common.limit(50),
    json: Common.json,
    redisUrl: Common.redisUrl
  },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const settings = yield* RrqSettings
      const q = Option.getOrElse(o.queue, () => settings.defaultQueue)
      const jobs = yield* (yield* JobStore).listJobs(q, o.state, { offset: 0, limit: o.limit })
      if (o.json) return yield* Effect.forEach(jobs, Common.printJson, { discard: true })
      yield* Common.table(
        ["ID", "FUNCTION", "STATUS", "ATTEMPT", "NEXT RUN", "LAST ERROR"],
        jobs.map((j) => [j.id, j.functionName, j.status, `${j.currentRetries + 1}/${j.maxRetries}`, Common.time(j.nextRunAt), (j.lastError ?? "").split("\n")[0]!.slice(0, 60)])
      )
    }))
).pipe(Command.withDescription("List the jobs of a queue"))

const cancel = Command.make(
  "cancel",
  { id: jobId, queue: Common.queue, json: Common.json, redisUrl: Common.redisUrl },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const ref = yield* refOf(o.id, o.queue)
      const outcome = yield* (yield* RrqClient).cancel(ref).pipe(
        Effect.catchTag("JobNotFound", (e) => new Common.CheckFailed({ message: e.message }))
      )
      if (o.json) return yield* Common.printJson({ id: o.id, queue: ref.queue, ...outcome })
      yield* Common.print(
        outcome._tag === "Cancelled"
          ? `cancelled ${o.id}${outcome.wasRunning ? " (it was running; its worker interrupts it)" : ""}`
          : `job ${o.id} already finished: ${outcome.status}`
      )
    }))
).pipe(Command.withDescription("Cancel a pending or running job"))

const promote = Command.make(
  "promote",
  {
    id: Args.text({ name: "job-id" }).pipe(Args.withDescription("the job to run now"), Args.optional),
    all: Options.boolean("all").pipe(Options.withDescription("every deferred or backing-off job of the queue")),
    queue: Common.queue,
    json: Common.json,
    redisUrl: Common.redisUrl
  },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      if (Option.isSome(o.id) === o.all) {
        return yield* new Common.UsageError({ message: "job promote: give a job id, or --all (with --queue) for every waiting job of a queue" })
      }
      const client = yield* RrqClient
      if (Option.isSome(o.id)) {
        const ref = yield* refOf(o.id.value, o.queue)
        const promoted = yield* client.promote(ref)
        if (o.json) return yield* Common.printJson({ id: ref.id, queue: ref.queue, promoted: promoted ? 1 : 0 })
        return yield* Common.print(promoted ? `promoted ${ref.id}: it runs now` : `job ${ref.id} was not waiting for a later time (already due, running, finished or unknown)`)
      }
      const queue = Option.getOrElse(o.queue, () => "")
      const name = queue === "" ? (yield* RrqSettings).defaultQueue : queue
      const count = yield* client.promoteAll(name).pipe(
        Effect.catchTag("InvalidOptions", (e) => new Common.UsageError({ message: e.message }))
      )
      if (o.json) return yield* Common.printJson({ queue: name, promoted: count })
      yield* Common.print(`promoted ${count} job(s) of '${name}': they run now`)
    }))
).pipe(Command.withDescription("Run a deferred or backing-off job now (or, with --all, every one of a queue)"))

const result = Command.make(
  "result",
  {
    id: jobId,
    queue: Common.queue,
    wait: Options.text("wait").pipe(Options.withDescription("wait this long for the job to finish, e.g. 30s"), Options.optional),
    json: Common.json,
    redisUrl: Common.redisUrl
  },
  (o) =>
    Effect.gen(function*() {
      const waitMs = Option.isSome(o.wait) ? yield* Common.duration("wait", o.wait.value) : 0
      yield* Common.withStore(o, Effect.gen(function*() {
        const ref = yield* refOf(o.id, o.queue)
        const client = yield* RrqClient
        const notFinished = (status: string) =>
          new Common.CheckFailed({
            message: `job '${o.id}' has not finished (status ${status})${waitMs > 0 ? ` after waiting ${o.wait.pipe(Option.getOrElse(() => ""))}` : ""}`
          })
        const value = waitMs === 0
          ? yield* Effect.flatMap(findJob(o.id, o.queue), (job) =>
            job.status === "COMPLETED"
              ? Effect.succeed(job.result)
              : isTerminal(job.status)
              ? new Common.CheckFailed({ message: `job '${o.id}' ended ${job.status}${job.lastError ? `: ${job.lastError}` : ""}` })
              : notFinished(job.status))
          : yield* client.waitForResult(ref, { timeout: waitMs }).pipe(
            Effect.catchTags({
              JobNotFound: (e) => new Common.CheckFailed({ message: e.message }),
              JobFailed: (e) => new Common.CheckFailed({ message: e.message }),
              WaitTimeout: () => Effect.flatMap(findJob(o.id, o.queue), (job) => notFinished(job.status))
            })
          )
        yield* o.json ? Common.printJson({ id: o.id, queue: ref.queue, status: "COMPLETED", result: value }) : Common.print(JSON.stringify(value))
      }))
    })
).pipe(Command.withDescription("Print a job's result; exit 1 if it failed or has not finished"))

export const command = Command.make("job").pipe(
  Command.withDescription("Enqueue, inspect and cancel jobs"),
  Command.withSubcommands([enqueue, show, list, cancel, promote, result])
)
