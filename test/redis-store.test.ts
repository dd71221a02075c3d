/**
 * Behaviour only the real server can show: concurrent claimers on separate
 * connections, the NOSCRIPT fallback, the key layout, Redis going away.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Redis as IORedis } from "ioredis"
import * as Client from "../src/Client.js"
import { RrqClient } from "../src/Client.js"
import { JobStore } from "../src/JobStore.js"
import * as Store from "../src/JobStore.js"
import * as Redis from "../src/Redis.js"
import * as Settings from "../src/Settings.js"
import { redisUrl, uniquePrefix } from "./support/index.js"

/** A full client stack on its own connection, sharing `keyPrefix` with others. */
const stack = (keyPrefix: string, url = redisUrl()) => {
  const settings = Settings.layer({ redisUrl: url, keyPrefix })
  return Client.layer.pipe(
    Layer.provideMerge(Store.layerRedisConfig),
    Layer.provideMerge(Layer.merge(settings, Redis.layerFromSettings.pipe(Layer.provide(settings))))
  )
}

const Q = "default"

describe("Redis store", () => {
  it.live("20 concurrent claimers over 2,000 jobs claim each job exactly once", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix("race")
      const total = 2_000
      yield* Effect.gen(function*() {
        const c = yield* RrqClient
        for (let i = 0; i < total; i += 500) {
          yield* c.enqueueMany(Array.from({ length: 500 }, (_, j) => ({ job: "x", params: { n: i + j } })))
        }
      }).pipe(Effect.provide(stack(prefix)))

      const claimer = (w: number) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const mine: Array<string> = []
          while (true) {
            const { jobs } = yield* store.claim(Q, { count: 7, workerId: `w${w}`, leaseMs: 60_000 })
            if (jobs.length === 0) return mine
            for (const j of jobs) mine.push(j.id)
            const done = yield* store.complete(Q, jobs.map((j) => ({ id: j.id, token: j.leaseToken, result: "1" })))
            expect(done.every(Boolean)).toBe(true)
          }
        }).pipe(Effect.provide(stack(prefix)))

      const claimed = (yield* Effect.all(Array.from({ length: 20 }, (_, w) => claimer(w)), { concurrency: "unbounded" }))
      const all = claimed.flat()
      expect(all).toHaveLength(total)
      expect(new Set(all).size).toBe(total)
      expect(claimed.filter((c) => c.length > 0).length).toBeGreaterThan(1)
      const stats = yield* Effect.flatMap(JobStore, (s) => s.stats(Q)).pipe(Effect.provide(stack(prefix)))
      expect(stats).toMatchObject({ ready: 0, active: 0, completedTotal: total })
    }), 60_000)

  it.live("keeps every key of a queue in its hash tag, as documented", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix("layout")
      yield* Effect.gen(function*() {
        const c = yield* RrqClient
        const store = yield* JobStore
        yield* c.enqueue("x", {}, { queue: "emails", jobId: "j1", uniqueKey: "u1", idempotencyKey: "i1" })
        yield* c.enqueue("x", {}, { queue: "emails", jobId: "j2", uniqueKey: "u1" })
        const a = (yield* store.claim("emails", { count: 1, workerId: "w", leaseMs: 10_000 })).jobs[0]!
        yield* store.fail("emails", { id: a.id, token: a.leaseToken }, "no")
        yield* c.enqueue("x", {}, { queue: "emails", jobId: "j3", uniqueKey: "u3" })
        yield* store.claim("emails", { count: 5, workerId: "w", leaseMs: 10_000 })
        yield* c.enqueue("x", {}, { queue: "emails", jobId: "j4", uniqueKey: "u3" })
      }).pipe(Effect.provide(stack(prefix)))
      const redis = new IORedis(redisUrl())
      const keys = (yield* Effect.promise(() => redis.keys(`${prefix}:*`))).sort()
      yield* Effect.promise(() => redis.quit())
      expect(keys).toEqual([
        `${prefix}:leases`,
        `${prefix}:queues`,
        `${prefix}:{emails}:active`,
        `${prefix}:{emails}:dlq`,
        `${prefix}:{emails}:idem:i1`,
        `${prefix}:{emails}:job:j1`,
        `${prefix}:{emails}:job:j2`,
        `${prefix}:{emails}:job:j3`,
        `${prefix}:{emails}:job:j4`,
        `${prefix}:{emails}:stats`,
        `${prefix}:{emails}:unique-waiting:u3`,
        `${prefix}:{emails}:unique:u1`,
        `${prefix}:{emails}:unique:u3`
      ].sort())
    }))

  it.live("the lease index: claim lowers a queue's entry to its lease deadline, recover sets it to the earliest left or removes it", () => {
    const prefix = uniquePrefix("leases")
    return Effect.gen(function*() {
      const c = yield* RrqClient
      const store = yield* JobStore
      const { redis } = yield* Redis.RedisClient
      const entry = (q: string) =>
        Effect.map(Effect.promise(() => redis.zscore(`${prefix}:leases`, q)), (score) => (score === null ? undefined : Number(score)))
      yield* c.enqueueMany(["a", "b", "c"].map((jobId) => ({ job: "x", params: {}, options: { jobId } })))
      const t0 = Date.now()
      expect((yield* store.claim(Q, { count: 1, workerId: "w", leaseMs: 60_000 })).jobs.map((j) => j.id)).toEqual(["a"])
      const first = (yield* entry(Q))!
      expect(first).toBeGreaterThanOrEqual(t0 + 60_000 - 50)
      expect(first).toBeLessThanOrEqual(Date.now() + 60_000)
      // a shorter lease lowers it; a longer one leaves it
      yield* store.claim(Q, { count: 1, workerId: "w", leaseMs: 20_000 })
      const lowered = (yield* entry(Q))!
      expect(lowered).toBeLessThan(first - 30_000)
      yield* store.claim(Q, { count: 1, workerId: "w", leaseMs: 90_000 })
      expect(yield* entry(Q)).toBe(lowered)
      // the 20 s job completes: the entry stays a lower bound until a recover sets it again
      const active = yield* store.listJobs(Q, "active", { offset: 0, limit: 10 })
      const short = active[0]!
      yield* store.complete(Q, [{ id: short.id, token: short.leaseToken!, result: "1" }])
      expect(yield* entry(Q)).toBe(lowered)
      yield* store.recover(Q, { maxStalls: 2, limit: 100 })
      expect(yield* entry(Q)).toBe(first)
      // nothing active: recover removes it; an idle queue never gets one
      for (const j of yield* store.listJobs(Q, "active", { offset: 0, limit: 10 })) {
        yield* store.complete(Q, [{ id: j.id, token: j.leaseToken!, result: "1" }])
      }
      yield* store.recover(Q, { maxStalls: 2, limit: 100 })
      expect(yield* entry(Q)).toBeUndefined()
      yield* store.recover("idle", { maxStalls: 2, limit: 100 })
      expect(yield* entry("idle")).toBeUndefined()
    }).pipe(Effect.provide(stack(prefix)))
  })

  it.live("reloads scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)", () =>
    Effect.gen(function*() {
      const c = yield* RrqClient
      const { redis } = yield* Redis.RedisClient
      yield* c.enqueue("x", {}, { jobId: "before" })
      yield* Effect.promise(() => redis.script("FLUSH"))
      yield* c.enqueue("x", {}, { jobId: "after" })
      const claimed = yield* Effect.flatMap(JobStore, (s) => s.claim(Q, { count: 5, workerId: "w", leaseMs: 1000 }))
      expect(claimed.jobs.map((j) => j.id).sort()).toEqual(["after", "before"])
    }).pipe(Effect.provide(stack(uniquePrefix("noscript")))))

  it.live("fails fast with a JobStoreError (its cause a RedisError) when Redis is unreachable", () =>
    Effect.gen(function*() {
      const c = yield* RrqClient
      const started = Date.now()
      const err = yield* Effect.flip(c.getJob({ queue: Q, id: "x" }))
      expect(err._tag).toBe("JobStoreError")
      expect((err as { cause?: { _tag?: string } }).cause?._tag).toBe("RedisError")
      expect(Date.now() - started).toBeLessThan(10_000)
      const enq = yield* Effect.flip(c.enqueue("x", {}))
      expect(enq._tag).toBe("JobStoreError")
    }).pipe(Effect.provide(stack(uniquePrefix("down"), "redis://127.0.0.1:1/0"))), 20_000)

  it.live("getJob reads back what enqueue wrote", () =>
    Effect.gen(function*() {
      const c = yield* RrqClient
      const ref = yield* c.enqueue("x", { a: [1, 2] }, { deferUntil: new Date(Date.now() + 60_000) })
      const job = Option.getOrThrow(yield* c.getJob(ref))
      expect(job.params).toEqual({ a: [1, 2] })
      expect(job.nextRunAt).toBeGreaterThan(Date.now() + 50_000)
    }).pipe(Effect.provide(stack(uniquePrefix("read")))))
})

describe("redactUrl", () => {
  it("hides passwords", () => {
    expect(Redis.redactUrl("redis://user:s3cret@host:6379/2")).toBe("redis://user:***@host:6379/2")
    expect(Redis.redactUrl("rediss://:pw@host")).not.toContain("pw")
    expect(Redis.redactUrl("redis://host:6379")).toBe("redis://host:6379")
  })
})
