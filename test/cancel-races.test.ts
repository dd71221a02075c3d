/**
 * Cancel races (issue 11, defect 6): a cancel that reaches the worker before the
 * claim reply carrying the job, and cancels at random moments around the start.
 * Promise: a job cancelled before it starts never starts; a running one is always
 * interrupted.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schedule } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { RrqClient } from "../src/Client.js"
import type * as Handler from "../src/Handler.js"
import { JobStore } from "../src/JobStore.js"
import * as Worker from "../src/Worker.js"
import { clientLayer, privateRedis, redisStoreLayer, uniquePrefix } from "./support/index.js"
import { freePort, startRedis } from "./support/redisServer.js"
import { startProxy, type TcpProxy } from "./support/tcpProxy.js"

const redis = privateRedis()
let proxy: TcpProxy
beforeAll(async () => {
  proxy = await startProxy(redis.server.port)
})
afterAll(() => proxy?.close())

/** A handler that waits up to `ms` for its abort signal and records what happened. */
const recorder = (ms: number) => {
  const started = new Set<string>()
  const aborted = new Set<string>()
  const ranToEnd = new Set<string>()
  const handler = (_: unknown, ctx: Handler.JobContext) => {
    started.add(ctx.jobId)
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ranToEnd.add(ctx.jobId)
        resolve()
      }, ms)
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer)
        aborted.add(ctx.jobId)
        resolve()
      })
    })
  }
  return { started, aborted, ranToEnd, handler }
}

describe("cancel races", () => {
  it.scopedLive("a job cancelled while the claim reply carrying it is on its way never starts", () =>
    Effect.gen(function*() {
      const keyPrefix = uniquePrefix("cancel")
      const rec = recorder(300)
      // the worker talks to Redis through the proxy; the test's client directly
      const workerSide = yield* Layer.build(redisStoreLayer({ redisUrl: proxy.url, keyPrefix, pollDelayMs: 50 }))
      yield* Worker.make({ handlers: { work: rec.handler } }).pipe(Effect.provide(workerSide))
      const client = yield* Layer.build(clientLayer({ redisUrl: redis.server.url, keyPrefix }))
      const c = Effect.provide(RrqClient, client)
      const store = Effect.provide(JobStore, client)
      yield* Effect.sleep(200)
      // the worker's claim replies now take 150 ms; its subscriber (the cancel message) is on time
      proxy.delayReplies(150, /^commands$/)
      const cancelled: Array<string> = []
      for (let i = 0; i < 5; i++) {
        const ref = yield* Effect.flatMap(c, (c) => c.enqueue("work", { i }))
        // claimed in Redis, the reply not yet at the worker
        const active = yield* Effect.flatMap(store, (s) => s.getJob(ref)).pipe(
          Effect.map(Option.getOrThrow),
          Effect.repeat({ until: (j) => j.status === "ACTIVE" }),
          Effect.timeout("3 seconds")
        )
        expect(active.status).toBe("ACTIVE")
        expect(yield* Effect.flatMap(c, (c) => c.cancel(ref))).toEqual({ _tag: "Cancelled", wasRunning: true })
        cancelled.push(ref.id)
      }
      yield* Effect.sleep(600)
      proxy.delayReplies(0)
      expect([...rec.started].filter((id) => cancelled.includes(id))).toEqual([])
    }), 30_000)

  it.scopedLive("cancels at random moments: never started when cancelled pending, always interrupted when running", () =>
    Effect.gen(function*() {
      const keyPrefix = uniquePrefix("cancel")
      const rec = recorder(2_000)
      // claim replies 20 ms late: cancels land before, during and after them
      const workerSide = yield* Layer.build(redisStoreLayer({ redisUrl: proxy.url, keyPrefix, pollDelayMs: 50 }))
      yield* Worker.make({ handlers: { work: rec.handler }, concurrency: 20 }).pipe(Effect.provide(workerSide))
      const c = yield* Effect.provide(RrqClient, yield* Layer.build(clientLayer({ redisUrl: redis.server.url, keyPrefix })))
      yield* Effect.sleep(200)
      proxy.delayReplies(20, /^commands$/)
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 150 }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            const ref = yield* c.enqueue("work", { i })
            yield* Effect.sleep(Math.floor(Math.random() * 15))
            const outcome = yield* c.cancel(ref)
            return { id: ref.id, outcome }
          }),
        { concurrency: 10 }
      )
      yield* Effect.sleep(500)
      proxy.delayReplies(0)
      const pending = outcomes.filter((o) => o.outcome._tag === "Cancelled" && !o.outcome.wasRunning).map((o) => o.id)
      const running = outcomes.filter((o) => o.outcome._tag === "Cancelled" && o.outcome.wasRunning).map((o) => o.id)
      expect(pending.length + running.length).toBe(150)
      expect(pending.filter((id) => rec.started.has(id))).toEqual([])
      expect([...rec.ranToEnd]).toEqual([])
      expect(running.filter((id) => rec.started.has(id) && !rec.aborted.has(id))).toEqual([])
    }), 30_000)

  it.scopedLive("a worker started while Redis was away still hears cancels once it is back", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const url = `redis://127.0.0.1:${port}`
      const keyPrefix = uniquePrefix("cancel")
      const rec = recorder(20_000)
      // the default 30 s lease: renewal would notice the cancel only after ~10 s
      const workerSide = yield* Layer.build(redisStoreLayer({ redisUrl: url, keyPrefix, pollDelayMs: 50 }))
      yield* Worker.make({ handlers: { work: rec.handler } }).pipe(Effect.provide(workerSide))
      yield* Effect.sleep(300)
      const server = yield* Effect.acquireRelease(Effect.promise(() => startRedis([], port)), (s) => Effect.promise(s.stop))
      yield* Effect.sleep(1_500)
      const c = yield* Effect.provide(RrqClient, yield* Layer.build(clientLayer({ redisUrl: server.url, keyPrefix })))
      const ref = yield* c.enqueue("work", {})
      yield* Effect.sync(() => rec.started.has(ref.id)).pipe(
        Effect.repeat({ until: (b) => b, schedule: Schedule.spaced(20) }),
        Effect.timeout("10 seconds")
      )
      expect(yield* c.cancel(ref)).toEqual({ _tag: "Cancelled", wasRunning: true })
      yield* Effect.sleep(2_000)
      expect(rec.aborted.has(ref.id)).toBe(true)
    }), 30_000)
})
