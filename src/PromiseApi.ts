/**
 * A thin Promise facade for apps that do not use Effect.
 *
 * ```ts
 * import { PromiseApi } from "rrq"
 * const rrq = PromiseApi.connect({ redisUrl: "redis://localhost:6379" })
 * const job = await rrq.enqueue("send_email", { to: "a@b.c" })
 * const worker = await rrq.startWorker({ handlers: { send_email: async ({ to }) => `sent to ${to}` } })
 * console.log(await rrq.waitForResult(job, { timeout: "10 seconds" }))
 * await rrq.close()
 * ```
 * Failures reject with rrq's own error classes (`DuplicateJob`, `InvalidParams`, ...).
 * rrq's own log lines (warnings by default) go to stderr as logfmt, never to stdout.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Client from "./Client.js"
import { InvalidOptions } from "./Errors.js"
import { LOG_FORMATS, LOG_LEVELS, stderrLogger } from "./internal/logging.js"
import type { EnqueueOptions, Job, JobRef } from "./Job.js"
import type * as JobDefinition from "./JobDefinition.js"
import * as JobStore from "./JobStore.js"
import type { CancelOutcome, QueueStats } from "./JobStore.js"
import * as Redis from "./Redis.js"
import * as Settings from "./Settings.js"
import * as Worker from "./Worker.js"

export interface ConnectOptions extends Settings.SettingsInput {
  /** `memory` runs everything in this process (tests, demos). Default: `redis`. */
  readonly store?: "redis" | "memory"
  /** The least severe of rrq's log lines to write (to stderr). Default: `warning`. */
  readonly logLevel?: "none" | "error" | "warning" | "info" | "debug"
  /** How rrq's log lines look: `logfmt` (default), `pretty`, or `json` (one object per line). */
  readonly logFormat?: "logfmt" | "pretty" | "json"
}

export interface RunningWorker {
  readonly id: string
  readonly counts: () => Promise<Worker.WorkerCounts>
  /** Resolves when a burst worker ran out of work. */
  readonly done: Promise<void>
  /** Graceful shutdown: stop claiming, let running jobs finish within the grace period. */
  readonly stop: () => Promise<void>
}

export interface Rrq {
  readonly enqueue: {
    <D extends JobDefinition.Any>(
      definition: D,
      params: JobDefinition.Params<D>,
      options?: EnqueueOptions
    ): Promise<Client.Enqueued<JobDefinition.Result<D>>>
    (functionName: string, params: unknown, options?: EnqueueOptions): Promise<Client.Enqueued>
  }
  readonly enqueueMany: (requests: ReadonlyArray<Client.EnqueueRequest>) => Promise<ReadonlyArray<Client.Enqueued>>
  readonly getJob: (ref: JobRef) => Promise<Job | undefined>
  readonly waitForResult: <R = unknown>(ref: Client.Enqueued<R> | JobRef, options?: Client.WaitOptions) => Promise<R>
  readonly cancel: (ref: JobRef) => Promise<CancelOutcome>
  /** Pauses a queue for every worker (enqueues still land); false when it was paused already. */
  readonly pause: (queue: string) => Promise<boolean>
  /** Resumes a paused queue; false when it was not paused. */
  readonly resume: (queue: string) => Promise<boolean>
  /** A deferred or backing-off job runs now; false when it was not waiting. */
  readonly promote: (ref: JobRef) => Promise<boolean>
  /** Every deferred or backing-off job of a queue runs now; how many. */
  readonly promoteAll: (queue: string) => Promise<number>
  readonly stats: (queue?: string) => Promise<QueueStats>
  readonly startWorker: (options: Worker.WorkerOptions) => Promise<RunningWorker>
  /** Stops every worker started here (gracefully) and closes the connections. */
  readonly close: () => Promise<void>
}

/** Connects lazily (at the first call). Throws `InvalidOptions` for an unknown `store` or `logLevel`. */
export const connect = (options: ConnectOptions = {}): Rrq => {
  const { logFormat = "logfmt", logLevel = "warning", store = "redis", ...input } = options
  if (!Object.hasOwn(LOG_LEVELS, logLevel)) {
    throw new InvalidOptions({ message: `logLevel must be one of ${Object.keys(LOG_LEVELS).join(", ")}, got '${logLevel}'` })
  }
  if (!LOG_FORMATS.includes(logFormat)) {
    throw new InvalidOptions({ message: `logFormat must be one of ${LOG_FORMATS.join(", ")}, got '${logFormat}'` })
  }
  if (store !== "redis" && store !== "memory") {
    throw new InvalidOptions({ message: `store must be 'redis' or 'memory', got '${store}'` })
  }
  const settings = Settings.layer(input)
  const storeLayer = store === "memory"
    ? JobStore.layerMemory
    : JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))
  const runtime = ManagedRuntime.make(
    Client.layer.pipe(
      Layer.provideMerge(storeLayer),
      Layer.provideMerge(settings),
      Layer.provideMerge(stderrLogger(logFormat, logLevel))
    )
  )
  const workers = new Set<RunningWorker>()

  /** Runs an Effect, rejecting with its own error rather than a wrapper. */
  const run = <A, E>(effect: Effect.Effect<A, E, Client.RrqClient | JobStore.JobStore | Settings.RrqSettings>) =>
    runtime.runPromiseExit(effect).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw Cause.squash(exit.cause)
    })

  const client = <A, E>(f: (c: Client.RrqClientShape) => Effect.Effect<A, E>) => run(Effect.flatMap(Client.RrqClient, f))

  return {
    enqueue: ((job: JobDefinition.Any | string, params: unknown, opts?: EnqueueOptions) =>
      client((c) => c.enqueue(job as string, params, opts))) as Rrq["enqueue"],
    enqueueMany: (requests) => client((c) => c.enqueueMany(requests)),
    getJob: (ref) => client((c) => c.getJob(ref)).then(Option.getOrUndefined),
    waitForResult: (ref, opts) => client((c) => c.waitForResult(ref, opts)),
    cancel: (ref) => client((c) => c.cancel(ref)),
    pause: (queue) => client((c) => c.pause(queue)),
    promote: (ref) => client((c) => c.promote(ref)),
    promoteAll: (queue) => client((c) => c.promoteAll(queue)),
    resume: (queue) => client((c) => c.resume(queue)),
    stats: (queue) =>
      run(Effect.flatMap(Settings.RrqSettings, (s) => Effect.flatMap(JobStore.JobStore, (st) => st.stats(queue ?? s.defaultQueue)))),
    startWorker: (workerOptions) =>
      run(Effect.gen(function*() {
        const scope = yield* Scope.make()
        const worker = yield* Scope.extend(Worker.make(workerOptions), scope)
        const running: RunningWorker = {
          id: worker.id,
          counts: () => runtime.runPromise(worker.counts),
          done: runtime.runPromise(worker.done),
          stop: () => {
            workers.delete(running)
            return runtime.runPromise(Scope.close(scope, Exit.void))
          }
        }
        workers.add(running)
        return running
      })),
    close: async () => {
      await Promise.all([...workers].map((w) => w.stop()))
      await runtime.dispose()
    }
  }
}
