/** `rrq worker run` and `rrq worker watch`: their flags, checked here, then run by workerMain. */
import { Command, Options } from "@effect/cli"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevelName } from "../internal/logging.js"
import { parseQueue } from "../internal/queueSpec.js"
import { UsageError } from "./errors.js"
import * as Common from "./options.js"
import type * as Main from "./workerMain.js"

const settingsFile = Options.file("settings").pipe(
  Options.withDescription("the settings file (.js, .mjs or .ts) whose default export is defineConfig({ handlers })"),
  Options.withFallbackConfig(Config.string("RRQ_SETTINGS")),
  Options.optional
)

const runOptions = {
  settings: settingsFile,
  queues: Options.text("queue").pipe(
    Options.withDescription("a queue to serve, as name or name,weight (repeatable; default: the settings file's, then 'default')"),
    Options.repeated
  ),
  concurrency: Common.integer("concurrency", { min: 1 }).pipe(Options.withDescription("jobs run at once per process"), Options.optional),
  numWorkers: Common.integer("num-workers", { min: 1 }).pipe(
    Options.withDescription("worker processes, supervised (restarted when they crash)"),
    Options.withDefault(1)
  ),
  strictOrder: Options.boolean("strict-order").pipe(Options.withDescription("always try the queues in the given order")),
  burst: Options.boolean("burst").pipe(Options.withDescription("stop (exit 0) once no job is ready or running")),
  json: Common.json,
  redisUrl: Common.redisUrl,
  metricsPort: Common.integer("metrics-port", { min: 0 }).pipe(
    Options.withDescription("serve /metrics, /healthz and /readyz on this port (with --num-workers: one endpoint for all)"),
    Options.optional
  ),
  metricsHost: Options.text("metrics-host").pipe(
    Options.withDescription("the address the metrics endpoint listens on"),
    Options.withDefault("0.0.0.0")
  ),
  logFormat: Options.choice("log-format", LOG_FORMATS).pipe(
    Options.withDescription("how log lines look on stderr (default: RRQ_LOG_FORMAT, then logfmt); json: one object per line"),
    Options.optional
  ),
  logLevel: Options.choice("log-level", Object.keys(LOG_LEVELS) as Array<LogLevelName>).pipe(
    Options.withDescription("the least severe log lines to write (default: RRQ_LOG_LEVEL, then info)"),
    Options.optional
  )
}

const requireSettings = (file: Option.Option<string>) =>
  Option.match(file, {
    onNone: () => Effect.fail(new UsageError({ message: "--settings FILE (or RRQ_SETTINGS) is required" })),
    onSome: Effect.succeed
  })

/** The command ended with this exit code, its failure already reported. */
export class Exited extends Data.TaggedError("Exited")<{ readonly code: number }> {}

/** Set once the command runs in workerMain, which handles the process's signals from then on. */
export let handedOff = false

/**
 * Runs the parsed command in workerMain, outside this bundle: the user's handlers
 * must share the app's copy of Effect and rrq (node_modules), not the bundle's.
 */
const handOff = (entry: "run" | "watch", flags: Main.WatchFlags) =>
  Effect.flatMap(
    Effect.promise(async () => {
      handedOff = true
      const main = await import(new URL("./workerMain.js", import.meta.url).href) as typeof Main
      return main[entry](flags)
    }),
    (code) => (code === 0 ? Effect.void : Effect.fail(new Exited({ code })))
  )

const flagsOf = (o: {
  readonly queues: ReadonlyArray<string>
  readonly concurrency: Option.Option<number>
  readonly numWorkers: number
  readonly strictOrder: boolean
  readonly burst: boolean
  readonly json: boolean
  readonly redisUrl: Option.Option<string>
  readonly metricsPort: Option.Option<number>
  readonly metricsHost: string
  readonly logFormat: Option.Option<LogFormat>
  readonly logLevel: Option.Option<LogLevelName>
}, settings: string, path: Option.Option<string>): Main.WatchFlags => ({
  settings,
  queues: o.queues,
  concurrency: Option.getOrUndefined(o.concurrency),
  numWorkers: o.numWorkers,
  strictOrder: o.strictOrder,
  burst: o.burst,
  json: o.json,
  redisUrl: Option.getOrUndefined(o.redisUrl),
  metricsPort: Option.getOrUndefined(o.metricsPort),
  metricsHost: o.metricsHost,
  logFormat: Option.getOrUndefined(o.logFormat),
  logLevel: Option.getOrUndefined(o.logLevel),
  path: Option.getOrUndefined(path)
})

/** The checks that need no settings file: bad usage fails here, before anything starts. */
const validate = (o: {
  readonly queues: ReadonlyArray<string>
  readonly numWorkers: number
  readonly burst: boolean
}) =>
  Effect.gen(function*() {
    if (o.burst && o.numWorkers > 1) {
      return yield* new UsageError({ message: "--burst cannot be combined with --num-workers > 1" })
    }
    for (const q of o.queues) {
      const parsed = parseQueue(q)
      if (Either.isLeft(parsed)) return yield* new UsageError({ message: `--queue: ${parsed.left.message}` })
    }
  })

const run = Command.make("run", runOptions, (o) =>
  Effect.gen(function*() {
    yield* validate(o)
    const file = yield* requireSettings(o.settings)
    yield* handOff("run", flagsOf(o, file, Option.none()))
  })).pipe(Command.withDescription("Run a worker (or --num-workers supervised processes) for the handlers of a settings file"))

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
      yield* validate(o)
      const file = yield* requireSettings(o.settings)
      yield* handOff("watch", flagsOf(o, file, o.path))
    })
).pipe(Command.withDescription("Run a worker and restart it when files change (debounced; ignores node_modules, .git, dist)"))

export const command = Command.make("worker").pipe(
  Command.withDescription("Run workers"),
  Command.withSubcommands([run, watchCommand])
)
