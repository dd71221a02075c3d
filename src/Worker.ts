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
 *   the heartbeat; the cancel listener stops or drops the job it names (jobRunner.ts);
 * - the options, checked before anything starts (workerOptions.ts).
 * Closing the worker's scope shuts it down gracefully: stop claiming, let running
 * jobs finish within the grace period, then interrupt and requeue the rest.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { hostname } from "node:os"
import * as Client from "./Client.js"
import { InvalidOptions } from "./Errors.js"
import type * as Handler from "./Handler.js"
import * as ClaimLoop from "./internal/claimLoop.js"
import { ClaimPolicy } from "./internal/claimPolicy.js"
import { JobRunner } from "./internal/jobRunner.js"
import { LeaseBook } from "./internal/leaseBook.js"
import { background, startMaintenance } from "./internal/maintenance.js"
import * as LiveWorkers from "./internal/metrics/liveWorkers.js"
import { processFigures, RESTARTS_ENV } from "./internal/metrics/processFigures.js"
import { Outage } from "./internal/outage.js"
import * as Tracing from "./internal/tracing.js"
import { Recorder } from "./internal/recorder.js"
import { shutdown } from "./internal/shutdown.js"
import { newWorkerId, resolveOptions, type ResolvedOptions } from "./internal/workerOptions.js"
import { JobStore, type JobStoreShape, type WorkerInfo } from "./JobStore.js"
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
  /**
   * With a tracer installed, each attempt's `process <queue>` span is a child of the enqueue's
   * `send <queue>` span (one trace from enqueue to job) instead of a root linked to it (the
   * messaging conventions' default: a job may run long after, and again). Default false.
   */
  readonly continueTrace?: boolean
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
    const resolved = yield* resolveOptions(options, settings)
    // every log line of the worker's fibers (and its handlers') carries the worker id as a field
    return yield* Effect.annotateLogs(start<R>({ ...resolved, settings, store }), "workerId", resolved.id)
  })

interface StartContext<R> extends ResolvedOptions<R> {
  readonly settings: Settings
  readonly store: JobStoreShape
}

const start = <R>(
  { burst, concurrency, continueTrace, handlers, id, nextOrder, queues, settings, store }: StartContext<R>
): Effect.Effect<WorkerShape, never, RrqSettings | JobStore | Scope.Scope | R> =>
  Effect.gen(function*() {
    // A RetryPolicy in the context wins; otherwise RRQ's exponential backoff from the settings.
    const retryPolicy = Option.getOrElse(yield* Effect.serviceOption(RetryPolicy), () =>
      Retry.fromSchedule(
        Retry.exponential({ base: settings.retryBaseMs, max: settings.retryMaxMs, jitter: settings.retryJitter })
      ))
    const client = yield* Client.make
    const startedAt = yield* Clock.currentTimeMillis
    const clock = yield* Effect.clock
    const tracer = Tracing.installed(yield* Effect.tracer)
    // for durations (timeouts, lease ages): immune to wall-clock jumps
    const now = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    // Fibers forked from callbacks (handlers' Effects, timers, logs) belong to the worker's
    // scope: started as synchronously as Runtime.runFork, interrupted if still running when
    // the scope closes (after the graceful shutdown below, whose finalizer runs first).
    const fork = yield* FiberSet.runtime(yield* FiberSet.make<unknown, unknown>())<R>()
    // the fibers recording non-success outcomes: shutdown gives them up when Redis is away
    const recording = yield* FiberSet.make<unknown, never>()
    const forkRecording = yield* FiberSet.runtime(recording)<never>()

    const policy = new ClaimPolicy(concurrency)
    const leases = new LeaseBook(settings.leaseMs)
    const counts = { claimed: 0, completed: 0, retried: 0, failed: 0, requeued: 0, lost: 0 }
    const outage = new Outage()
    const recorder = new Recorder({ store, retryPolicy, counts, outage, stopping: () => runner.stopping })
    const runner: JobRunner<R> = new JobRunner<R>({
      workerId: id,
      concurrency,
      settings,
      store,
      handlers,
      client,
      clock,
      tracer,
      continueTrace,
      now,
      policy,
      leases,
      recorder,
      counts,
      fork,
      forkRecording
    })
    const claims = ClaimLoop.make<R>({
      workerId: id,
      queues,
      settings,
      store,
      burst,
      nextOrder,
      policy,
      leases,
      runner,
      counts,
      outage,
      now,
      fork
    })

    yield* store.onCancel(queues, (ref) => runner.cancelHeard(ref.queue, ref.id))
    // wake-ups: the claim loop claims the queue they name (at once, or at the run-at they say)
    yield* store.onWake(queues, claims.heard)
    const flusher = yield* background("completion-flusher", recorder.flusher)
    yield* background("deadline-sweep", runner.sweepDeadlines)
    const info = { id, pid: process.pid, host: hostname(), queues, concurrency, startedAt }
    const cpu = {}
    const restarts = Number(process.env[RESTARTS_ENV] ?? 0) || 0
    yield* startMaintenance({
      queues,
      settings,
      store,
      leases,
      now,
      held: () => runner.heldLeases(),
      info: Effect.map(Clock.currentTimeMillis, (lastBeat): WorkerInfo => ({
        ...info,
        active: runner.running.size,
        status: runner.stopping ? "stopping" : "running",
        lastBeat,
        process: processFigures(cpu, counts, restarts)
      })),
      reportFailure: (operation, what, e) => outage.report(operation, what, e)
    })

    const finished = yield* Deferred.make<void>()
    const awaitIdle = Effect.gen(function*() {
      while (runner.running.size > 0) yield* runner.slotFreed.wait
      yield* recorder.drained
    })
    const loop = yield* background(
      "claim",
      ClaimLoop.supervised(claims.loop).pipe(Effect.zipRight(awaitIdle), Effect.zipRight(Deferred.succeed(finished, undefined)))
    )

    // for the metrics' gauges and the health endpoints, until the worker has shut down
    yield* LiveWorkers.register({
      id,
      queues,
      slots: concurrency,
      active: () => runner.running.size,
      alive: () => loop.unsafePoll() === null,
      ready: () => !runner.stopping && !outage.known
    })

    // Registered last, so it runs first when the scope closes, while the flusher,
    // lease renewal and sweeper are still alive (internal/shutdown.ts).
    const skipGrace = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() =>
      shutdown({
        workerId: id,
        settings,
        store,
        runner,
        recorder,
        outage,
        counts,
        now,
        loop,
        claimInFlight: claims.inFlight,
        flusher,
        recording,
        skipGrace,
        awaitIdle
      }).pipe(Effect.annotateLogs("workerId", id))
    )

    yield* Effect.logInfo(`Worker ${id} started: queues ${queues.join(", ")}, concurrency ${concurrency}`)

    return {
      id,
      queues,
      counts: Effect.sync(() => ({ ...counts })),
      active: Effect.sync(() => runner.running.size),
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

