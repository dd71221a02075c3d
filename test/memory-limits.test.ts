/**
 * Redis at its `maxmemory` with `noeviction` (issue 11, defect 1), on a real
 * redis-server of its own: finishing and keeping work still passes, claiming and
 * enqueueing are refused whole (nothing half-written, nothing taken), the error
 * says Redis is out of memory, and a worker logs it once per episode.
 */
import { beforeEach, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Logger, Option } from "effect"
import { RrqClient } from "../src/Client.js"
import { JobStoreError } from "../src/Errors.js"
import { JobStore } from "../src/JobStore.js"
import * as Settings from "../src/Settings.js"
import * as Worker from "../src/Worker.js"
import { clientLayer, privateRedis, uniquePrefix } from "./support/index.js"

const redis = privateRedis(["--maxmemory", "8mb", "--maxmemory-policy", "noeviction"])
const admin = () => redis.admin

/** Writes 1 KB keys (the script may: allow-oom) until a plain write is refused. */
const fill = async () => {
  for (let round = 0; round < 200; round++) {
    await admin().eval(
      "#!lua flags=allow-oom\nfor i = 1, 500 do redis.call('SET', 'filler:' .. ARGV[1] .. ':' .. i, string.rep('x', 1024)) end",
      0,
      String(round)
    )
    const refused = await admin().set("probe", "1").then(() => false, (e: Error) => /OOM/.test(e.message))
    if (refused) return
  }
  throw new Error("Redis never reached its maxmemory")
}

const free = async () => {
  let cursor = "0"
  do {
    const [next, keys] = await admin().scan(cursor, "MATCH", "filler:*", "COUNT", 1000)
    if (keys.length > 0) await admin().unlink(...keys)
    cursor = next
  } while (cursor !== "0")
}

// each test starts with room, whatever the one before left
beforeEach(() => free())

const stack = (keyPrefix: string, input: Settings.SettingsInput = {}) => clientLayer({ redisUrl: redis.server.url, keyPrefix, ...input })

const outOfMemory = (e: unknown) => {
  expect(e).toBeInstanceOf(JobStoreError)
  expect((e as JobStoreError).reason).toBe("out-of-memory")
  expect((e as JobStoreError).message).toMatch(/out of memory/)
}

const W = { workerId: "w1", leaseMs: 30_000 }

describe("Redis at maxmemory (noeviction)", () => {
  it.live("finishing and keeping work passes; claim and enqueue are refused whole, with an out-of-memory error", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const client = yield* RrqClient
      const jobs = yield* Effect.forEach(["a", "b", "c", "d", "e"], (id) => client.enqueue("work", { id }, { jobId: id }))
      const claimed = (yield* store.claim("default", { ...W, count: 4 })).jobs
      expect(claimed.map((j) => j.id).sort()).toEqual(["a", "b", "c", "d"])
      const lease = (id: string) => {
        const j = claimed.find((c) => c.id === id)!
        return { id, token: j.leaseToken }
      }
      yield* Effect.promise(fill)
      try {
        // new work: refused, and nothing is taken or half-written
        outOfMemory(yield* Effect.flip(client.enqueue("work", { id: "f" }, { jobId: "f" })))
        outOfMemory(yield* Effect.flip(store.claim("default", { ...W, count: 10 })))
        const stats = yield* store.stats("default")
        expect(stats).toMatchObject({ ready: 1, active: 4 })
        expect(Option.isNone(yield* store.getJob({ queue: "default", id: "f" }))).toBe(true)
        // work in hand: kept and finished
        expect(yield* store.extend("default", claimed.map((j) => lease(j.id)), 30_000)).toEqual([true, true, true, true])
        expect(yield* store.complete("default", [{ ...lease("a"), result: "1" }])).toEqual([true])
        expect(yield* store.retry("default", lease("b"), { delayMs: 60_000, error: "try later" })).toBe("RETRYING")
        expect(yield* store.fail("default", lease("c"), "bad")).toBe("FAILED")
        expect(yield* store.requeue("default", [lease("d")])).toEqual([true])
      } finally {
        yield* Effect.promise(free)
      }
      // room again: the pending jobs are all there and claimable
      const after = (yield* store.claim("default", { ...W, count: 10 })).jobs.map((j) => j.id).sort()
      expect(after).toEqual(["d", "e"])
      const a = yield* store.getJob(jobs[0]!)
      expect(Option.getOrThrow(a).status).toBe("COMPLETED")
    }).pipe(Effect.provide(stack(uniquePrefix("oom")))), 60_000)

  it.live("jobs running through an out-of-memory episode longer than their lease complete once each; one error line", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: string }> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          logs.push({ level: logLevel.label, message: Array.isArray(message) ? message.map(String).join(" ") : String(message) })
        })
      )
      const runs = new Map<string, number>()
      let oomStarted: () => void = () => {}
      const started = new Promise<void>((resolve) => (oomStarted = resolve))
      const N = 8
      const result = yield* Effect.scoped(Effect.gen(function*() {
        yield* Effect.logInfo("episode test started")
        const client = yield* RrqClient
        const store = yield* JobStore
        const refs = yield* Effect.forEach(Array.from({ length: N }, (_, i) => `j${i}`), (id) => client.enqueue("slow", {}, { jobId: id }))
        yield* Worker.make({
          concurrency: N,
          handlers: {
            slow: async (_: unknown, ctx) => {
              runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1)
              if (runs.size === N) oomStarted()
              await new Promise((r) => setTimeout(r, 2_500))
              return "done"
            }
          }
        })
        yield* Effect.promise(() => started)
        // Redis out of memory for twice the lease while every job runs
        yield* Effect.promise(fill)
        yield* Effect.sleep(2_000)
        yield* Effect.promise(free)
        const outcomes = yield* Effect.forEach(refs, (ref) => client.waitForResult(ref, { timeout: "20 seconds" }).pipe(Effect.either))
        return { outcomes, stats: yield* store.stats("default") }
      })).pipe(Effect.provide(capture))
      expect(result.outcomes.filter(Either.isRight)).toHaveLength(N)
      expect(result.stats).toMatchObject({ dlq: 0, completedTotal: N })
      expect([...runs.values()]).toEqual(Array.from({ length: N }, () => 1))
      const oomLines = logs.filter((l) => /out of memory/.test(l.message))
      expect(oomLines, JSON.stringify(logs)).toHaveLength(1)
      expect(oomLines[0]!.level).toBe("ERROR")
      expect(logs.some((l) => /accepts writes again/.test(l.message))).toBe(true)
    }).pipe(Effect.provide(stack(uniquePrefix("oomw"), { leaseMs: 1_000, recoverIntervalMs: 200, pollDelayMs: 50 }))), 60_000)
})
