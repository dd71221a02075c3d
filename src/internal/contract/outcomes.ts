/** Contract cases: what becomes of a claimed job (complete, retry, fail, requeue, cancel). */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobRef } from "../../Job.js"
import { JobStore } from "../../JobStore.js"
import { claimOne, client, type Contract, enqueue, job, Q, sleep } from "./support.js"

/** A claimed job completes, retries, fails or is requeued, once, by its lease token. */
export const finishes = ({ test, timed }: Contract) => {
  test("completes once; a wrong or stale token is rejected", Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* enqueue("x")
    const claimed = (yield* claimOne())!
    expect(yield* store.complete(Q, [{ id: ref.id, token: "wrong", result: "1" }])).toEqual([false])
    expect(yield* store.complete(Q, [{ id: ref.id, token: claimed.leaseToken, result: "{\"ok\":true}" }]))
      .toEqual([true])
    expect(yield* store.complete(Q, [{ id: ref.id, token: claimed.leaseToken, result: "2" }])).toEqual([false])
    expect(yield* store.complete(Q, [{ id: "nope", token: "t", result: "2" }])).toEqual([false])
    const j = yield* job(ref)
    expect(j).toMatchObject({ status: "COMPLETED", result: { ok: true } })
    expect(j.leaseToken).toBeUndefined()
    expect(j.completedAt).toBeGreaterThan(0)
    expect(yield* store.stats(Q)).toMatchObject({ active: 0, completedTotal: 1 })
    expect(yield* store.fail(Q, { id: ref.id, token: claimed.leaseToken }, "late")).toBe("lost")
    expect(yield* store.retry(Q, { id: ref.id, token: claimed.leaseToken }, { delayMs: 0, error: "late" }))
      .toBe("lost")
  }))

  timed("retry counts an attempt, waits its delay, then dead-letters when attempts run out", Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* enqueue("flaky", {}, { maxRetries: 2 })
    const a1 = (yield* claimOne())!
    expect(a1.currentRetries).toBe(0)
    expect(yield* store.retry(Q, { id: ref.id, token: a1.leaseToken }, { delayMs: 200, error: "boom 1" }))
      .toBe("RETRYING")
    expect(yield* job(ref)).toMatchObject({ status: "RETRYING", currentRetries: 1, lastError: "boom 1" })
    expect(yield* claimOne()).toBeUndefined()
    expect((yield* store.stats(Q)).delayed).toBe(1)
    yield* sleep(250)
    const a2 = (yield* claimOne())!
    expect(a2.currentRetries).toBe(1)
    expect(yield* store.retry(Q, { id: ref.id, token: a2.leaseToken }, { delayMs: 0, error: "boom 2" }))
      .toBe("FAILED")
    expect(yield* job(ref)).toMatchObject({ status: "FAILED", currentRetries: 2, lastError: "boom 2" })
    expect(yield* store.stats(Q)).toMatchObject({ dlq: 1, failedTotal: 1, active: 0, ready: 0, delayed: 0 })
  }))

  test("a maxRetries override decides instead of the record's limit", Effect.gen(function*() {
    const store = yield* JobStore
    const strict = yield* enqueue("x", {}, { maxRetries: 5 })
    const a = (yield* claimOne())!
    expect(yield* store.retry(Q, { id: strict.id, token: a.leaseToken }, { delayMs: 0, error: "e1", maxRetries: 1 }))
      .toBe("FAILED")
    expect(yield* job(strict)).toMatchObject({ status: "FAILED", currentRetries: 1, maxRetries: 5, lastError: "e1" })
    expect((yield* store.listJobs(Q, "dlq", { offset: 0, limit: 10 })).map((j) => j.id)).toEqual([strict.id])

    // an override above the record's limit grants more attempts; without one the record decides again
    const lenient = yield* enqueue("x", {}, { maxRetries: 1 })
    const b = (yield* claimOne())!
    expect(yield* store.retry(Q, { id: lenient.id, token: b.leaseToken }, { delayMs: 0, error: "e2", maxRetries: 3 }))
      .toBe("RETRYING")
    expect(yield* job(lenient)).toMatchObject({ status: "RETRYING", currentRetries: 1 })
    const b2 = (yield* claimOne())!
    expect(b2.id).toBe(lenient.id)
    expect(yield* store.retry(Q, { id: lenient.id, token: b2.leaseToken }, { delayMs: 0, error: "e3" })).toBe("FAILED")
    expect(yield* job(lenient)).toMatchObject({ status: "FAILED", currentRetries: 2, lastError: "e3" })
    expect(yield* store.stats(Q)).toMatchObject({ dlq: 2, failedTotal: 2, active: 0, ready: 0, delayed: 0 })
  }))

  test("fail sends the job to the DLQ at once, counting the attempt", Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* enqueue("x", {}, { maxRetries: 5 })
    const a = (yield* claimOne())!
    expect(yield* store.fail(Q, { id: ref.id, token: a.leaseToken }, "No handler registered for function 'x'"))
      .toBe("FAILED")
    expect(yield* job(ref)).toMatchObject({
      status: "FAILED",
      currentRetries: 1,
      lastError: "No handler registered for function 'x'"
    })
    const dlq = yield* store.listJobs(Q, "dlq", { offset: 0, limit: 10 })
    expect(dlq.map((j) => j.id)).toEqual([ref.id])
  }))

  test("requeue returns running jobs to pending without counting an attempt", Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* enqueue("x")
    const a = (yield* claimOne())!
    expect(yield* store.requeue(Q, [{ id: ref.id, token: a.leaseToken }, { id: ref.id, token: "stale" }]))
      .toEqual([true, false])
    expect(yield* job(ref)).toMatchObject({ status: "PENDING", currentRetries: 0 })
    const again = (yield* claimOne())!
    expect(again.id).toBe(ref.id)
    expect(again.leaseToken).not.toBe(a.leaseToken)
    expect(yield* store.complete(Q, [{ id: ref.id, token: a.leaseToken, result: "1" }])).toEqual([false])
  }))
}

