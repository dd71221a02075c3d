/**
 * Idle cost at scale and clocks (issue 11, defects 12 and 5), on a redis-server of
 * this file's own, counted with `INFO commandstats` (commands run inside Lua scripts
 * included: Redis counts them):
 * - a worker serving 500 idle queues costs ≤ 10 commands/s, still picks up a job on
 *   one of them at once and still recovers an expired lease on another;
 * - a worker whose clock runs 60 s ahead waits for a deferred job without spinning
 *   (the loop compares Redis run-ats with Redis time) and runs it on time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Logger, LogLevel } from "effect"
import { RrqClient } from "../src/Client.js"
import { JobStore } from "../src/JobStore.js"
import * as Settings from "../src/Settings.js"
import * as Worker from "../src/Worker.js"
import { clientLayer, privateRedis, uniquePrefix } from "./support/index.js"

const redis = privateRedis()

const stack = (input: Settings.SettingsInput) =>
  clientLayer({ redisUrl: redis.server.url, keyPrefix: uniquePrefix("idle"), ...input })

/** Calls per command since the server started (`INFO commandstats`), without INFO itself. */
const commandStats = async (): Promise<Map<string, number>> => {
  const text = await redis.admin.info("commandstats")
  const calls = new Map<string, number>()
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== "info") calls.set(m[1]!, Number(m[2]))
  }
  return calls
}

const delta = (before: Map<string, number>, after: Map<string, number>) => {
  const byCommand: Record<string, number> = {}
  let total = 0
  for (const [name, n] of after) {
    const d = n - (before.get(name) ?? 0)
    if (d > 0) byCommand[name] = d
    total += d
  }
  return { total, byCommand }
}

const stats = Effect.promise(commandStats)
const sleep = (ms: number) => Effect.sleep(Duration.millis(ms))

/** The default clock, shifted: what a worker on a machine whose clock is off sees. */
const shiftedClock = (offsetMs: number): Clock.Clock => {
  const base = Clock.make()
  const nanos = BigInt(offsetMs) * 1_000_000n
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + offsetMs,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + offsetMs),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() + nanos,
    currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() + nanos),
    sleep: (d) => base.sleep(d)
  }
}

const quiet = Logger.minimumLogLevel(LogLevel.Error)

/** Longer than the warm-up, the idle window and the pickup check together. */
const ORPHAN_LEASE_MS = 15_000

