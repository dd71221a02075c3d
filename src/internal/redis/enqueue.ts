/**
 * Enqueue on Redis: each queue's jobs of a call in one `enqueue.lua` call, their shared
 * fields sent once per run of like jobs; the queue's name registered in `rrq:queues`.
 */
import * as Effect from "effect/Effect"
import { DuplicateJob } from "../../Errors.js"
import * as Job from "../../Job.js"
import type { EnqueueOutcome, JobStoreShape } from "../../JobStore.js"
import type { Settings } from "../../Settings.js"
import { positionsByQueue } from "../newJob.js"
import type { RedisCtx } from "./context.js"

/** Whether two jobs of a batch share every field the enqueue script takes once per shape. */
const sameShape = (a: Job.NewJob, b: Job.NewJob) =>
  a.functionName === b.functionName && a.maxRetries === b.maxRetries && a.timeoutMs === b.timeoutMs &&
  a.resultTtlMs === b.resultTtlMs && a.runAt === b.runAt && a.delayMs === b.delayMs &&
  a.uniqueKey === b.uniqueKey && a.idempotencyKey === b.idempotencyKey && a.traceContext === b.traceContext &&
  (a.fresh === true) === (b.fresh === true)

/**
 * The enqueue script's arguments: the fields jobs of a batch usually share
 * (function, options) go once per run of like jobs (a "shape"), each job sends
 * only its id and params (and its shape when there are several): 2 or 3 values
 * per job instead of 12, a fraction of what ioredis encodes and Redis parses.
 */
const enqueueArgs = (settings: Settings, queue: string, group: ReadonlyArray<Job.NewJob>) => {
  const shapeArgs: Array<string | number> = []
  const shapeOf: Array<number> = []
  let shapes = 0
  let previous: Job.NewJob | undefined
  for (const j of group) {
    if (previous === undefined || !sameShape(previous, j)) {
      shapes++
      shapeArgs.push(
        j.functionName,
        j.maxRetries,
        j.timeoutMs ?? "",
        j.resultTtlMs,
        j.runAt ?? "",
        j.delayMs,
        j.uniqueKey ?? "",
        j.idempotencyKey ?? "",
        j.traceContext ?? "",
        j.fresh === true ? 1 : 0
      )
      previous = j
    }
    shapeOf.push(shapes)
  }
  const args = [queue, settings.uniqueLockTtlMs, settings.idempotencyTtlMs, group.length, shapes, ...shapeArgs]
  // with one shape (the usual batch) the jobs' shape indexes are left out
  for (let i = 0; i < group.length; i++) {
    if (shapes === 1) args.push(group[i]!.id, group[i]!.params)
    else args.push(group[i]!.id, group[i]!.params, shapeOf[i]!)
  }
  return args
}

export const make = ({ keys, run, settings, use }: RedisCtx): Pick<JobStoreShape, "enqueue"> => {
  const known = new Set<string>()
  /** Registers a queue name once per process (rrq:queues is outside the queue's slot). */
  const register = (queue: string) =>
    known.has(queue)
      ? Effect.void
      : use((r) => r.sadd(keys.queues, queue)).pipe(Effect.tap(() => Effect.sync(() => known.add(queue))))

  /** One queue's jobs in one script call; writes their outcomes at their positions. */
  const enqueueGroup = (
    queue: string,
    group: ReadonlyArray<Job.NewJob>,
    positions: ReadonlyArray<number>,
    outcomes: Array<EnqueueOutcome>
  ) =>
    Effect.zipRight(
      register(queue), // Effect.void once known
      Effect.flatMap(run("enqueue", queue, enqueueArgs(settings, queue, group)), (raw) => {
        const reply = raw as Array<string | number>
        if (reply[0] === "DUP") return Effect.fail(new DuplicateJob({ queue, id: reply[1] as string }))
        // the jobs an idempotency key answered for: (1-based index, the existing job's id)
        for (let i = 0; i < reply.length; i += 2) {
          outcomes[positions[(reply[i] as number) - 1]!] = { _tag: "Existing", id: reply[i + 1] as string }
        }
        return Effect.void
      })
    )

  const enqueue: JobStoreShape["enqueue"] = (jobs) =>
    Effect.suspend((): ReturnType<JobStoreShape["enqueue"]> => {
      for (const job of jobs) {
        const invalid = Job.validateNewJob(job, settings.maxPayloadBytes)
        if (invalid) return Effect.fail(invalid)
      }
      // one script call per queue
      const byQueue = positionsByQueue(jobs)
      const outcomes: Array<EnqueueOutcome> = jobs.map((j) => ({ _tag: "Created", id: j.id }))
      const sent = Effect.forEach(
        byQueue,
        ([queue, positions]) =>
          enqueueGroup(queue, byQueue.size === 1 ? jobs : positions.map((i) => jobs[i]!), positions, outcomes),
        { discard: true }
      )
      return Effect.as(sent, outcomes)
    })

  return { enqueue }
}
