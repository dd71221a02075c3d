/** Contract cases: enqueue. */
import { expect } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Client from "../../Client.js"
import { JobStore } from "../../JobStore.js"
import { RrqSettings } from "../../Settings.js"
import { Add, claimOne, client, type Contract, enqueue, job, Q, sleep, W } from "./support.js"

/** What enqueue writes, and what it refuses to. */
export const writes = ({ test }: Contract) => {
  test("writes a PENDING record with the documented fields", Effect.gen(function*() {
    const ref = yield* enqueue("send", { to: "a@b.c" }, { maxRetries: 3, timeout: "2 seconds" })
    expect(ref.created).toBe(true)
    const j = yield* job(ref)
    expect(j).toMatchObject({
      id: ref.id,
      queue: Q,
      functionName: "send",
      params: { to: "a@b.c" },
      status: "PENDING",
      currentRetries: 0,
      maxRetries: 3,
      timeoutMs: 2000,
      stalls: 0
    })
    expect(j.enqueuedAt).toBeGreaterThan(0)
    expect(j.nextRunAt).toBeGreaterThanOrEqual(j.enqueuedAt)
    const store = yield* JobStore
    expect(yield* store.stats(Q)).toMatchObject({ ready: 1, delayed: 0, active: 0, dlq: 0 })
    expect(yield* store.queues).toContain(Q)
  }))

  test("rejects a duplicate job id and keeps the original", Effect.gen(function*() {
    yield* enqueue("first", { n: 1 }, { jobId: "same" })
    const err = yield* Effect.flip(enqueue("second", { n: 2 }, { jobId: "same" }))
    expect(err._tag).toBe("DuplicateJob")
    const j = yield* job({ queue: Q, id: "same" })
    expect(j.functionName).toBe("first")
    expect(j.params).toEqual({ n: 1 })
  }))

  test("enqueueMany writes all or nothing", Effect.gen(function*() {
    const c = yield* client
    yield* enqueue("x", {}, { jobId: "taken" })
    const err = yield* Effect.flip(c.enqueueMany([
      { job: "x", params: {}, options: { jobId: "fresh" } },
      { job: "x", params: {}, options: { jobId: "taken" } }
    ]))
    expect(err._tag).toBe("DuplicateJob")
    expect(yield* c.getJob({ queue: Q, id: "fresh" })).toEqual(Option.none())
    const many = yield* c.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ job: "x", params: { i } })))
    expect(many).toHaveLength(50)
    expect((yield* (yield* JobStore).stats(Q)).ready).toBe(51)
  }))

  test("enqueueMany keeps each job's own function and options in a mixed batch", Effect.gen(function*() {
    const c = yield* client
    yield* enqueue("x", {}, { idempotencyKey: "seen" })
    const refs = yield* c.enqueueMany([
      { job: "a", params: { n: 0 } },
      { job: "a", params: { n: 1 } },
      { job: "b", params: { n: 2 }, options: { maxRetries: 7, timeout: "3 seconds" } },
      { job: "b", params: { n: 3 }, options: { jobId: "given", deferBy: "1 hour" } },
      { job: "a", params: { n: 4 }, options: { uniqueKey: "u1" } },
      { job: "a", params: { n: 5 }, options: { idempotencyKey: "seen" } },
      { job: "a", params: { n: 6 } }
    ])
    expect(refs.map((r) => r.created)).toEqual([true, true, true, true, true, false, true])
    expect(refs[3]!.id).toBe("given")
    const jobs = yield* Effect.forEach([0, 1, 2, 3, 4, 6], (i) => job(refs[i]!))
    expect(jobs.map((j) => [j.functionName, (j.params as { n: number }).n])).toEqual([
      ["a", 0], ["a", 1], ["b", 2], ["b", 3], ["a", 4], ["a", 6]
    ])
    const settings = yield* RrqSettings
    expect(jobs.map((j) => j.maxRetries)).toEqual([3, 3, 7, 3, 3, 3].map((n) => n === 3 ? settings.defaultMaxRetries : n))
    expect(jobs.map((j) => j.timeoutMs)).toEqual([undefined, undefined, 3000, undefined, undefined, undefined])
    expect(jobs[4]!.uniqueKey).toBe("u1")
    expect(jobs[3]!.nextRunAt).toBeGreaterThan(jobs[3]!.enqueuedAt + 3_000_000)
    expect(jobs[1]!.nextRunAt).toBeLessThan(jobs[1]!.enqueuedAt + 1_000)
    expect(yield* (yield* JobStore).stats(Q)).toMatchObject({ ready: 6, delayed: 1 })
  }))

  test("rejects params that are not JSON or too large, writing nothing", Effect.gen(function*() {
    const settings = yield* RrqSettings
    const circular: Record<string, unknown> = {}
    circular.self = circular
    for (const bad of [circular, { n: 1n }, () => 1]) {
      expect((yield* Effect.flip(enqueue("x", bad)))._tag).toBe("InvalidParams")
    }
    const big = "x".repeat(settings.maxPayloadBytes + 1)
    const tooBig = yield* Effect.flip(enqueue("x", big))
    expect(tooBig._tag).toBe("InvalidParams")
    expect(tooBig.message).toContain("maxPayloadBytes")
    expect(yield* (yield* JobStore).stats(Q)).toMatchObject({ ready: 0, delayed: 0 })
  }))

  test("rejects invalid options, writing nothing", Effect.gen(function*() {
    const cases: Array<Parameters<Client.RrqClientShape["enqueue"]>[2]> = [
      { deferBy: -1000 },
      { maxRetries: 0 },
      { maxRetries: 1.5 },
      { deferBy: 10, deferUntil: Date.now() + 10 },
      { deferUntil: Number.NaN },
      { deferUntil: 1e20 },
      { timeout: 0 },
      { queue: "bad{queue}" },
      { queue: "" },
      { jobId: "" }
    ]
    for (const options of cases) {
      const err = yield* Effect.flip(enqueue("x", {}, options))
      expect(err._tag, JSON.stringify(options)).toBe("InvalidOptions")
    }
    expect(yield* (yield* JobStore).stats(Q)).toMatchObject({ ready: 0, delayed: 0 })
  }))

  test("typed definitions encode params and decode results", Effect.gen(function*() {
    const c = yield* client
    const bad = yield* Effect.flip(c.enqueue(Add, { a: 1, b: "2" } as never))
    expect(bad._tag).toBe("InvalidParams")
    const ref = yield* c.enqueue(Add, { a: 1, b: 2 })
    const claimed = (yield* claimOne())!
    expect(JSON.parse(claimed.params)).toEqual({ a: 1, b: 2 })
    const store = yield* JobStore
    yield* store.complete(Q, [{ id: claimed.id, token: claimed.leaseToken, result: "3" }])
    const result: number = yield* c.waitForResult(ref)
    expect(result).toBe(3)
  }))
}

