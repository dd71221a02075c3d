/**
 * The memory store's reads, plain commands in the Redis store: a job (HGETALL), a page
 * of a queue's pending, active or DLQ set (ZRANGE / ZREVRANGE, then the records), and
 * the queue's counts. They return what the Redis store returns, reasons included.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { CorruptedJob } from "../../Errors.js"
import { decodeRecord, type JobRef } from "../../Job.js"
import type { Job } from "../../Job.js"
import type { JobState, QueueStats } from "../../JobStore.js"
import { byScore, indexRange, live, type QueueState } from "./keyspace.js"

/** Same reason text as the Redis store. */
const decode = (queue: string, id: string, fields: Map<string, string>): Either.Either<Job, CorruptedJob> =>
  decodeRecord(queue, id, Object.fromEntries(fields))

export const getJob = (q: QueueState, ref: JobRef) =>
  Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Option.Option<Job>, CorruptedJob> => {
    const stored = live(q.records, ref.id, now)
    if (stored === undefined) return Effect.succeed(Option.none())
    if (stored.type !== "hash") {
      return new CorruptedJob({ queue: ref.queue, id: ref.id, reason: "the record is not a hash" })
    }
    return Effect.map(decode(ref.queue, ref.id, stored.fields), Option.some)
  })

/**
 * Like the Redis store: ZREVRANGE (the DLQ, most recent failure first) or ZRANGE
 * offset..offset+limit-1, then the records, skipping those that expired or are not
 * hashes (so a page may come out short).
 */
export const listJobs = (q: QueueState, state: JobState, options: { readonly offset: number; readonly limit: number }) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const sorted = state === "dlq"
      ? [...q.dlq].sort((a, b) => byScore(b, a))
      : [...(state === "pending" ? q.pending : q.active)].sort(byScore)
    const jobs: Array<Job> = []
    for (const [id] of indexRange(sorted, options.offset, options.offset + options.limit - 1)) {
      const stored = live(q.records, id, now)
      if (stored?.type !== "hash") continue
      // one unreadable record must not hide the others: getJob reports it
      const job = decode(q.name, id, stored.fields)
      if (Either.isRight(job)) jobs.push(job.right)
    }
    return jobs
  })

/** The counts of a queue (all zero for one never written to). */
export const stats = (queue: string, q: QueueState | undefined) =>
  Effect.map(Clock.currentTimeMillis, (now): QueueStats => {
    if (q === undefined) {
      return { queue, ready: 0, delayed: 0, active: 0, dlq: 0, completedTotal: 0, failedTotal: 0, paused: false }
    }
    let ready = 0
    let oldest = Infinity
    for (const runAt of q.pending.values()) {
      if (runAt > now) continue
      ready += 1
      if (runAt < oldest) oldest = runAt
    }
    return {
      queue,
      ready,
      delayed: q.pending.size - ready,
      active: q.active.size,
      // ZCARD: entries whose record expired still count until a requeue or purge drops them
      dlq: q.dlq.size,
      completedTotal: q.completedTotal,
      failedTotal: q.failedTotal,
      paused: q.paused,
      oldestReadyAgeMs: ready > 0 ? now - oldest : undefined
    }
  })
