/** `rrq worker run` and `rrq worker watch`. */
import { Command, Options } from "@effect/cli"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type ChildProcess, fork } from "node:child_process"
import { watch } from "node:fs"
import { dirname, resolve } from "node:path"
import { redactUrl } from "../Redis.js"
import * as Supervisor from "../internal/supervisor.js"
import * as Worker from "../Worker.js"
import * as Common from "./common.js"
import * as SettingsFile from "./settingsFile.js"

const settingsFile = Options.file("settings").pipe(
  Options.withDescription("the settings file (.js, .mjs or .ts) whose default export is defineConfig({ handlers })"),
  Options.withFallbackConfig(Config.string("RRQ_SETTINGS")),
  Options.optional
)

const runOptions = {
  settings: settingsFile,
  queues: Options.text("queue").pipe(
    Options.withDescription("a queue to serve, as name or name:weight (repeatable; default: the settings file's, then 'default')"),
    Options.repeated
  ),
  concurrency: Options.integer("concurrency").pipe(Options.withDescription("jobs run at once per process"), Options.optional),
  numWorkers: Options.integer("num-workers").pipe(
    Options.withDescription("worker processes, supervised (restarted when they crash)"),
    Options.withDefault(1)
  ),
  strictOrder: Options.boolean("strict-order").pipe(Options.withDescription("always try the queues in the given order")),
  burst: Options.boolean("burst").pipe(Options.withDescription("stop (exit 0) once no job is ready or running")),
  json: Common.json,
  redisUrl: Common.redisUrl
}

/** The command line of a child: the parent's, without --num-workers. */
const childArgs = (argv: ReadonlyArray<string>) => {
  const out: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--num-workers") i++
    else if (!argv[i]!.startsWith("--num-workers=")) out.push(argv[i]!)
  }
  return out
}

const requireSettings = (file: Option.Option<string>) =>
  Option.match(file, {
    onNone: () => Effect.fail(new Common.UsageError({ message: "--settings FILE (or RRQ_SETTINGS) is required" })),
    onSome: Effect.succeed
  })

const run = Command.make("run", runOptions, (o) =>
  Effect.gen(function*() {
    if (o.numWorkers < 1) return yield* new Common.UsageError({ message: `--num-workers must be ≥ 1, got ${o.numWorkers}` })
    if (Option.isSome(o.concurrency) && o.concurrency.value < 1) {
      return yield* new Common.UsageError({ message: `--concurrency must be ≥ 1, got ${o.concurrency.value}` })
    }
    if (o.burst && o.numWorkers > 1) {
      return yield* new Common.UsageError({ message: "--burst cannot be combined with --num-workers > 1" })
    }
    for (const q of o.queues) {
      const parsed = Worker.parseQueue(q)
      if (Either.isLeft(parsed)) return yield* new Common.UsageError({ message: `--queue: ${parsed.left}` })
    }
    const file = yield* requireSettings(o.settings)
    const config = yield* SettingsFile.load(file)
    const settings = yield* Common.resolveSettings(o, config.settings)

    if (o.numWorkers > 1) {
      const code = yield* Supervisor.run({
        numWorkers: o.numWorkers,
        modulePath: process.argv[1]!,
        args: childArgs(process.argv.slice(2)),
        shutdownGraceMs: settings.shutdownGraceMs
      }).pipe(Effect.uninterruptible)
      if (code !== 0) return yield* new Common.CheckFailed({ message: "worker processes kept crashing; gave up" })
      return
    }

    // A supervised child stops gracefully when its parent goes away, even by SIGKILL.
    if (process.env[Supervisor.SUPERVISED_ENV] && process.send) {
      process.on("disconnect", () => process.kill(process.pid, "SIGTERM"))
    }
    const queues = o.queues.length > 0 ? o.queues : config.queues
    yield* Effect.logInfo(`rrq worker using Redis at ${redactUrl(settings.redisUrl)} (key prefix '${settings.keyPrefix}')`)
    const program = Effect.scoped(Effect.gen(function*() {
      const worker = yield* Worker.make({
        handlers: config.handlers,
        ...(queues ? { queues } : {}),
        ...(Option.isSome(o.concurrency) ? { concurrency: o.concurrency.value } : {}),
        strictOrder: o.strictOrder,
        burst: o.burst
      })
      // The first SIGINT/SIGTERM closes this scope (graceful); a second one skips the grace period.
      let signals = 0
      const onSignal = () => {
        if (++signals === 2) Effect.runFork(worker.skipGrace)
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
      Effect.mapError((e) => typeof e === "string" ? new Common.UsageError({ message: e }) : e),
      Effect.provide(Layer.merge(Common.storeLayer(settings), appLayer))
    ) as Effect.Effect<void, Common.UsageError>
  })).pipe(Command.withDescription("Run a worker (or --num-workers supervised processes) for the handlers of a settings file"))

const IGNORED = /(^|[/\\])(node_modules|\.git|dist)([/\\]|$)/

const watchCommand = Command.make(
  "watch",
  {
    ...runOptions,
    path: Options.directory("path").pipe(
      Options.withDescription("directory to watch (default: the settings file's directory)"),
      Options.optional
    )
  },
  (o) =>
    Effect.gen(function*() {
      const file = yield* requireSettings(o.settings)
      yield* SettingsFile.load(file)
      const dir = resolve(Option.getOrElse(o.path, () => dirname(resolve(file))))
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
        const watcher = watch(dir, { recursive: true }, (_event, name) => {
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
).pipe(Command.withDescription("Run a worker and restart it when files change (debounced; ignores node_modules, .git, dist)"))

export const command = Command.make("worker").pipe(
  Command.withDescription("Run workers"),
  Command.withSubcommands([run, watchCommand])
)
