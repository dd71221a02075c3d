/**
 * The Redis store's reads, plain commands rather than scripts: a job (HGETALL), a page of
 * a queue's pending, active or DLQ set (ZRANGE / ZREVRANGE, then the records), a queue's
 * counts, and the known queue names (`rrq:queues`).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { CorruptedJob } from "../../Errors.js"
import * as Job from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import type { RedisCtx } from "./context.js"

export const make = ({ keys, use }: RedisCtx): Pick<JobStoreShape, "getJob" | "listJobs" | "stats" | "queues"> => {
  const decode = Job.decodeRecord

  const getJob: JobStoreShape["getJob"] = (ref) =>
    use((r) => r.hgetall(keys.job(ref.queue, ref.id))).pipe(
      Effect.catchIf(
        (e) => e.message.includes("WRONGTYPE"),
        () => new CorruptedJob({ queue: ref.queue, id: ref.id, reason: "the record is not a hash" })
      ),
      Effect.flatMap((hash) =>
        Object.keys(hash).length === 0 ? Effect.succeedNone : Effect.asSome(decode(ref.queue, ref.id, hash))
      )
    )

  const listJobs: JobStoreShape["listJobs"] = (queue, state, { limit, offset }) =>
    Effect.gen(function*() {
      const key = keys.queue(queue)[state]
      const stop = offset + limit - 1
      const ids = yield* use((r) => state === "dlq" ? r.zrevrange(key, offset, stop) : r.zrange(key, offset, stop))
      const hashes = yield* Effect.forEach(ids, (id) =>
        use((r) => r.hgetall(keys.job(queue, id))).pipe(
          Effect.catchIf((e) => e.message.includes("WRONGTYPE"), () => Effect.succeed({} as Record<string, string>))
        ))
      const jobs: Array<Job.Job> = []
      for (let i = 0; i < ids.length; i++) {
        if (Object.keys(hashes[i]!).length === 0) continue
        // one unreadable record must not hide the others: getJob reports it
        const job = decode(queue, ids[i]!, hashes[i]!)
        if (Either.isRight(job)) jobs.push(job.right)
      }
      return jobs
    })

  const stats: JobStoreShape["stats"] = (queue) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const k = keys.queue(queue)
      const [ready, pending, active, dlq, totals, first, paused] = yield* use((r) =>
        Promise.all([
          r.zcount(k.pending, "-inf", now),
          r.zcard(k.pending),
          r.zcard(k.active),
          r.zcard(k.dlq),
          r.hmget(k.stats, "completedTotal", "failedTotal"),
          // the earliest run-at: the oldest ready job when it is due
          r.zrange(k.pending, 0, 0, "WITHSCORES"),
          r.exists(k.paused)
        ])
      )
      const oldest = first.length === 2 ? Number(first[1]) : NaN
      return {
        queue,
        ready,
        delayed: pending - ready,
        active,
        dlq,
        completedTotal: Number(totals[0] ?? 0),
        failedTotal: Number(totals[1] ?? 0),
        paused: paused === 1,
        oldestReadyAgeMs: oldest <= now ? now - oldest : undefined
      }
    })

  const queues: JobStoreShape["queues"] = use((r) => r.smembers(keys.queues)).pipe(
    Effect.map((qs) => [...qs].sort())
  )

  return { getJob, listJobs, stats, queues }
}
