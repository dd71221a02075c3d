/**
 * rrq under the bench, through its public Effect API: `RrqClient.enqueueMany`
 * for batches, `RrqClient.enqueue` for single jobs, `Worker.make` with a
 * no-op async handler, the Redis store, default settings (completed records
 * kept for `resultTtl`, 1 day). Producer and worker each get their own
 * layers, so their own connections, as in separate processes.
 *
 *   npx tsx bench/rrq.ts --cases process:100 --jobs 20000
 *   npx tsx bench/rrq.ts --cases idle --rrq-settings '{"pollDelayMs":"1s"}'
 */
import { Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Scope } from "effect"
import { Client, JobStore, Redis, RrqClient, Settings, Worker } from "../src/index.js"
import { flagString, parseFlags } from "./common.js"
import { type Adapter, main, type Payload } from "./driver.js"

const FUNCTION = "noop"

/** `--rrq-settings '{"pollDelayMs":"1s"}'`: settings over rrq's defaults, to measure tuning. */
const flags = parseFlags(process.argv.slice(2))
const overrides = JSON.parse(flagString(flags, "rrq-settings", "{}")) as Settings.SettingsInput

const runtimeFor = (redisUrl: string) => {
  const layer = Client.layer.pipe(
    Layer.provideMerge(JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))),
    Layer.provideMerge(Settings.layer({ ...overrides, redisUrl }))
  )
  // the worker's start/stop lines would go to stdout, which carries the results
  return ManagedRuntime.make(Layer.merge(layer, Logger.minimumLogLevel(LogLevel.Warning)))
}

export const adapter: Adapter = {
  name: "rrq",
  settings: `default settings${Object.keys(overrides).length > 0 ? ` with ${JSON.stringify(overrides)}` : ""}: ` +
    "completed records kept 1 day (resultTtl), failed 7 days; lease 30 s; poll 100 ms ± 50%",
  producer: async (redisUrl, queue) => {
    const runtime = runtimeFor(redisUrl)
    await runtime.runPromise(Effect.void) // connect now, not inside the timed part
    const request = (p: Payload) => ({ job: FUNCTION, params: p, options: { queue } })
    return {
      addBulk: (jobs) =>
        runtime.runPromise(Effect.flatMap(RrqClient, (c) => c.enqueueMany(jobs.map(request)))).then(() => undefined),
      addConcurrent: (jobs, inflight) =>
        runtime.runPromise(
          Effect.flatMap(RrqClient, (c) =>
            Effect.forEach(jobs, (p) => c.enqueue(FUNCTION, p, { queue }), { concurrency: inflight, discard: true }))
        ),
      add: (p) => runtime.runPromise(Effect.flatMap(RrqClient, (c) => c.enqueue(FUNCTION, p, { queue }))).then(() => undefined),
      close: () => runtime.dispose()
    }
  },
  worker: async (redisUrl, queue, { concurrency, onJob }) => {
    const runtime = runtimeFor(redisUrl)
    await runtime.runPromise(Effect.void)
    const scope = await runtime.runPromise(Scope.make())
    let worker: Worker.WorkerShape | undefined
    return {
      start: async () => {
        worker = await runtime.runPromise(
          Scope.extend(
            Worker.make({
              queues: [queue],
              concurrency,
              handlers: {
                [FUNCTION]: async (p: Payload) => {
                  onJob(p)
                }
              }
            }),
            scope
          )
        )
      },
      completed: () => (worker ? runtime.runSync(worker.counts).completed : 0),
      close: async () => {
        await runtime.runPromise(Scope.close(scope, Exit.void))
        await runtime.dispose()
      }
    }
  }
}

await main(adapter)
