/** Contract cases: results, wake-ups, stalled queues and result TTLs. */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { JobRef } from "../../Job.js"
import { JobStore } from "../../JobStore.js"
import { claimOne, client, type Contract, enqueue, Q, sleep, StoreBackdoor, W } from "./support.js"

/** Waiting for results, and waiters of quarantined jobs. */
export const results = ({ test }: Contract) => {
  test("waitForResult returns as soon as the job finishes, and reports failures", Effect.gen(function*() {
    const c = yield* client
    const store = yield* JobStore
    const ref = yield* enqueue("x")
    const waiter = yield* Effect.fork(c.waitForResult(ref, { timeout: "5 seconds" }))
    yield* sleep(50)
    const a = (yield* claimOne())!
    yield* store.complete(Q, [{ id: a.id, token: a.leaseToken, result: "{\"v\":42}" }])
    expect(yield* waiter.await.pipe(Effect.flatten)).toEqual({ v: 42 })

    const failing = yield* enqueue("x", {}, { maxRetries: 1 })
    const b = (yield* claimOne())!
    yield* store.fail(Q, { id: failing.id, token: b.leaseToken }, "nope")
    const failed = yield* Effect.flip(c.waitForResult(failing))
    expect(failed).toMatchObject({ _tag: "JobFailed", status: "FAILED", error: "nope" })

    const slow = yield* enqueue("x", {}, { deferBy: 10_000 })
    expect((yield* Effect.flip(c.waitForResult(slow, { timeout: "100 millis" })))._tag).toBe("WaitTimeout")
    expect((yield* Effect.flip(c.waitForResult({ queue: Q, id: "nope" })))._tag).toBe("JobNotFound")
  }))

  test("a job that claim quarantines ends its waiters with JobFailed", Effect.gen(function*() {
    const c = yield* client
    const store = yield* JobStore
    const door = yield* StoreBackdoor
    const ref = yield* enqueue("x", {}, { jobId: "to-garble" })
    // shorter than the client's 1 s re-check, so only the finished signal can end the wait in time
    const waiter = yield* Effect.fork(c.waitForResult(ref, { timeout: "700 millis" }))
    yield* sleep(100)
    yield* door.setRecord(Q, ref.id, { foo: "bar", currentRetries: "many" })
    expect((yield* store.claim(Q, { ...W, count: 5 })).jobs).toHaveLength(0)
    const failed = yield* Effect.flip(Fiber.join(waiter))
    expect(failed).toMatchObject({
      _tag: "JobFailed",
      status: "FAILED",
      error: expect.stringContaining("Corrupted job record")
    })

    // and a bare finished signal fires for a pending entry without a record
    yield* Effect.scoped(Effect.gen(function*() {
      const finished = yield* store.finishedSignal(new JobRef({ queue: Q, id: "ghost" }))
      yield* door.addPending(Q, "ghost", Date.now() - 10)
      expect((yield* store.claim(Q, { ...W, count: 5 })).jobs).toHaveLength(0)
      expect(Either.isRight(yield* finished.pipe(Effect.timeout("700 millis"), Effect.either))).toBe(true)
    }))
    expect((yield* store.listJobs(Q, "dlq", { offset: 0, limit: 10 })).map((j) => j.id).sort()).toEqual(["ghost", "to-garble"])
  }))
}

/** Wake-ups, stalled queues and result TTLs. */
export const signals = ({ timed }: Contract) => {
  timed("wake-ups name the queue and say when its work is due, by the store's clock", Effect.gen(function*() {
    const store = yield* JobStore
    const heard: Array<[string, number]> = []
    const hear = (n: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < 200 && heard.length < n; i++) yield* sleep(10)
        expect(heard).toHaveLength(n)
        return heard[n - 1]!
      })
    yield* Effect.scoped(Effect.gen(function*() {
      yield* store.onWake([Q, "other"], (queue, dueInMs) => heard.push([queue, dueInMs]))
      yield* enqueue("x", {}, { queue: "other" })
      expect(yield* hear(1)).toEqual(["other", 0])
      yield* enqueue("x", {}, { deferBy: 5_000 })
      const [queue, deferred] = yield* hear(2)
      expect(queue).toBe(Q)
      expect(deferred).toBeGreaterThan(4_900)
      expect(deferred).toBeLessThanOrEqual(5_000)
      const a = (yield* claimOne("other"))!
      expect(yield* store.retry("other", { id: a.id, token: a.leaseToken }, { delayMs: 3_000, error: "later" }))
        .toBe("RETRYING")
      expect(yield* hear(3)).toEqual(["other", 3_000])
      yield* enqueue("x", {}, { queue: "unheard" })
      yield* sleep(100)
      expect(heard).toHaveLength(3)
    }))
    // and nothing once the scope is closed
    yield* enqueue("x", {}, { queue: "other" })
    yield* sleep(100)
    expect(heard).toHaveLength(3)
  }))

  timed("stalledQueues names every queue holding an expired lease, and not one without leases", Effect.gen(function*() {
    const store = yield* JobStore
    yield* enqueue("x")
    yield* enqueue("x", {}, { queue: "busy" })
    yield* store.claim(Q, { ...W, count: 1, leaseMs: 50 })
    yield* store.claim("busy", { ...W, count: 1 })
    yield* sleep(100)
    expect(yield* store.stalledQueues([Q, "busy", "idle"])).toEqual([Q])
    expect((yield* store.recover(Q, { maxStalls: 2, limit: 100 })).requeued).toHaveLength(1)
    expect(yield* store.stalledQueues([Q, "busy", "idle"])).toEqual([])
    // a claim's lease expiring again is seen again
    yield* store.claim(Q, { ...W, count: 1, leaseMs: 50 })
    yield* sleep(100)
    expect(yield* store.stalledQueues(["idle", Q])).toEqual([Q])
  }))

  timed("finished records expire after their result TTL", Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* enqueue("x", {}, { resultTtl: "100 millis" })
    const a = (yield* claimOne())!
    yield* store.complete(Q, [{ id: a.id, token: a.leaseToken, result: "1" }])
    expect(Option.isSome(yield* store.getJob(ref))).toBe(true)
    yield* sleep(250)
    expect(yield* store.getJob(ref)).toEqual(Option.none())
  }))
}
