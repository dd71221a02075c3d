/**
 * Running jobs: the slots, the jobs claimed ahead that wait for one, and each attempt from
 * start to settle. The hot path stays outside the fiber machinery: a handler's value or
 * Promise settles the job directly, as plain synchronous code; only an Effect gets a fiber
 * (with the worker's services), which a timeout, a cancel or shutdown interrupts.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as MetricLabel from "effect/MetricLabel"
import type * as Tracer from "effect/Tracer"
import * as Schema from "effect/Schema"
import type { RrqClientShape } from "../Client.js"
import type * as Handler from "../Handler.js"
import type { ClaimedJob, JobStoreShape } from "../JobStore.js"
import type { Settings } from "../Settings.js"
import type { ClaimPolicy } from "./claimPolicy.js"
import { describeError, messageOf, seconds } from "./errorText.js"
import type { LeaseBook } from "./leaseBook.js"
import { jobDuration, jobLabels, jobsStarted, leasesLost, queueLabels } from "./metrics/instruments.js"
import type { Held } from "./maintenance.js"
import { outcomeOf, type StopReason } from "./outcome.js"
import type { Recorder } from "./recorder.js"
import { Signal } from "./Signal.js"
import * as Tracing from "./tracing.js"
import { afterReturnedDelay, groupByQueue } from "./timing.js"

/** One attempt in a slot. */
export interface Running {
  readonly job: ClaimedJob
  readonly key: string
  /** The attempt's deadline as a wall-clock time (epoch ms), for the handler to read. */
  readonly deadline: number
  /** The same on the monotonic clock, for the sweeper: a wall-clock jump (NTP) stops no job. */
  readonly due: number
  handler: Handler.Handler<any> | undefined
  /** When the handler was called (monotonic ms), for the moving average of handler time. */
  calledAt: number
  /** Created on the first read of `ctx.signal`: most handlers never look at it. */
  abort: AbortController | undefined
  /** Only for handlers that returned an Effect. */
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  stop: StopReason | undefined
  /** The attempt's consumer span, when the app installed a tracer (internal/tracing.ts). */
  span: Tracer.Span | undefined
  /** Its metrics' labels (queue, function), looked up once. */
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  /** The attempt's outcome is decided; later results of the handler are ignored. */
  settled: boolean
}

/** The log annotations of an attempt. */
const jobAnnotations = (job: ClaimedJob) => ({
  queue: job.queue,
  jobId: job.id,
  attempt: job.currentRetries + 1,
  function: job.functionName
})

/** The key of a job in `running`. */
export const jobKey = (queue: string, id: string): string => `${queue}\u0000${id}`

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

export interface RunnerContext<R> {
  readonly workerId: string
  readonly concurrency: number
  readonly settings: Settings
  readonly store: JobStoreShape
  readonly handlers: ReadonlyMap<string, Handler.Handler<R>>
  readonly client: RrqClientShape
  readonly clock: Clock.Clock
  /** The app's tracer (undefined: none installed, no spans) and whether attempts continue the enqueue's trace. */
  readonly tracer: Tracer.Tracer | undefined
  readonly continueTrace: boolean
  /** Monotonic milliseconds. */
  readonly now: () => number
  readonly policy: ClaimPolicy
  readonly leases: LeaseBook
  readonly recorder: Recorder
  readonly counts: { lost: number }
  /** Forks into the worker's scope, with the worker's services (handlers' Effects, logs). */
  readonly fork: <A, E>(effect: Effect.Effect<A, E, R>) => Fiber.RuntimeFiber<A, E>
  /** Forks an outcome's recording into the set shutdown may give up. */
  readonly forkRecording: <A>(effect: Effect.Effect<A, never>) => Fiber.RuntimeFiber<A, never>
}

export class JobRunner<R> {
  readonly running = new Map<string, Running>()
  /** Claimed jobs waiting for a slot (how many: internal/claimPolicy.ts). */
  readonly buffered: Array<ClaimedJob> = []
  /** Set by shutdown: nothing new starts. */
  stopping = false
  /** Outcomes shutdown gave up (their recording interrupted). */
  unrecorded = 0
  readonly slotFreed = new Signal()
  readonly jobStarted = new Signal()
  private starting = false

  constructor(private readonly ctx: RunnerContext<R>) {}

  /** Jobs held: running and claimed ahead. */
  get held(): number {
    return this.running.size + this.buffered.length
  }

  /** Stops a running job: the sweeper, the cancel listener, a lost lease or shutdown. */
  stop(entry: Running, reason: StopReason): void {
    if (entry.stop !== undefined) return
    entry.stop = reason
    entry.abort?.abort(reason)
    if (entry.fiber !== undefined) entry.fiber.unsafeInterruptAsFork(FiberId.none)
    // a Promise cannot be interrupted: the attempt ends now, its late result is ignored
    else if (entry.handler !== undefined) this.settle(entry, Exit.interrupt(FiberId.none))
  }

  /** A cancel heard for a job: stopped if it runs, dropped if claimed ahead, remembered if its claim is still on its way. */
  cancelHeard(queue: string, jobId: string): void {
    const key = jobKey(queue, jobId)
    const entry = this.running.get(key)
    if (entry) return this.stop(entry, "cancel")
    this.drop(queue, jobId)
    this.ctx.leases.cancelledBeforeHeld(key, this.ctx.now())
  }

