/** Enqueues one job, a batch of three and one that fails, under an OpenTelemetry tracer; prints the spans. */
import { Effect, Layer } from "effect"
import * as Client from "../../../src/Client.js"
import * as JobStore from "../../../src/JobStore.js"
import * as Redis from "../../../src/Redis.js"
import * as Settings from "../../../src/Settings.js"
import * as Otel from "./otel.js"

const settings = Settings.layerFromEnv()
const layer = Client.layer.pipe(
  Layer.provideMerge(JobStore.layerRedis),
  Layer.provideMerge(Redis.layerFromSettings),
  Layer.provideMerge(settings),
  Layer.provideMerge(Otel.layer("producer"))
)

const program = Effect.gen(function*() {
  const client = yield* Client.RrqClient
  const one = yield* client.enqueue("greet", { name: "Ada" })
  const batch = yield* client.enqueueMany([1, 2, 3].map((n) => ({ job: "greet", params: { name: `n${n}` } })))
  // one attempt only, which fails
  const boom = yield* client.enqueue("boom", {}, { maxRetries: 1 })
  process.stdout.write(`${JSON.stringify({ ids: [one.id, ...batch.map((b) => b.id), boom.id] })}\n`)
})

// printed before the SDK shuts down (its in-memory exporter forgets on shutdown)
await Effect.runPromise(Effect.provide(Effect.zipRight(program, Effect.sync(Otel.printSpans)), layer))
