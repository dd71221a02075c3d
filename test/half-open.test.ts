/**
 * Half-open connections (issue 11, defect 3): a network path that stops forwarding
 * without closing anything, and replies that arrive long after they were sent. A TCP
 * proxy between the worker and a private redis-server makes both.
 * Promise: a silent connection is noticed within the command timeout and replaced
 * (one warning); a claim reply later than half the lease is not run.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, Option, Schedule } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { RrqClient } from "../src/Client.js"
import type * as Handler from "../src/Handler.js"
import { JobStore } from "../src/JobStore.js"
import * as Worker from "../src/Worker.js"
import { clientLayer, privateRedis, redisStoreLayer, uniquePrefix } from "./support/index.js"
import { startProxy, type TcpProxy } from "./support/tcpProxy.js"

const redis = privateRedis()
let proxy: TcpProxy
beforeAll(async () => {
  proxy = await startProxy(redis.server.port)
})
afterAll(() => proxy?.close())

const captureLogs = () => {
  const lines: Array<{ level: string; message: string }> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      lines.push({ level: logLevel.label, message: Array.isArray(message) ? message.map(String).join(" ") : String(message) })
    })
  )
  return { lines, layer }
}

const ranBy = () => {
  const ran: Array<string> = []
  return { ran, handler: (_: unknown, ctx: Handler.JobContext) => void ran.push(ctx.jobId) }
}

const statusOf = (ref: { queue: string; id: string }) =>
  Effect.flatMap(JobStore, (s) => s.getJob(ref)).pipe(Effect.map((j) => Option.getOrThrow(j).status))

describe("half-open connections", () => {
  it.scopedLive("connections that go silent are noticed within the command timeout and replaced", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const keyPrefix = uniquePrefix("halfopen")
      const a = ranBy()
      const workerSide = yield* Layer.build(
        redisStoreLayer({ redisUrl: proxy.url, keyPrefix, pollDelayMs: 50, commandTimeoutMs: 1_000 })
      )
      yield* Worker.make({ handlers: { work: a.handler } }).pipe(Effect.provide(workerSide))
      const client = yield* Layer.build(clientLayer({ redisUrl: redis.server.url, keyPrefix }))
      const c = yield* Effect.provide(RrqClient, client)
      const first = yield* c.enqueue("work", {})
      yield* c.waitForResult(first, { timeout: "5 seconds" })
      // every connection open now stops forwarding, in both directions, and stays open
      proxy.blackhole()
      const stalledAt = Date.now()
      const second = yield* c.enqueue("work", {})
      yield* c.waitForResult(second, { timeout: "10 seconds" })
      const took = Date.now() - stalledAt
      expect(took).toBeLessThan(8_000)
      const warnings = logs.lines.filter((l) => /no reply within 1000ms/.test(l.message))
      expect(warnings.length, JSON.stringify(logs.lines)).toBeGreaterThanOrEqual(1)
      expect(warnings.length, JSON.stringify(logs.lines)).toBeLessThanOrEqual(2)
      expect(a.ran).toEqual([first.id, second.id])
    }).pipe(Effect.provide(logs.layer))
  }, 30_000)

  it.scopedLive("a claim reply that comes later than half the lease is not run", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const keyPrefix = uniquePrefix("halfopen")
      // A polls rarely: idle, it has no claim in flight when the replies stall
      const settings = { keyPrefix, pollDelayMs: 10_000, leaseMs: 1_000, recoverIntervalMs: 100, commandTimeoutMs: 10_000 }
      const a = ranBy()
      const b = ranBy()
      const workerSide = yield* Layer.build(redisStoreLayer({ ...settings, redisUrl: proxy.url }))
      yield* Worker.make({ handlers: { work: a.handler } }).pipe(Effect.provide(workerSide))
      const client = yield* Layer.build(clientLayer({ ...settings, redisUrl: redis.server.url }))
      const c = yield* Effect.provide(RrqClient, client)
      yield* Effect.sleep(300)
      // A's replies stop coming back; its claim of the jobs still reaches Redis
      proxy.stall("replies", /^commands$/)
      const refs = yield* c.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ job: "work", params: { i } })))
      yield* Effect.forEach(refs, (ref) =>
        statusOf(ref).pipe(
          Effect.repeat({ until: (s) => s === "ACTIVE", schedule: Schedule.spaced(10) }),
          Effect.timeout("3 seconds")
        )).pipe(Effect.provide(client))
      // B recovers the expired leases and runs the jobs
      yield* Worker.make({ handlers: { work: b.handler } }).pipe(Effect.provide(client))
      yield* Effect.forEach(refs, (ref) => c.waitForResult(ref, { timeout: "5 seconds" }))
      // A gets its claim reply ~2 s late, with leases of 1 s
      proxy.release()
      yield* Effect.sleep(500)
      expect(a.ran).toEqual([])
      expect(b.ran.sort()).toEqual(refs.map((r) => r.id).sort())
      expect(logs.lines.some((l) => /not starting 5 job\(s\): the claim reply came/.test(l.message)), JSON.stringify(logs.lines))
        .toBe(true)
    }).pipe(Effect.provide(logs.layer))
  }, 30_000)
})
