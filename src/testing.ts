/**
 * rrq/testing: the JobStore contract suite. Every store driver runs the same
 * cases; rrq runs them against `layerMemory` and `layerRedis`.
 *
 * ```ts
 * import { contractSuite } from "rrq/testing"
 * contractSuite("my store", () => myStoreLayer) // provides JobStore, RrqSettings, StoreBackdoor
 * ```
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { RrqClient } from "./Client.js"
import * as Client from "./Client.js"
import { JobRef } from "./Job.js"
import * as JobDefinition from "./JobDefinition.js"
import { JobStore, type WorkerInfo } from "./JobStore.js"
import { DLQ_CHUNK } from "./internal/dlqChunks.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./Redis.js"
import { RrqSettings } from "./Settings.js"

/** What the suite needs to simulate damage a store cannot cause by itself. */
export interface StoreBackdoorShape {
  /** Replaces a job's record: a field map, a value of the wrong type, or nothing. */
  readonly setRecord: (
    queue: string,
    id: string,
    record: Record<string, string> | "not-a-hash" | undefined
  ) => Effect.Effect<void>
  /** Adds a raw pending entry. */
  readonly addPending: (queue: string, id: string, runAt: number) => Effect.Effect<void>
}

export class StoreBackdoor extends Context.Tag("rrq/testing/StoreBackdoor")<StoreBackdoor, StoreBackdoorShape>() {}

export type ContractServices = JobStore | RrqSettings | StoreBackdoor

const sleep = (ms: number) => Effect.sleep(ms)
const W = { workerId: "w1", leaseMs: 30_000 }
const Q = "default"

const claimOne = (queue = Q) =>
  Effect.flatMap(JobStore, (s) => s.claim(queue, { ...W, count: 1 })).pipe(
    Effect.map((r) => r.jobs[0])
  )

const job = (ref: JobRef) =>
  Effect.flatMap(JobStore, (s) => s.getJob(ref)).pipe(Effect.map(Option.getOrThrow))

const Add = JobDefinition.make("add", {
  params: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  result: Schema.Number
})

/**
 * Registers the contract cases with vitest. `makeLayer` is called once per test
 * and must return an isolated store (its own key prefix or memory).
 */
