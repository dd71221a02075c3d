/**
 * The worker's parts that have logic of their own, alone: outcome mapping, the claim
 * policy, the lease book, queue order, the wake-up signal.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, FiberId, Schema } from "effect"
import { FailJob, RetryJob } from "../src/Errors.js"
import type { ClaimedJob } from "../src/JobStore.js"
import { ClaimPolicy } from "../src/internal/claimPolicy.js"
import { LeaseBook } from "../src/internal/leaseBook.js"
import { type HandlerTraits, outcomeOf } from "../src/internal/outcome.js"
import { queueOrder } from "../src/internal/queueOrder.js"
import { Signal } from "../src/internal/Signal.js"

const plain: HandlerTraits = { result: Schema.Unknown, retryOnTimeout: false }
const of = (exit: Exit.Exit<unknown, unknown>, stop?: "timeout" | "cancel" | "lost" | "shutdown", handler: HandlerTraits = plain) =>
  outcomeOf(exit, stop, handler, "fn", 1_500)

describe("outcomeOf", () => {
  it("a value is completed as JSON (undefined as null); a result Schema encodes it", () => {
    expect(of(Exit.succeed({ a: 1 }))).toEqual({ _tag: "Complete", result: "{\"a\":1}" })
    expect(of(Exit.succeed(undefined))).toEqual({ _tag: "Complete", result: "null" })
    const dated = { result: Schema.Date, retryOnTimeout: false }
    expect(of(Exit.succeed(new Date(0)), undefined, dated)).toEqual({ _tag: "Complete", result: "\"1970-01-01T00:00:00.000Z\"" })
  })

  it("a result that does not match its Schema, or that JSON cannot carry, fails the job", () => {
    const numbers = { result: Schema.Number, retryOnTimeout: false }
    expect(of(Exit.succeed("x"), undefined, numbers)).toMatchObject({ _tag: "Fail", error: expect.stringContaining("does not match its Schema") })
    expect(of(Exit.succeed({ big: 1n }))).toMatchObject({ _tag: "Fail", error: expect.stringContaining("not JSON-serialisable") })
  })

  it("an interruption means what stopped it: timeout, shutdown, cancel, a lost lease, or nothing known", () => {
    const interrupted = Exit.interrupt(FiberId.none)
    expect(of(interrupted, "timeout")).toEqual({ _tag: "Fail", error: "Job timed out after 1.5s." })
    expect(of(interrupted, "timeout", { ...plain, retryOnTimeout: true })).toEqual({
      _tag: "Retry",
      error: "Job timed out after 1.5s.",
      delayMs: undefined
    })
    expect(of(interrupted, "shutdown")).toEqual({ _tag: "Requeue" })
    expect(of(interrupted, "cancel")).toEqual({ _tag: "Lost" })
    expect(of(interrupted, "lost")).toEqual({ _tag: "Lost" })
    expect(of(interrupted)).toEqual({ _tag: "Retry", error: "Job was interrupted", delayMs: undefined })
  })

  it("RetryJob and FailJob by tag (a plain object with the tag too); any other error retries with its stack", () => {
    expect(of(Exit.fail(new RetryJob({ reason: "later", delay: 250 })))).toEqual({ _tag: "Retry", error: "later", delayMs: 250 })
    expect(of(Exit.fail({ _tag: "RetryJob", delay: -1 }))).toEqual({ _tag: "Retry", error: "Retry requested", delayMs: undefined })
    expect(of(Exit.fail(new FailJob({ reason: "bad input" })))).toEqual({ _tag: "Fail", error: "bad input" })
    expect(of(Exit.fail({ _tag: "FailJob" }))).toEqual({ _tag: "Fail", error: "Failed" })
    const retried = of(Exit.failCause(Cause.die(new Error("boom"))))
    expect(retried).toMatchObject({ _tag: "Retry", error: expect.stringMatching(/^Error: boom\n\s+at /) })
  })
})

describe("queueOrder", () => {
  const q = (name: string, weight = 1) => ({ name, weight })

  it("strict keeps the given order; one queue is always itself", () => {
    const next = queueOrder([q("a"), q("b"), q("c")], true)
    expect([next(), next()]).toEqual([["a", "b", "c"], ["a", "b", "c"]])
    expect(queueOrder([q("solo", 5)], false)()).toEqual(["solo"])
  })

  it("equal weights rotate fairly: each queue comes first once every n rounds", () => {
    const next = queueOrder([q("a"), q("b"), q("c")], false)
    const firsts = Array.from({ length: 6 }, () => next()[0])
    expect(firsts).toEqual(["b", "c", "a", "b", "c", "a"])
  })

  it("weights pick the first queue in proportion (3:1 within a wide margin over 4,000 rounds)", () => {
    const next = queueOrder([q("heavy", 3), q("light", 1)], false)
    let heavy = 0
    for (let i = 0; i < 4_000; i++) if (next()[0] === "heavy") heavy++
    expect(heavy / 4_000).toBeGreaterThan(0.7)
    expect(heavy / 4_000).toBeLessThan(0.8)
  })
})

describe("Signal", () => {
  it.effect("a wait armed before a fire completes; one armed after it waits for the next", () =>
    Effect.gen(function*() {
      const signal = new Signal()
      const armed = signal.wait
      signal.fire()
      yield* armed // would hang if the fire were missed
      const later = yield* Effect.fork(signal.wait)
      yield* Effect.yieldNow()
      expect(later.unsafePoll()).toBeNull()
      signal.fire()
      yield* Fiber.join(later)
    }))

  it("a fire with nobody waiting is a no-op", () => {
    const signal = new Signal()
    expect(() => signal.fire()).not.toThrow()
  })
})

describe("ClaimPolicy", () => {
  it("holds its concurrency in jobs until jobs prove short, then four times that", () => {
    const policy = new ClaimPolicy(8)
    expect(policy.capacity).toBe(8)
    policy.ran(5)
    expect(policy.claimsAhead).toBe(true)
    expect(policy.capacity).toBe(32)
    for (let i = 0; i < 50; i++) policy.ran(100) // the moving average follows longer jobs
    expect(policy.claimsAhead).toBe(false)
    expect(policy.capacity).toBe(8)
  })

  it("claims once a quarter of the slots are free, or anything when it holds nothing", () => {
    const policy = new ClaimPolicy(8)
    expect(policy.claimable(0)).toBe(8)
    expect(policy.claimable(7)).toBe(0) // 1 free, under the threshold of 2
    expect(policy.claimable(6)).toBe(2)
    expect(policy.claimable(8)).toBe(0)
    expect(new ClaimPolicy(1).claimable(0)).toBe(1)
  })
})

describe("LeaseBook", () => {
  const job = (id: string): ClaimedJob => ({
    queue: "q",
    id,
    functionName: "f",
    params: "{}",
    currentRetries: 0,
    maxRetries: 1,
    timeoutMs: undefined,
    enqueuedAt: 0,
    leaseToken: `t-${id}`,
    traceContext: undefined
  })

  it("a job may start while half its lease is left, counted from when the claim was sent", () => {
    const book = new LeaseBook(1_000)
    const a = job("a")
    expect(book.tooOld(a, 0)).toBe(true) // never granted
    book.granted([a], 10_000)
    expect(book.tooOld(a, 10_499)).toBe(false)
    expect(book.tooOld(a, 10_501)).toBe(true)
    book.granted([a], 10_400) // renewed
    expect(book.tooOld(a, 10_800)).toBe(false)
  })

  it("a cancel heard before the job is held is taken once, and forgotten after one lease", () => {
    const book = new LeaseBook(1_000)
    book.cancelledBeforeHeld("q\u0000a", 0)
    expect(book.takeCancelled("q\u0000a")).toBe(true)
    expect(book.takeCancelled("q\u0000a")).toBe(false)
    book.cancelledBeforeHeld("q\u0000b", 0)
    book.cancelledBeforeHeld("q\u0000c", 1_500) // prunes b, older than a lease
    expect(book.takeCancelled("q\u0000b")).toBe(false)
    expect(book.takeCancelled("q\u0000c")).toBe(true)
  })
})