  /** A job claimed ahead that will not run here (cancelled, or its lease lost). */
  drop(queue: string, jobId: string): void {
    const i = this.buffered.findIndex((j) => j.queue === queue && j.id === jobId)
    if (i >= 0) this.buffered.splice(i, 1)
  }

  /** Starts claimed jobs while slots are free. Re-entrant calls (a job that settles at once frees its slot inside `start`) return at once. */
  startBuffered(): void {
    if (this.starting) return
    this.starting = true
    try {
      while (!this.stopping && this.running.size < this.ctx.concurrency && this.buffered.length > 0) {
        const job = this.buffered.shift()!
        if (this.ctx.leases.tooOld(job, this.ctx.now())) this.giveBack([job], "its lease was not renewed in time while it waited for a slot")
        else this.start(job)
      }
    } finally {
      this.starting = false
    }
  }

  /**
   * Claimed jobs this worker will not start, because it cannot be sure to still hold their
   * leases: back to pending without counting an attempt (a lease recovered meanwhile
   * answers "lost", and the job is left to its new holder).
   */
  giveBack(jobs: ReadonlyArray<ClaimedJob>, why: string): void {
    const { counts, settings, store } = this.ctx
    counts.lost += jobs.length
    this.ctx.fork(
      Effect.logWarning(`Worker not starting ${jobs.length} job(s): ${why} (lease ${seconds(settings.leaseMs)})`).pipe(
        Effect.zipRight(Effect.forEach(
          groupByQueue(jobs),
          ([queue, js]) => store.requeue(queue, js.map((j) => ({ id: j.id, token: j.leaseToken }))),
          { discard: true }
        )),
        Effect.catchAll((e) => Effect.logWarning(`Handing back jobs failed (their leases will expire): ${messageOf(e)}`))
      )
    )
  }

  /** The jobs whose leases to renew: running ones not stopped, and those claimed ahead. */
  heldLeases(): ReadonlyArray<Held> {
    const held: Array<Held> = []
    for (const entry of this.running.values()) {
      if (entry.stop === undefined) held.push({ job: entry.job, lost: () => this.stop(entry, "lost") })
    }
    for (const job of this.buffered) held.push({ job, lost: () => this.drop(job.queue, job.id) })
    return held
  }

  /** Stops overdue jobs: checks every 50 ms while jobs run, waits for the next job otherwise. */
  get sweepDeadlines(): Effect.Effect<unknown> {
    const self = this
    return Effect.gen(function*() {
      const started = self.jobStarted.wait
      if (self.running.size === 0) {
        yield* started
        return 0
      }
      const now = self.ctx.now()
      for (const entry of self.running.values()) {
        if (entry.stop === undefined && now >= entry.due) self.stop(entry, "timeout")
      }
      return 50
    }).pipe(Effect.repeat(afterReturnedDelay))
  }

  private timeoutOf(job: ClaimedJob, handler: Handler.Handler<R> | undefined): number {
    return job.timeoutMs ?? handler?.timeoutMs ?? this.ctx.settings.defaultTimeoutMs
  }

  private start(job: ClaimedJob): void {
    const timeout = this.timeoutOf(job, this.ctx.handlers.get(job.functionName))
    const entry: Running = {
      job,
      key: jobKey(job.queue, job.id),
      deadline: this.ctx.clock.unsafeCurrentTimeMillis() + timeout,
      due: this.ctx.now() + timeout,
      handler: undefined,
      calledAt: 0,
      abort: undefined,
      fiber: undefined,
      stop: undefined,
      span: this.ctx.tracer === undefined
        ? undefined
        : Tracing.startAttempt(this.ctx.tracer, job, this.ctx.clock.unsafeCurrentTimeNanos(), this.ctx.continueTrace),
      labels: jobLabels(job.queue, job.functionName),
      settled: false
    }
    this.running.set(entry.key, entry)
    jobsStarted.unsafeUpdate(1, entry.labels)
    this.jobStarted.fire()
    this.execute(entry)
  }

