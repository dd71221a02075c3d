/** Contract cases: unique keys and idempotency keys. */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { RrqClient } from "../../Client.js"
import { JobStore } from "../../JobStore.js"
import { claimOne, client, type Contract, enqueue, job, Q, W } from "./support.js"

/** An idempotency key: one job per key. */
export const idempotency = ({ test }: Contract) => {
  test("an idempotency key returns the existing job", Effect.gen(function*() {
    const a = yield* enqueue("x", { n: 1 }, { idempotencyKey: "order-7" })
    const b = yield* enqueue("x", { n: 2 }, { idempotencyKey: "order-7" })
    expect(b.id).toBe(a.id)
    expect(b.created).toBe(false)
    expect((yield* job(a)).params).toEqual({ n: 1 })
    expect((yield* (yield* JobStore).stats(Q)).ready).toBe(1)
  }))
}

const finishers: Record<string, (id: string, token: string) => Effect.Effect<unknown, unknown, JobStore | RrqClient>> = {
  completes: (id, token) => Effect.flatMap(JobStore, (s) => s.complete(Q, [{ id, token, result: "1" }])),
  fails: (id, token) => Effect.flatMap(JobStore, (s) => s.fail(Q, { id, token }, "no")),
  "is cancelled": (id) => Effect.flatMap(RrqClient, (c) => c.cancel({ queue: Q, id }))
}

/** A unique key: one job of a key runs at a time, the others wait. */
export const uniqueKeys = ({ test }: Contract) => {
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
}
