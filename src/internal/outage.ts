/**
 * During a Redis outage every fiber of a worker fails on its own schedule: one line for the
 * outage (the first failure), one when the claim loop gets through again.
 */
import * as Effect from "effect/Effect"
import { JobStoreError, RedisError } from "../Errors.js"
import { messageOf } from "./errorText.js"
import { operationLabels, redisErrors } from "./metrics/instruments.js"

/** The store calls of a worker, as the `operation` of rrq_redis_errors_total. */
export type Operation = "claim" | "complete" | "retry" | "fail" | "requeue" | "extend" | "recover" | "heartbeat"

export class Outage {
  private kind: "unreachable" | "out-of-memory" | undefined

  /** Whether Redis is known to be away (or refusing writes) now. */
  get known(): boolean {
    return this.kind !== undefined
  }

  /** A store call (`what`, an `operation`) failed with `e`: counted each time, said once per outage. */
  report(operation: Operation, what: string, e: unknown): Effect.Effect<void> {
    redisErrors.unsafeUpdate(1, operationLabels(operation))
    return this.kind !== undefined ? Effect.void : Effect.suspend(() => {
      if (e instanceof JobStoreError && e.reason === "out-of-memory") {
        this.kind = "out-of-memory"
        // the claim and enqueue scripts are refused whole; the ones that finish or keep work are allowed
        return Effect.logError(
          `Redis is out of memory (maxmemory reached): no new jobs are claimed until it has room; running jobs still finish and keep their leases`
        )
      }
      this.kind = "unreachable"
      if (e instanceof JobStoreError && e.reason === "evicting-redis") return Effect.logError(e.message)
      const line = `${what[0]!.toUpperCase()}${what.slice(1)} failed (${messageOf(e)}); retrying with backoff`
      // the RedisClient has already warned about the outage itself
      return e instanceof JobStoreError && e.cause instanceof RedisError ? Effect.logInfo(line) : Effect.logWarning(line)
    })
  }

  /** A claim went through: the outage, if there was one, is over. */
  get over(): Effect.Effect<void> {
    if (this.kind === undefined) return Effect.void
    const line = this.kind === "out-of-memory" ? "Redis accepts writes again" : "Redis reachable again"
    this.kind = undefined
    return Effect.logInfo(line)
  }
}
