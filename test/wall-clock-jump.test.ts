/**
 * A wall clock that jumps (issue 11, defect 5): NTP stepping the time forward by 400 s
 * while jobs run. Timeouts and the shutdown grace are durations, measured on the
 * monotonic clock, so no job is stopped by the jump. The worker runs on the real
 * Redis store with a Clock whose wall time the test moves; its monotonic time does not.
 */
import { expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Option } from "effect"
import { describe } from "vitest"
import { RrqClient } from "../src/Client.js"
import { JobStore } from "../src/JobStore.js"
import * as Worker from "../src/Worker.js"
import { clientLayer } from "./support/index.js"

/** The default clock with `offset` ms added to its wall time only. */
const jumpingClock = () => {
  const base = Clock.make()
  const state = { offset: 0 }
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + state.offset,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + state.offset),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
    currentTimeNanos: base.currentTimeNanos,
    sleep: (d) => base.sleep(d)
  }
  return { clock, state }
}

describe("a wall clock that jumps", () => {
  it.scopedLive("a jump of +400 s while jobs run times none of them out", () =>
    Effect.gen(function*() {
      const { clock, state } = jumpingClock()
      const layer = yield* Layer.build(clientLayer({ defaultTimeoutMs: 60_000, pollDelayMs: 50 }))
      yield* Worker.make({ handlers: { work: () => Effect.sleep(1_500) }, concurrency: 5 }).pipe(
        Effect.provide(layer),
        Effect.withClock(clock)
      )
      const c = yield* Effect.provide(RrqClient, layer)
      const refs = yield* c.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ job: "work", params: { i } })))
      yield* Effect.sleep(400)
      state.offset = 400_000
      yield* Effect.forEach(refs, (ref) => c.waitForResult(ref, { timeout: "10 seconds" }).pipe(Effect.ignore))
      const jobs = yield* Effect.forEach(refs, (ref) => Effect.flatMap(JobStore, (s) => s.getJob(ref))).pipe(Effect.provide(layer))
      expect(jobs.map((j) => Option.getOrThrow(j).status)).toEqual(Array(5).fill("COMPLETED"))
      expect(jobs.map((j) => Option.getOrThrow(j).currentRetries)).toEqual(Array(5).fill(0))
    }), 30_000)
})
