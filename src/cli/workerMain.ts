/**
 * `rrq worker run` and `rrq worker watch` once their flags are parsed. The rest
 * of the CLI is one bundled file (it starts in a fraction of the time hundreds
 * of modules take); this module is not bundled, because it runs the user's
 * handlers, which must share the app's copy of Effect and of rrq.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type ChildProcess, fork } from "node:child_process"
import { watch as watchFiles } from "node:fs"
import { dirname, resolve } from "node:path"
import type { LogFormat, LogLevelName } from "../internal/logging.js"
import * as Endpoint from "../internal/metrics/endpoint.js"
import * as MetricsPool from "../internal/metrics/pool.js"
import * as Supervisor from "../internal/supervisor.js"
import { JobStore } from "../JobStore.js"
import { redactUrl } from "../Redis.js"
import * as Worker from "../Worker.js"
import * as Common from "./shared.js"
import * as SettingsFile from "./settingsFile.js"

/** The parsed flags of `rrq worker run` (and `watch`, which adds `path`). */
export interface RunFlags {
  readonly settings: string
  readonly queues: ReadonlyArray<string>
  readonly concurrency: number | undefined
  readonly numWorkers: number
  readonly strictOrder: boolean
  readonly burst: boolean
  readonly json: boolean
  readonly redisUrl: string | undefined
  readonly metricsPort: number | undefined
  readonly metricsHost: string
  readonly logFormat: LogFormat | undefined
  readonly logLevel: LogLevelName | undefined
}

export interface WatchFlags extends RunFlags {
  readonly path: string | undefined
}

/**
 * The command line of a child: the parent's, without --num-workers, without the metrics
 * endpoint's flags (the parent serves it), and without --redis-url, which may hold a
 * password (`ps` shows every process's arguments): children get the URL through RRQ_REDIS_URL.
 */
const PARENT_ONLY = ["--num-workers", "--redis-url", "--metrics-port", "--metrics-host"]
const childArgs = (argv: ReadonlyArray<string>) => {
  const out: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    if (PARENT_ONLY.includes(argv[i]!)) i++
    else if (!PARENT_ONLY.some((flag) => argv[i]!.startsWith(`${flag}=`))) out.push(argv[i]!)
  }
  return out
}

/** Serves the metrics endpoint of `source` in the scope, and says where. */
const serveMetrics = (o: RunFlags, source: Endpoint.Source) =>
  Effect.gen(function*() {
    if (o.metricsPort === undefined) return
    const port = yield* Endpoint.serve(yield* Endpoint.handler(source), o.metricsPort, o.metricsHost)
    yield* Effect.logInfo(`rrq metrics on http://${o.metricsHost}:${port}/metrics (and /healthz, /readyz)`)
  }).pipe(Effect.catchTag("MetricsServerError", (e) => new Common.UsageError({ message: e.message })))

const runWorker = (o: RunFlags) =>
  Effect.gen(function*() {
    const config = yield* SettingsFile.load(o.settings)
    const settings = yield* Common.resolveSettings({ redisUrl: Option.fromNullable(o.redisUrl) }, config.settings)

    const queues = o.queues.length > 0 ? o.queues : config.queues
    if (o.numWorkers > 1) {
      const code = yield* Effect.scoped(Effect.gen(function*() {
        const started = yield* Deferred.make<Supervisor.Pool>()
        const fiber = yield* Supervisor.run({
          numWorkers: o.numWorkers,
          modulePath: process.argv[1]!,
          args: childArgs(process.argv.slice(2)),
          env: o.redisUrl === undefined ? {} : { RRQ_REDIS_URL: o.redisUrl },
          shutdownGraceMs: settings.shutdownGraceMs,
          expose: (pool) => Deferred.unsafeDone(started, Exit.succeed(pool))
        }).pipe(Effect.uninterruptible, Effect.fork)
        if (o.metricsPort !== undefined) {
          // the supervisor reads the queues' depths itself, over a connection of its own
          const store = Context.get(yield* Layer.build(Common.storeLayer(settings)), JobStore)
          const names = (queues ?? [settings.defaultQueue]).map((q) => q.split(",")[0]!)
          yield* serveMetrics(o, MetricsPool.poolSource(yield* Deferred.await(started), store, { queues: names }))
        }
        return yield* Fiber.join(fiber)
      }))
      if (code !== 0) return yield* new Common.CheckFailed({ message: "worker processes kept crashing; gave up" })
      return
    }

    // A supervised child stops gracefully when its parent goes away, even by SIGKILL, and
    // answers its metrics when the parent's endpoint is scraped.
    if (process.env[Supervisor.SUPERVISED_ENV] && process.send) {
      process.on("disconnect", () => process.kill(process.pid, "SIGTERM"))
      Supervisor.answer(MetricsPool.QUESTION, async () => MetricsPool.childMetrics())
    }
    yield* Effect.logInfo(`rrq worker using Redis at ${redactUrl(settings.redisUrl)} (key prefix '${settings.keyPrefix}')`)
    const program = Effect.scoped(Effect.gen(function*() {
      yield* serveMetrics(o, Endpoint.local(yield* JobStore))
      const worker = yield* Worker.make({
        handlers: config.handlers,
        ...(queues ? { queues } : {}),
        ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
        strictOrder: o.strictOrder,
        burst: o.burst
      })
      // A second SIGINT/SIGTERM skips the grace period and gives up unwritten outcomes (the
      // first closes this scope); whatever is still left, the process ends a second later.
      let signals = 0
      const onSignal = () => {
        if (++signals !== 2) return
        Effect.runFork(worker.skipGrace)
        setTimeout(() => {
          process.stderr.write("rrq: second signal: exiting now\n")
          process.exit(1)
        }, 1_000).unref()
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.on("SIGINT", onSignal)
          process.on("SIGTERM", onSignal)
        }),
        () => Effect.void
      )
      yield* worker.done
      const counts = yield* worker.counts
      yield* o.json ? Common.printJson({ workerId: worker.id, ...counts }) : Common.print(
        `worker ${worker.id} done: ${counts.completed} completed, ${counts.retried} retried, ${counts.failed} failed`
      )
    }))
    const appLayer = (config.layer ?? Layer.empty) as Layer.Layer<unknown>
    yield* program.pipe(
      // options the worker refuses (e.g. concurrency in the settings file) are bad usage
      Effect.catchTag("InvalidOptions", (e) => new Common.UsageError({ message: e.message })),
      Effect.provide(Layer.merge(Common.storeLayer(settings), appLayer))
    ) as Effect.Effect<void, Common.UsageError>
  })

