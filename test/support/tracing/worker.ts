/** A burst worker under an OpenTelemetry tracer (RRQ_TEST_CONTINUE_TRACE=1: continueTrace); prints the spans. */
import { Effect, Layer } from "effect"
import * as JobStore from "../../../src/JobStore.js"
import * as Redis from "../../../src/Redis.js"
import * as Settings from "../../../src/Settings.js"
import * as Worker from "../../../src/Worker.js"
import * as Otel from "./otel.js"

const layer = JobStore.layerRedis.pipe(
  Layer.provideMerge(Redis.layerFromSettings),
  Layer.provideMerge(Settings.layerFromEnv()),
  Layer.provideMerge(Otel.layer("worker"))
)

const handlers = {
  // its own span nests under the attempt's
  greet: ({ name }: { name: string }) => Effect.succeed(`hello ${name}`).pipe(Effect.withSpan("greet.inner")),
  boom: () => Effect.fail(new TypeError("kaboom"))
}

// printed before the SDK shuts down (its in-memory exporter forgets on shutdown)
await Effect.runPromise(
  Worker.run({ handlers, burst: true, continueTrace: process.env.RRQ_TEST_CONTINUE_TRACE === "1" }).pipe(
    Effect.zipRight(Effect.sync(Otel.printSpans)),
    Effect.provide(layer)
  )
)
