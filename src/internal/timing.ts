/** Small helpers the worker's loops share: jitter, error backoff, a loop's schedule, grouping by queue. */
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

/** A duration with ± fraction of jitter, in whole milliseconds (a fractional sleep would put a TestClock between two integer run-ats). */
export const jittered = (ms: number, fraction: number): number =>
  Math.max(0, Math.round(ms * (1 - fraction + 2 * fraction * Math.random())))

/** Jittered exponential backoff for Redis errors, capped at 5 s. */
export const errorBackoff = (failures: number): number => Math.min(5_000, jittered(100 * 2 ** Math.min(failures, 10), 0.5))

/** Items by their queue, in first-seen order: one store call per queue. */
export const groupByQueue = <A extends { readonly queue: string }>(items: Iterable<A>): Map<string, Array<A>> => {
  const groups = new Map<string, Array<A>>()
  for (const item of items) {
    const g = groups.get(item.queue)
    if (g) g.push(item)
    else groups.set(item.queue, [item])
  }
  return groups
}

/** Repeats for ever, each time after the delay (ms) the loop's step returned: for loops whose pace depends on what they found. */
export const afterReturnedDelay: Schedule.Schedule<number, number> = Schedule.addDelay(
  Schedule.identity<number>(),
  (ms) => Duration.millis(ms)
)