export const contractSuite = <E>(
  name: string,
  makeLayer: () => Layer.Layer<ContractServices, E>
) =>
  describe(`JobStore contract: ${name}`, () => {
    const test = <A, E2>(title: string, body: Effect.Effect<A, E2, ContractServices | RrqClient>) =>
      it.live(title, () =>
        body.pipe(Effect.provide(Client.layer.pipe(Layer.provideMerge(makeLayer()))), Effect.asVoid))

    const client = RrqClient
    const enqueue = (fn: string, params: unknown = {}, options: Parameters<Client.RrqClientShape["enqueue"]>[2] = {}) =>
      Effect.flatMap(client, (c) => c.enqueue(fn, params, options))

    describe("enqueue", () => {
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

      test("deferred jobs are not ready before their time", Effect.gen(function*() {
        const store = yield* JobStore
        yield* enqueue("later", {}, { deferBy: "300 millis" })
        yield* enqueue("at", {}, { deferUntil: Date.now() + 300 })
        expect(yield* store.stats(Q)).toMatchObject({ ready: 0, delayed: 2 })
        const early = yield* store.claim(Q, { ...W, count: 5 })
        expect(early.jobs).toHaveLength(0)
        expect(early.nextRunAt).toBeGreaterThan(Date.now())
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

      test("an idempotency key returns the existing job", Effect.gen(function*() {
        const a = yield* enqueue("x", { n: 1 }, { idempotencyKey: "order-7" })
        const b = yield* enqueue("x", { n: 2 }, { idempotencyKey: "order-7" })
        expect(b.id).toBe(a.id)
        expect(b.created).toBe(false)
        expect((yield* job(a)).params).toEqual({ n: 1 })
        expect((yield* (yield* JobStore).stats(Q)).ready).toBe(1)
      }))
    })

    describe("claim and finish", () => {
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

      test("retry counts an attempt, waits its delay, then dead-letters when attempts run out", Effect.gen(function*() {
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

      test("extend renews held leases and reports lost ones", Effect.gen(function*() {
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
    })

    describe("listing", () => {
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
    })

    describe("lease recovery", () => {
      test("an expired lease returns the job with stalls + 1; the old worker's completion is rejected", Effect.gen(function*() {
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

      test("a job that stalls more than maxStalls times goes to the DLQ as lost", Effect.gen(function*() {
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
    })

    describe("cancel", () => {
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

      test("onCancel hears running jobs of its queues being cancelled, until its scope closes", Effect.gen(function*() {
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
    })

    describe("workers", () => {
      const worker = (id: string): WorkerInfo => ({
        id,
        pid: 4242,
        host: "box-1",
        queues: [Q, "mail"],
        concurrency: 8,
        active: 2,
        status: "running",
        startedAt: 1_700_000_000_000,
        lastBeat: 1_700_000_005_000
      })

      test("heartbeats list live workers by id; removed and expired ones are gone", Effect.gen(function*() {
        const store = yield* JobStore
        expect(yield* store.workers).toEqual([])
        const a = worker("w-a")
        const b = worker("w-b")
        const brief = worker("w-c")
        yield* store.heartbeat(b, 10_000)
        yield* store.heartbeat(brief, 100)
        yield* store.heartbeat(a, 10_000)
        expect(yield* store.workers).toEqual([a, b, brief])
        // a new beat replaces the last one
        const b2: WorkerInfo = { ...b, active: 0, status: "stopping", lastBeat: b.lastBeat + 5_000 }
        yield* store.heartbeat(b2, 10_000)
        expect(yield* store.workers).toEqual([a, b2, brief])
        yield* store.removeHeartbeat("w-a")
        yield* store.removeHeartbeat("never-there")
        expect((yield* store.workers).map((w) => w.id)).toEqual(["w-b", "w-c"])
        yield* sleep(250)
        expect(yield* store.workers).toEqual([b2])
      }))

      test("a fresh heartbeat renews the TTL", Effect.gen(function*() {
        const store = yield* JobStore
        const w = worker("w-renewed")
        yield* store.heartbeat(w, 150)
        yield* sleep(75)
        yield* store.heartbeat(w, 500)
        yield* sleep(175)
        expect((yield* store.workers).map((x) => x.id)).toEqual(["w-renewed"])
        yield* sleep(500)
        expect(yield* store.workers).toEqual([])
      }))
    })

    describe("dead-letter queue", () => {
      const deadLetter = (fn: string, id: string) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          yield* enqueue(fn, { id }, { jobId: id, maxRetries: 1 })
          const a = (yield* claimOne())!
          expect(yield* store.retry(Q, { id, token: a.leaseToken }, { delayMs: 0, error: `boom ${id}` })).toBe("FAILED")
        })

      test("requeue resets retries, status and expiry; filters by function, ids and limit", Effect.gen(function*() {
        const store = yield* JobStore
        yield* deadLetter("a", "d1")
        yield* deadLetter("b", "d2")
        yield* deadLetter("a", "d3")
        expect((yield* store.listJobs(Q, "dlq", { offset: 0, limit: 10 })).map((j) => j.id).sort()).toEqual(["d1", "d2", "d3"])
        expect(yield* store.dlqRequeue(Q, { functionName: "b" })).toEqual(["d2"])
        expect(yield* job({ queue: Q, id: "d2" })).toMatchObject({ status: "PENDING", currentRetries: 0 })
        expect((yield* claimOne())!.id).toBe("d2")
        expect(yield* store.dlqRequeue(Q, { ids: ["d3", "unknown"] })).toEqual(["d3"])
        expect(yield* store.dlqRequeue(Q, { limit: 5 })).toEqual(["d1"])
        expect(yield* store.stats(Q)).toMatchObject({ dlq: 0, ready: 2, active: 1 })
      }))

      /** Dead-letters `n` jobs b0000, b0001, ... in that order (so oldest first is id order); every `every`-th is "rare". */
      const deadLetterMany = (n: number, every: number) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const ids = Array.from({ length: n }, (_, i) => `b${String(i).padStart(4, "0")}`)
          const fn = (i: number) => (i % every === 0 ? "rare" : "common")
          yield* (yield* client).enqueueMany(ids.map((id, i) => ({ job: fn(i), params: {}, options: { jobId: id, maxRetries: 1 } })))
          const tokens = new Map<string, string>()
          while (tokens.size < n) {
            for (const j of (yield* store.claim(Q, { ...W, count: n - tokens.size })).jobs) tokens.set(j.id, j.leaseToken)
          }
          for (const id of ids) expect(yield* store.fail(Q, { id, token: tokens.get(id)! }, "boom")).toBe("FAILED")
          return { ids, rare: ids.filter((_, i) => fn(i) === "rare"), common: ids.filter((_, i) => fn(i) === "common") }
        })

      test("bulk operations cross chunk boundaries: sparse filters, limits, ids, dry runs equal to the real thing", Effect.gen(function*() {
        const store = yield* JobStore
        const { common, rare } = yield* deadLetterMany(2 * DLQ_CHUNK + 7, 97)
        expect(rare.length).toBe(11)
        expect(yield* store.dlqByFunction(Q)).toEqual({ common: common.length, rare: rare.length })
        // a sparse function, with a limit that ends inside the second chunk
        expect(yield* store.dlqPreview(Q, { functionName: "rare" }, "requeue")).toEqual(rare)
        expect(yield* store.dlqPreview(Q, { functionName: "rare", limit: 7 }, "requeue")).toEqual(rare.slice(0, 7))
        expect(yield* store.dlqRequeue(Q, { functionName: "rare", limit: 7 })).toEqual(rare.slice(0, 7))
        expect(yield* store.dlqRequeue(Q, { functionName: "rare" })).toEqual(rare.slice(7))
        expect(yield* store.dlqPreview(Q, { functionName: "rare" }, "purge")).toEqual([])
        // ids over more than one slice, in their order, unknown ones passed over
        const byIds = { ids: ["unknown", ...[...common].reverse()], limit: DLQ_CHUNK + 1 }
        const expected = [...common].reverse().slice(0, DLQ_CHUNK + 1)
        expect(yield* store.dlqPreview(Q, byIds, "purge")).toEqual(expected)
        expect(yield* store.dlqPurge(Q, byIds)).toBe(DLQ_CHUNK + 1)
        const left = common.slice(0, common.length - DLQ_CHUNK - 1)
        expect(yield* store.dlqByFunction(Q)).toEqual({ common: left.length })
        // everything left, oldest first
        expect(yield* store.dlqPreview(Q, {}, "requeue")).toEqual(left)
        expect(yield* store.dlqRequeue(Q, {})).toEqual(left)
        expect(yield* store.stats(Q)).toMatchObject({ dlq: 0, ready: rare.length + left.length })
        expect(yield* store.dlqByFunction(Q)).toEqual({})
        expect(yield* job({ queue: Q, id: left[0]! })).toMatchObject({ status: "PENDING", currentRetries: 0 })
      }))

      test("a bulk requeue leaves jobs that fail while it runs (requeued ones too) for the next one", Effect.gen(function*() {
        const store = yield* JobStore
        const { ids } = yield* deadLetterMany(3 * DLQ_CHUNK, 1_000)
        // a worker that fails whatever the requeue hands back, while it runs
        const refailed: Array<string> = []
        let running = true
        const requeue = yield* Effect.fork(store.dlqRequeue(Q, {}))
        const worker = yield* Effect.fork(Effect.gen(function*() {
          while (running) {
            for (const j of (yield* store.claim(Q, { ...W, count: 50 })).jobs) {
              yield* store.fail(Q, { id: j.id, token: j.leaseToken }, "again")
              refailed.push(j.id)
            }
            yield* Effect.yieldNow()
          }
        }))
        const requeued = yield* Fiber.join(requeue)
        running = false
        yield* Fiber.join(worker)
        expect([...requeued].sort()).toEqual(ids)
        expect((yield* store.stats(Q)).dlq).toBe(refailed.length)
        // the next requeue takes the jobs that failed again, once each
        expect([...(yield* store.dlqRequeue(Q, {}))].sort()).toEqual([...refailed].sort())
      }))

      test("purge deletes matching entries and their records", Effect.gen(function*() {
        const store = yield* JobStore
        yield* deadLetter("a", "p1")
        yield* deadLetter("b", "p2")
        expect(yield* store.dlqPurge(Q, { functionName: "a" })).toBe(1)
        expect(yield* (yield* client).getJob({ queue: Q, id: "p1" })).toEqual(Option.none())
        expect(yield* store.dlqPurge(Q, {})).toBe(1)
        expect((yield* store.stats(Q)).dlq).toBe(0)
      }))
    })

    describe("unique keys", () => {
      const finishers: Record<string, (id: string, token: string) => Effect.Effect<unknown, unknown, JobStore | RrqClient>> = {
        completes: (id, token) => Effect.flatMap(JobStore, (s) => s.complete(Q, [{ id, token, result: "1" }])),
        fails: (id, token) => Effect.flatMap(JobStore, (s) => s.fail(Q, { id, token }, "no")),
        "is cancelled": (id) => Effect.flatMap(RrqClient, (c) => c.cancel({ queue: Q, id }))
      }
      for (const [how, finish] of Object.entries(finishers)) {
        test(`a duplicate waits and runs as soon as the holder ${how}`, Effect.gen(function*() {
          const holder = yield* enqueue("x", { n: 1 }, { uniqueKey: "user-1" })
          const waiter = yield* enqueue("x", { n: 2 }, { uniqueKey: "user-1" })
          const other = yield* enqueue("x", { n: 3 }, { uniqueKey: "user-2" })
          expect(waiter.id).not.toBe(holder.id)
          expect((yield* job(waiter)).status).toBe("PENDING")
          const store = yield* JobStore
          const first = yield* store.claim(Q, { ...W, count: 10 })
          expect(first.jobs.map((j) => j.id).sort()).toEqual([holder.id, other.id].sort())
          const h = first.jobs.find((j) => j.id === holder.id)!
          yield* finish(h.id, h.leaseToken)
          const next = yield* store.claim(Q, { ...W, count: 10 })
          expect(next.jobs.map((j) => j.id)).toEqual([waiter.id])
          // the key is now held by the waiter: a third job waits again
          const third = yield* enqueue("x", { n: 4 }, { uniqueKey: "user-1" })
          expect((yield* store.claim(Q, { ...W, count: 10 })).jobs).toHaveLength(0)
          yield* store.complete(Q, [{ id: waiter.id, token: next.jobs[0]!.leaseToken, result: "1" }])
          expect((yield* claimOne())!.id).toBe(third.id)
        }))
      }

      test("a cancelled waiter never runs", Effect.gen(function*() {
        const c = yield* client
        const holder = yield* enqueue("x", {}, { uniqueKey: "k" })
        const waiter = yield* enqueue("x", {}, { uniqueKey: "k" })
        yield* c.cancel(waiter)
        const h = (yield* claimOne())!
        expect(h.id).toBe(holder.id)
        yield* (yield* JobStore).complete(Q, [{ id: h.id, token: h.leaseToken, result: "1" }])
        expect(yield* claimOne()).toBeUndefined()
        // and the key is free again
        const fresh = yield* enqueue("x", {}, { uniqueKey: "k" })
        expect((yield* claimOne())!.id).toBe(fresh.id)
      }))
    })

    describe("damaged records", () => {
      test("claim quarantines unreadable records into the DLQ and still serves the rest", Effect.gen(function*() {
        const store = yield* JobStore
        const door = yield* StoreBackdoor
        const garbled = yield* enqueue("x", {}, { jobId: "garbled" })
        const wrongType = yield* enqueue("x", {}, { jobId: "wrong-type" })
        const good = yield* enqueue("x", { ok: 1 }, { jobId: "good" })
        yield* door.setRecord(Q, garbled.id, { foo: "bar", currentRetries: "many" })
        yield* door.setRecord(Q, wrongType.id, "not-a-hash")
        yield* door.addPending(Q, "ghost", Date.now() - 10)
        const claimed = yield* store.claim(Q, { ...W, count: 10 })
        expect(claimed.jobs.map((j) => j.id)).toEqual([good.id])
        const dlq = yield* store.listJobs(Q, "dlq", { offset: 0, limit: 10 })
        expect(dlq.map((j) => j.id).sort()).toEqual(["garbled", "ghost", "wrong-type"])
        for (const j of dlq) {
          expect(j.status).toBe("FAILED")
          expect(j.lastError).toMatch(/Corrupted job record|Job record missing/)
        }
        expect(dlq.find((j) => j.id === "ghost")!.lastError).toContain("Job record missing")
        expect(dlq.find((j) => j.id === "wrong-type")!.lastError).toContain("the record was a")
        expect(yield* store.stats(Q)).toMatchObject({ ready: 0, active: 1, dlq: 3, failedTotal: 3 })
      }))

      test("getJob reports a record it cannot read as CorruptedJob", Effect.gen(function*() {
        const door = yield* StoreBackdoor
        const ref = yield* enqueue("x")
        yield* door.setRecord(Q, ref.id, { id: ref.id, status: "WHATEVER" })
        const err = yield* Effect.flip((yield* JobStore).getJob(ref))
        expect(err._tag).toBe("CorruptedJob")
        yield* door.setRecord(Q, ref.id, "not-a-hash")
        expect((yield* Effect.flip((yield* JobStore).getJob(ref)))._tag).toBe("CorruptedJob")
        expect(yield* (yield* JobStore).getJob({ queue: Q, id: "missing" })).toEqual(Option.none())
      }))

      test("recovery quarantines an expired lease whose record vanished", Effect.gen(function*() {
        const store = yield* JobStore
        const door = yield* StoreBackdoor
        const ref = yield* enqueue("x")
        yield* store.claim(Q, { ...W, count: 1, leaseMs: 20 })
        yield* door.setRecord(Q, ref.id, undefined)
        yield* sleep(50)
        expect((yield* store.recover(Q, { maxStalls: 2, limit: 10 })).deadLettered).toEqual([ref.id])
        expect((yield* job(ref)).lastError).toContain("Job record missing")
      }))
    })

    describe("results and signals", () => {
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

      test("wake-ups name the queue and say when its work is due, by the store's clock", Effect.gen(function*() {
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

      test("stalledQueues names every queue holding an expired lease, and not one without leases", Effect.gen(function*() {
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

      test("finished records expire after their result TTL", Effect.gen(function*() {
        const store = yield* JobStore
        const ref = yield* enqueue("x", {}, { resultTtl: "100 millis" })
        const a = (yield* claimOne())!
        yield* store.complete(Q, [{ id: a.id, token: a.leaseToken, result: "1" }])
        expect(Option.isSome(yield* store.getJob(ref))).toBe(true)
        yield* sleep(250)
        expect(yield* store.getJob(ref)).toEqual(Option.none())
      }))
    })
  })

/** The backdoor of the Redis store: raw commands on its keys. */
export const redisBackdoor = Layer.effect(
  StoreBackdoor,
  Effect.gen(function*() {
    const { redis } = yield* RedisClient
    const keys = Keys.make((yield* RrqSettings).keyPrefix)
    return {
      setRecord: (queue, id, record) =>
        Effect.promise(async () => {
          const key = keys.job(queue, id)
          await redis.del(key)
          if (record === "not-a-hash") await redis.set(key, "garbage")
          else if (record) await redis.hset(key, record)
        }),
      addPending: (queue, id, runAt) => Effect.promise(() => redis.zadd(keys.queue(queue).pending, runAt, id))
    } satisfies StoreBackdoorShape
  })
)
