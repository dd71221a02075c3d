/**
 * Idle cost at scale: one rrq worker (default settings, concurrency 10) serving N
 * queues with nothing to do, on a private redis-server. For each N: Redis commands
 * per second over --window s after --settle s (INFO commandstats deltas, commands
 * inside Lua scripts included, INFO itself not), the worker's CPU, then --samples
 * pickups on one queue of the N (three quarters down the list), one at a time, from
 * the producer's call to the handler's first line (producer in the same process).
 *
 *   npx tsx bench/idleQueues.ts --queues 1,500 --window 10 --settle 3 --samples 50
 */
import { Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Scope } from "effect"
import { Client, JobStore, Redis, RrqClient, Settings, Worker } from "../src/index.js"
import { cpuUs, flagNumber, flagString, monotonicUs, parseFlags, percentile, RedisAdmin, round, sleep } from "./common.js"
import { startRedis } from "./redisServer.js"

const flags = parseFlags(process.argv.slice(2))
const counts = flagString(flags, "queues", "1,500").split(",").map(Number)
const windowS = flagNumber(flags, "window", 10)
const settleS = flagNumber(flags, "settle", 3)
const samples = flagNumber(flags, "samples", 50)
const overrides = JSON.parse(flagString(flags, "rrq-settings", "{}")) as Settings.SettingsInput

const runtimeFor = (redisUrl: string, keyPrefix: string) =>
  ManagedRuntime.make(
    Layer.merge(
      Client.layer.pipe(
        Layer.provideMerge(JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))),
        Layer.provideMerge(Settings.layer({ ...overrides, redisUrl, keyPrefix }))
      ),
      Logger.minimumLogLevel(LogLevel.Warning)
    )
  )

const until = async (done: () => boolean, what: string) => {
  const end = Date.now() + 10_000
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(1)
  }
}

const server = await startRedis()
const admin = new RedisAdmin(server.url)
const rows: Array<Record<string, unknown>> = []
try {
  for (const n of counts) {
    await admin.flush()
    const keyPrefix = `bench-idle-${n}`
    const queues = Array.from({ length: n }, (_, i) => `q${i}`)
    const target = queues[Math.floor(n * 0.75)]!
    const workerRuntime = runtimeFor(server.url, keyPrefix)
    const producer = runtimeFor(server.url, keyPrefix)
    const started = new Map<number, number>()
    const scope = await workerRuntime.runPromise(Scope.make())
    try {
      await producer.runPromise(Effect.void)
      await workerRuntime.runPromise(
        Scope.extend(
          Worker.make({
            queues,
            concurrency: 10,
            handlers: { noop: async (p: { i: number }) => void started.set(p.i, monotonicUs()) }
          }),
          scope
        )
      )
      await sleep(settleS * 1000)
      const cpu0 = cpuUs()
      const before = await admin.snapshot()
      await sleep(windowS * 1000)
      const delta = RedisAdmin.delta(before, await admin.snapshot())
      const cpu = cpuUs() - cpu0
      const latencies: Array<number> = []
      for (let i = 0; i < samples; i++) {
        const t0 = monotonicUs()
        await producer.runPromise(Effect.flatMap(RrqClient, (c) => c.enqueue("noop", { i }, { queue: target })))
        await until(() => started.has(i), `pickup ${i}`)
        latencies.push((started.get(i)! - t0) / 1000)
        await sleep(20)
      }
      const seconds = delta.ms / 1000
      const row = {
        queues: n,
        cmdsPerSec: round(delta.calls / seconds, 1),
        byCommandPerSec: Object.fromEntries(
          Object.entries(delta.byCommand).sort((a, b) => b[1] - a[1]).map(([c, k]) => [c, round(k / seconds, 2)])
        ),
        workerCpuPct: round(cpu / 10 / delta.ms, 2),
        pickupP50Ms: round(percentile(latencies, 50), 2),
        pickupMaxMs: round(Math.max(...latencies), 2)
      }
      rows.push(row)
      process.stdout.write(`${JSON.stringify(row)}\n`)
    } finally {
      await workerRuntime.runPromise(Scope.close(scope, Exit.void))
      await workerRuntime.dispose()
      await producer.dispose()
    }
  }
} finally {
  await admin.close()
  await server.stop()
}