  private execute(entry: Running): void {
    const { recorder, settings } = this.ctx
    const job = entry.job
    const handler = this.ctx.handlers.get(job.functionName)
    if (handler === undefined) {
      const message = `No handler registered for function '${job.functionName}'`
      // "retry": a newer worker (a rolling deploy) may know it; the attempts still run out into the DLQ
      const retry = settings.unknownFunction === "retry"
      this.traced(entry, retry ? "retry" : "fail", "no_handler", Exit.void)
      return this.record(entry, retry ? recorder.retry(job, undefined, message, undefined, "no_handler") : recorder.fail(job, message, "no_handler"))
    }
    let raw: unknown
    try {
      raw = JSON.parse(job.params)
    } catch (e) {
      this.traced(entry, "fail", "invalid_params", Exit.void)
      return this.record(entry, recorder.fail(job, `Invalid params for '${job.functionName}': not valid JSON (${describeError(e)})`, "invalid_params"))
    }
    const params = handler.params === Schema.Unknown
      ? Either.right(raw)
      : Schema.decodeUnknownEither(handler.params)(raw)
    if (Either.isLeft(params)) {
      this.traced(entry, "fail", "invalid_params", Exit.void)
      return this.record(entry, recorder.fail(job, `Invalid params for '${job.functionName}': ${params.left.message}`, "invalid_params"))
    }
    const ctx: Handler.JobContext = {
      jobId: job.id,
      attempt: job.currentRetries + 1,
      queue: job.queue,
      workerId: this.ctx.workerId,
      enqueuedAt: job.enqueuedAt,
      deadline: entry.deadline,
      get signal() {
        if (entry.abort === undefined) {
          entry.abort = new AbortController()
          if (entry.stop !== undefined) entry.abort.abort(entry.stop)
        }
        return entry.abort.signal
      },
      client: this.ctx.client
    }
    entry.handler = handler
    entry.calledAt = this.ctx.now()
    let out: unknown
    try {
      out = handler.call(params.right, ctx)
    } catch (e) {
      // a synchronous throw is the handler's failure, not a worker defect
      return this.settle(entry, Exit.fail(e))
    }
    if (Effect.isEffect(out)) {
      const fiber = this.ctx.fork((out as Effect.Effect<unknown, unknown, R>).pipe(
        Effect.catchAllDefect(Effect.fail),
        // the handler's log lines say which job they belong to (JSON logs: as fields)
        Effect.annotateLogs(jobAnnotations(job)),
        // and its spans nest under the attempt's
        (handled) => (entry.span === undefined ? handled : Effect.withParentSpan(handled, entry.span))
      ))
      entry.fiber = fiber
      fiber.addObserver((exit) => this.settle(entry, exit))
    } else if (isPromiseLike(out)) {
      out.then((value) => this.settle(entry, Exit.succeed(value)), (e) => this.settle(entry, Exit.fail(e)))
    } else {
      this.settle(entry, Exit.succeed(out))
    }
  }

  /** The attempt ended (first call wins: a stop settles a Promise handler at once). */
  private settle(entry: Running, exit: Exit.Exit<unknown, unknown>): void {
    if (entry.settled) return
    entry.settled = true
    const ranMs = this.ctx.now() - entry.calledAt
    this.ctx.policy.ran(ranMs)
    jobDuration.unsafeUpdate(ranMs / 1000, entry.labels)
    const recording = this.recordingOf(entry, entry.handler!, exit)
    if (recording === undefined) this.release(entry)
    else this.record(entry, recording)
  }

  /** What a finished attempt leaves to record: nothing (a completion was queued) or a store call. */
  private recordingOf(
    entry: Running,
    handler: Handler.Handler<R>,
    exit: Exit.Exit<unknown, unknown>
  ): Effect.Effect<void> | undefined {
    const { recorder } = this.ctx
    const job = entry.job
    const outcome = outcomeOf(exit, entry.stop, handler, job.functionName, this.timeoutOf(job, handler))
    if (entry.span !== undefined) {
      const failed = outcome._tag === "Retry" || outcome._tag === "Fail"
      this.traced(entry, outcome._tag.toLowerCase(), failed ? Tracing.errorType(exit, entry.stop ?? "invalid_result") : undefined, exit)
    }
    switch (outcome._tag) {
      case "Complete":
        return recorder.complete(job, outcome.result, entry.labels)
      case "Retry":
        return recorder.retry(job, handler.maxRetries, outcome.error, outcome.delayMs)
      case "Fail":
        // a timeout that is not retried, or the handler's final word (FailJob, a bad result)
        return recorder.fail(job, outcome.error, entry.stop === "timeout" ? "timeout" : "error")
      case "Requeue":
        return recorder.requeue(job)
      case "Lost":
        return Effect.sync(() => {
          this.ctx.counts.lost++
          if (entry.stop === "lost") leasesLost.unsafeUpdate(1, queueLabels(job.queue))
        })
    }
  }

  /** Ends the attempt's span, if it has one. */
  private traced(entry: Running, outcome: string, error: string | undefined, exit: Exit.Exit<unknown, unknown>): void {
    if (entry.span !== undefined) Tracing.endAttempt(entry.span, outcome, error, exit, this.ctx.clock.unsafeCurrentTimeNanos())
  }

  /** Records a non-success outcome in its own fiber; the slot stays taken until it is written. */
  private record(entry: Running, recording: Effect.Effect<void>): void {
    entry.settled = true
    const fiber = this.ctx.forkRecording(
      recording.pipe(
        Effect.catchAllCause((cause) => Effect.logError(`Job ${entry.job.id} could not be settled`, cause)),
        Effect.annotateLogs(jobAnnotations(entry.job))
      )
    )
    fiber.addObserver((exit) => {
      if (Exit.isInterrupted(exit)) this.unrecorded++ // given up by shutdown (Redis away)
      this.release(entry)
    })
  }

  /** Frees the job's slot and starts the next job claimed ahead. */
  private release(entry: Running): void {
    this.running.delete(entry.key)
    this.slotFreed.fire()
    this.startBuffered()
  }
}
