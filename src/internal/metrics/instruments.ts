/**
 * rrq's metrics, as Effect `Metric`s in the process's registry (so an app's own metrics are
 * exported beside them), recorded with `unsafeUpdate`: the hot path records synchronously,
 * with one label array per queue and function, cached, which Effect's hook cache keys by
 * identity (a lookup, no allocation). Names follow Prometheus (base units, `_total`
 * counters); docs/monitoring.md says what each means.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import type { ClaimResult } from "../../JobStore.js"

const counter = (name: string, description: string) => Metric.counter(name, { description, incremental: true })

export const jobsEnqueued = counter("rrq_jobs_enqueued_total", "Jobs enqueued (created; an idempotency key answering with an existing job does not count)")
export const jobsStarted = counter("rrq_jobs_started_total", "Attempts started by workers")
export const jobsCompleted = counter("rrq_jobs_completed_total", "Jobs completed (their outcome written)")
export const jobsRetried = counter("rrq_jobs_retried_total", "Failed attempts scheduled to run again")
export const jobsFailed = counter("rrq_jobs_failed_total", "Jobs moved to the dead-letter queue, by reason")
export const jobsCancelled = counter("rrq_jobs_cancelled_total", "Jobs cancelled (pending or running)")
export const leasesRecovered = counter("rrq_leases_recovered_total", "Expired leases recovered: their jobs back to pending")
export const leasesLost = counter("rrq_leases_lost_total", "Attempts that finished after their lease was lost (nothing written)")
export const redisErrors = counter("rrq_redis_errors_total", "Failed Redis calls of workers, by operation")

// Seconds; a job queue's jobs run from milliseconds to many minutes.
const seconds = MetricBoundaries.fromIterable([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900])
export const jobDuration = Metric.histogram("rrq_job_duration_seconds", seconds, "Handler time of an attempt")
export const jobWait = Metric.histogram("rrq_job_wait_seconds", seconds, "From due (enqueued, or its run-at) to claimed: the latency users feel")
export const claimBatchSize = Metric.histogram(
  "rrq_claim_batch_size",
  MetricBoundaries.fromIterable([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]),
  "Jobs per claim that found work"
)

/** A claim that found work: its batch size, and each job's wait from due to claimed (on the store's clock). */
export const recordClaim = (queue: string, result: ClaimResult): void => {
  claimBatchSize.unsafeUpdate(result.jobs.length, queueLabels(queue))
  for (const job of result.jobs) {
    if (job.dueAt !== undefined) jobWait.unsafeUpdate(Math.max(0, result.now - job.dueAt) / 1000, jobLabels(queue, job.functionName))
  }
}

/** Why a job went to the DLQ (`reason` of rrq_jobs_failed_total). */
export type FailReason = "error" | "timeout" | "attempts" | "invalid_params" | "no_handler" | "lost"

const cache = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
/** Beyond this many label sets (function names from damaged records, say), new ones share one. */
const MAX_LABEL_SETS = 10_000
const overflow = [MetricLabel.make("queue", "(other)"), MetricLabel.make("function", "(other)")]
const labels = (key: string, make: () => ReadonlyArray<MetricLabel.MetricLabel>) => {
  let found = cache.get(key)
  if (found === undefined) {
    if (cache.size >= MAX_LABEL_SETS) return overflow
    cache.set(key, (found = make()))
  }
  return found
}

// by queue, then function: two Map lookups, no key string to build on the hot path
const byJob = new Map<string, Map<string, ReadonlyArray<MetricLabel.MetricLabel>>>()

/** `{queue, function}`, one array per pair for the life of the process. */
export const jobLabels = (queue: string, functionName: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  let fns = byJob.get(queue)
  if (fns === undefined) byJob.set(queue, fns = new Map())
  let found = fns.get(functionName)
  if (found === undefined) {
    found = labels(`j\u0000${queue}\u0000${functionName}`, () => [
      MetricLabel.make("queue", queue),
      MetricLabel.make("function", functionName)
    ])
    if (found !== overflow) fns.set(functionName, found)
  }
  return found
}

/** `{queue, function, reason}`. */
export const failLabels = (queue: string, functionName: string, reason: FailReason) =>
  labels(`f\u0000${queue}\u0000${functionName}\u0000${reason}`, () => [
    MetricLabel.make("queue", queue),
    MetricLabel.make("function", functionName),
    MetricLabel.make("reason", reason)
  ])

/** `{queue}`. */
export const queueLabels = (queue: string) => labels(`q\u0000${queue}`, () => [MetricLabel.make("queue", queue)])

/** `{operation}`. */
export const operationLabels = (operation: string) =>
  labels(`o\u0000${operation}`, () => [MetricLabel.make("operation", operation)])
