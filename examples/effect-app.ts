/**
 * rrq inside an Effect application: the worker is a layer next to the app's own
 * services, and stops gracefully when the program is interrupted (Ctrl-C).
 *
 *   RRQ_REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/effect-app.ts
 *
 * Without RRQ_REDIS_URL it runs on the in-memory store.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer, Schema } from "effect"
import { Client, Handler, JobDefinition, JobStore, Redis, RrqClient, Settings, WorkerLayer } from "effect-rrq"

// An application service the handlers depend on.
class Mailer extends Context.Tag("app/Mailer")<Mailer, { readonly send: (to: string) => Effect.Effect<string> }>() {
  static readonly layer = Layer.succeed(Mailer, {
    send: (to) => Effect.succeed(`<${Date.now()}@mail>`).pipe(Effect.tap(() => Effect.log(`mail sent to ${to}`)))
  })
}

const Welcome = JobDefinition.make("welcome_email", {
  params: Schema.Struct({ to: Schema.String }),
  result: Schema.Struct({ messageId: Schema.String }),
  maxRetries: 3
})

const Workers = WorkerLayer({
  concurrency: 20,
  handlers: {
    [Welcome.name]: Handler.forJob(Welcome, ({ to }) =>
      Effect.flatMap(Mailer, (m) => m.send(to)).pipe(Effect.map((messageId) => ({ messageId }))))
  }
})

const main = Effect.gen(function*() {
  const client = yield* RrqClient
  const job = yield* client.enqueue(Welcome, { to: "ada@example.com" })
  const { messageId } = yield* client.waitForResult(job, { timeout: "10 seconds" })
  yield* Effect.log(`welcome email delivered: ${messageId}`)
})

const settings = Settings.layer(process.env.RRQ_REDIS_URL ? { redisUrl: process.env.RRQ_REDIS_URL } : {})
const store = process.env.RRQ_REDIS_URL
  ? JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))
  : JobStore.layerMemory
const Rrq = Client.layer.pipe(Layer.provideMerge(store), Layer.provideMerge(settings))

main.pipe(
  Effect.provide(Workers),
  Effect.provide(Layer.mergeAll(Rrq, Mailer.layer)),
  NodeRuntime.runMain
)
