/** Contract cases: claims, leases, listing and lease recovery. */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobStore } from "../../JobStore.js"
import { claimOne, client, type Contract, enqueue, job, Q, sleep, W } from "./support.js"

/** Claims hand out ready jobs under leases. */
export const claims = ({ test }: Contract) => {
  test("claims a batch of ready jobs, each once, with a lease", Effect.gen(function*() {
    const store = yield* JobStore
    const c = yield* client
    yield* c.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ job: "x", params: { i } })))
    const first = yield* store.claim(Q, { ...W, count: 3 })
    expect(first.jobs).toHaveLength(3)
    const second = yield* store.claim(Q, { workerId: "w2", leaseMs: 30_000, count: 3 })
    expect(second.jobs).toHaveLength(2)
    expect(second.nextRunAt).toBeUndefined()
    const ids = [...first.jobs, ...second.jobs].map((j) => j.id)
    expect(new Set(ids).size).toBe(5)
    const tokens = [...first.jobs, ...second.jobs].map((j) => j.leaseToken)
    expect(new Set(tokens).size).toBe(5)
    const j = yield* job({ queue: Q, id: first.jobs[0]!.id })
    expect(j).toMatchObject({ status: "ACTIVE", workerId: "w1", leaseToken: first.jobs[0]!.leaseToken })
    expect(j.startedAt).toBeGreaterThan(0)
    expect(yield* store.stats(Q)).toMatchObject({ ready: 0, active: 5 })
    expect((yield* store.claim(Q, { ...W, count: 3 })).jobs).toHaveLength(0)
  }))
}

/** A paused queue takes enqueues and hands out nothing until it is resumed, which wakes workers. */
export const pausing = ({ timed }: Contract) => {
  timed("a paused queue takes enqueues but hands out nothing; resume wakes workers and its jobs are claimable", Effect.gen(function*() {
    const store = yield* JobStore
    const heard: Array<string> = []
    yield* Effect.scoped(Effect.gen(function*() {
      yield* store.onWake([Q], (queue) => heard.push(queue))
      expect(yield* store.setPaused(Q, true)).toBe(true)
      expect(yield* store.setPaused(Q, true)).toBe(false)
      yield* enqueue("x")
      yield* enqueue("x", {}, { queue: "other" })
      expect(yield* store.stats(Q)).toMatchObject({ ready: 1, paused: true })
      expect((yield* store.stats("other")).paused).toBe(false)
      const claimed = yield* store.claim(Q, { ...W, count: 5 })
      expect(claimed.jobs).toEqual([])
      expect(claimed.nextRunAt).toBeUndefined()
      // other queues are not paused
      expect((yield* store.claim("other", { ...W, count: 5 })).jobs).toHaveLength(1)
      for (let i = 0; i < 100 && heard.length < 1; i++) yield* sleep(10)
      const before = heard.length
      expect(yield* store.setPaused(Q, false)).toBe(true)
      expect(yield* store.setPaused(Q, false)).toBe(false)
      for (let i = 0; i < 200 && heard.length <= before; i++) yield* sleep(10)
      expect(heard.length).toBe(before + 1)
      expect((yield* store.stats(Q)).paused).toBe(false)
      expect((yield* store.claim(Q, { ...W, count: 5 })).jobs).toHaveLength(1)
    }))
  }))
}

/** Promote: deferred and backing-off jobs run now. */
export const promoting = ({ test }: Contract) => {
  test("promote runs a deferred or backing-off job now, and leaves due, running and unknown ones alone", Effect.gen(function*() {
    const store = yield* JobStore
    const a = yield* enqueue("x", { n: "a" }, { deferBy: "1 minute" })
    const b = yield* enqueue("x", { n: "b" }, { deferBy: "2 minutes" })
    const due = yield* enqueue("x", { n: "due" })
    const running = (yield* store.claim(Q, { ...W, count: 1 })).jobs[0]!
    expect(running.id).toBe(due.id)
    expect(yield* store.promote(Q, { id: running.id, limit: 1 })).toEqual([])
    expect(yield* store.promote(Q, { id: "nobody", limit: 1 })).toEqual([])
    expect(yield* store.promote(Q, { id: a.id, limit: 1 })).toEqual([a.id])
    expect(yield* store.promote(Q, { id: a.id, limit: 1 })).toEqual([])
    expect(yield* store.stats(Q)).toMatchObject({ ready: 1, delayed: 1 })
    const promoted = (yield* store.claim(Q, { ...W, count: 5 })).jobs
    expect(promoted.map((j) => j.id)).toEqual([a.id])
    // a failed attempt waiting out its backoff keeps its attempt count
    expect(yield* store.retry(Q, { id: a.id, token: promoted[0]!.leaseToken }, { delayMs: 30_000, error: "later" })).toBe("RETRYING")
    expect(yield* store.promote(Q, { limit: 1_000 })).toEqual([a.id, b.id])
    // both run at the same instant now: claimed in member order, as Redis orders equal scores
    const next = (yield* store.claim(Q, { ...W, count: 5 })).jobs
    expect(next.map((j) => j.id).sort()).toEqual([a.id, b.id].sort())
    expect(next.find((j) => j.id === a.id)!.currentRetries).toBe(1)
    expect((yield* job(b)).nextRunAt).toBeLessThanOrEqual(Date.now() + 1_000)
  }))
}

