/**
 * Recording outcomes. A success waits in a batch for the completion flusher (a job's slot
 * is freed as soon as its handler returns, so claims overlap with the recording of the
 * previous batch; the lease keeps the job ours until its completion is written). Retries,
 * failures and requeues are written one by one by their callers. Every write is retried
 * until it goes through: a Redis outage must not lose an outcome; only shutdown gives up
 * (`giveUp`), and those jobs run again once their leases expire.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as MetricLabel from "effect/MetricLabel"
import * as Schedule from "effect/Schedule"
import type { ClaimedJob, Completion, JobStoreShape } from "../JobStore.js"
import * as Retry from "../Retry.js"
import {
  type FailReason,
  failLabels,
  jobLabels,
  jobsCompleted,
  jobsFailed,
  jobsRetried,
  leasesLost,
  queueLabels
} from "./metrics/instruments.js"
import type { Operation, Outage } from "./outage.js"
import { Signal } from "./Signal.js"
import { groupByQueue } from "./timing.js"

/** What the worker counts of its outcomes. */
export interface OutcomeCounts {
  completed: number
  retried: number
  failed: number
  requeued: number
  lost: number
}

export interface RecorderContext {
  readonly store: JobStoreShape
  readonly retryPolicy: Retry.RetryPolicyShape
  readonly counts: OutcomeCounts
  readonly outage: Outage
  /** While stopping, writes are retried quickly, so outcomes land soon after Redis is back. */
  readonly stopping: () => boolean
}

/** The most completions one store call writes. */
const BATCH = 500

export class Recorder {
  private completions: Array<{
    readonly queue: string
    readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
    readonly completion: Completion
  }> = []
  private flushing = 0
  private readonly added = new Signal()
  private readonly flushed = new Signal()
  private readonly schedule: Schedule.Schedule<unknown, unknown>

  constructor(private readonly ctx: RecorderContext) {
    this.schedule = Retry.exponential({ base: 100, max: 5_000, jitter: true }).pipe(
      Schedule.modifyDelay((_, d) => (ctx.stopping() ? Duration.min(d, Duration.millis(200)) : d))
    )
  }

  /** Nothing waits to be written or is being written. */
  get idle(): boolean {
    return this.completions.length === 0 && this.flushing === 0
  }

  /** Until every completion queued so far is written. */
  get drained(): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      while (!self.idle) yield* self.flushed.wait
    })
  }

  /** Queues a completion for the flusher: nothing to wait for. */
  complete(job: ClaimedJob, result: string, labels: ReadonlyArray<MetricLabel.MetricLabel>): undefined {
    this.completions.push({ queue: job.queue, labels, completion: { id: job.id, token: job.leaseToken, result } })
    if (this.completions.length === 1) this.added.fire()
    return undefined
  }

  /** Shutdown with Redis away: drops the completions not written (the flusher is interrupted apart). */
  giveUp(): number {
    const dropped = this.completions.length + this.flushing
    this.completions = []
    this.flushing = 0
    this.flushed.fire()
    return dropped
  }

  /** Retries a store call until it goes through. */
  persist<A, E>(operation: Operation, what: string, effect: Effect.Effect<A, E>): Effect.Effect<A> {
    return effect.pipe(
      Effect.tapError((e) => this.ctx.outage.report(operation, what, e)),
      Effect.retry({ schedule: this.schedule })
    ) as Effect.Effect<A>
  }

  /** A failed attempt: back to pending after the backoff (or `delayMs`), or to the DLQ (reason `attempts`). */
  retry(
    job: ClaimedJob,
    maxRetries: number | undefined,
    error: string,
    delayMs?: number,
    exhausted: FailReason = "attempts"
  ): Effect.Effect<void> {
    const { counts, retryPolicy, store } = this.ctx
    const self = this
    return Effect.gen(function*() {
      const delay = delayMs ?? (yield* retryPolicy.delayAfter(job.currentRetries + 1))
      const outcome = yield* self.persist(
        "retry",
        `retry of job ${job.id}`,
        store.retry(job.queue, { id: job.id, token: job.leaseToken }, { delayMs: delay, error, maxRetries })
      )
      if (outcome === "RETRYING") {
        counts.retried++
        jobsRetried.unsafeUpdate(1, jobLabels(job.queue, job.functionName))
      } else if (outcome === "FAILED") {
        counts.failed++
        jobsFailed.unsafeUpdate(1, failLabels(job.queue, job.functionName, exhausted))
      } else yield* self.lost(job.queue, [job.id], "failed")
    })
  }

  /** To the DLQ at once, for `reason`. */
  fail(job: ClaimedJob, error: string, reason: FailReason): Effect.Effect<void> {
    return Effect.flatMap(
      this.persist("fail", `failure of job ${job.id}`, this.ctx.store.fail(job.queue, { id: job.id, token: job.leaseToken }, error)),
      (outcome) =>
        outcome === "FAILED"
          ? Effect.sync(() => {
            this.ctx.counts.failed++
            jobsFailed.unsafeUpdate(1, failLabels(job.queue, job.functionName, reason))
          })
          : this.lost(job.queue, [job.id], "failed")
    )
  }

  /** Back to pending without counting an attempt (shutdown). */
  requeue(job: ClaimedJob): Effect.Effect<void> {
    return Effect.map(
      this.persist("requeue", `requeue of job ${job.id}`, this.ctx.store.requeue(job.queue, [{ id: job.id, token: job.leaseToken }])),
      ([ok]) => void (ok ? this.ctx.counts.requeued++ : this.ctx.counts.lost++)
    )
  }

  /** Outcomes that came too late: the lease had moved on (recovered and run elsewhere, or cancelled). */
  private lost(queue: string, ids: ReadonlyArray<string>, what: string): Effect.Effect<void> {
    this.ctx.counts.lost += ids.length
    leasesLost.unsafeUpdate(ids.length, queueLabels(queue))
    return Effect.logWarning(
      `${ids.length} job(s) ${what} after their lease was lost (recovered by another run, or cancelled); ` +
        `nothing recorded: ${ids.slice(0, 10).join(", ")}${ids.length > 10 ? ", …" : ""}`
    )
  }

  /**
   * The completion flusher: writes queued completions in batches, for ever. Paced by the work
   * (it waits for a completion, then writes all queued), not by time, so `Effect.forever`
   * rather than a Schedule, whose driver would cost a step per batch on the hot path (c1: a
   * batch per job).
   */
  get flusher(): Effect.Effect<never> {
    const self = this
    return Effect.gen(function*() {
      if (self.completions.length === 0) {
        const added = self.added.wait
        if (self.completions.length === 0) yield* added
      }
      const batch = self.completions.length <= BATCH ? self.completions : self.completions.slice(0, BATCH)
      self.completions = self.completions.length <= BATCH ? [] : self.completions.slice(BATCH)
      self.flushing = batch.length
      for (const [queue, items] of groupByQueue(batch)) {
        const results = yield* self.persist(
          "complete",
          `recording ${items.length} completions`,
          self.ctx.store.complete(queue, items.map((i) => i.completion))
        )
        const late: Array<string> = []
        results.forEach((ok, i) => {
          if (!ok) return void late.push(items[i]!.completion.id)
          self.ctx.counts.completed++
          jobsCompleted.unsafeUpdate(1, items[i]!.labels)
        })
        if (late.length > 0) yield* self.lost(queue, late, "finished")
      }
      self.flushing = 0
      self.flushed.fire()
    }).pipe(Effect.forever)
  }
}
