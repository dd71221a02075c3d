/**
 * A worker's graceful shutdown, run when its scope closes: stop claiming, hand back the jobs
 * claimed ahead, let running jobs finish within the grace, stop the rest (requeued), give the
 * outcomes not yet written a bounded drain, and only then give them up (Redis away: their
 * leases expire and the jobs run again). A second signal (`skipGrace`) cuts the waits short.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import type { JobStoreShape } from "../JobStore.js"
import type { Settings } from "../Settings.js"
import { messageOf, seconds } from "./errorText.js"
import type { JobRunner } from "./jobRunner.js"
import type { Outage } from "./outage.js"
import type { Recorder } from "./recorder.js"
import { groupByQueue } from "./timing.js"

/** After the grace, how long shutdown keeps trying to record outcomes before giving them up. */
export const SHUTDOWN_DRAIN_MS = 5_000
/** The same while Redis is known to be unreachable. */
export const OUTAGE_DRAIN_MS = 1_000

export interface ShutdownContext<R> {
  readonly workerId: string
  readonly settings: Settings
  readonly store: JobStoreShape
  readonly runner: JobRunner<R>
  readonly recorder: Recorder
  readonly outage: Outage
  readonly counts: { requeued: number }
  /** Monotonic milliseconds. */
  readonly now: () => number
  /** The claim loop's fiber, and the claim it may have in flight. */
  readonly loop: Fiber.RuntimeFiber<unknown, unknown>
  readonly claimInFlight: () => Fiber.RuntimeFiber<unknown, unknown> | undefined
  readonly flusher: Fiber.RuntimeFiber<unknown, unknown>
  /** The fibers writing non-success outcomes. */
  readonly recording: FiberSet.FiberSet<unknown, never>
  readonly skipGrace: Deferred.Deferred<void>
  /** Until no job runs and every completion is recorded. */
  readonly awaitIdle: Effect.Effect<void>
}

// Finalizers are uninterruptible, and an interruptible race in one would be cut short by the
// very interruption that is closing the scope: the waits below poll instead.
const waitWhile = (more: () => boolean, skip: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    while (more() && !(yield* Deferred.isDone(skip))) yield* Effect.sleep(20)
  })

export const shutdown = <R>(ctx: ShutdownContext<R>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { counts, now, recorder, runner, settings, store, workerId: id } = ctx
    runner.stopping = true
    yield* Fiber.interrupt(ctx.loop)
    // a claim in flight is not interrupted: its jobs land in `buffered`, requeued next
    const inFlight = ctx.claimInFlight()
    if (inFlight !== undefined) yield* Fiber.await(inFlight)
    // jobs claimed ahead never started: straight back to pending
    for (const [queue, jobs] of groupByQueue(runner.buffered.splice(0))) {
      yield* store.requeue(queue, jobs.map((j) => ({ id: j.id, token: j.leaseToken }))).pipe(
        Effect.tap((ok) => Effect.sync(() => (counts.requeued += ok.filter(Boolean).length))),
        Effect.catchAll((e) => Effect.logWarning(`Requeue of claimed jobs failed (their leases will expire): ${messageOf(e)}`))
      )
    }
    if (runner.running.size > 0) {
      yield* Effect.logInfo(
        `Worker stopping; waiting up to ${seconds(settings.shutdownGraceMs)} for ${runner.running.size} running job(s)`
      )
      const graceEnd = now() + settings.shutdownGraceMs
      yield* waitWhile(() => runner.running.size > 0 && now() < graceEnd, ctx.skipGrace)
    }
    for (const entry of runner.running.values()) runner.stop(entry, "shutdown")
    // outcomes not yet written get a bounded drain (shorter while Redis is known to be away), then are given up
    const idle = () => runner.running.size === 0 && recorder.idle
    const drainStart = now()
    yield* waitWhile(() => {
      const waited = now() - drainStart
      return !idle() && waited < SHUTDOWN_DRAIN_MS && !(ctx.outage.known && waited >= OUTAGE_DRAIN_MS)
    }, ctx.skipGrace)
    if (!idle()) {
      yield* Fiber.interrupt(ctx.flusher)
      runner.unrecorded += recorder.giveUp()
      yield* FiberSet.clear(ctx.recording)
    }
    yield* ctx.awaitIdle
    if (runner.unrecorded > 0) {
      yield* Effect.logWarning(
        `Worker stopped with ${runner.unrecorded} outcome(s) not recorded (Redis unreachable); their leases expire and those jobs run again`
      )
    }
    // interruptible, or the timeout could not cut it short inside this finalizer
    yield* Effect.interruptible(store.removeHeartbeat(id)).pipe(Effect.timeout(500), Effect.ignore)
  })