/** A held lease is renewed. */
export const leases = ({ timed }: Contract) => {
  timed("extend renews held leases and reports lost ones", Effect.gen(function*() {
    const store = yield* JobStore
    yield* enqueue("x")
    const a = (yield* store.claim(Q, { ...W, count: 1, leaseMs: 150 })).jobs[0]!
    for (let i = 0; i < 3; i++) {
      yield* sleep(80)
      expect(yield* store.extend(Q, [{ id: a.id, token: a.leaseToken }, { id: a.id, token: "x" }], 150))
        .toEqual([true, false])
      expect((yield* store.recover(Q, { maxStalls: 2, limit: 100 })).requeued).toEqual([])
    }
    expect((yield* job({ queue: Q, id: a.id })).status).toBe("ACTIVE")
  }))
}

/** Listing the jobs of each state. */
export const listing = ({ test }: Contract) => {
  test("lists the jobs of each state in order, with paging", Effect.gen(function*() {
    const store = yield* JobStore
    const late = yield* enqueue("x", {}, { deferBy: 20_000 })
    const soon = yield* enqueue("x", {}, { deferBy: 10_000 })
    const now = yield* enqueue("x")
    expect((yield* claimOne())!.id).toBe(now.id)
    const ids = (state: "pending" | "active" | "dlq", offset = 0, limit = 10) =>
      Effect.map(store.listJobs(Q, state, { offset, limit }), (jobs) => jobs.map((j) => j.id))
    expect(yield* ids("pending")).toEqual([soon.id, late.id])
    expect(yield* ids("pending", 1, 1)).toEqual([late.id])
    expect(yield* ids("active")).toEqual([now.id])
    expect(yield* ids("dlq")).toEqual([])
    expect((yield* store.listJobs(Q, "active", { offset: 0, limit: 10 }))[0]!.status).toBe("ACTIVE")
  }))
}

/** Expired leases are recovered. */
export const recovery = ({ timed }: Contract) => {
  timed("an expired lease returns the job with stalls + 1; the old worker's completion is rejected", Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* enqueue("x")
    const a = (yield* store.claim(Q, { ...W, count: 1, leaseMs: 50 })).jobs[0]!
    yield* sleep(100)
    const r = yield* store.recover(Q, { maxStalls: 2, limit: 100 })
    expect(r).toEqual({ requeued: [ref.id], deadLettered: [] })
    expect(yield* job(ref)).toMatchObject({ status: "PENDING", stalls: 1, currentRetries: 0 })
    const b = (yield* store.claim(Q, { workerId: "w2", leaseMs: 30_000, count: 1 })).jobs[0]!
    expect(yield* store.complete(Q, [{ id: ref.id, token: a.leaseToken, result: "\"old\"" }])).toEqual([false])
    expect(yield* store.complete(Q, [{ id: ref.id, token: b.leaseToken, result: "\"new\"" }])).toEqual([true])
    expect(yield* job(ref)).toMatchObject({ status: "COMPLETED", result: "new", workerId: "w2" })
  }))

  timed("a job that stalls more than maxStalls times goes to the DLQ as lost", Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* enqueue("x", {}, { maxRetries: 10 })
    const stall = Effect.gen(function*() {
      yield* store.claim(Q, { ...W, count: 1, leaseMs: 30 })
      yield* sleep(60)
      return yield* store.recover(Q, { maxStalls: 1, limit: 100 })
    })
    expect((yield* stall).requeued).toEqual([ref.id])
    expect((yield* stall).deadLettered).toEqual([ref.id])
    const j = yield* job(ref)
    expect(j.status).toBe("FAILED")
    expect(j.stalls).toBe(2)
    expect(j.lastError).toContain("Job lost")
    expect((yield* store.stats(Q)).dlq).toBe(1)
  }))
}
