/**
 * What every command shares: the `--redis-url` and `--json` options, settings
 * resolution (settings file < RRQ_* variables < flags), the store layers, the
 * errors that decide the exit code, and output helpers.
 */
import { Options } from "@effect/cli"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Client from "../Client.js"
import * as JobStore from "../JobStore.js"
import * as Redis from "../Redis.js"
import * as Settings from "../Settings.js"

/** Bad usage: one clear line on stderr, exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A check that failed (no live worker, job not found, job failed...): exit code 1. */
export class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly message: string }> {}

export const redisUrl = Options.text("redis-url").pipe(
  Options.withDescription("Redis URL (default: RRQ_REDIS_URL, then redis://127.0.0.1:6379/0)"),
  Options.withFallbackConfig(Config.string("RRQ_REDIS_URL")),
  Options.optional
)

export const json = Options.boolean("json").pipe(Options.withDescription("print JSON"))

export const queue = Options.text("queue").pipe(Options.withDescription("queue name (default: the default queue)"), Options.optional)

export const limit = (fallback: number) =>
  Options.integer("limit").pipe(Options.withDescription("at most this many entries"), Options.withDefault(fallback))

/** Resolves settings: defaults < the settings file < RRQ_* variables < command-line flags. */
export const resolveSettings = (flags: { readonly redisUrl: Option.Option<string> }, base: Settings.SettingsInput = {}) =>
  Effect.gen(function*() {
    const env = yield* Settings.fromEnv.pipe(Effect.mapError((e) => new UsageError({ message: `invalid RRQ_* variable: ${e.message}` })))
    const input = { ...base, ...env, ...Option.match(flags.redisUrl, { onNone: () => ({}), onSome: (url) => ({ redisUrl: url }) }) }
    return yield* Either.mapLeft(Settings.resolve(input), (e) => new UsageError({ message: e.message }))
  })

/** RrqSettings, the Redis JobStore and an RrqClient over one connection. */
export const storeLayer = (settings: Settings.Settings) => {
  const s = Layer.succeed(Settings.RrqSettings, settings)
  return Client.layer.pipe(
    Layer.provideMerge(JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))),
    Layer.provideMerge(s)
  )
}

export type StoreServices = Client.RrqClient | JobStore.JobStore | Settings.RrqSettings

/** Runs `body` with the store of the resolved settings. */
export const withStore = <A, E>(
  flags: { readonly redisUrl: Option.Option<string> },
  body: Effect.Effect<A, E, StoreServices>
) =>
  Effect.flatMap(resolveSettings(flags), (settings) => Effect.provide(body, storeLayer(settings)))

/** Parses a duration flag (`500ms`, `2s`, `5m`, `1h`) or fails with a usage error. */
export const duration = (flag: string, value: string) =>
  Either.mapLeft(Settings.parseDuration(value), (m) => new UsageError({ message: `--${flag}: ${m}` }))

export const printJson = (value: unknown) => Effect.sync(() => process.stdout.write(`${JSON.stringify(value)}\n`))

export const print = (line = "") => Effect.sync(() => process.stdout.write(`${line}\n`))

/** A plain text table: header row, then rows, columns padded to their widest cell. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) => {
  const cells = [header, ...rows.map((r) => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)))
  return print(cells.map((r) => r.map((c, i) => (c ?? "").padEnd(widths[i]!)).join("  ").trimEnd()).join("\n"))
}

export const time = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString())
