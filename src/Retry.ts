/**
 * Retry backoff as a `Schedule`: the delay before attempt n+1 is the n-th delay
 * the schedule produces. The default is RRQ's: min(max, base · 2^(attempt−1)),
 * base 5 s, max 1 h, optionally jittered.
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { type DurationInput, parseDuration, RrqSettings } from "./Settings.js"

export interface RetryPolicyShape {
  /** The delay in ms before the next attempt, after `attempt` (1-based) failed. */
  readonly delayAfter: (attempt: number) => Effect.Effect<number>
}

export class RetryPolicy extends Context.Tag("rrq/RetryPolicy")<RetryPolicy, RetryPolicyShape>() {}

/** The milliseconds of a duration option, or an `InvalidOptions` thrown naming it (a constructor's bad input). */
const millis = (option: string, input: DurationInput): number =>
  Either.getOrThrowWith(parseDuration(input, `Retry.exponential: ${option}`), (e) => e)

/** Exponential backoff from `base`, capped at `max`; throws `InvalidOptions` for a bad duration. */
export const exponential = (options: {
  readonly base: DurationInput
  readonly max: DurationInput
  readonly jitter?: boolean
}): Schedule.Schedule<Duration.Duration, unknown> => {
  const max = Duration.millis(millis("max", options.max))
  const capped = Schedule.exponential(millis("base", options.base), 2).pipe(Schedule.modifyDelay((d) => Duration.min(d, max)))
  return (options.jitter ? Schedule.jittered(capped) : capped).pipe(Schedule.delays)
}

/** A policy from any schedule: the n-th delay of the schedule follows the n-th failure. */
export const fromSchedule = (schedule: Schedule.Schedule<unknown, unknown>): RetryPolicyShape => {
  const delays = Schedule.delays(schedule)
  return {
    delayAfter: (attempt) =>
      Schedule.run(delays, 0, Array.from({ length: Math.max(1, attempt) }, () => undefined)).pipe(
        Effect.map((out) => Chunk.last(out).pipe((d) => (d._tag === "Some" ? Math.round(Duration.toMillis(d.value)) : 0)))
      )
  }
}

export const layerSchedule = (schedule: Schedule.Schedule<unknown, unknown>): Layer.Layer<RetryPolicy> =>
  Layer.succeed(RetryPolicy, fromSchedule(schedule))

/** The default policy from RrqSettings (retryBaseMs, retryMaxMs, retryJitter). */
export const layer: Layer.Layer<RetryPolicy, never, RrqSettings> = Layer.effect(
  RetryPolicy,
  Effect.map(RrqSettings, (s) =>
    fromSchedule(exponential({ base: s.retryBaseMs, max: s.retryMaxMs, jitter: s.retryJitter })))
)
