/**
 * The job model: the record stored in `rrq:{q}:job:<id>`, its statuses, and
 * the options accepted when enqueueing.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { CorruptedJob, InvalidOptions } from "./Errors.js"
import { oversize } from "./internal/payload.js"
import { isValidQueueName, QUEUE_NAME_RULE } from "./Keys.js"
import type { DurationInput } from "./Settings.js"

export const JobId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256), Schema.brand("rrq/JobId"))
export type JobId = typeof JobId.Type

export const JobStatus = Schema.Literal("PENDING", "ACTIVE", "COMPLETED", "FAILED", "RETRYING", "CANCELLED")
export type JobStatus = typeof JobStatus.Type

/** Terminal statuses: the job will not run again unless requeued from the DLQ. */
export const isTerminal = (status: JobStatus): boolean =>
  status === "COMPLETED" || status === "FAILED" || status === "CANCELLED"

/** Where a job lives: its queue and its id. */
export class JobRef extends Schema.Class<JobRef>("rrq/JobRef")({
  queue: Schema.String,
  id: Schema.String
}) {}

/** Numbers are stored as decimal strings in the hash. */
const Num = Schema.NumberFromString
const OptNum = Schema.optional(Schema.NumberFromString)
const OptStr = Schema.optional(Schema.String)
/** JSON fields are stored as JSON text and exposed parsed. */
const Json = Schema.parseJson()

/**
 * A job record. Its encoded form is exactly the Redis hash (every field a
 * string), so `Schema.decodeUnknown(Job)(HGETALL)` reads a record back.
 */
export class Job extends Schema.Class<Job>("rrq/Job")({
  id: Schema.String,
  queue: Schema.String,
  functionName: Schema.String,
  params: Json,
  status: JobStatus,
  /** Failed attempts so far. */
  currentRetries: Num,
  /** Total number of attempts allowed. */
  maxRetries: Num,
  timeoutMs: OptNum,
  resultTtlMs: OptNum,
  uniqueKey: OptStr,
  enqueuedAt: Num,
  nextRunAt: OptNum,
  startedAt: OptNum,
  completedAt: OptNum,
  workerId: OptStr,
  leaseToken: OptStr,
  stalls: Num,
  result: Schema.optional(Json),
  lastError: OptStr,
  traceContext: OptStr
}) {
  /** The attempt a worker would run next (1 on the first run). */
  get attempt(): number {
    return this.currentRetries + 1
  }
}

const decodeJob = Schema.decodeUnknownEither(Job)

const isJsonText = (text: string) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

const optionalNumbers = ["timeoutMs", "resultTtlMs", "nextRunAt", "startedAt", "completedAt"] as const

/**
 * Reads a job record (a Redis hash) leniently, so a damaged job can still be
 * shown and dead-lettered: params or a result that are not JSON come back as
 * their raw text, an optional number that is not a number is dropped. A record
 * without its required fields is a `CorruptedJob`, with the fields named.
 */
export const decodeRecord = (queue: string, id: string, hash: Readonly<Record<string, string>>): Either.Either<Job, CorruptedJob> => {
  const fields: Record<string, string> = { ...hash }
  for (const f of ["params", "result"] as const) {
    if (fields[f] !== undefined && !isJsonText(fields[f])) fields[f] = JSON.stringify(fields[f])
  }
  for (const f of optionalNumbers) {
    if (fields[f] !== undefined && !Number.isFinite(Number(fields[f]))) delete fields[f]
  }
  return Either.mapLeft(decodeJob(fields), (e) =>
    new CorruptedJob({
      queue,
      id,
      reason: ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
    }))
}

/** Options accepted by every enqueue. */
export interface EnqueueOptions {
  /** Queue to put the job on (default: the definition's queue, then the settings' default queue). */
  readonly queue?: string
  /** A caller-chosen id; enqueueing an existing id fails with `DuplicateJob`. */
  readonly jobId?: string
  /** Run no earlier than this long from now (`"2s"`, `"5 minutes"`, ms; at most a Date's range, 8.64e15 ms). */
  readonly deferBy?: DurationInput
  /** Run no earlier than this instant (a Date, or epoch ms within a Date's range). */
  readonly deferUntil?: Date | number
  /** Total attempts allowed (≥ 1). */
  readonly maxRetries?: number
  /** Per-attempt timeout. */
  readonly timeout?: DurationInput
  /** How long the finished record is kept (0: forever). */
  readonly resultTtl?: DurationInput
  /** At most one job per key is pending or running; later ones wait for the holder. */
  readonly uniqueKey?: string
  /** A second enqueue with this key returns the existing job. */
  readonly idempotencyKey?: string
  /** W3C trace context to carry to the worker. */
  readonly traceContext?: string
}

/** A job ready to be written by `JobStore.enqueue`: validated, serialised, timed. */
export interface NewJob {
  readonly id: string
  readonly queue: string
  readonly functionName: string
  /** JSON text of the params. */
  readonly params: string
  readonly maxRetries: number
  readonly timeoutMs?: number | undefined
  readonly resultTtlMs: number
  /** Absolute run-at (deferUntil), epoch ms. */
  readonly runAt?: number | undefined
  /** Relative delay (deferBy), from the store's clock at enqueue. */
  readonly delayMs: number
  readonly uniqueKey?: string | undefined
  readonly idempotencyKey?: string | undefined
  readonly traceContext?: string | undefined
  /** The producer generated the id just now (a UUID): it cannot exist, so the store skips the duplicate check. */
  readonly fresh?: boolean | undefined
}

const invalid = (message: string) => new InvalidOptions({ message })

/** The latest instant a Date can hold; run-at times are stored as whole milliseconds up to it. */
const MAX_DATE_MS = 8.64e15

/**
 * Checks a job before anything is written. Both stores call it, so a bad job
 * is rejected the same way whatever the backend (and whoever the producer).
 */
export const validateNewJob = (job: NewJob, maxPayloadBytes: number): InvalidOptions | undefined => {
  if (!isValidQueueName(job.queue)) {
    return invalid(`invalid queue name '${job.queue}' (${QUEUE_NAME_RULE})`)
  }
  if (job.id.length === 0 || job.id.length > 256) return invalid("a job id must be 1 to 256 characters")
  if (!Number.isInteger(job.maxRetries) || job.maxRetries < 1) {
    return invalid(`maxRetries must be an integer ≥ 1, got ${job.maxRetries}`)
  }
  if (!(job.delayMs >= 0 && job.delayMs <= MAX_DATE_MS)) {
    return invalid(`the delay must be a non-negative duration within the range of a Date, got ${job.delayMs}ms`)
  }
  if (job.runAt !== undefined && !(job.runAt >= 0 && job.runAt <= MAX_DATE_MS)) {
    return invalid(`the run-at must be a valid instant, got ${job.runAt}`)
  }
  if (job.timeoutMs !== undefined && !(job.timeoutMs > 0)) return invalid("timeout must be positive")
  if (!(job.resultTtlMs >= 0)) return invalid("resultTtl must be ≥ 0")
  const bytes = oversize(job.params, maxPayloadBytes)
  if (bytes !== undefined) {
    return invalid(`params are ${bytes} bytes, more than maxPayloadBytes (${maxPayloadBytes})`)
  }
  return undefined
}
