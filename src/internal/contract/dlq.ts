/** Contract cases: the dead-letter queue. */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { JobStore } from "../../JobStore.js"
import { DLQ_CHUNK } from "../dlqChunks.js"
import { claimOne, client, type Contract, enqueue, job, Q, W } from "./support.js"

const deadLetter = (fn: string, id: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    yield* enqueue(fn, { id }, { jobId: id, maxRetries: 1 })
    const a = (yield* claimOne())!
    expect(yield* store.retry(Q, { id, token: a.leaseToken }, { delayMs: 0, error: `boom ${id}` })).toBe("FAILED")
  })

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

/** The dead-letter queue: requeue, purge, bulk operations across chunks. */
export const deadLetterQueue = ({ test }: Contract) => {
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
}
