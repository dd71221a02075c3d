/**
 * What Redis itself allows on this machine, with no queue library in the way:
 * minimal Lua scripts for a batched enqueue (record hash + pending zset entry)
 * and a batched claim + complete (100 jobs a call, lease token set on claim and
 * checked on complete, result written, record given a TTL), driven by raw
 * ioredis with no handler work. A second probe drives rrq's own JobStore
 * (`claim` / `complete`, same batch size and lanes) without the worker
 * runtime, which splits rrq's cost between its store (Lua + ioredis) and its
 * worker.
 *
 *   npx tsx bench/redisLimit.ts --jobs 50000
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { Redis } from "ioredis"
import { JobStore, Redis as RrqRedis, Settings } from "../src/index.js"
import { emitResult, type Flags, flagNumber, log, now, parseFlags, RedisAdmin, round } from "./common.js"
import { startRedis } from "./redisServer.js"

const ENQUEUE = `
local pending, prefix, now = KEYS[1], ARGV[1], ARGV[2]
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  redis.call('HSET', prefix .. id, 'id', id, 'functionName', 'noop', 'params', ARGV[i + 1],
    'status', 'PENDING', 'currentRetries', 0, 'enqueuedAt', now)
  redis.call('ZADD', pending, now, id)
end
return (#ARGV - 2) / 2`

const CLAIM = `
local pending, active, prefix = KEYS[1], KEYS[2], ARGV[1]
local count, leaseMs, token = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', pending, '-inf', now, 'LIMIT', 0, count)
local out = {}
for i, id in ipairs(ids) do
  redis.call('ZREM', pending, id)
  local jk = prefix .. id
  local f = redis.call('HMGET', jk, 'functionName', 'params')
  redis.call('HSET', jk, 'status', 'ACTIVE', 'leaseToken', token .. i, 'startedAt', now)
  redis.call('ZADD', active, now + leaseMs, id)
  out[#out + 1] = id
  out[#out + 1] = token .. i
  out[#out + 1] = f[2]
end
return out`

const COMPLETE = `
local active, prefix = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local done = 0
for i = 2, #ARGV, 3 do
  local id, token = ARGV[i], ARGV[i + 1]
  local jk = prefix .. id
  local f = redis.call('HMGET', jk, 'status', 'leaseToken')
  if f[1] == 'ACTIVE' and f[2] == token then
    redis.call('ZREM', active, id)
    redis.call('HSET', jk, 'status', 'COMPLETED', 'result', ARGV[i + 2], 'completedAt', now)
    redis.call('HDEL', jk, 'leaseToken')
    redis.call('PEXPIRE', jk, 86400000)
    done = done + 1
  end
end
return done`

const P = "probe:{q}:"
const PENDING = `${P}pending`
const ACTIVE = `${P}active`

const rawProbe = async (url: string, admin: RedisAdmin, flags: Flags) => {
  const jobs = flagNumber(flags, "jobs", 50_000)
  const batch = flagNumber(flags, "batch", 1_000)
  const claimBatch = flagNumber(flags, "claim-batch", 100)
  const lanes = flagNumber(flags, "lanes", 4)
  const redis = new Redis(url, { connectionName: "bench:probe", enableAutoPipelining: false })
  try {
    redis.defineCommand("probeEnqueue", { numberOfKeys: 1, lua: ENQUEUE })
    redis.defineCommand("probeClaim", { numberOfKeys: 2, lua: CLAIM })
    redis.defineCommand("probeComplete", { numberOfKeys: 1, lua: COMPLETE })
    const call = (name: string, ...args: Array<string | number>) =>
      (redis as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[name]!(...args)

    // bulk enqueue: the systems' method (one batch of 1,000 at a time)
    await admin.flush()
    const payload = JSON.stringify({ i: 0 })
    let t0 = now()
    for (let from = 0; from < jobs; from += batch) {
      const args: Array<string | number> = [PENDING, P + "job:", Date.now()]
      for (let i = from; i < Math.min(jobs, from + batch); i++) args.push(String(i), payload)
      await call("probeEnqueue", ...args)
    }
    const bulkEnqueuePerSec = jobs / ((now() - t0) / 1000)

    // batched claim + complete, `lanes` loops at once
    const before = await admin.snapshot()
    t0 = now()
    let processed = 0
    const lane = async (k: number) => {
      for (;;) {
        const claimed = (await call("probeClaim", PENDING, ACTIVE, P + "job:", claimBatch, 30_000, `w${k}-`)) as Array<string>
        if (claimed.length === 0) return
        const args: Array<string> = [ACTIVE, P + "job:"]
        for (let i = 0; i < claimed.length; i += 3) args.push(claimed[i]!, claimed[i + 1]!, "null")
        const done = (await call("probeComplete", ...args)) as number
        processed += done
      }
    }
    await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)))
    const ms = now() - t0
    const delta = RedisAdmin.delta(before, await admin.snapshot())
    if (processed !== jobs) throw new Error(`probe processed ${processed} of ${jobs}`)
    return {
      bulkEnqueuePerSec: round(bulkEnqueuePerSec),
      processPerSec: round(jobs / (ms / 1000)),
      processRedisCmdsPerJob: round(delta.calls / jobs, 2),
      processRedisBusy: round(delta.cpuUs / 1000 / ms, 2),
      jobs,
      claimBatch,
      lanes
    }
  } finally {
    redis.disconnect()
  }
}

/** rrq's JobStore alone: enqueue in batches, then claim + complete in batches, no worker runtime. */
const storeProbe = async (url: string, admin: RedisAdmin, flags: Flags) => {
  const jobs = flagNumber(flags, "jobs", 50_000)
  const batch = flagNumber(flags, "batch", 1_000)
  const claimBatch = flagNumber(flags, "claim-batch", 100)
  const lanes = flagNumber(flags, "lanes", 4)
  const runtime = ManagedRuntime.make(
    JobStore.layerRedis.pipe(Layer.provide(RrqRedis.layerFromSettings), Layer.provideMerge(Settings.layer({ redisUrl: url })))
  )
  try {
    await admin.flush()
    const program = Effect.gen(function*() {
      const store = yield* JobStore.JobStore
      const settings = yield* Settings.RrqSettings
      const queue = "probe"
      for (let from = 0; from < jobs; from += batch) {
        const group = Array.from({ length: Math.min(batch, jobs - from) }, (_, k) => ({
          id: `j${from + k}`,
          queue,
          functionName: "noop",
          params: JSON.stringify({ i: from + k }),
          maxRetries: settings.defaultMaxRetries,
          resultTtlMs: settings.defaultResultTtlMs,
          delayMs: 0
        }))
        yield* store.enqueue(group)
      }
      const t0 = now()
      let processed = 0
      const lane = (k: number) =>
        Effect.gen(function*() {
          for (;;) {
            const { jobs: claimed } = yield* store.claim(queue, { count: claimBatch, workerId: `probe-${k}`, leaseMs: settings.leaseMs })
            if (claimed.length === 0) return
            const ok = yield* store.complete(queue, claimed.map((j) => ({ id: j.id, token: j.leaseToken, result: "null" })))
            processed += ok.filter(Boolean).length
          }
        })
      yield* Effect.forEach(Array.from({ length: lanes }, (_, k) => k), lane, { concurrency: "unbounded", discard: true })
      return { ms: now() - t0, processed }
    })
    const { ms, processed } = await runtime.runPromise(program)
    if (processed !== jobs) throw new Error(`store probe processed ${processed} of ${jobs}`)
    return { processPerSec: round(jobs / (ms / 1000)) }
  } finally {
    await runtime.dispose()
  }
}

const flags = parseFlags(process.argv.slice(2))
const own = typeof flags["redis"] === "string" ? undefined : await startRedis()
const url = own?.url ?? (flags["redis"] as string)
const admin = new RedisAdmin(url)
let failed = false
try {
  const raw = await rawProbe(url, admin, flags)
  log(`  redisLimit raw: ${JSON.stringify(raw)}`)
  const store = await storeProbe(url, admin, flags)
  log(`  redisLimit rrq store: ${JSON.stringify(store)}`)
  emitResult({ system: "redisLimit", case: "limit", ...raw, rrqStoreProcessPerSec: store.processPerSec })
} catch (e) {
  failed = true
  log(`redisLimit: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
} finally {
  await admin.close()
  await own?.stop()
}
process.exit(failed ? 1 : 0)