describe("idle cost and clocks", () => {
  it.live("500 idle queues: ≤ 10 commands/s; a job on one of them starts at once; an expired lease on another is recovered", () =>
    Effect.gen(function*() {
      const client = yield* RrqClient
      const store = yield* JobStore
      const queues = Array.from({ length: 500 }, (_, i) => `q${i}`)
      const started = new Map<string, number>()
      const arrived = new Map<string, Deferred.Deferred<void>>()
      const arrival = (id: string) => {
        let d = arrived.get(id)
        if (!d) arrived.set(id, (d = Deferred.unsafeMake<void>(undefined as never)))
        return d
      }
      // A lease taken by a worker that died (never renewed) on one of the 500, taken before this
      // worker starts (else its wake-up hands the job to this worker first); it expires after
      // the idle window, so only a sweep through the lease index can find it.
      yield* client.enqueue("work", {}, { queue: "q123", jobId: "orphan" })
      const taken = yield* store.claim("q123", { count: 1, workerId: "dead-worker", leaseMs: ORPHAN_LEASE_MS })
      expect(taken.jobs.map((j) => j.id)).toEqual(["orphan"])
      const orphanClaimedAt = Effect.succeed(Date.now())
      yield* Worker.make({
        queues,
        concurrency: 10,
        handlers: {
          work: (_: unknown, ctx) => {
            started.set(ctx.jobId, Date.now())
            Deferred.unsafeDone(arrival(ctx.jobId), Effect.void)
            return "ok"
          }
        }
      })
      // warm-up: the first claim round and recovery sweep cover every queue
      yield* sleep(3_000)

      const before = yield* stats
      const t0 = Date.now()
      yield* sleep(10_000)
      const idle = delta(before, yield* stats)
      const perSecond = idle.total / ((Date.now() - t0) / 1000)
      console.log(`500 idle queues: ${perSecond.toFixed(1)} commands/s`, idle.byCommand)
      expect(perSecond).toBeLessThanOrEqual(10)

      // pickup on one of the 500
      const sent = Date.now()
      yield* client.enqueue("work", {}, { queue: "q377", jobId: "pick" })
      yield* Deferred.await(arrival("pick")).pipe(Effect.timeout("5 seconds"))
      const pickupMs = started.get("pick")! - sent
      console.log(`pickup on q377 of 500: ${pickupMs} ms`)
      expect(pickupMs).toBeLessThan(200)

      // the lease taken before the worker started expires now, long after its first sweep
      const claimedAt = yield* orphanClaimedAt
      yield* Deferred.await(arrival("orphan")).pipe(Effect.timeout("10 seconds"))
      const recoveredMs = started.get("orphan")! - claimedAt
      console.log(`expired lease on q123 of 500 run again ${recoveredMs} ms after its claim (lease ${ORPHAN_LEASE_MS} ms, sweep 2 s)`)
      // after the lease, within 2 × recoverIntervalMs of its end
      expect(recoveredMs).toBeGreaterThanOrEqual(ORPHAN_LEASE_MS)
      expect(recoveredMs).toBeLessThan(ORPHAN_LEASE_MS + 2 * 2_000)
    }).pipe(Effect.scoped, Effect.provide(stack({ recoverIntervalMs: 2_000 })), Effect.provide(quiet)), 60_000)

  it.live("a wake-up lost while the subscriber was disconnected: every queue is claimed again once it is back", () => {
    const keyPrefix = uniquePrefix("lost")
    return Effect.gen(function*() {
      const client = yield* RrqClient
      const queues = Array.from({ length: 200 }, (_, i) => `r${i}`)
      const ran = yield* Deferred.make<number>()
      yield* Worker.make({
        queues,
        handlers: { work: () => Deferred.unsafeDone(ran, Effect.succeed(Date.now())) }
      })
      yield* sleep(1_500)
      // the subscriber connection drops; the enqueue's wake-up goes to no one
      const channel = `${keyPrefix}:{r150}:wake`
      const subscribed = async () => ((await redis.admin.pubsub("NUMSUB", channel)) as [string, number])[1]
      expect(yield* Effect.promise(subscribed)).toBe(1)
      yield* Effect.promise(() => redis.admin.client("KILL", "TYPE", "pubsub"))
      const sent = Date.now()
      yield* client.enqueue("work", {}, { queue: "r150" })
      expect(yield* Effect.promise(subscribed)).toBe(0) // really lost
      const at = yield* Deferred.await(ran).pipe(Effect.timeout("10 seconds"))
      console.log(`job enqueued while the subscriber was away ran ${at - sent} ms later`)
      // without "every queue" after the reconnection, the safety net reaches r150 after ~150 polls
      expect(at - sent).toBeLessThan(2_000)
    }).pipe(Effect.scoped, Effect.provide(stack({ keyPrefix })), Effect.provide(quiet))
  }, 30_000)

  it.live("a worker whose clock runs 60 s ahead waits for a deferred job without spinning and runs it on time", () =>
    Effect.gen(function*() {
      const client = yield* RrqClient
      let startedAt = 0
      const ran = yield* Deferred.make<void>()
      yield* Worker.make({
        queues: ["skewed"],
        handlers: {
          work: () => {
            startedAt = Date.now()
            Deferred.unsafeDone(ran, Effect.void)
            return "ok"
          }
        }
      }).pipe(Effect.withClock(shiftedClock(60_000)))
      yield* sleep(500)

      const before = yield* stats
      const sent = Date.now()
      yield* client.enqueue("work", {}, { queue: "skewed", deferBy: "2 seconds" })
      yield* Deferred.await(ran).pipe(Effect.timeout("10 seconds"))
      const scripts = delta(before, yield* stats).byCommand["evalsha"] ?? 0
      const lateMs = startedAt - sent - 2_000
      console.log(`clock 60 s ahead: ${scripts} scripts while waiting 2 s; job started ${lateMs} ms after its run-at`)
      // enqueue + complete + a claim per poll (100 ms, doubling) + a recovery sweep or two
      expect(scripts).toBeLessThanOrEqual(2_000 / 100 + 5)
      expect(lateMs).toBeGreaterThanOrEqual(-5)
      expect(lateMs).toBeLessThan(300)
    }).pipe(Effect.scoped, Effect.provide(stack({})), Effect.provide(quiet)), 30_000)
})