/** Cancelling pending and running jobs, and hearing of it. */
export const cancel = ({ test, timed }: Contract) => {
  test("cancels pending and running jobs; finished jobs stay as they are", Effect.gen(function*() {
    const store = yield* JobStore
    const c = yield* client
    const pending = yield* enqueue("x", {}, { deferBy: 10_000 })
    expect(yield* c.cancel(pending)).toEqual({ _tag: "Cancelled", wasRunning: false })
    expect((yield* job(pending)).status).toBe("CANCELLED")
    expect(yield* store.stats(Q)).toMatchObject({ ready: 0, delayed: 0 })
    const running = yield* enqueue("x")
    const a = (yield* claimOne())!
    expect(yield* c.cancel(running)).toEqual({ _tag: "Cancelled", wasRunning: true })
    expect(yield* store.complete(Q, [{ id: running.id, token: a.leaseToken, result: "1" }])).toEqual([false])
    expect(yield* store.extend(Q, [{ id: running.id, token: a.leaseToken }], 1000)).toEqual([false])
    expect((yield* job(running)).status).toBe("CANCELLED")
    expect(yield* c.cancel(running)).toEqual({ _tag: "AlreadyFinished", status: "CANCELLED" })
    const missing = yield* Effect.flip(c.cancel({ queue: Q, id: "nope" }))
    expect(missing._tag).toBe("JobNotFound")
    expect(yield* store.stats(Q)).toMatchObject({ active: 0, completedTotal: 0 })
  }))

  timed("onCancel hears running jobs of its queues being cancelled, until its scope closes", Effect.gen(function*() {
    const store = yield* JobStore
    const c = yield* client
    const heard: Array<JobRef> = []
    // pub/sub is asynchronous in the Redis store: wait (boundedly) for a message
    const heardAtLeast = (n: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < 100 && heard.length < n; i++) yield* sleep(20)
      })
    const runAndCancel = (queue: string) =>
      Effect.gen(function*() {
        const ref = yield* enqueue("x", {}, { queue })
        expect((yield* claimOne(queue))!.id).toBe(ref.id)
        expect(yield* c.cancel(ref)).toEqual({ _tag: "Cancelled", wasRunning: true })
        return ref
      })

    yield* Effect.scoped(Effect.gen(function*() {
      yield* store.onCancel([Q, "other"], (ref) => heard.push(ref))
      const pending = yield* enqueue("x", {}, { deferBy: 10_000 })
      expect(yield* c.cancel(pending)).toEqual({ _tag: "Cancelled", wasRunning: false })
      yield* runAndCancel("unwatched")
      const running = yield* runAndCancel(Q)
      yield* heardAtLeast(1)
      // messages keep their order, so one for the pending or unwatched job would have come first
      expect(heard.map((r) => [r.queue, r.id])).toEqual([[Q, running.id]])
      expect(heard[0]).toBeInstanceOf(JobRef)
      const other = yield* runAndCancel("other")
      yield* heardAtLeast(2)
      expect(heard.map((r) => [r.queue, r.id])).toEqual([[Q, running.id], ["other", other.id]])
    }))

    yield* runAndCancel(Q)
    yield* sleep(200)
    expect(heard).toHaveLength(2)
  }))
}
