/**
 * The Redis store's transitions on jobs already enqueued, one Lua script each
 * (`lua/<name>.lua`): claim, the outcomes a worker writes under its lease token
 * (complete, retry, fail, requeue, extend), lease recovery with the lease index,
 * and cancel. Enqueue is `./enqueue.ts`, the DLQ's bulk operations `./dlq.ts`.
 */
import * as Effect from "effect/Effect"
import { JobNotFound, JobStoreError } from "../../Errors.js"
import type * as Job from "../../Job.js"
import type { CancelOutcome, ClaimedJob, JobStoreShape, Lease, RetryOutcome } from "../../JobStore.js"
import type { RedisCtx } from "./context.js"

/** The values per job in claim.lua's reply. */
const CLAIM_FIELDS = 10

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

export const make = (
  { keys, queueKeys, run, scripts, settings }: RedisCtx
): Pick<
  JobStoreShape,
  "claim" | "complete" | "retry" | "fail" | "requeue" | "extend" | "recover" | "stalledQueues" | "cancel" | "setPaused" | "promote"
> => {
  /** The queue's keys, and the lease index for the scripts that keep it. */
  const keysWithIndex = (queue: string) => leaseIndex ? [...queueKeys(queue), keys.leases] : queueKeys(queue)

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
            traceContext: reply[i + 8] === "" ? undefined : (reply[i + 8] as string),
            dueAt: Number(reply[i + 9])
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

  const setPaused: JobStoreShape["setPaused"] = (queue, paused) =>
    Effect.map(run("pause", queue, [paused ? "1" : "0"]), (changed) => changed === 1)

  const promote: JobStoreShape["promote"] = (queue, { id, limit }) =>
    Effect.map(run("promote", queue, [id ?? "", Math.max(1, Math.min(limit, 1_000))]), (raw) => raw as Array<string>)

  return { claim, complete, retry, fail, requeue, extend, recover, stalledQueues, cancel, setPaused, promote }
}