/** When enqueued jobs become due, by the store's clock. */
export const runAts = ({ test, timed }: Contract) => {
  timed("deferred jobs are not ready before their time", Effect.gen(function*() {
    const store = yield* JobStore
    yield* enqueue("later", {}, { deferBy: "300 millis" })
    // on the case's clock (a TestClock for the memory store), not Date.now(): a slow machine
    // between the two must not move the run-at past the sleep below
    const now = yield* Clock.currentTimeMillis
    yield* enqueue("at", {}, { deferUntil: now + 300 })
    expect(yield* store.stats(Q)).toMatchObject({ ready: 0, delayed: 2 })
    const early = yield* store.claim(Q, { ...W, count: 5 })
    expect(early.jobs).toHaveLength(0)
    expect(early.nextRunAt).toBeGreaterThan(now)
    yield* sleep(400)
    expect((yield* store.claim(Q, { ...W, count: 5 })).jobs).toHaveLength(2)
  }))

  test("a fractional deferUntil is stored as the next whole millisecond", Effect.gen(function*() {
    const at = Date.now() + 60_000.4
    const j = yield* job(yield* enqueue("x", {}, { deferUntil: at }))
    expect(j.nextRunAt).toBe(Math.ceil(at))
  }))

  test("a claim tells when the earliest job left in pending runs", Effect.gen(function*() {
    const store = yield* JobStore
    const c = yield* client
    const later = Date.now() + 60_000
    yield* c.enqueueMany([
      { job: "x", params: { n: 1 } },
      { job: "x", params: { n: 2 } },
      { job: "x", params: { n: 3 }, options: { deferUntil: later } }
    ])
    const one = yield* store.claim(Q, { ...W, count: 1 })
    expect(one.jobs).toHaveLength(1)
    expect(one.nextRunAt).toBeLessThanOrEqual(Date.now()) // the other due job
    const rest = yield* store.claim(Q, { ...W, count: 5 })
    expect([...one.jobs, ...rest.jobs].map((j) => j.params).sort()).toEqual(['{"n":1}', '{"n":2}'])
    expect(rest.nextRunAt).toBe(later)
    const none = yield* store.claim(Q, { ...W, count: 5 })
    expect(none).toMatchObject({ jobs: [], nextRunAt: later })
  }))

  test("a claim's reply carries the store's clock, the one run-ats are written in", Effect.gen(function*() {
    const store = yield* JobStore
    yield* enqueue("x", {}, { deferBy: 60_000 })
    const before = Date.now()
    const reply = yield* store.claim(Q, { ...W, count: 5 })
    const after = Date.now()
    expect(reply.now).toBeGreaterThanOrEqual(before - 50)
    expect(reply.now).toBeLessThanOrEqual(after + 50)
    expect(reply.nextRunAt! - reply.now).toBeGreaterThan(59_000)
    expect(reply.nextRunAt! - reply.now).toBeLessThanOrEqual(60_000)
  }))
}
