/**
 * The errors of rrq. Every error that is stored in a job record or crosses a
 * process boundary is a `Schema.TaggedError`, so it can be encoded and decoded.
 */
import * as Schema from "effect/Schema"

/** Redis could not be reached or answered with an error (`RedisClient.use`). The ioredis error is kept as `cause`. */
export class RedisError extends Schema.TaggedError<RedisError>()("RedisError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * A store could not carry out an operation: its backend is unreachable or
 * answered with an error. Store-neutral, so any driver can raise it; the Redis
 * store keeps the `RedisError` as `cause`.
 */
export class JobStoreError extends Schema.TaggedError<JobStoreError>()("JobStoreError", {
  message: Schema.String,
  /**
   * `out-of-memory`: Redis is at its `maxmemory` (policy `noeviction`) and refused the
   * write. Enqueues and claims wait for room; finishing and keeping work still pass.
   * `evicting-redis`: Redis's `maxmemory-policy` evicts keys, so rrq refuses to write
   * (the setting `allowEviction` accepts the risk).
   */
  reason: Schema.optional(Schema.Literal("out-of-memory", "evicting-redis")),
  cause: Schema.optional(Schema.Defect)
}) {
  static fromRedis(error: RedisError): JobStoreError {
    return OOM.test(error.message)
      ? new JobStoreError({
        message: `Redis is out of memory (used memory > maxmemory), the write was refused: ${error.message}`,
        reason: "out-of-memory",
        cause: error
      })
      : new JobStoreError({ message: error.message, cause: error })
  }
}

/** Redis's reply to a write at maxmemory under `noeviction`. */
const OOM = /\bOOM command not allowed\b/

export class JobNotFound extends Schema.TaggedError<JobNotFound>()("JobNotFound", {
  queue: Schema.String,
  id: Schema.String
}) {
  override get message() {
    return `Job '${this.id}' not found in queue '${this.queue}'`
  }
}

/** A job id that already exists was enqueued again: rejected, never merged. */
export class DuplicateJob extends Schema.TaggedError<DuplicateJob>()("DuplicateJob", {
  queue: Schema.String,
  id: Schema.String
}) {
  override get message() {
    return `Job '${this.id}' already exists in queue '${this.queue}'`
  }
}

/** Params that are not JSON-serialisable, too large, or that fail a Schema. */
export class InvalidParams extends Schema.TaggedError<InvalidParams>()("InvalidParams", {
  message: Schema.String
}) {}

/** Options that make no sense (negative delay, zero attempts, an empty queue name...). */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  message: Schema.String
}) {}

/** A job record that cannot be read back. */
export class CorruptedJob extends Schema.TaggedError<CorruptedJob>()("CorruptedJob", {
  queue: Schema.String,
  id: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `Job '${this.id}' in queue '${this.queue}' is corrupted: ${this.reason}`
  }
}

/** `waitForResult` gave up before the job reached a terminal state. */
export class WaitTimeout extends Schema.TaggedError<WaitTimeout>()("WaitTimeout", {
  queue: Schema.String,
  id: Schema.String,
  timeoutMs: Schema.Number
}) {
  override get message() {
    return `Job '${this.id}' did not finish within ${this.timeoutMs}ms`
  }
}

/** The job ended in FAILED or CANCELLED, so it has no result to give. */
export class JobFailed extends Schema.TaggedError<JobFailed>()("JobFailed", {
  queue: Schema.String,
  id: Schema.String,
  status: Schema.String,
  error: Schema.optional(Schema.String)
}) {
  override get message() {
    return `Job '${this.id}' ended ${this.status}${this.error ? `: ${this.error}` : ""}`
  }
}

/** Raised by a handler: retry this job after `delay` ms (or the backoff policy when absent). */
export class RetryJob extends Schema.TaggedError<RetryJob>()("RetryJob", {
  delay: Schema.optional(Schema.Number),
  reason: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.reason ?? "Retry requested"
  }
}

/** Raised by a handler: fail this job now, without further attempts. */
export class FailJob extends Schema.TaggedError<FailJob>()("FailJob", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** The metrics endpoint could not listen (the port is taken, or the host is not this machine's). */
export class MetricsServerError extends Schema.TaggedError<MetricsServerError>()("MetricsServerError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
