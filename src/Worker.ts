/**
 * The worker runtime (docs/architecture.md). One worker serves a list of queues with a
 * fixed number of slots. `make` wires its parts, each in `internal/`:
 * - the claim loop (claimLoop.ts): claims the free slots in one batch per queue that may
 *   have work (for short jobs the next batch while this one runs), and sleeps until a
 *   wake-up, the next known run-at, or the jittered poll delay;
 * - running jobs (jobRunner.ts): without a fiber of their own unless their handler returns
 *   an Effect; one deadline sweeper stops overdue jobs (a timer per job costs more than the job);
 * - recording outcomes (recorder.ts): a completion flusher that writes finished jobs in batches;
 * - maintenance (maintenance.ts): lease renewal (batched), the expired-lease recovery sweep,
 *   the heartbeat; and the cancel listener here.
 * Closing the worker's scope shuts it down gracefully: stop claiming, let running
 * jobs finish within the grace period, then interrupt and requeue the rest.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { hostname } from "node:os"
import { randomBytes } from "node:crypto"
import * as Client from "./Client.js"
import { InvalidOptions } from "./Errors.js"
import type * as Handler from "./Handler.js"
import * as ClaimLoop from "./internal/claimLoop.js"
import { ClaimPolicy } from "./internal/claimPolicy.js"
import { messageOf } from "./internal/errorText.js"
import { JobRunner, jobKey } from "./internal/jobRunner.js"
import { LeaseBook } from "./internal/leaseBook.js"
import { heartbeat, type MaintenanceContext, recoverStalled, renewLeases } from "./internal/maintenance.js"
import { Outage } from "./internal/outage.js"
import { queueOrder } from "./internal/queueOrder.js"
import { looksLikeOldWeight, parseQueue } from "./internal/queueSpec.js"
import { Recorder } from "./internal/recorder.js"
import { shutdown } from "./internal/shutdown.js"
import { registry } from "./internal/registry.js"
import { JobRef } from "./Job.js"
import { JobStore, type WorkerInfo } from "./JobStore.js"
import { RetryPolicy } from "./Retry.js"
import * as Retry from "./Retry.js"
import { RrqSettings, type Settings } from "./Settings.js"

export interface WorkerOptions<R = never> {
  readonly handlers: Handler.Handlers<R>
  /** Queues to serve: `name`, or `name,weight` for weighted selection. Default: the default queue. */
  readonly queues?: ReadonlyArray<string>
  /** Always try the queues in the given order instead of rotating. */
  readonly strictOrder?: boolean
  /** Jobs run at once (default: settings.concurrency). */
  readonly concurrency?: number
  /** Stop once no job is ready or running. */
  readonly burst?: boolean
  readonly workerId?: string
}

export interface WorkerCounts {
  readonly claimed: number
  readonly completed: number
  readonly retried: number
  readonly failed: number
  readonly requeued: number
  /** Finished jobs whose lease had been lost (recovered elsewhere or cancelled): nothing was written. */
  readonly lost: number
}

export interface WorkerShape {
  readonly id: string
  readonly queues: ReadonlyArray<string>
  readonly counts: Effect.Effect<WorkerCounts>
  /** Jobs running now. */
  readonly active: Effect.Effect<number>
  /** Completes when a burst worker ran out of work (never for a normal worker). */
  readonly done: Effect.Effect<void>
  /** During shutdown: stop waiting for running jobs (a second signal). */
  readonly skipGrace: Effect.Effect<void>
}

export class Worker extends Context.Tag("rrq/Worker")<Worker, WorkerShape>() {}

export { parseQueue, type QueueWeight } from "./internal/queueSpec.js"



const newWorkerId = () => `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`

/**
 * Starts a worker in the current scope and returns its handle. Closing the
 * scope shuts it down gracefully.
 */
