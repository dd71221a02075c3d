/**
 * A Redis whose maxmemory-policy evicts keys (issue 11, defect 2): rrq refuses to
 * write to it with an error that says why and what to do, unless `allowEviction`
 * accepts the risk (one warning); reads still work, and fixing the policy is enough.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { execFile } from "node:child_process"
import { resolve } from "node:path"
import { RrqClient } from "../src/Client.js"
import { JobStoreError } from "../src/Errors.js"
import { JobStore } from "../src/JobStore.js"
import * as Settings from "../src/Settings.js"
import { clientLayer, privateRedis, uniquePrefix } from "./support/index.js"

const redis = privateRedis(["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])

const stack = (input: Settings.SettingsInput = {}) => clientLayer({ redisUrl: redis.server.url, keyPrefix: uniquePrefix("evict"), ...input })

describe("an evicting Redis", () => {
  it.live("is refused for writes, with the policy named and the fix; reads work; noeviction lifts it", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() => redis.admin.config("SET", "maxmemory-policy", "allkeys-lru"))
      const client = yield* RrqClient
      const store = yield* JobStore
      const e = yield* Effect.flip(client.enqueue("work", {}))
      expect(e).toBeInstanceOf(JobStoreError)
      expect((e as JobStoreError).reason).toBe("evicting-redis")
      expect(e.message).toMatch(/maxmemory-policy allkeys-lru/)
      expect(e.message).toMatch(/noeviction/)
      expect(e.message).toMatch(/allowEviction/)
      outOfReach(yield* Effect.flip(store.claim("default", { count: 1, workerId: "w", leaseMs: 1_000 })))
      expect((yield* store.stats("default")).ready).toBe(0)
      // the operator fixes the policy: writes go through without a restart
      yield* Effect.promise(() => redis.admin.config("SET", "maxmemory-policy", "noeviction"))
      const job = yield* client.enqueue("work", {})
      expect(job.created).toBe(true)
    }).pipe(Effect.provide(stack())), 30_000)

  it.live("allowEviction accepts the risk, with one warning", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() => redis.admin.config("SET", "maxmemory-policy", "volatile-lru"))
      const warnings: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          if (logLevel.label === "WARN") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
      )
      yield* Effect.gen(function*() {
        const client = yield* RrqClient
        for (let i = 0; i < 3; i++) yield* client.enqueue("work", {})
      }).pipe(Effect.provide(stack({ allowEviction: true })), Effect.provide(capture))
      expect(warnings.filter((w) => /maxmemory-policy volatile-lru/.test(w))).toHaveLength(1)
      yield* Effect.promise(() => redis.admin.config("SET", "maxmemory-policy", "noeviction"))
    }), 30_000)

  it("rrq job enqueue refuses with exit 1 and one line; RRQ_ALLOW_EVICTION=true accepts", async () => {
    await redis.admin.config("SET", "maxmemory-policy", "allkeys-lfu")
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number; stderr: string }>((done) =>
        execFile(process.execPath, [resolve("bin/rrq.js"), "job", "enqueue", "work"], {
          env: { ...process.env, RRQ_REDIS_URL: redis.server.url, RRQ_KEY_PREFIX: uniquePrefix("evict"), ...env },
          timeout: 20_000
        }, (error, _stdout, stderr) => done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stderr })))
    const refused = await run({})
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^rrq: .*maxmemory-policy allkeys-lfu.*noeviction/m)
    const accepted = await run({ RRQ_ALLOW_EVICTION: "true" })
    expect(accepted.code, accepted.stderr).toBe(0)
    await redis.admin.config("SET", "maxmemory-policy", "noeviction")
  }, 30_000)
})

const outOfReach = (e: unknown) => expect((e as JobStoreError).reason).toBe("evicting-redis")
