import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Ref, Schedule, TestClock } from "effect"
import * as Client from "../src/Client.js"
import { RrqClient } from "../src/Client.js"
import { JobStore } from "../src/JobStore.js"
import * as Store from "../src/JobStore.js"
import * as Retry from "../src/Retry.js"
import * as Settings from "../src/Settings.js"
import * as Worker from "../src/Worker.js"

describe("Retry policies", () => {
  it.effect("RRQ's default: min(max, base · 2^(attempt−1))", () =>
    Effect.gen(function*() {
      const policy = Retry.fromSchedule(Retry.exponential({ base: "5 seconds", max: "1 hour" }))
      const delays = yield* Effect.forEach([1, 2, 3, 4, 10, 11, 30], policy.delayAfter)
      expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 2_560_000, 3_600_000, 3_600_000])
    }))

  it.effect("takes the short duration strings too, and names a bad one", () =>
    Effect.gen(function*() {
      const policy = Retry.fromSchedule(Retry.exponential({ base: "2s", max: "1m" }))
      expect(yield* Effect.forEach([1, 2, 10], policy.delayAfter)).toEqual([2_000, 4_000, 60_000])
      expect(() => Retry.exponential({ base: "soon" as never, max: "1m" })).toThrow(/Retry.exponential: base: invalid duration 'soon'/)
    }))

  it.effect("jitter stays within ±20% of the nominal delay and varies", () =>
    Effect.gen(function*() {
      const policy = Retry.fromSchedule(Retry.exponential({ base: 1_000, max: 60_000, jitter: true }))
      const samples = yield* Effect.forEach(Array.from({ length: 50 }), () => policy.delayAfter(3))
      for (const d of samples) {
        expect(d).toBeGreaterThanOrEqual(3_200)
        expect(d).toBeLessThanOrEqual(4_800)
      }
      expect(new Set(samples).size).toBeGreaterThan(5)
    }))

  it.effect("any Schedule can be the policy", () =>
    Effect.gen(function*() {
      const policy = Retry.fromSchedule(Schedule.fibonacci("1 second"))
      expect(yield* Effect.forEach([1, 2, 3, 4, 5], policy.delayAfter)).toEqual([1_000, 1_000, 2_000, 3_000, 5_000])
    }))

  it.effect("a worker on the memory store waits out the backoff, driven by TestClock", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<Array<number>>([])
      yield* Worker.make({
        handlers: {
          flaky: () =>
            Clock.currentTimeMillis.pipe(
              Effect.flatMap((now) => Ref.update(runs, (r) => [...r, now])),
              Effect.zipRight(Effect.fail("still broken"))
            )
        }
      })
      const c = yield* RrqClient
      const ref = yield* c.enqueue("flaky", {}, { maxRetries: 3 })
      const t0 = yield* Clock.currentTimeMillis
      yield* TestClock.adjust("1 millis")
      expect((yield* Ref.get(runs)).length).toBe(1)
      yield* TestClock.adjust("4998 millis")
      expect((yield* Ref.get(runs)).length).toBe(1)
      yield* TestClock.adjust("200 millis")
      expect((yield* Ref.get(runs)).length).toBe(2)
      yield* TestClock.adjust("9700 millis")
      expect((yield* Ref.get(runs)).length).toBe(2)
      yield* TestClock.adjust("500 millis")
      const times = yield* Ref.get(runs)
      expect(times.length).toBe(3)
      expect(times[1]! - t0).toBeGreaterThanOrEqual(5_000)
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(10_000)
      const job = yield* Effect.flatMap(JobStore, (s) => s.getJob(ref))
      expect(job._tag === "Some" && job.value.status).toBe("FAILED")
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Client.layer.pipe(
          Layer.provideMerge(Store.layerMemory),
          Layer.provideMerge(Settings.layer({ retryBaseMs: 5_000, pollDelayMs: 1_000 }))
        )
      )
    ))
})

describe("Worker on TestClock", () => {
  // Regression: the clock once sat at 14999.999999999998 after fractional jittered sleeps, and the
  // loop slept 1.8e-12 ms towards a job due at 15000 — a sleep that ends at once, forever.
  it.effect("a job due a fraction of a millisecond after now runs without spinning the loop", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      yield* TestClock.setTime(14_999.999999999998)
      yield* Worker.make({ handlers: { later: () => Ref.update(runs, (n) => n + 1) } })
      const c = yield* RrqClient
      yield* c.enqueue("later", {}, { deferUntil: 15_000 })
      yield* TestClock.adjust("1 millis")
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(runs)).toBe(1)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Client.layer.pipe(Layer.provideMerge(Store.layerMemory), Layer.provideMerge(Settings.layer({ pollDelayMs: 1_000 })))
      )
    ), 10_000)
})