const IGNORED = /(^|[/\\])(node_modules|\.git|dist)([/\\]|$)/

const watchWorker = (o: WatchFlags) =>
  Effect.gen(function*() {
    yield* SettingsFile.load(o.settings)
    const dir = resolve(o.path ?? dirname(resolve(o.settings)))
    const argv = process.argv.slice(2)
    const args: Array<string> = []
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === "watch") args.push("run")
      else if (argv[i] === "--path") i++
      else if (!argv[i]!.startsWith("--path=")) args.push(argv[i]!)
    }
    yield* Effect.async<void>((resume) => {
      let child: ChildProcess | undefined
      let restarting = false
      let stopped = false
      let timer: NodeJS.Timeout | undefined
      const start = () => {
        child = fork(process.argv[1]!, args, { stdio: "inherit" })
        child.on("exit", () => {
          child = undefined
          if (stopped) return resume(Effect.void)
          if (restarting) {
            restarting = false
            start()
          }
        })
      }
      const watcher = watchFiles(dir, { recursive: true }, (_event, name) => {
        if (name && IGNORED.test(name)) return
        if (timer) clearTimeout(timer)
        timer = setTimeout(() => {
          process.stderr.write(`rrq: ${name ?? "a file"} changed; restarting the worker\n`)
          if (child) {
            restarting = true
            child.kill("SIGTERM")
          } else start()
        }, 300)
      })
      const stop = () => {
        stopped = true
        watcher.close()
        if (timer) clearTimeout(timer)
        if (child) child.kill("SIGTERM")
        else resume(Effect.void)
      }
      process.once("SIGINT", stop)
      process.once("SIGTERM", stop)
      start()
    }).pipe(Effect.uninterruptible)
  })

/**
 * Runs a command to its end and resolves with the process's exit code (0, 1 a
 * failed check or runtime error, 2 bad usage), its failure reported on stderr in
 * one line. The first SIGINT/SIGTERM interrupts it: a worker shuts down gracefully.
 */
const main = (program: Effect.Effect<void, unknown>, flags: RunFlags): Promise<number> =>
  new Promise((done) => {
    const fiber = Effect.runFork(program.pipe(Effect.provide(Common.stderrLogger(flags))))
    const interrupt = () => fiber.unsafeInterruptAsFork(fiber.id())
    process.once("SIGINT", interrupt)
    process.once("SIGTERM", interrupt)
    fiber.addObserver((exit) => {
      if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return done(0)
      const error = Cause.squash(exit.cause)
      process.stderr.write(`rrq: ${Common.messageOf(error)}\n`)
      done(error instanceof Common.UsageError ? 2 : 1)
    })
  })

export const run = (flags: RunFlags): Promise<number> => main(runWorker(flags), flags)

export const watch = (flags: WatchFlags): Promise<number> => main(watchWorker(flags), flags)
