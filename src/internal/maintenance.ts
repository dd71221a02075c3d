/**
 * The worker's maintenance loops, each a fiber of its own: lease renewal (which also
 * notices a blocked event loop), the expired-lease recovery sweep, and the heartbeat.
 * They share nothing with the hot path but the lease book and the list of held jobs.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { JobStoreError } from "../Errors.js"
import type { ClaimedJob, JobStoreShape, WorkerInfo } from "../JobStore.js"
import type { Settings } from "../Settings.js"
import { seconds } from "./errorText.js"
import type { LeaseBook } from "./leaseBook.js"
import { failLabels, jobsFailed, leasesRecovered, queueLabels } from "./metrics/instruments.js"
import type { Operation } from "./outage.js"
import { Rotation } from "./queueBoard.js"
import { afterReturnedDelay, groupByQueue, jittered } from "./timing.js"

/**
 * Every queue is swept for expired leases at least this often, whatever the lease index says:
 * a backstop for leases it does not know (taken by an older version). With 500 queues and the
 * default 5 s interval, 2 queues a sweep.
 */
export const RECOVERY_BACKSTOP_MS = 30 * 60_000

/** A job whose lease the worker keeps, and what to do when the store says it is lost. */
export interface Held {
  readonly job: ClaimedJob
  readonly lost: () => void
}

export interface MaintenanceContext {
  readonly queues: ReadonlyArray<string>
  readonly settings: Settings
  readonly store: JobStoreShape
  readonly leases: LeaseBook
  /** Monotonic milliseconds. */
  readonly now: () => number
  /** The jobs to renew now: running ones not stopped, and those claimed ahead. */
  readonly held: () => ReadonlyArray<Held>
  /** The worker's heartbeat as of now. */
  readonly info: Effect.Effect<WorkerInfo>
  /** Says a store call failed (once per outage). */
  readonly reportFailure: (operation: Operation, what: string, e: unknown) => Effect.Effect<void>
}

/**
 * Renews the leases of held jobs every lease/3, from its own timer. When that timer fires
 * late by more than a quarter of the lease, the event loop was blocked (a handler doing
 * CPU-bound work): said once per stall, since leases may have expired meanwhile.
 */
export const renewLeases = (ctx: MaintenanceContext): Effect.Effect<unknown> => {
  const { leases, settings, store } = ctx
  const everyMs = Math.max(10, settings.leaseMs / 3)
  let dueAt = 0
  const noticeStall = Effect.suspend(() => {
    const lateMs = dueAt === 0 ? 0 : ctx.now() - dueAt
    return lateMs > settings.leaseMs / 4
      ? Effect.logWarning(
        `The event loop was blocked for ~${seconds(lateMs)} (lease ${seconds(settings.leaseMs)}): ` +
          `leases were renewed late, and a job whose lease expired meanwhile may run again elsewhere. ` +
          `Keep CPU-bound work off the event loop (a worker thread, a child process) or raise leaseMs`
      )
      : Effect.void
  })
  const renew = Effect.gen(function*() {
    yield* noticeStall
    for (const [queue, items] of groupByQueue(ctx.held().map((h) => ({ queue: h.job.queue, ...h })))) {
      const sentAt = ctx.now()
      const ok = yield* store.extend(queue, items.map((i) => ({ id: i.job.id, token: i.job.leaseToken })), settings.leaseMs)
      items.forEach((item, i) => (ok[i] !== false ? leases.granted([item.job], sentAt) : item.lost()))
    }
    return everyMs
  })
  return renew.pipe(
    // a failed renewal is tried again soon: the leases are running out
    Effect.catchAll((e) => Effect.as(ctx.reportFailure("extend", "lease renewal", e), Math.min(everyMs, 1_000))),
    Effect.tap((ms) => void (dueAt = ctx.now() + ms)),
    Effect.repeat(afterReturnedDelay)
  )
}

/**
 * The recovery sweep: the first covers every queue (which also indexes the leases of workers
 * that keep no lease index, e.g. an older version); then each recovers the queues the store
 * says may hold an expired lease (one call for all of them), plus a few in turn, so that every
 * queue is still swept within RECOVERY_BACKSTOP_MS if the index missed a lease.
 */
export const recoverStalled = (ctx: MaintenanceContext): Effect.Effect<unknown> => {
  const { queues, settings, store } = ctx
  const backstop = new Rotation(queues)
  const backstopSize = Math.max(1, Math.ceil((queues.length * settings.recoverIntervalMs) / RECOVERY_BACKSTOP_MS))
  let sweptAll = false
  const targets: Effect.Effect<ReadonlyArray<string>, JobStoreError> = Effect.suspend(() => {
    if (!sweptAll || queues.length <= backstopSize) return Effect.succeed(queues)
    const turn = backstop.take(backstopSize)
    return Effect.map(store.stalledQueues(queues), (stalled) => [...new Set([...stalled, ...turn])])
  })
  return Effect.gen(function*() {
    for (const queue of yield* targets) {
      const r = yield* store.recover(queue, { maxStalls: settings.maxStalls, limit: 1_000 })
      if (r.requeued.length > 0 || r.deadLettered.length > 0) {
        leasesRecovered.unsafeUpdate(r.requeued.length + r.deadLettered.length, queueLabels(queue))
        // stalled too often (maxStalls): which function is not in the reply
        if (r.deadLettered.length > 0) jobsFailed.unsafeUpdate(r.deadLettered.length, failLabels(queue, "", "lost"))
        yield* Effect.logWarning(
          `Recovered ${r.requeued.length} job(s) with expired leases` +
            (r.deadLettered.length > 0 ? `, ${r.deadLettered.length} sent to the DLQ` : "")
        ).pipe(Effect.annotateLogs("queue", queue))
      }
    }
    sweptAll = true
  }).pipe(
    Effect.catchAll((e) => ctx.reportFailure("recover", "recovery sweep", e)),
    // whole milliseconds, like every jittered wait (internal/timing.ts)
    Effect.repeat(Schedule.addDelay(Schedule.forever, () => Duration.millis(jittered(settings.recoverIntervalMs, 0.5))))
  )
}

/** Writes the worker's heartbeat every `healthIntervalMs`, kept 10 s longer than that. */
export const heartbeat = (ctx: MaintenanceContext): Effect.Effect<unknown> =>
  Effect.flatMap(ctx.info, (info) => ctx.store.heartbeat(info, ctx.settings.healthIntervalMs + 10_000)).pipe(
    Effect.catchAll((e) => ctx.reportFailure("heartbeat", "heartbeat", e)),
    Effect.repeat(Schedule.spaced(ctx.settings.healthIntervalMs))
  )

/** Forks a worker's loop into the scope; its log lines carry the loop's name as a field. */
export const background = <A, E>(loop: string, effect: Effect.Effect<A, E>) =>
  Effect.forkScoped(Effect.annotateLogs(effect, "loop", loop))

/** Starts lease renewal, the recovery sweep and the heartbeat. */
export const startMaintenance = (ctx: MaintenanceContext): Effect.Effect<void, never, Scope.Scope> =>
  Effect.all([
    background("lease-renewal", renewLeases(ctx)),
    background("recovery", recoverStalled(ctx)),
    background("heartbeat", heartbeat(ctx))
  ], { discard: true })