export const make = <R = never>(
  options: WorkerOptions<R>
): Effect.Effect<WorkerShape, InvalidOptions, JobStore | RrqSettings | Scope.Scope | R> =>
  Effect.gen(function*() {
    const settings: Settings = yield* RrqSettings
    const store = yield* JobStore
    // A RetryPolicy in the context wins; otherwise RRQ's exponential backoff from the settings.
    const retryPolicy = Option.getOrElse(yield* Effect.serviceOption(RetryPolicy), () =>
      Retry.fromSchedule(
        Retry.exponential({ base: settings.retryBaseMs, max: settings.retryMaxMs, jitter: settings.retryJitter })
      ))
    const client = yield* Client.make.pipe(Effect.provideService(RrqSettings, settings), Effect.provideService(JobStore, store))
    const handlers = yield* Effect.try({
      try: () => registry(options.handlers),
      catch: (e) => e instanceof InvalidOptions ? e : new InvalidOptions({ message: `handlers: ${messageOf(e)}` })
    })
    const specs = yield* Effect.forEach(options.queues ?? [settings.defaultQueue], (s) => parseQueue(s))
    for (const q of specs) {
      if (looksLikeOldWeight(q.name)) {
        yield* Effect.logWarning(
          `Worker: serving queue '${q.name}' (a name with a colon); weights are written 'name,weight' since 0.2.0, so for a weight write '${q.name.replace(/:(?=[^:]*$)/, ",")}'`
        )
      }
    }
    if (specs.length === 0) return yield* new InvalidOptions({ message: "queues must name at least one queue" })
    const queues = specs.map((q) => q.name)
    const concurrency = options.concurrency ?? settings.concurrency
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return yield* new InvalidOptions({ message: `concurrency must be an integer ≥ 1, got ${concurrency}` })
    }
    const id = options.workerId ?? newWorkerId()
    const nextOrder = queueOrder(specs, options.strictOrder ?? false)
    const startedAt = yield* Clock.currentTimeMillis
    const clock = yield* Effect.clock
    // for durations (timeouts, lease ages): immune to wall-clock jumps
    const monotonicMs = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    // Fibers forked from callbacks (handlers' Effects, timers, logs) belong to the worker's
    // scope: started as synchronously as Runtime.runFork, interrupted if still running when
    // the scope closes (after the graceful shutdown below, whose finalizer runs first).
    const runFork = yield* FiberSet.runtime(yield* FiberSet.make<unknown, unknown>())<R>()
    // the fibers recording non-success outcomes: shutdown gives them up when Redis is away
    const recording = yield* FiberSet.make<unknown, never>()
    const recordFork = yield* FiberSet.runtime(recording)<never>()

    const policy = new ClaimPolicy(concurrency)
    const leases = new LeaseBook(settings.leaseMs)
    const counts = { claimed: 0, completed: 0, retried: 0, failed: 0, requeued: 0, lost: 0 }
    const skipGrace = yield* Deferred.make<void>()
    const finished = yield* Deferred.make<void>()

    // --- recording outcomes -------------------------------------------------

    const outage = new Outage(id)
    const reportFailure = (what: string, e: unknown) => outage.report(what, e)
    const recorder = new Recorder({ workerId: id, store, retryPolicy, counts, outage, stopping: () => runner.stopping })

    // --- running jobs (internal/jobRunner.ts) ---------------------------------

    const runner: JobRunner<R> = new JobRunner<R>({
      workerId: id,
      concurrency,
      settings,
      store,
      handlers,
      client,
      clock,
      now: monotonicMs,
      policy,
      leases,
      recorder,
      counts,
      fork: runFork,
      forkRecording: recordFork
    })
    const { running } = runner

    // --- the claim loop (internal/claimLoop.ts) -------------------------------

    const claims = ClaimLoop.make<R>({
      workerId: id,
      queues,
      settings,
      store,
      burst: options.burst ?? false,
      nextOrder,
      policy,
      leases,
      runner,
      counts,
      outage,
      now: monotonicMs,
      fork: runFork
    })

    // --- background fibers --------------------------------------------------

    const info = (status: WorkerInfo["status"]) =>
      Effect.map(Clock.currentTimeMillis, (now): WorkerInfo => ({
        id,
        pid: process.pid,
        host: hostname(),
        queues,
        concurrency,
        active: running.size,
        status,
        startedAt,
        lastBeat: now
      }))

    const maintenance: MaintenanceContext = {
      workerId: id,
      queues,
      settings,
      store,
      leases,
      now: monotonicMs,
      held: () => runner.heldLeases(),
      info: Effect.suspend(() => info(runner.stopping ? "stopping" : "running")),
      reportFailure
    }

    yield* store.onCancel(queues, (ref: JobRef) => {
      const key = jobKey(ref.queue, ref.id)
      const entry = running.get(key)
      if (entry) return runner.stop(entry, "cancel")
      runner.drop(ref.queue, ref.id)
      leases.cancelledBeforeHeld(key, monotonicMs())
    })
    // wake-ups: the claim loop claims the queue they name (at once, or at the run-at they say)
    yield* store.onWake(queues, claims.heard)
    // each loop's log lines carry the worker and the loop as fields (JSON logs, later)
    const background = <A, E>(loop: string, effect: Effect.Effect<A, E, never>) =>
      Effect.forkScoped(Effect.annotateLogs(effect, { workerId: id, loop }))
    const flusher = yield* background("completion-flusher", recorder.flusher)
    yield* background("lease-renewal", renewLeases(maintenance))
    yield* background("deadline-sweep", runner.sweepDeadlines)
    yield* background("recovery", recoverStalled(maintenance))
    yield* background("heartbeat", heartbeat(maintenance))

    const awaitIdle = Effect.gen(function*() {
      while (running.size > 0) yield* runner.slotFreed.wait
      yield* recorder.drained
    })

    // The claim loop is supervised: a defect is logged and the loop restarts.
    const supervised: Effect.Effect<void, never, R> = claims.loop.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.interrupt
          : Effect.logError(`Worker ${id}: claim loop crashed; restarting`, cause).pipe(
            Effect.zipRight(Effect.sleep(1_000)),
            Effect.zipRight(Effect.suspend(() => supervised))
          )
      )
    )
    const loopFiber = yield* Effect.forkScoped(
      supervised.pipe(
        Effect.zipRight(awaitIdle),
        Effect.zipRight(Deferred.succeed(finished, undefined)),
        Effect.annotateLogs({ workerId: id, loop: "claim" })
      )
    )

    // Registered last, so it runs first when the scope closes, while the flusher,
    // lease renewal and sweeper are still alive (internal/shutdown.ts).
    yield* Effect.addFinalizer(() =>
      shutdown({
        workerId: id,
        settings,
        store,
        runner,
        recorder,
        outage,
        counts,
        now: monotonicMs,
        loop: loopFiber,
        claimInFlight: claims.inFlight,
        flusher,
        recording,
        skipGrace,
        awaitIdle
      })
    )

    yield* Effect.logInfo(`Worker ${id} started: queues ${queues.join(", ")}, concurrency ${concurrency}`)

    return {
      id,
      queues,
      counts: Effect.sync(() => ({ ...counts })),
      active: Effect.sync(() => running.size),
      done: Deferred.await(finished),
      skipGrace: Deferred.succeed(skipGrace, undefined).pipe(Effect.asVoid)
    } satisfies WorkerShape
  })

