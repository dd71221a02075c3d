/**
 * The Redis JobStore: each transition is one Lua script (lua/*.lua) on the
 * queue's slot; reads are plain commands. Wake-ups and completion events
 * travel over pub/sub on one dedicated subscriber connection per store.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { CorruptedJob, JobNotFound, JobStoreError } from "../Errors.js"
import * as Job from "../Job.js"
import type {
  CancelOutcome,
  ClaimedJob,
  DlqFilter,
  JobStoreShape,
  Lease,
  RetryOutcome,
  WorkerInfo
} from "../JobStore.js"
import * as Keys from "../Keys.js"
import { RedisClient } from "../Redis.js"
import * as DlqChunks from "./dlqChunks.js"
import * as Channels from "./redis/channels.js"
import * as Enqueue from "./redis/enqueue.js"
import type { RedisCtx } from "./redis/context.js"
import { makeRun } from "./redis/evictionCheck.js"
import { Scripts } from "./scripts.js"
import { RrqSettings } from "../Settings.js"

const CLAIM_FIELDS = 9

/**
 * Whether the scripts keep the lease index (`rrq:leases`, Keys.leases): claim lowers a queue's
 * entry to its new lease deadline, recover sets it to the earliest one left, and a recovery
 * sweep asks `stalledQueues` (one script) which queues to recover instead of running recover
 * on each. The index is outside the queues' slots, so a Redis Cluster store (a later issue)
 * sets this to false: claim and recover then get their queue's keys only, and `stalledQueues`
 * answers every queue (the per-queue sweep). A cluster could keep one index per slot instead.
 */
const leaseIndex = true

/** A stored number that must be positive to mean anything (a damaged one counts as unset). */
const positive = (raw: unknown) => {
  const n = Number(raw)
  return raw !== "" && n > 0 && Number.isFinite(n) ? n : undefined
}

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
    /** The queue's keys, and the lease index for the scripts that keep it. */
    const keysWithIndex = (queue: string) => leaseIndex ? [...queueKeys(queue), keys.leases] : queueKeys(queue)
    const run = makeRun({ settings, client, scripts, keys, queueKeys })
    const ctx: RedisCtx = { settings, client, scripts, keys, use, run, queueKeys }
    const signals = yield* Channels.make(ctx)

    const claim: JobStoreShape["claim"] = (queue, { count, leaseMs, workerId }) =>
      Effect.map(
        run("claim", queue, [
          queue,
          count,
          leaseMs,
          workerId,
          `${workerId}-${Math.random().toString(36).slice(2, 10)}`,
          settings.dlqTtlMs,
          settings.uniqueLockTtlMs
        ], keysWithIndex(queue)),
        (raw) => {
          // { nextRunAt|-1, now, then CLAIM_FIELDS per job }
          const reply = raw as Array<string | number>
          const jobs: Array<ClaimedJob> = []
          for (let i = 2; i < reply.length; i += CLAIM_FIELDS) {
            jobs.push({
              queue,
              id: reply[i] as string,
              functionName: reply[i + 1] as string,
              params: reply[i + 2] as string,
              currentRetries: Number(reply[i + 3]),
              maxRetries: Number(reply[i + 4]),
              timeoutMs: positive(reply[i + 5]),
              enqueuedAt: Number(reply[i + 6]),
              leaseToken: reply[i + 7] as string,
              traceContext: reply[i + 8] === "" ? undefined : (reply[i + 8] as string)
            })
          }
          const next = Number(reply[0])
          return { jobs, nextRunAt: next < 0 ? undefined : next, now: Number(reply[1]) }
        }
      )

    const flat = (leases: ReadonlyArray<Lease>) => leases.flatMap((l) => [l.id, l.token])
    const booleans = (raw: unknown) => (raw as Array<number>).map((n) => n === 1)

    const complete: JobStoreShape["complete"] = (queue, completions) =>
      completions.length === 0
        ? Effect.succeed([])
        : Effect.map(
          run("complete", queue, [
            settings.uniqueLockTtlMs,
            completions.length,
            ...completions.flatMap((c) => [c.id, c.token, c.result])
          ]),
          booleans
        )

    const retry: JobStoreShape["retry"] = (queue, lease, { delayMs, error, maxRetries }) =>
      run("retry", queue, [
        lease.id,
        lease.token,
        Math.max(0, Math.round(delayMs)),
        error,
        settings.dlqTtlMs,
        settings.uniqueLockTtlMs,
        maxRetries ?? ""
      ])
        .pipe(Effect.map((r) => r as RetryOutcome))

    const fail: JobStoreShape["fail"] = (queue, lease, error) =>
      run("fail", queue, [lease.id, lease.token, error, settings.dlqTtlMs, settings.uniqueLockTtlMs])
        .pipe(Effect.map((r) => r as "FAILED" | "lost"))

    const requeue: JobStoreShape["requeue"] = (queue, leases) =>
      leases.length === 0
        ? Effect.succeed([])
        : Effect.map(run("requeue", queue, [leases.length, ...flat(leases)]), booleans)

    const extend: JobStoreShape["extend"] = (queue, leases, leaseMs) =>
      leases.length === 0
        ? Effect.succeed([])
        : Effect.map(run("extend", queue, [leaseMs, settings.uniqueLockTtlMs, leases.length, ...flat(leases)]), booleans)

    const recover: JobStoreShape["recover"] = (queue, { limit, maxStalls }) =>
      Effect.map(
        run("recover", queue, [queue, maxStalls, limit, settings.dlqTtlMs, settings.uniqueLockTtlMs], keysWithIndex(queue)),
        (raw) => {
          const [requeued, deadLettered] = raw as [Array<string>, Array<string>]
          return { requeued, deadLettered }
        }
      )

    const stalledQueues: JobStoreShape["stalledQueues"] = (qs) => {
      if (!leaseIndex || qs.length === 0) return Effect.succeed(qs)
      const call = Effect.mapError(scripts.run("stalled", [keys.leases], []), JobStoreError.fromRedis)
      return Effect.map(call, (raw) => {
        const due = new Set(raw as Array<string>)
        return qs.filter((q) => due.has(q))
      })
    }

    const cancel: JobStoreShape["cancel"] = (ref) =>
      Effect.flatMap(
        run("cancel", ref.queue, [ref.id, settings.uniqueLockTtlMs]),
        (raw): Effect.Effect<CancelOutcome, JobNotFound> => {
          const [tag, value] = raw as [string, string | number]
          if (tag === "NOTFOUND") return new JobNotFound({ queue: ref.queue, id: ref.id })
          if (tag === "FINISHED") return Effect.succeed({ _tag: "AlreadyFinished", status: value as Job.JobStatus })
          return Effect.succeed({ _tag: "Cancelled", wasRunning: value === 1 })
        }
      )

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
      claim,
      complete,
      retry,
      fail,
      requeue,
      extend,
      recover,
      cancel,
      getJob,
      listJobs,
      dlqRequeue,
      dlqPurge,
      dlqPreview,
      dlqByFunction,
      stats,
      queues,
      stalledQueues,
      ...signals,
      heartbeat,
      removeHeartbeat,
      workers
    } satisfies JobStoreShape
  }
)
