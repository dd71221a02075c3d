/**
 * The Redis JobStore: each transition is one Lua script (lua/*.lua) on the
 * queue's slot; reads are plain commands. Wake-ups and completion events
 * travel over pub/sub on one dedicated subscriber connection per store.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { CorruptedJob, JobStoreError } from "../Errors.js"
import * as Job from "../Job.js"
import type { DlqFilter, JobStoreShape, WorkerInfo } from "../JobStore.js"
import * as Keys from "../Keys.js"
import { RedisClient } from "../Redis.js"
import * as DlqChunks from "./dlqChunks.js"
import * as Channels from "./redis/channels.js"
import * as Enqueue from "./redis/enqueue.js"
import type { RedisCtx } from "./redis/context.js"
import { makeRun } from "./redis/evictionCheck.js"
import * as Transitions from "./redis/transitions.js"
import { Scripts } from "./scripts.js"
import { RrqSettings } from "../Settings.js"

export const make: Effect.Effect<JobStoreShape, never, RedisClient | RrqSettings | Scripts | Scope.Scope> = Effect.gen(
  function*() {
    const settings = yield* RrqSettings
    const client = yield* RedisClient
    const scripts = yield* Scripts
    const keys = Keys.make(settings.keyPrefix)
    // Store methods fail with the store-neutral JobStoreError, the RedisError as its cause.
    const use = <A>(f: Parameters<typeof client.use<A>>[0]) => Effect.mapError(client.use(f), JobStoreError.fromRedis)

    const queueKeys = (queue: string) => {
      const k = keys.queue(queue)
      return [k.pending, k.active, k.dlq, k.stats]
    }
    const run = makeRun({ settings, client, scripts, keys, queueKeys })
    const ctx: RedisCtx = { settings, client, scripts, keys, use, run, queueKeys }
    const signals = yield* Channels.make(ctx)

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

    /** A DLQ bulk operation: one bounded chunk per call of the script, until done (DlqChunks.loop). */
    const dlqLoop = <A>(
      queue: string,
      filter: DlqFilter,
      name: "dlq-requeue" | "dlq-purge" | "dlq-scan",
      head: (limit: number) => ReadonlyArray<string | number>
    ) =>
      DlqChunks.loop(filter, (call) =>
        Effect.map(
          run(name, queue, [...head(call.limit), ...DlqChunks.args(call)]),
          (raw) => DlqChunks.reply<A>(raw as Array<unknown>)
        ))

    const dlqRequeue: JobStoreShape["dlqRequeue"] = (queue, filter) =>
      dlqLoop<string>(queue, filter, "dlq-requeue", (limit) => [settings.uniqueLockTtlMs, limit, filter.functionName ?? ""])

    const dlqPurge: JobStoreShape["dlqPurge"] = (queue, filter) =>
      Effect.map(dlqLoop<string>(queue, filter, "dlq-purge", (limit) => [limit, filter.functionName ?? ""]), (ids) => ids.length)

    const dlqPreview: JobStoreShape["dlqPreview"] = (queue, filter, action) =>
      dlqLoop<string>(queue, filter, "dlq-scan", (limit) => [action, limit, filter.functionName ?? ""])

    const dlqByFunction: JobStoreShape["dlqByFunction"] = (queue) =>
      Effect.map(dlqLoop<string | number>(queue, {}, "dlq-scan", () => ["count", 0, ""]), DlqChunks.byFunction)

    const stats: JobStoreShape["stats"] = (queue) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const k = keys.queue(queue)
        const [ready, pending, active, dlq, totals] = yield* use((r) =>
          Promise.all([
            r.zcount(k.pending, "-inf", now),
            r.zcard(k.pending),
            r.zcard(k.active),
            r.zcard(k.dlq),
            r.hmget(k.stats, "completedTotal", "failedTotal")
          ])
        )
        return {
          queue,
          ready,
          delayed: pending - ready,
          active,
          dlq,
          completedTotal: Number(totals[0] ?? 0),
          failedTotal: Number(totals[1] ?? 0)
        }
      })

    const queues: JobStoreShape["queues"] = use((r) => r.smembers(keys.queues)).pipe(
      Effect.map((qs) => [...qs].sort())
    )

    const heartbeat: JobStoreShape["heartbeat"] = (info, ttlMs) =>
      use((r) => r.set(keys.worker(info.id), JSON.stringify(info), "PX", Math.max(1, Math.round(ttlMs)))).pipe(
        Effect.asVoid
      )

    const removeHeartbeat: JobStoreShape["removeHeartbeat"] = (id) =>
      use((r) => r.del(keys.worker(id))).pipe(Effect.asVoid)

    const workers: JobStoreShape["workers"] = Effect.gen(function*() {
      const found = new Set<string>()
      let cursor = "0"
      do {
        const [next, batch] = yield* use((r) => r.scan(cursor, "MATCH", keys.workerPattern, "COUNT", 1000))
        for (const k of batch) found.add(k)
        cursor = next
      } while (cursor !== "0")
      if (found.size === 0) return []
      const values = yield* use((r) => r.mget(...found))
      const infos: Array<WorkerInfo> = []
      for (const v of values) {
        if (!v) continue
        try {
          infos.push(JSON.parse(v) as WorkerInfo)
        } catch {
          // a heartbeat that is not JSON is ignored; it expires on its own
        }
      }
      return infos.sort((a, b) => a.id.localeCompare(b.id))
    })

    return {
      ...Enqueue.make(ctx),
      ...Transitions.make(ctx),
      getJob,
      listJobs,
      dlqRequeue,
      dlqPurge,
      dlqPreview,
      dlqByFunction,
      stats,
      queues,
      ...signals,
      heartbeat,
      removeHeartbeat,
      workers
    } satisfies JobStoreShape
  }
)