/** Runs a worker until it is interrupted (graceful shutdown) or, in burst mode, until the work runs out. */
export const run = <R = never>(
  options: WorkerOptions<R>
): Effect.Effect<WorkerCounts, InvalidOptions, JobStore | RrqSettings | R> =>
  Effect.scoped(
    Effect.gen(function*() {
      const worker = yield* make(options)
      yield* worker.done
      return yield* worker.counts
    })
  )

/** Several workers in one process, as one supervised fiber tree sharing the scope. */
export const pool = <R = never>(
  options: WorkerOptions<R>,
  size: number
): Effect.Effect<ReadonlyArray<WorkerShape>, InvalidOptions, JobStore | RrqSettings | Scope.Scope | R> => {
  if (!Number.isInteger(size) || size < 1) {
    return Effect.fail(new InvalidOptions({ message: `pool size must be an integer ≥ 1, got ${size}` }))
  }
  const base = options.workerId ?? newWorkerId()
  return Effect.forEach(
    Array.from({ length: size }, (_, i) => i),
    (i) => make({ ...options, workerId: size === 1 ? base : `${base}-${i}` })
  )
}

/** The worker as a layer: starts with the layer, shuts down gracefully when its scope closes. */
export const layer = <R = never>(
  options: WorkerOptions<R>
): Layer.Layer<Worker, InvalidOptions, JobStore | RrqSettings | R> => Layer.scoped(Worker, make(options))

