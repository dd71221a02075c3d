/** `rrq metrics serve`: the queues' gauges for Prometheus, from a process that runs no worker. */
import { Command, Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import * as Endpoint from "../internal/metrics/endpoint.js"
import { JobStore } from "../JobStore.js"
import * as Common from "./common.js"

const serve = Command.make(
  "serve",
  {
    port: Common.integer("port", { min: 0 }).pipe(Options.withDescription("the port to listen on (0 picks one)"), Options.withDefault(9464)),
    host: Options.text("host").pipe(Options.withDescription("the address to listen on"), Options.withDefault("0.0.0.0")),
    queues: Options.text("queue").pipe(
      Options.withDescription("a queue to export (repeatable; default: every known queue, read at each scrape)"),
      Options.repeated
    ),
    redisUrl: Common.redisUrl
  },
  (o) =>
    Common.withStore(o, Effect.scoped(Effect.gen(function*() {
      const store = yield* JobStore
      const source = Endpoint.local(store, o.queues.length > 0 ? { queues: o.queues } : {})
      const port = yield* Endpoint.serve(yield* Endpoint.handler(source), o.port, o.host).pipe(
        Effect.catchTag("MetricsServerError", (e) => new Common.UsageError({ message: e.message }))
      )
      yield* Common.print(`rrq metrics on http://${o.host}:${port}/metrics (and /healthz, /readyz); Ctrl-C to stop`)
      return yield* Effect.never
    }))).pipe(Effect.asVoid)
).pipe(Command.withDescription("Serve /metrics (the queues' depths and backlog age), /healthz and /readyz until stopped"))

export const command = Command.make("metrics").pipe(
  Command.withDescription("Metrics for Prometheus"),
  Command.withSubcommands([serve])
)
